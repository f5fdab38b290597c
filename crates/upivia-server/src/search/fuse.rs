//! Reciprocal rank fusion of ranked lists, and cosine similarity. RRF
//! needs no score calibration between BM25 and cosine (their scales have
//! nothing in common): an item's fused score is the sum over lists of
//! `1 / (K + rank)`.

use std::collections::HashMap;
use std::hash::Hash;

/// The usual damping constant (Cormack et al.): lowers the weight of the
/// very top ranks so one list alone does not decide.
pub const K: f64 = 60.0;

/// The items of `lists` (each best first) by fused score, best first; ties
/// keep the order of first appearance.
pub fn rrf<T: Clone + Eq + Hash>(lists: &[Vec<T>]) -> Vec<(T, f64)> {
    let mut scores: HashMap<T, (f64, usize)> = HashMap::new();
    let mut seen = 0;
    for list in lists {
        for (rank, item) in list.iter().enumerate() {
            let entry = scores.entry(item.clone()).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += 1.0 / (K + rank as f64 + 1.0);
        }
    }
    let mut out: Vec<(T, f64, usize)> = scores
        .into_iter()
        .map(|(item, (score, first))| (item, score, first))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter()
        .map(|(item, score, _)| (item, score))
        .collect()
}

/// Cosine similarity; 0 when either vector is zero or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_high_in_both_lists_wins() {
        let fused = rrf(&[vec!["a", "b", "c"], vec!["b", "c", "a"]]);
        assert_eq!(fused[0].0, "b");
        assert_eq!(fused.len(), 3);
        let only = rrf(&[vec!["x", "y"]]);
        assert_eq!(only.iter().map(|p| p.0).collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-9);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
    }
}

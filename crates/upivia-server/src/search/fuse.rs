//! Fusion of a lexical ranking with vector similarity, and cosine
//! similarity.
//!
//! The fused score is a convex combination of the two scores, each first
//! normalised per query so that 0 means "no evidence" and 1 means "this
//! query's best":
//!
//! - lexical (FTS5 `bm25()` negated, or PostgreSQL `ts_rank`): the score
//!   divided by the query's best. 0 is what a chunk without any query term
//!   scores, so a chunk outside the lexical list is at 0 on the same scale
//!   as the ones in it, and the ratio is free of the store's and the
//!   corpus's units.
//! - similarity: `(cos - mean) / (best - mean)`, cut to `[0, 1]`, where
//!   `mean` is the query's mean similarity to every chunk with a vector
//!   (similarity is a brute-force scan, so the whole collection is at
//!   hand). 0 is "no more similar than a typical chunk": this is free of
//!   how a model spreads its cosines (some put every text at 0.7 to 0.9)
//!   and of how many candidates were taken.
//!
//! Then `DENSE_WEIGHT * similarity + (1 - DENSE_WEIGHT) * lexical`.
//!
//! Scores, not ranks: reciprocal rank fusion (what this replaced, K = 60
//! over two 50-deep lists) scores every chunk in both lists, at any depth,
//! above every chunk in one list, so a query sharing one common word with
//! fifty chunks buried the model's first choice when full-text missed it;
//! and ranks forget how far a first hit stands above the rest. Here a
//! chunk gets what each signal says of it, so a strong single-list hit
//! (up to `DENSE_WEIGHT` or `1 - DENSE_WEIGHT`) beats two weak ones, and a
//! similarity that tells no chunk apart (all alike) adds nothing and leaves
//! the lexical order alone. A fixed weight cannot tell a good model from a
//! poor one, though: a poor model still costs some quality.
//! `docs/benchmarks.md` ("Retrieval quality") has the measurements and
//! the weight's sensitivity.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// The share of the fused score that vector similarity carries; the
/// lexical score carries the rest. Chosen on the labelled set of
/// `bench/retrieval` (the lowest weight at which the hybrid matched vectors
/// alone with all-MiniLM-L6-v2; every step above it cost a weak model more
/// than it gave a good one): see "Retrieval quality" in
/// `docs/benchmarks.md` before changing it.
pub const DENSE_WEIGHT: f64 = 0.6;

/// `lexical` (items with their full-text score, best first) fused with
/// `similarity` (every item that has a vector, with its cosine to the
/// query, in any order): the lexical items and the `dense_candidates` most
/// similar, by fused score in `[0, 1]`, best first. An item missing from
/// either input has no evidence from it (0 on that side). Ties keep the
/// order of first appearance: `lexical` in its order, then the similarity
/// candidates from the most similar (equal similarities in input order).
pub fn hybrid<T: Clone + Eq + Hash>(
    lexical: &[(T, f64)],
    similarity: &[(T, f64)],
    dense_candidates: usize,
) -> Vec<(T, f64)> {
    combine(DENSE_WEIGHT, lexical, similarity, dense_candidates)
}

fn combine<T: Clone + Eq + Hash>(
    dense_weight: f64,
    lexical: &[(T, f64)],
    similarity: &[(T, f64)],
    dense_candidates: usize,
) -> Vec<(T, f64)> {
    let finite = |s: f64| if s.is_finite() { s } else { 0.0 };

    let best_lexical = lexical
        .iter()
        .map(|(_, s)| finite(*s))
        .fold(f64::NEG_INFINITY, f64::max);
    let lexical_norm = |s: f64| {
        if best_lexical > 0.0 {
            (finite(s) / best_lexical).clamp(0.0, 1.0)
        } else {
            // Matches the store could not tell apart: each is the best.
            1.0
        }
    };

    let (mut sum, mut best_similarity) = (0.0, f64::NEG_INFINITY);
    for (_, s) in similarity {
        sum += finite(*s);
        best_similarity = best_similarity.max(finite(*s));
    }
    let mean = if similarity.is_empty() {
        0.0
    } else {
        sum / similarity.len() as f64
    };
    let similarity_norm = |s: f64| {
        if best_similarity > mean {
            ((finite(s) - mean) / (best_similarity - mean)).clamp(0.0, 1.0)
        } else {
            // All alike: nothing to tell chunks apart by.
            0.0
        }
    };
    let mut lexical_scores: HashMap<&T, f64> = HashMap::new();
    for (item, s) in lexical {
        lexical_scores.entry(item).or_insert(*s);
    }
    let similarities: HashMap<&T, f64> = similarity.iter().map(|(t, s)| (t, *s)).collect();

    // The candidates in order of first appearance: the lexical list, then
    // the most similar (a stable sort keeps equal similarities in input
    // order).
    let mut most_similar: Vec<&(T, f64)> = similarity.iter().collect();
    most_similar.sort_by(|a, b| finite(b.1).total_cmp(&finite(a.1)));
    let mut seen: HashSet<&T> = HashSet::new();
    let mut fused: Vec<(&T, f64)> = Vec::new();
    let candidates = lexical.iter().map(|(t, _)| t).chain(
        most_similar
            .into_iter()
            .take(dense_candidates)
            .map(|(t, _)| t),
    );
    for item in candidates {
        if !seen.insert(item) {
            continue;
        }
        let lex = lexical_scores.get(item).map_or(0.0, |s| lexical_norm(*s));
        let dense = similarities.get(item).map_or(0.0, |s| similarity_norm(*s));
        fused.push((item, dense_weight * dense + (1.0 - dense_weight) * lex));
    }

    // Stable: equal fused scores stay in order of first appearance.
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
        .into_iter()
        .map(|(item, score)| (item.clone(), score))
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

    fn ids(fused: &[(&'static str, f64)]) -> Vec<&'static str> {
        fused.iter().map(|(t, _)| *t).collect()
    }

    /// `n` background items the query is not particularly similar to.
    fn background(n: usize) -> Vec<(&'static str, f64)> {
        let names: &'static [&'static str] = &[
            "bg0", "bg1", "bg2", "bg3", "bg4", "bg5", "bg6", "bg7", "bg8", "bg9", "bg10", "bg11",
            "bg12", "bg13", "bg14", "bg15", "bg16", "bg17", "bg18", "bg19",
        ];
        names[..n]
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, 0.05 + 0.001 * i as f64))
            .collect()
    }

    #[test]
    fn the_models_first_choice_is_not_buried_by_weak_hits_in_both_lists() {
        // Full-text missed `star` and matched twenty chunks weakly (a common
        // word), which the model finds somewhat similar too: under
        // reciprocal rank fusion all twenty, being in both lists, outranked
        // `star`.
        let weak: Vec<&'static str> = vec![
            "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10", "w11", "w12", "w13",
            "w14", "w15", "w16", "w17", "w18", "w19",
        ];
        let mut lexical = vec![("exact", 10.0)];
        lexical.extend(weak.iter().map(|w| (*w, 2.0)));
        let mut similarity = vec![("star", 0.8), ("exact", 0.1)];
        similarity.extend(weak.iter().map(|w| (*w, 0.3)));
        similarity.extend(background(20));
        let fused = hybrid(&lexical, &similarity, 50);
        assert_eq!(fused[0].0, "star", "{fused:?}");
        assert_eq!(
            fused[1].0, "exact",
            "full-text's strong hit comes next: {fused:?}"
        );
        // Still in the list, below both strong single-list hits.
        assert!(ids(&fused[2..]).contains(&"w0"));
    }

    #[test]
    fn a_chunk_strong_in_both_lists_ranks_first() {
        let lexical = vec![("lex-only", 10.0), ("both", 9.0), ("x", 3.0), ("y", 2.0)];
        let mut similarity = vec![("dense-only", 0.9), ("both", 0.85), ("x", 0.2)];
        similarity.extend(background(10));
        let fused = hybrid(&lexical, &similarity, 50);
        assert_eq!(fused[0].0, "both", "{fused:?}");
        assert!(fused.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
        // Each single-list best gets its list's whole weight and nothing else.
        let score = |id| fused.iter().find(|(t, _)| *t == id).unwrap().1;
        assert!((score("dense-only") - DENSE_WEIGHT).abs() < 1e-9);
        assert!((score("lex-only") - (1.0 - DENSE_WEIGHT)).abs() < 1e-9);
    }

    #[test]
    fn ties_keep_the_order_of_first_appearance() {
        // Equal scores on both sides: lexical order, then similarity order.
        let lexical = vec![("b", 5.0), ("a", 5.0)];
        let similarity = vec![("d", 0.5), ("c", 0.5), ("b", 0.1), ("a", 0.1), ("z", 0.0)];
        let first = hybrid(&lexical, &similarity, 50);
        for _ in 0..20 {
            // Fresh hash maps each call: their order must not leak out.
            assert_eq!(hybrid(&lexical, &similarity, 50), first);
        }
        assert_eq!(ids(&first), ["d", "c", "b", "a", "z"], "{first:?}");
        let swapped = hybrid(&[("a", 5.0), ("b", 5.0)], &similarity, 50);
        assert_eq!(ids(&swapped), ["d", "c", "a", "b", "z"]);
    }

    #[test]
    fn empty_lists_fuse_to_nothing() {
        let none: Vec<(&str, f64)> = Vec::new();
        assert!(hybrid(&none, &none, 50).is_empty());
        assert!(hybrid(&none, &[("a", 0.3)], 0).is_empty());
    }

    #[test]
    fn one_list_alone_keeps_its_order() {
        let none: Vec<(&str, f64)> = Vec::new();
        let lexical = vec![("a", 7.0), ("b", 3.5), ("c", 0.7)];
        let fused = hybrid(&lexical, &none, 50);
        assert_eq!(ids(&fused), ["a", "b", "c"]);
        let expected = [1.0, 0.5, 0.1].map(|x| x * (1.0 - DENSE_WEIGHT));
        for ((_, got), want) in fused.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{fused:?}");
        }

        // Similarity alone: the most similar, at most `dense_candidates`.
        let similarity = vec![("c", 0.1), ("a", 0.9), ("d", -0.2), ("b", 0.5)];
        assert_eq!(ids(&hybrid(&none, &similarity, 3)), ["a", "b", "c"]);
        assert_eq!(hybrid(&none, &similarity, 50)[0], ("a", DENSE_WEIGHT));
    }

    #[test]
    fn a_similarity_that_tells_nothing_apart_leaves_the_lexical_order() {
        let lexical = vec![("a", 9.0), ("b", 4.0), ("c", 1.0)];
        let flat = vec![("c", 0.4), ("b", 0.4), ("a", 0.4), ("d", 0.4)];
        let fused = hybrid(&lexical, &flat, 50);
        assert_eq!(ids(&fused), ["a", "b", "c", "d"], "{fused:?}");
    }

    #[test]
    fn the_weight_moves_the_balance() {
        let lexical = vec![("lex", 10.0), ("dense", 1.0)];
        let similarity = vec![("dense", 0.9), ("lex", 0.1), ("bg", 0.0)];
        assert_eq!(combine(0.0, &lexical, &similarity, 50)[0].0, "lex");
        assert_eq!(combine(1.0, &lexical, &similarity, 50)[0].0, "dense");
        // Scores the store could not tell apart (all zero) count as matches.
        let zero = vec![("a", 0.0), ("b", 0.0)];
        let fused = combine(0.5, &zero, &[], 50);
        assert_eq!(fused, [("a", 0.5), ("b", 0.5)]);
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-9);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
    }
}

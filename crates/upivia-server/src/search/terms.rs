//! A query's search terms, and the match expressions the two stores take.
//! Terms are lowercase runs of letters and digits; English stop words are
//! dropped (they would match nearly everything and only add noise to an
//! any-term match), duplicates too, and at most [`MAX_TERMS`] are kept.
//! Both expressions are built from these terms alone, so nothing a user
//! types reaches the FTS5 or tsquery syntax.

/// Most terms a query is cut to.
pub const MAX_TERMS: usize = 32;
/// Longest term kept (longer runs are not words).
const MAX_TERM_CHARS: usize = 64;

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did",
    "do", "does", "doing", "during", "each", "for", "from", "had", "has", "have", "having", "he",
    "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "you", "your", "yours",
];

/// The search terms of `query`, in order of first appearance.
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || word.chars().count() > MAX_TERM_CHARS {
            continue;
        }
        let word = word.to_lowercase();
        if STOP_WORDS.contains(&word.as_str()) || out.contains(&word) {
            continue;
        }
        out.push(word);
        if out.len() == MAX_TERMS {
            break;
        }
    }
    out
}

/// Whether `word` (lowercase) is one of the English stop words a query
/// drops; the memory graph drops them too at the head of a name.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// An FTS5 `MATCH` expression for any of `terms`: each quoted (a quoted
/// string is one token sequence, never an operator).
pub fn fts5_match(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// A `to_tsquery` expression for any of `terms`. Terms are letters and
/// digits only, so quoting each as a literal keeps tsquery operators out.
pub fn pg_tsquery(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stop_words_punctuation_and_repeats() {
        assert_eq!(
            terms("How do I restart the Relay queue? Relay-queue!"),
            vec!["restart", "relay", "queue"]
        );
        assert!(terms("the of and").is_empty());
        assert!(terms("").is_empty());
        assert_eq!(terms("Größe ÉTÉ"), vec!["größe", "été"]);
    }

    #[test]
    fn operators_a_user_types_stay_words() {
        let t = terms(r#"NEAR("a" OR b) AND -c* ^d ' | & !"#);
        assert_eq!(t, vec!["near", "b", "c", "d"]);
        assert_eq!(fts5_match(&t), r#""near" OR "b" OR "c" OR "d""#);
        assert_eq!(pg_tsquery(&t), "'near' | 'b' | 'c' | 'd'");
    }

    #[test]
    fn at_most_max_terms() {
        let q: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(terms(&q).len(), MAX_TERMS);
    }
}

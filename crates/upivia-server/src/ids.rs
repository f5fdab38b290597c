//! Identifiers: a short prefix plus a ULID, so ids are URL-safe, sort by
//! creation time and never collide with literal route segments such as
//! `health` or `spawn`.

use ulid::Ulid;

/// A fresh id `<prefix>_<ULID>` (lowercase).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Ulid::new().to_string().to_ascii_lowercase())
}

/// True when `raw` could be an id we issued with `prefix`. Used to answer a
/// malformed id with 404 without touching the store.
pub fn looks_like(prefix: &str, raw: &str) -> bool {
    raw.len() == prefix.len() + 27
        && raw.starts_with(prefix)
        && raw.as_bytes()[prefix.len()] == b'_'
        && raw[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

pub const AGENT: &str = "agt";
pub const REQUEST: &str = "req";
pub const APPROVAL: &str = "appr";
pub const AUDIT: &str = "aud";
pub const ORG: &str = "org";
pub const USER: &str = "usr";
pub const TEAM: &str = "team";
pub const BINDING: &str = "bnd";
pub const PAT: &str = "pat";
pub const SESSION: &str = "ses";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_url_safe_and_recognised() {
        let id = new_id(AGENT);
        assert!(id.starts_with("agt_"));
        assert!(looks_like(AGENT, &id));
        assert!(!looks_like(REQUEST, &id));
        assert!(!looks_like(AGENT, "agt_health"));
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
}

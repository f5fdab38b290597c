//! Identifiers: a short prefix plus a ULID, so ids are URL-safe, sort by
//! creation time and never collide with literal route segments such as
//! `health` or `spawn`.

use ulid::Ulid;

/// A fresh id `<prefix>_<ULID>` (lowercase).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Ulid::new().to_string().to_ascii_lowercase())
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
    fn ids_are_prefixed_url_safe_and_unique() {
        let id = new_id(AGENT);
        assert!(id.starts_with("agt_"));
        assert_eq!(id.len(), "agt_".len() + 26);
        assert_ne!(new_id(AGENT), id);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
}

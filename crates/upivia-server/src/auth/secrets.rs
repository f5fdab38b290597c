//! Generating and hashing secrets.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::model::KeyMode;

pub const AGENT_KEY_PREFIX_LIVE: &str = "agent_key_live_";
pub const AGENT_KEY_PREFIX_TEST: &str = "agent_key_test_";
pub const PAT_PREFIX: &str = "upivia_pat_live_";
pub const SESSION_COOKIE: &str = "upivia_session";

/// 40 alphanumeric characters: about 238 bits.
fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn new_agent_key(mode: KeyMode) -> String {
    let prefix = match mode {
        KeyMode::Live => AGENT_KEY_PREFIX_LIVE,
        KeyMode::Test => AGENT_KEY_PREFIX_TEST,
    };
    format!("{prefix}{}", random_token(40))
}

pub fn new_pat() -> String {
    format!("{PAT_PREFIX}{}", random_token(40))
}

/// A trigger's signing secret (the HMAC key its sender holds).
pub fn new_trigger_secret() -> String {
    format!("trgsec_{}", random_token(40))
}

pub fn new_session_token() -> String {
    random_token(48)
}

pub fn new_password() -> String {
    random_token(24)
}

/// The stored form of a high-entropy token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id with the crate's defaults: m = 19 MiB, t = 2, p = 1 (the OWASP
/// minimum). Each call allocates its 19 MiB afresh; the request path goes
/// through [`super::PasswordPool`] instead, which bounds how many run at
/// once and reuses their memory.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::from_b64(&base64_salt())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub(super) fn base64_salt() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::rng().random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_prefix_and_differ() {
        let a = new_agent_key(KeyMode::Live);
        let b = new_agent_key(KeyMode::Live);
        assert!(a.starts_with(AGENT_KEY_PREFIX_LIVE));
        assert!(new_agent_key(KeyMode::Test).starts_with(AGENT_KEY_PREFIX_TEST));
        assert!(new_pat().starts_with("upivia_pat_"));
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}

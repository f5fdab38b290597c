//! Credentials: agent keys, personal access tokens, cookie sessions and
//! passwords. Tokens are high-entropy random strings stored only as SHA-256
//! hashes; passwords (low entropy) are hashed with Argon2id. A plaintext
//! credential exists only in the response that creates it.

pub mod secrets;

pub use secrets::{
    AGENT_KEY_PREFIX_LIVE, AGENT_KEY_PREFIX_TEST, PAT_PREFIX, SESSION_COOKIE, hash_password,
    hash_token, new_agent_key, new_password, new_pat, new_session_token, verify_password,
};

//! Credentials: agent keys, personal access tokens, cookie sessions and
//! passwords. Tokens are high-entropy random strings stored only as SHA-256
//! hashes; passwords (low entropy) are hashed with Argon2id. A plaintext
//! credential exists only in the response that creates it.
//!
//! Cookie sessions get a CSRF check on every mutation (`csrf`); password
//! checks are throttled per address and account (`throttle`) and run in a
//! bounded pool (`passwords`).

pub mod csrf;
pub mod passwords;
pub mod secrets;
pub mod throttle;

pub use csrf::{CSRF_HEADER, csrf_token};
pub use passwords::{PasswordPool, PasswordRule, PasswordWorkError, check_new_password};
pub use secrets::{
    AGENT_KEY_PREFIX_LIVE, AGENT_KEY_PREFIX_TEST, PAT_PREFIX, SESSION_COOKIE, hash_password,
    hash_token, new_agent_key, new_password, new_pat, new_session_token, new_trigger_secret,
    verify_password,
};
pub use throttle::{Locked, LoginThrottle};

/// What every password check goes through, one per server.
#[derive(Default)]
pub struct LoginGuard {
    pub throttle: LoginThrottle,
    pub passwords: PasswordPool,
}

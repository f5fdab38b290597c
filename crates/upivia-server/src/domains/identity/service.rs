//! The rules of signing in and changing a password: both are throttled
//! per address and per account and hash in the bounded Argon2 pool; a
//! failed password check counts against the throttle, a success clears the
//! account's count; a new password ends the user's other sessions, is
//! audited, and drops the bootstrap owner's plaintext from the credentials
//! file.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::super::DomainError;
use crate::auth::{self, LoginGuard};
use crate::bootstrap;
use crate::governance::trail;
use crate::model::{AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::store::PasswordChange;

/// A sign-in attempt.
pub struct Login {
    pub email: String,
    pub password: String,
    /// The client's address, for the throttle.
    pub address: Option<IpAddr>,
    /// How long the new session lasts.
    pub ttl: Duration,
}

/// A new session: its token (shown this once) and whose it is.
pub struct Session {
    pub token: String,
    pub principal: UserPrincipal,
}

/// Checks the password and opens a session.
pub async fn login(
    platform: &Platform,
    guard: &LoginGuard,
    login: Login,
) -> Result<Session, DomainError> {
    let email = login.email.trim();
    let clock = &platform.clock;
    guard.throttle.check(login.address, email, clock.now())?;
    let slot = guard.passwords.slot().await?;
    // The wait for a slot may have been long: a lock set meanwhile applies.
    guard.throttle.check(login.address, email, clock.now())?;
    let (stored, principal) = match platform.stores.identity.user_by_email(email).await? {
        Some((hash, principal)) => (Some(hash), Some(principal)),
        None => (None, None),
    };
    let ok = slot.verify(login.password, stored).await?;
    let principal = match principal {
        Some(principal) if ok => principal,
        _ => {
            guard.throttle.failed(login.address, email, clock.now());
            return Err(DomainError::Unauthenticated("wrong email or password"));
        }
    };
    guard.throttle.succeeded(email);
    let token = auth::new_session_token();
    let now = clock.now();
    let expires = now + time::Duration::try_from(login.ttl).unwrap_or(time::Duration::WEEK);
    platform
        .stores
        .identity
        .create_session(&principal, &auth::hash_token(&token), now, expires)
        .await?;
    Ok(Session { token, principal })
}

/// Ends the session whose token is `token`.
pub async fn logout(platform: &Platform, token: &str) -> Result<(), DomainError> {
    Ok(platform
        .stores
        .identity
        .delete_session(&auth::hash_token(token))
        .await?)
}

/// A user's request to change their own password.
pub struct NewPassword {
    pub current_password: String,
    pub new_password: String,
    pub address: Option<IpAddr>,
    /// The session token the request came with, which stays valid;
    /// `None` when a bearer token authenticated it.
    pub keep_session: Option<String>,
    /// Where the bootstrap credentials file is.
    pub data_dir: PathBuf,
}

/// Sets the new password; returns how many sessions ended.
pub async fn change_password(
    platform: &Platform,
    guard: &LoginGuard,
    user: &UserPrincipal,
    change: NewPassword,
) -> Result<usize, DomainError> {
    auth::check_new_password(&change.new_password, &change.current_password, &user.email)
        .map_err(|rule| DomainError::Invalid(format!("invalid field new_password: {rule}")))?;
    let clock = &platform.clock;
    guard
        .throttle
        .check(change.address, &user.email, clock.now())?;
    let slot = guard.passwords.slot().await?;
    guard
        .throttle
        .check(change.address, &user.email, clock.now())?;
    let (stored, _) = platform
        .stores
        .identity
        .user_by_email(&user.email)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    let Some(new_hash) = slot
        .verify_and_hash(change.current_password, stored, change.new_password)
        .await?
    else {
        guard
            .throttle
            .failed(change.address, &user.email, clock.now());
        return Err(DomainError::Forbidden(
            "current_password is not this user's password".into(),
        ));
    };
    guard.throttle.succeeded(&user.email);
    let keep_session = change.keep_session.as_deref().map(auth::hash_token);
    let via = if keep_session.is_some() {
        "session"
    } else {
        "token"
    };
    let ended = platform
        .stores
        .identity
        .change_password(PasswordChange {
            user_id: user.user_id.clone(),
            password_hash: new_hash,
            keep_session,
            now: clock.now(),
            audit: AuditEvent::new(
                &user.org_id,
                "user.password_changed",
                trail::user_actor(&user.user_id),
            )
            .with_details(json!({"user_id": user.user_id, "via": via})),
        })
        .await?;
    let (data_dir, email) = (change.data_dir, user.email.clone());
    let forgot =
        tokio::task::spawn_blocking(move || bootstrap::forget_initial_password(&data_dir, &email))
            .await;
    match forgot {
        Ok(Ok(true)) => tracing::info!("removed the initial password from the credentials file"),
        Ok(Ok(false)) => {}
        // The password has changed; the file's copy no longer opens anything.
        Ok(Err(e)) => tracing::warn!(error = %e, "could not update the credentials file"),
        Err(e) => tracing::warn!(error = %e, "could not update the credentials file"),
    }
    Ok(ended)
}

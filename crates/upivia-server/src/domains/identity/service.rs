//! The rules of signing in and changing a password: both are throttled
//! per address and per account and hash in the bounded Argon2 pool; a
//! failed password check counts against the throttle, a success clears the
//! account's count; a new password ends the user's other sessions, is
//! audited, and drops the bootstrap owner's plaintext from the credentials
//! file. And a new organisation's owner: a random password and PAT, of
//! which the store keeps only hashes, made the same way for the first
//! start's organisation and for every one `upivia admin create-org` adds.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::super::DomainError;
use crate::auth::{self, LoginGuard, PasswordWorkError};
use crate::bootstrap;
use crate::governance::trail;
use crate::ids::{OrgId, UserId};
use crate::model::{AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{BootstrapPlan, IdentityStore, PasswordChange};

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

/// A new owner's password and PAT in plaintext, for the one time they are
/// shown; the store has only their hashes. `Debug` does not print them.
pub struct OwnerSecrets {
    pub password: String,
    pub pat: String,
}

impl fmt::Debug for OwnerSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerSecrets { .. }")
    }
}

/// An organisation and its owner, ready for the store: a random password
/// (Argon2id, hashed on the blocking pool: it takes tens of milliseconds)
/// and a random PAT (SHA-256).
pub async fn new_owner(
    org_name: &str,
    email: &str,
    now: OffsetDateTime,
) -> Result<(BootstrapPlan, OwnerSecrets), PasswordWorkError> {
    let password = auth::new_password();
    let pat = auth::new_pat();
    let hashing = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&hashing))
        .await
        .map_err(|e| PasswordWorkError::Failed(Box::new(e)))?
        .map_err(|e| PasswordWorkError::Failed(e.to_string().into()))?;
    let plan = BootstrapPlan {
        org_name: org_name.to_owned(),
        email: email.to_owned(),
        password_hash,
        pat_hash: auth::hash_token(&pat),
        now,
    };
    Ok((plan, OwnerSecrets { password, pat }))
}

/// Another organisation and the email of its owner.
#[derive(Clone, Debug)]
pub struct NewOrg {
    pub name: String,
    pub owner_email: String,
}

/// What `create_org` made; `secrets` are shown once and kept nowhere.
#[derive(Debug)]
pub struct CreatedOrg {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub email: String,
    pub secrets: OwnerSecrets,
}

/// The longest organisation name, in characters (as for agents' names).
const ORG_NAME_MAX_CHARS: usize = 200;
/// The longest email address (RFC 5321's path limit less the brackets).
const EMAIL_MAX_BYTES: usize = 254;

/// Creates an organisation with its owner and a PAT (audited `org.created`
/// in the new organisation). An email that already has a user is a
/// conflict: a user belongs to one organisation, and signs in by email.
pub async fn create_org(
    identity: &dyn IdentityStore,
    new: NewOrg,
    now: OffsetDateTime,
) -> Result<CreatedOrg, DomainError> {
    let name = check_org_name(&new.name)?;
    let email = check_email(&new.owner_email)?;
    let (plan, secrets) = new_owner(name, email, now).await?;
    let created = identity.create_org(plan).await?;
    Ok(CreatedOrg {
        org_id: OrgId::from(created.org_id),
        user_id: UserId::from(created.user_id),
        email: email.to_owned(),
        secrets,
    })
}

/// A name a person can read in a list: trimmed, not empty, bounded, and
/// without control characters or bidirectional overrides (which display
/// text in another order than it is stored).
fn check_org_name(raw: &str) -> Result<&str, DomainError> {
    let name = raw.trim();
    let refuse = |why: &str| Err(DomainError::Invalid(format!("invalid field name: {why}")));
    if name.is_empty() {
        return refuse("must not be empty");
    }
    if name.chars().count() > ORG_NAME_MAX_CHARS {
        return refuse(&format!("at most {ORG_NAME_MAX_CHARS} characters"));
    }
    if let Some(c) = name.chars().find(|&c| c.is_control() || is_bidi_control(c)) {
        return refuse(&format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(name)
}

pub(super) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// An address that mail can be sent to and that signing in can match:
/// `local@domain.tld`, trimmed, with no spaces or control characters. It is
/// kept as given (sign-in compares it exactly).
fn check_email(raw: &str) -> Result<&str, DomainError> {
    check_email_field(raw, "owner_email")
}

/// `check_email` for a request whose field is called `field`.
pub(super) fn check_email_field<'a>(raw: &'a str, field: &str) -> Result<&'a str, DomainError> {
    let email = raw.trim();
    let refuse = |why: &str| {
        Err(DomainError::Invalid(format!(
            "invalid field {field}: {why}"
        )))
    };
    if email.len() > EMAIL_MAX_BYTES {
        return refuse(&format!("at most {EMAIL_MAX_BYTES} bytes"));
    }
    if email.chars().any(|c| {
        c.is_whitespace() || c.is_control() || is_bidi_control(c) || "<>()[],;:\"\\".contains(c)
    }) {
        return refuse("must not contain spaces, control characters or any of <>()[],;:\"\\");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return refuse("must look like name@example.com");
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || domain.contains('@') || !labels_ok {
        return refuse("must look like name@example.com");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_emails_must_be_addresses() {
        for ok in [
            "a@b.co",
            "  first.last+tag@mail.example.com ",
            "o'brien@example.ie",
        ] {
            assert_eq!(check_email(ok).unwrap(), ok.trim(), "{ok:?}");
        }
        for bad in [
            "",
            "owner",
            "@example.com",
            "owner@",
            "owner@localhost",
            "a@b@c.com",
            "a b@c.com",
            "a@c..com",
            "a@-c.com",
            "a@c\u{7}.com",
            "<a@c.com>",
            "a\u{202E}@c.com",
        ] {
            let e = check_email(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid field owner_email: "), "{bad:?}: {e}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(check_email(&long).is_err());
    }

    #[test]
    fn org_names_need_text_and_no_control_characters() {
        assert_eq!(check_org_name("  Acme Ltd ").unwrap(), "Acme Ltd");
        assert_eq!(check_org_name("日本語").unwrap(), "日本語");
        for bad in ["", "   ", "a\u{7}b", "line\nbreak", "\u{202E}evil"] {
            let e = check_org_name(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid field name: "), "{bad:?}: {e}");
        }
        assert!(check_org_name(&"x".repeat(ORG_NAME_MAX_CHARS)).is_ok());
        assert!(check_org_name(&"x".repeat(ORG_NAME_MAX_CHARS + 1)).is_err());
    }

    #[tokio::test]
    async fn a_new_owner_gets_fresh_secrets_and_only_their_hashes_are_planned() {
        let now = OffsetDateTime::now_utc();
        let (plan, secrets) = new_owner("Acme", "a@b.co", now).await.unwrap();
        assert!(secrets.pat.starts_with(auth::PAT_PREFIX));
        assert_eq!(plan.pat_hash, auth::hash_token(&secrets.pat));
        assert!(plan.password_hash.starts_with("$argon2id$"));
        assert!(auth::verify_password(
            &secrets.password,
            &plan.password_hash
        ));
        assert!(!format!("{plan:?}{secrets:?}").contains(&secrets.pat));
        let (_, other) = new_owner("Acme", "a@b.co", now).await.unwrap();
        assert_ne!(other.pat, secrets.pat);
        assert_ne!(other.password, secrets.password);
    }
}

//! Members of an organisation, their roles, personal access tokens and
//! workspaces: who may do what, and the audit event of each change.
//!
//! Roles: the owner (one per organisation, made with it) manages admins and
//! members; an admin adds and removes members; a member manages only their
//! own tokens. Nobody changes or removes themselves or the owner. A
//! member's new password is random, shown once, and stored as an Argon2id
//! hash; a PAT is random, shown once, stored as a SHA-256 hash, and bound
//! to the organisation it was created in. Removing a member ends their
//! sessions and PATs in that organisation in the same transaction.

use std::fmt;

use serde_json::json;
use time::OffsetDateTime;

use super::super::DomainError;
use super::service::{check_email_field, is_bidi_control};
use crate::auth::{self, PasswordWorkError};
use crate::governance::trail;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    IdentityStore, JoinOrg, MemberRecord, MemberRemoval, NewMember, NewPat, PatRecord,
    PatRevocation, Removed, RoleChange, SessionSwitch, StoreError, Workspace,
};

/// The longest token name, in characters.
pub const PAT_NAME_MAX_CHARS: usize = 100;
/// The longest lifetime a PAT may be given, in days.
pub const PAT_MAX_DAYS: i64 = 3650;

fn forbidden(message: impl Into<String>) -> DomainError {
    DomainError::Forbidden(message.into())
}

fn require(caller: &UserPrincipal, role: Role) -> Result<(), DomainError> {
    if caller.role >= role {
        Ok(())
    } else {
        Err(forbidden(format!(
            "this needs the {} role; you are {}",
            role.as_str(),
            caller.role.as_str()
        )))
    }
}

/// May `caller` give a member the role `role`? The owner gives admin or
/// member; an admin gives member.
fn may_grant(caller: &UserPrincipal, role: Role) -> Result<(), DomainError> {
    if role == Role::Owner {
        return Err(DomainError::Invalid(
            "invalid field role: an organisation has exactly one owner; use admin or member".into(),
        ));
    }
    if caller.role == Role::Owner || role < caller.role {
        Ok(())
    } else {
        Err(forbidden(format!(
            "an {} cannot give the {} role; the owner can",
            caller.role.as_str(),
            role.as_str()
        )))
    }
}

/// May `caller` change or remove `target`? Only someone of a higher role,
/// never themselves.
fn may_manage(caller: &UserPrincipal, target: &MemberRecord) -> Result<(), DomainError> {
    if target.user_id == caller.user_id {
        return Err(forbidden("you cannot change or remove your own membership"));
    }
    if target.role == Role::Owner {
        return Err(forbidden("the owner's membership cannot change"));
    }
    if caller.role > target.role {
        Ok(())
    } else {
        Err(forbidden(format!(
            "an {} cannot manage an {}; the owner can",
            caller.role.as_str(),
            target.role.as_str()
        )))
    }
}

/// Parses a role field (`admin` | `member`; `owner` is refused by the rules).
pub fn parse_role(raw: &str) -> Result<Role, DomainError> {
    Role::parse(raw.trim()).ok_or_else(|| {
        DomainError::Invalid("invalid field role: must be one of owner, admin, member".into())
    })
}

/// The members of the caller's organisation (any member may read it).
pub async fn list_members(
    platform: &Platform,
    caller: &UserPrincipal,
) -> Result<Vec<MemberRecord>, DomainError> {
    Ok(platform.stores.identity.members(&caller.org_id).await?)
}

/// A new member's one-time password, shown once; `Debug` hides it.
pub struct OneTimePassword(pub String);

impl fmt::Debug for OneTimePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimePassword(..)")
    }
}

/// What adding a member made: the member, and a password when a new user
/// was created (a user who exists already keeps theirs and gains a
/// workspace).
#[derive(Debug)]
pub struct AddedMember {
    pub member: MemberRecord,
    pub password: Option<OneTimePassword>,
}

/// Adds a member by email (an owner or admin, within the roles they may
/// give); audited `org.member_added`.
pub async fn add_member(
    platform: &Platform,
    caller: &UserPrincipal,
    email: &str,
    role: Role,
) -> Result<AddedMember, DomainError> {
    require(caller, Role::Admin)?;
    may_grant(caller, role)?;
    let email = check_email_field(email, "email")?;
    let now = platform.clock.now();
    let actor = trail::user_actor(&caller.user_id);
    let identity = &platform.stores.identity;
    let joined = identity
        .join_org(JoinOrg {
            org_id: caller.org_id.clone(),
            email: email.to_owned(),
            role,
            now,
            actor: actor.clone(),
        })
        .await;
    let (principal, password) = match joined {
        Ok(principal) => (principal, None),
        Err(StoreError::NotFound) => {
            let (principal, password) =
                new_user_member(identity.as_ref(), &caller.org_id, email, role, now, actor).await?;
            (principal, Some(password))
        }
        Err(e) => return Err(e.into()),
    };
    let member = identity
        .member(&principal.org_id, &principal.user_id)
        .await?
        .ok_or(DomainError::NotFound("member"))?;
    Ok(AddedMember { member, password })
}

/// Creates a user with a random password (hashed on the blocking pool) as
/// a member of `org_id`. For the members route, and for anyone (tests, the
/// agent transfer) who needs another member of an organisation.
pub async fn new_user_member(
    identity: &dyn IdentityStore,
    org_id: &str,
    email: &str,
    role: Role,
    now: OffsetDateTime,
    actor: String,
) -> Result<(UserPrincipal, OneTimePassword), DomainError> {
    let password = auth::new_password();
    let hashing = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&hashing))
        .await
        .map_err(|e| PasswordWorkError::Failed(Box::new(e)))?
        .map_err(|e| PasswordWorkError::Failed(e.to_string().into()))?;
    let principal = identity
        .add_member(NewMember {
            org_id: org_id.to_owned(),
            email: email.to_owned(),
            password_hash,
            role,
            now,
            actor,
        })
        .await?;
    Ok((principal, OneTimePassword(password)))
}

/// A member of the caller's organisation (`NotFound` for anyone else).
pub async fn member(
    platform: &Platform,
    caller: &UserPrincipal,
    user_id: &str,
) -> Result<MemberRecord, DomainError> {
    target(platform, caller, user_id).await
}

async fn target(
    platform: &Platform,
    caller: &UserPrincipal,
    user_id: &str,
) -> Result<MemberRecord, DomainError> {
    platform
        .stores
        .identity
        .member(&caller.org_id, user_id)
        .await?
        .ok_or(DomainError::NotFound("member"))
}

/// Changes a member's role (audited `org.member_role_changed`).
pub async fn change_role(
    platform: &Platform,
    caller: &UserPrincipal,
    user_id: &str,
    role: Role,
) -> Result<MemberRecord, DomainError> {
    require(caller, Role::Admin)?;
    let member = target(platform, caller, user_id).await?;
    may_manage(caller, &member)?;
    may_grant(caller, role)?;
    if member.role == role {
        return Ok(member);
    }
    let audit = AuditEvent::new(
        &caller.org_id,
        "org.member_role_changed",
        trail::user_actor(&caller.user_id),
    )
    .with_details(json!({
        "user_id": member.user_id, "from": member.role.as_str(), "to": role.as_str(),
    }));
    Ok(platform
        .stores
        .identity
        .set_member_role(RoleChange {
            org_id: caller.org_id.clone(),
            user_id: member.user_id,
            role,
            expect: member.role,
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

/// Removes a member; their sessions and PATs in the organisation end at
/// once (audited `org.member_removed`).
pub async fn remove_member(
    platform: &Platform,
    caller: &UserPrincipal,
    user_id: &str,
) -> Result<Removed, DomainError> {
    require(caller, Role::Admin)?;
    let member = target(platform, caller, user_id).await?;
    may_manage(caller, &member)?;
    let audit = AuditEvent::new(
        &caller.org_id,
        "org.member_removed",
        trail::user_actor(&caller.user_id),
    )
    .with_details(json!({"user_id": member.user_id, "role": member.role.as_str()}));
    Ok(platform
        .stores
        .identity
        .remove_member(MemberRemoval {
            org_id: caller.org_id.clone(),
            user_id: member.user_id,
            expect: member.role,
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

/// When a new token stops working.
#[derive(Clone, Copy, Debug)]
pub enum Expiry {
    Never,
    At(OffsetDateTime),
    InDays(i64),
}

/// A new PAT's secret, shown once; `Debug` hides it.
pub struct PatSecret(pub String);

impl fmt::Debug for PatSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatSecret(..)")
    }
}

fn check_pat_name(raw: &str) -> Result<&str, DomainError> {
    let name = raw.trim();
    let refuse = |why: &str| Err(DomainError::Invalid(format!("invalid field name: {why}")));
    if name.is_empty() {
        return refuse("must not be empty");
    }
    if name.chars().count() > PAT_NAME_MAX_CHARS {
        return refuse(&format!("at most {PAT_NAME_MAX_CHARS} characters"));
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return refuse("must not contain control characters");
    }
    Ok(name)
}

/// Creates a PAT for the caller in the caller's organisation (audited
/// `pat.created`, without the secret).
pub async fn create_pat(
    platform: &Platform,
    caller: &UserPrincipal,
    name: &str,
    expiry: Expiry,
) -> Result<(PatRecord, PatSecret), DomainError> {
    let name = check_pat_name(name)?;
    let now = platform.clock.now();
    let expires_at = match expiry {
        Expiry::Never => None,
        Expiry::At(at) if at <= now => {
            return Err(DomainError::Invalid(
                "invalid field expires_at: must be in the future".into(),
            ));
        }
        Expiry::At(at) if at > now + time::Duration::days(PAT_MAX_DAYS) => {
            return Err(DomainError::Invalid(format!(
                "invalid field expires_at: at most {PAT_MAX_DAYS} days from now"
            )));
        }
        Expiry::At(at) => Some(at),
        Expiry::InDays(days) if (1..=PAT_MAX_DAYS).contains(&days) => {
            Some(now + time::Duration::days(days))
        }
        Expiry::InDays(_) => {
            return Err(DomainError::Invalid(format!(
                "invalid field expires_in_days: from 1 to {PAT_MAX_DAYS}"
            )));
        }
    };
    let secret = auth::new_pat();
    let audit = AuditEvent::new(
        &caller.org_id,
        "pat.created",
        trail::user_actor(&caller.user_id),
    )
    .with_details(json!({
        "name": name,
        "expires_at": expires_at.map(crate::clock::rfc3339),
    }));
    let record = platform
        .stores
        .identity
        .issue_pat(NewPat {
            principal: caller.clone(),
            name: name.to_owned(),
            token_hash: auth::hash_token(&secret),
            expires_at,
            now,
            audit,
        })
        .await?;
    Ok((record, PatSecret(secret)))
}

/// The caller's PATs in this organisation.
pub async fn list_pats(
    platform: &Platform,
    caller: &UserPrincipal,
) -> Result<Vec<PatRecord>, DomainError> {
    Ok(platform
        .stores
        .identity
        .pats(&caller.org_id, &caller.user_id)
        .await?)
}

/// Revokes one of the caller's PATs: it answers 401 from now on (audited
/// `pat.revoked`). Anyone else's token is not found.
pub async fn revoke_pat(
    platform: &Platform,
    caller: &UserPrincipal,
    pat_id: &str,
) -> Result<PatRecord, DomainError> {
    let audit = AuditEvent::new(
        &caller.org_id,
        "pat.revoked",
        trail::user_actor(&caller.user_id),
    )
    .with_details(json!({"pat_id": pat_id}));
    platform
        .stores
        .identity
        .revoke_pat(PatRevocation {
            org_id: caller.org_id.clone(),
            user_id: caller.user_id.clone(),
            pat_id: pat_id.to_owned(),
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("token"))
}

/// Every organisation the caller belongs to, the active one first.
pub async fn workspaces(
    platform: &Platform,
    caller: &UserPrincipal,
) -> Result<Vec<Workspace>, DomainError> {
    let mut all = platform.stores.identity.workspaces(&caller.user_id).await?;
    all.sort_by_key(|w| w.org_id != caller.org_id);
    Ok(all)
}

/// Which credential asks to switch.
pub enum SwitchBy<'a> {
    /// A cookie session, by its token.
    Session(&'a str),
    /// A PAT: bound to its organisation, it can only "switch" to it.
    Pat,
}

/// Makes `org_id` the caller's active workspace. A cookie session moves
/// (audited `session.workspace_switched`); a PAT is bound to one
/// organisation, so switching it elsewhere is a conflict.
pub async fn switch_workspace(
    platform: &Platform,
    caller: &UserPrincipal,
    org_id: &str,
    by: SwitchBy<'_>,
) -> Result<Workspace, DomainError> {
    let all = platform.stores.identity.workspaces(&caller.user_id).await?;
    let target = all
        .into_iter()
        .find(|w| w.org_id == org_id)
        .ok_or(DomainError::NotFound("workspace"))?;
    if target.org_id == caller.org_id {
        return Ok(target);
    }
    match by {
        SwitchBy::Pat => Err(DomainError::Store(StoreError::Conflict(
            "a personal access token is bound to the workspace it was created in; \
             create a token in the other workspace"
                .into(),
        ))),
        SwitchBy::Session(token) => {
            // Audited in the workspace left, and named in the one entered.
            let audit = AuditEvent::new(
                &caller.org_id,
                "session.workspace_switched",
                trail::user_actor(&caller.user_id),
            )
            .with_details(json!({"from": caller.org_id, "to": target.org_id}));
            platform
                .stores
                .identity
                .switch_session(SessionSwitch {
                    token_hash: auth::hash_token(token),
                    org_id: target.org_id.clone(),
                    now: platform.clock.now(),
                    audit,
                })
                .await
                .map_err(DomainError::missing("workspace"))?;
            Ok(target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> UserPrincipal {
        UserPrincipal {
            user_id: format!("usr_{}", role.as_str()),
            email: "a@b.co".into(),
            org_id: "org_1".into(),
            role,
        }
    }

    fn member(id: &str, role: Role) -> MemberRecord {
        MemberRecord {
            user_id: id.into(),
            email: "m@b.co".into(),
            role,
            joined_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn only_the_owner_gives_admin_and_nobody_gives_owner() {
        assert!(may_grant(&who(Role::Owner), Role::Admin).is_ok());
        assert!(may_grant(&who(Role::Owner), Role::Member).is_ok());
        assert!(may_grant(&who(Role::Admin), Role::Member).is_ok());
        assert!(matches!(
            may_grant(&who(Role::Admin), Role::Admin),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            may_grant(&who(Role::Owner), Role::Owner),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn a_member_is_managed_only_from_above_and_never_by_themselves() {
        let (owner, admin) = (who(Role::Owner), who(Role::Admin));
        assert!(may_manage(&owner, &member("usr_x", Role::Admin)).is_ok());
        assert!(may_manage(&admin, &member("usr_x", Role::Member)).is_ok());
        assert!(may_manage(&admin, &member("usr_x", Role::Admin)).is_err());
        assert!(may_manage(&owner, &member("usr_x", Role::Owner)).is_err());
        assert!(may_manage(&admin, &member("usr_admin", Role::Member)).is_err());
    }

    #[test]
    fn token_names_are_bounded_text() {
        assert_eq!(check_pat_name(" ci ").unwrap(), "ci");
        for bad in ["", "  ", "a\u{0}b", "\u{202E}x"] {
            assert!(check_pat_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_pat_name(&"x".repeat(PAT_NAME_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let p = OneTimePassword("hunter2hunter2".into());
        let s = PatSecret("upivia_pat_live_x".into());
        assert!(!format!("{p:?}{s:?}").contains("hunter2"));
        assert!(!format!("{s:?}").contains("upivia_pat"));
    }
}

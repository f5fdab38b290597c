//! Identity persistence: organisations and their kill switch, users and
//! members, personal access tokens, sessions, password changes, and the
//! first start's bootstrap.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{OrgId, UserId};
use crate::model::{AuditEvent, Org, Role, UserPrincipal};

/// An organisation with its owner and the owner's first PAT: what the
/// first start creates, and each `create_org` after it.
#[derive(Clone, Debug)]
pub struct BootstrapPlan {
    pub org_name: String,
    pub email: String,
    pub password_hash: String,
    pub pat_hash: String,
    pub now: OffsetDateTime,
}

/// A user's new password: the hash replaces the old one, every session of
/// the user but `keep_session` (a token hash) ends, and `audit` is written,
/// in one transaction.
#[derive(Clone, Debug)]
pub struct PasswordChange {
    pub user_id: String,
    pub password_hash: String,
    pub keep_session: Option<String>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub struct Bootstrapped {
    pub org_id: String,
    pub user_id: String,
}

/// organisation issue; for now by test harnesses).
#[derive(Clone, Debug)]
pub struct NewMember {
    pub org_id: String,
    pub email: String,
    pub password_hash: String,
    /// Admin or member: an organisation has one owner, made by bootstrap.
    pub role: Role,
    pub now: OffsetDateTime,
    pub actor: String,
}

/// Turning an organisation's kill switch on or off.
#[derive(Clone, Debug)]
pub struct KillSwitchChange {
    pub org_id: OrgId,
    pub on: bool,
    /// The role recorded as the switch's setter.
    pub set_by: Role,
    /// The switch as the caller checked it (its state and setter).
    pub expect: (bool, Role),
    pub user_id: UserId,
    pub now: OffsetDateTime,
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    async fn bootstrap(&self, plan: BootstrapPlan) -> StoreResult<Option<Bootstrapped>>;
    /// Creates another organisation with `plan.email` as its owner and a
    /// PAT (`plan.pat_hash`), audited `org.created` in the new
    /// organisation, in one transaction. `Conflict("a user with this email
    /// already exists")` when the email has a user (in any organisation).
    async fn create_org(&self, plan: BootstrapPlan) -> StoreResult<Bootstrapped>;
    async fn org(&self, org_id: &OrgId) -> StoreResult<Option<Org>>;
    /// The organisation created first (the one bootstrap made).
    async fn primary_org(&self) -> StoreResult<Option<Org>>;
    /// Turns the organisation's kill switch on or off (audited), recording
    /// `set_by`; refused (`Conflict`) unless the switch is still `expect`
    /// (its state and setter) as the caller checked it.
    async fn set_kill_switch(&self, change: KillSwitchChange) -> StoreResult<Org>;
    /// Adds a user with a role to an organisation (audited `org.member_added`).
    async fn add_member(&self, member: NewMember) -> StoreResult<UserPrincipal>;
    async fn user_by_pat(&self, token_hash: &str) -> StoreResult<Option<UserPrincipal>>;
    async fn user_by_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>>;
    /// The user's password hash and their principal in their first org.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(String, UserPrincipal)>>;
    async fn create_session(
        &self,
        principal: &UserPrincipal,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Sets a new password hash (audited); returns how many sessions ended.
    async fn change_password(&self, change: PasswordChange) -> StoreResult<usize>;
    async fn create_pat(
        &self,
        principal: &UserPrincipal,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<String>;
}

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

/// A new user made a member of an organisation (by an owner or admin through
/// `domains::identity::people`, and by test harnesses).
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

/// An existing user (found by email) joining one more organisation.
#[derive(Clone, Debug)]
pub struct JoinOrg {
    pub org_id: String,
    pub email: String,
    /// Admin or member.
    pub role: Role,
    pub now: OffsetDateTime,
    pub actor: String,
}

/// A member of an organisation as its member list shows them.
#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub joined_at: OffsetDateTime,
}

/// A member's new role, refused (`Conflict`) unless the member still has
/// `expect` (the role the caller's permission was checked against).
#[derive(Clone, Debug)]
pub struct RoleChange {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
    pub expect: Role,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// A member leaving an organisation: their membership, their sessions in
/// it and their PATs bound to it end in one transaction. Refused
/// (`Conflict`) unless the member still has `expect`.
#[derive(Clone, Debug)]
pub struct MemberRemoval {
    pub org_id: String,
    pub user_id: String,
    pub expect: Role,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// What a removal ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: usize,
    pub pats: usize,
}

/// A personal access token as its owner's list shows it (never the secret,
/// which the store does not have).
#[derive(Clone, Debug)]
pub struct PatRecord {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A new PAT of `principal`, bound to `principal.org_id`, audited.
#[derive(Clone, Debug)]
pub struct NewPat {
    pub principal: UserPrincipal,
    pub name: String,
    pub token_hash: String,
    pub expires_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Revoking one of `user_id`'s PATs in `org_id` (`NotFound` for anyone
/// else's; `Conflict` when already revoked).
#[derive(Clone, Debug)]
pub struct PatRevocation {
    pub org_id: String,
    pub user_id: String,
    pub pat_id: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// An organisation a user belongs to, with their role in it.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub org_id: String,
    pub name: String,
    pub role: Role,
    pub joined_at: OffsetDateTime,
}

/// A cookie session moving to another organisation of its user
/// (`NotFound` unless the user is a member of `org_id`).
#[derive(Clone, Debug)]
pub struct SessionSwitch {
    pub token_hash: String,
    pub org_id: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
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
    /// The PAT's user, unless it is revoked, expired at `now`, or its user
    /// is no longer a member of its organisation.
    async fn user_by_pat_at(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>>;
    /// `user_by_pat_at` at the wall clock's now.
    async fn user_by_pat(&self, token_hash: &str) -> StoreResult<Option<UserPrincipal>> {
        self.user_by_pat_at(token_hash, OffsetDateTime::now_utc())
            .await
    }
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
    /// Makes an existing user (by email) a member (audited
    /// `org.member_added`); `NotFound` when no user has the email,
    /// `Conflict` when they are a member already.
    async fn join_org(&self, join: JoinOrg) -> StoreResult<UserPrincipal>;
    /// The organisation's members, oldest first.
    async fn members(&self, org_id: &str) -> StoreResult<Vec<MemberRecord>>;
    async fn member(&self, org_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>>;
    /// Sets a member's role (audited); never to or from owner.
    async fn set_member_role(&self, change: RoleChange) -> StoreResult<MemberRecord>;
    /// Removes a member with their sessions and PATs in the organisation.
    async fn remove_member(&self, removal: MemberRemoval) -> StoreResult<Removed>;
    /// Stores a new PAT's hash (audited).
    async fn issue_pat(&self, pat: NewPat) -> StoreResult<PatRecord>;
    /// The user's PATs bound to the organisation, newest first.
    async fn pats(&self, org_id: &str, user_id: &str) -> StoreResult<Vec<PatRecord>>;
    async fn revoke_pat(&self, revocation: PatRevocation) -> StoreResult<PatRecord>;
    /// Every organisation the user belongs to, oldest membership first.
    async fn workspaces(&self, user_id: &str) -> StoreResult<Vec<Workspace>>;
    /// Moves a cookie session to another of its user's organisations.
    async fn switch_session(&self, switch: SessionSwitch) -> StoreResult<()>;
}

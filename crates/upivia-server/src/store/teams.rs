//! Team persistence: teams of an organisation, the users in them with a
//! team role, and the active team a session or PAT carries. (Team pools
//! and their money live in the ledger, not here.)

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{OrgId, UserId};
use crate::model::AuditEvent;

/// A team's built-in roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamRole {
    /// Manages the team's members (and, later, its budget requests).
    Manager,
    /// Works within the team.
    Worker,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Manager => "manager",
            TeamRole::Worker => "worker",
        }
    }

    pub fn parse(raw: &str) -> Option<TeamRole> {
        match raw {
            "manager" => Some(TeamRole::Manager),
            "worker" => Some(TeamRole::Worker),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Team {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// A team as one user sees it in a list.
#[derive(Clone, Debug)]
pub struct TeamListing {
    pub team: Team,
    /// The user's role in the team, if they are in it.
    pub role: Option<TeamRole>,
    pub member_count: u32,
}

/// One user's membership of a team.
#[derive(Clone, Debug)]
pub struct TeamMember {
    /// The membership id (`tm_…`), as `PATCH /teams/{id}/members/{membership_id}` names it.
    pub id: String,
    pub team_id: String,
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub role: TeamRole,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A new team; `manager` (the creator) joins it as its manager.
#[derive(Clone, Debug)]
pub struct NewTeam {
    pub id: String,
    pub org_id: OrgId,
    pub name: String,
    pub manager: UserId,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Who joins a team: a user of the team's organisation, by id or email.
#[derive(Clone, Debug)]
pub enum MemberRef {
    UserId(String),
    Email(String),
}

/// A change to one team, with its audit event, in one transaction.
#[derive(Clone, Debug)]
pub struct TeamCommand<T> {
    pub org_id: OrgId,
    pub team_id: String,
    pub change: T,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub struct AddTeamMember {
    pub id: String,
    pub who: MemberRef,
    pub role: TeamRole,
}

#[derive(Clone, Debug)]
pub struct ChangeTeamRole {
    pub membership_id: String,
    pub role: TeamRole,
}

/// The credential a switch applies to, by its token hash.
#[derive(Clone, Debug)]
pub enum Credential {
    Session(String),
    Pat(String),
}

/// Setting (or clearing) the active team of a session or PAT.
#[derive(Clone, Debug)]
pub struct SwitchTeam {
    pub org_id: OrgId,
    pub credential: Credential,
    pub team_id: Option<String>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[async_trait]
pub trait TeamStore: Send + Sync + 'static {
    /// Creates the team with its creator as manager (audited);
    /// `Conflict` when the organisation has a team of that name.
    async fn create_team(&self, team: NewTeam) -> StoreResult<(Team, TeamMember)>;
    async fn team(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Option<Team>>;
    /// The organisation's teams (`all`), or only those `user` is in, with
    /// the user's role in each.
    async fn teams(
        &self,
        org_id: &OrgId,
        user: &UserId,
        all: bool,
    ) -> StoreResult<Vec<TeamListing>>;
    async fn team_members(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Vec<TeamMember>>;
    /// `user`'s membership of the team, if any.
    async fn membership(
        &self,
        org_id: &OrgId,
        team_id: &str,
        user: &UserId,
    ) -> StoreResult<Option<TeamMember>>;
    /// Adds a user of the organisation (`NotFound` when there is none
    /// such; `Conflict` when already in the team).
    async fn add_team_member(&self, add: TeamCommand<AddTeamMember>) -> StoreResult<TeamMember>;
    /// `NotFound` unless the membership is of this team.
    async fn set_team_role(&self, change: TeamCommand<ChangeTeamRole>) -> StoreResult<TeamMember>;
    /// Removes the membership (and clears it as the user's active team);
    /// `NotFound` unless it is of this team.
    async fn remove_team_member(&self, remove: TeamCommand<String>) -> StoreResult<TeamMember>;
    async fn switch_team(&self, switch: SwitchTeam) -> StoreResult<()>;
    /// The active team of a session or PAT, if one is set.
    async fn active_team(&self, credential: &Credential) -> StoreResult<Option<String>>;
}

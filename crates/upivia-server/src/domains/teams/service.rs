//! The rules of teams. An admin (or the owner) creates teams, sees every
//! team of the organisation and manages any team's members; a member sees
//! the teams they are in, and a team's manager manages its members.
//! Another organisation's team is never found (404). Every change writes
//! its audit event in the same transaction.

use serde_json::{Value, json};

use super::super::DomainError;
use crate::governance::trail;
use crate::ids::{self, OrgId, UserId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    AddTeamMember, ChangeTeamRole, Credential, MemberRef, NewTeam, SwitchTeam, Team, TeamCommand,
    TeamListing, TeamMember, TeamRole,
};

pub(super) fn event(user: &UserPrincipal, kind: &str, details: Value) -> AuditEvent {
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id)).with_details(details)
}

pub(super) fn org(user: &UserPrincipal) -> OrgId {
    OrgId::from(&user.org_id)
}

fn is_admin(user: &UserPrincipal) -> bool {
    user.role >= Role::Admin
}

/// A team of the caller's organisation, and the caller's membership of it.
pub(super) async fn team_of(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<(Team, Option<TeamMember>), DomainError> {
    let teams = &platform.stores.teams;
    let team = teams
        .team(&org(user), team_id)
        .await?
        .ok_or(DomainError::NotFound("team"))?;
    let mine = teams
        .membership(&org(user), team_id, &UserId::from(&user.user_id))
        .await?;
    Ok((team, mine))
}

/// A team the caller may manage; only [`managed`] makes one, so every
/// change below has passed that check.
#[derive(Clone, Debug)]
pub struct ManagedTeam(Team);

/// A team the caller may manage: admins manage every team, a manager
/// their own. Checked before the body is read, so a caller without the
/// right learns nothing about what a valid body would be.
pub async fn managed(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<ManagedTeam, DomainError> {
    let (team, mine) = team_of(platform, user, team_id).await?;
    if is_admin(user) || mine.is_some_and(|m| m.role == TeamRole::Manager) {
        Ok(ManagedTeam(team))
    } else {
        Err(DomainError::Forbidden(
            "only an admin or a manager of this team may change its members".into(),
        ))
    }
}

/// Creates a team; the creator joins it as its manager.
pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    name: String,
) -> Result<(Team, TeamMember), DomainError> {
    if !is_admin(user) {
        return Err(DomainError::Forbidden(format!(
            "creating a team needs the admin role; you are {}",
            user.role.as_str()
        )));
    }
    let id = ids::new_id(ids::TEAM);
    let audit = event(user, "team.created", json!({"team_id": id, "name": name}));
    Ok(platform
        .stores
        .teams
        .create_team(NewTeam {
            id,
            org_id: org(user),
            name,
            manager: UserId::from(&user.user_id),
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

/// The teams the caller can see: every team for an admin, their own for
/// a member; with the caller's role in each.
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Vec<TeamListing>, DomainError> {
    Ok(platform
        .stores
        .teams
        .teams(&org(user), &UserId::from(&user.user_id), is_admin(user))
        .await?)
}

/// A team's members: for its members and admins.
pub async fn members(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<(Team, Vec<TeamMember>), DomainError> {
    let (team, mine) = team_of(platform, user, team_id).await?;
    if !is_admin(user) && mine.is_none() {
        return Err(DomainError::Forbidden(
            "only the team's members and admins may list its members".into(),
        ));
    }
    let members = platform
        .stores
        .teams
        .team_members(&org(user), team_id)
        .await?;
    Ok((team, members))
}

/// Adds a user of the organisation to the team.
pub async fn add_member(
    platform: &Platform,
    user: &UserPrincipal,
    team: &ManagedTeam,
    who: MemberRef,
    role: TeamRole,
) -> Result<TeamMember, DomainError> {
    let team = team.0.clone();
    let id = ids::new_id(ids::TEAM_MEMBER);
    let audit = event(
        user,
        "team.member_added",
        json!({"team_id": team.id, "membership_id": id, "role": role.as_str()}),
    );
    platform
        .stores
        .teams
        .add_team_member(TeamCommand {
            org_id: org(user),
            team_id: team.id,
            change: AddTeamMember { id, who, role },
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("user"))
}

/// Sets a member's team role.
pub async fn set_role(
    platform: &Platform,
    user: &UserPrincipal,
    team: &ManagedTeam,
    membership_id: &str,
    role: TeamRole,
) -> Result<TeamMember, DomainError> {
    let team = team.0.clone();
    let audit = event(
        user,
        "team.member_updated",
        json!({"team_id": team.id, "membership_id": membership_id, "role": role.as_str()}),
    );
    platform
        .stores
        .teams
        .set_team_role(TeamCommand {
            org_id: org(user),
            team_id: team.id,
            change: ChangeTeamRole {
                membership_id: membership_id.to_owned(),
                role,
            },
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("team membership"))
}

/// Removes a member from the team.
pub async fn remove_member(
    platform: &Platform,
    user: &UserPrincipal,
    team: &ManagedTeam,
    membership_id: &str,
) -> Result<TeamMember, DomainError> {
    let team = team.0.clone();
    let audit = event(
        user,
        "team.member_removed",
        json!({"team_id": team.id, "membership_id": membership_id}),
    );
    platform
        .stores
        .teams
        .remove_team_member(TeamCommand {
            org_id: org(user),
            team_id: team.id,
            change: membership_id.to_owned(),
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("team membership"))
}

/// Sets (or, with `None`, clears) the active team of the caller's
/// session or PAT. A member may switch only to a team they are in.
pub async fn switch(
    platform: &Platform,
    user: &UserPrincipal,
    credential: Credential,
    team_id: Option<String>,
) -> Result<Option<Team>, DomainError> {
    let team = match &team_id {
        None => None,
        Some(id) => {
            let (team, mine) = team_of(platform, user, id).await?;
            if !is_admin(user) && mine.is_none() {
                return Err(DomainError::Forbidden(
                    "you can switch only to a team you are in".into(),
                ));
            }
            Some(team)
        }
    };
    let audit = event(user, "team.switched", json!({"team_id": team_id}));
    platform
        .stores
        .teams
        .switch_team(SwitchTeam {
            org_id: org(user),
            credential,
            team_id,
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("team"))?;
    Ok(team)
}

/// The active team of a session or PAT.
pub async fn active(
    platform: &Platform,
    credential: &Credential,
) -> Result<Option<String>, DomainError> {
    Ok(platform.stores.teams.active_team(credential).await?)
}

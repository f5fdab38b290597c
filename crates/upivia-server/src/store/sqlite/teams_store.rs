//! `TeamStore` on SQLite: lookups on the read pool, writes on the writer.

use async_trait::async_trait;

use super::{SqliteStore, teams};
use crate::ids::{OrgId, UserId};
use crate::store::*;

#[async_trait]
impl TeamStore for SqliteStore {
    async fn create_team(&self, team: NewTeam) -> StoreResult<(Team, TeamMember)> {
        self.writer.write(move |ctx| teams::create(ctx, team)).await
    }

    async fn team(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Option<Team>> {
        self.lookup(|c| teams::get(c, org_id.as_str(), team_id))
    }

    async fn teams(
        &self,
        org_id: &OrgId,
        user: &UserId,
        all: bool,
    ) -> StoreResult<Vec<TeamListing>> {
        let (o, u) = (org_id.clone(), user.clone());
        self.read(move |c| teams::list(c, o.as_str(), u.as_str(), all))
            .await
    }

    async fn team_members(&self, org_id: &OrgId, team_id: &str) -> StoreResult<Vec<TeamMember>> {
        let (o, t) = (org_id.clone(), team_id.to_owned());
        self.read(move |c| teams::members(c, o.as_str(), &t)).await
    }

    async fn membership(
        &self,
        org_id: &OrgId,
        team_id: &str,
        user: &UserId,
    ) -> StoreResult<Option<TeamMember>> {
        self.lookup(|c| teams::membership(c, org_id.as_str(), team_id, user.as_str()))
    }

    async fn add_team_member(&self, add: TeamCommand<AddTeamMember>) -> StoreResult<TeamMember> {
        self.writer
            .write(move |ctx| teams::add_member(ctx, add))
            .await
    }

    async fn set_team_role(&self, change: TeamCommand<ChangeTeamRole>) -> StoreResult<TeamMember> {
        self.writer
            .write(move |ctx| teams::set_role(ctx, change))
            .await
    }

    async fn remove_team_member(&self, remove: TeamCommand<String>) -> StoreResult<TeamMember> {
        self.writer
            .write(move |ctx| teams::remove_member(ctx, remove))
            .await
    }

    async fn switch_team(&self, switch: SwitchTeam) -> StoreResult<()> {
        self.writer
            .write(move |ctx| teams::switch(ctx, switch))
            .await
    }

    async fn active_team(&self, credential: &Credential) -> StoreResult<Option<String>> {
        self.lookup(|c| teams::active(c, credential))
    }
}

//! `teams` and `teams.members` (API.md §2.17).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints::{self as ep, AuthMode, HttpMethod};
use crate::error::Result;

use super::handle;

handle!(
    /// Teams and team budgets.
    Teams
);
handle!(
    /// Team members.
    TeamMembers
);

impl<'a> Teams<'a> {
    /// `teams.members`.
    pub fn members(&self) -> TeamMembers<'a> {
        TeamMembers::new(self.client)
    }

    /// `POST /api/v1/teams` with `{name}` (auth `workspace`, an admin):
    /// `{team: {id, name, ...}, membership}`; the caller becomes the team's
    /// manager. No official client sends it: this server's route.
    pub async fn create(self, name: &str) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Post, "/api/v1/teams", AuthMode::Workspace)
            .json(&json!({ "name": name }))?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/teams` (auth `workspace`).
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::TEAMS_LIST, &[]))
            .await
    }

    /// `POST /api/v1/teams/switch` with `{team_id}` (auth `workspace`): sets
    /// the active-team cookie; `None` sends `null` and clears it.
    pub async fn switch(self, team_id: Option<&str>) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::TEAMS_SWITCH, &[]).json(&json!({ "team_id": team_id }))?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/teams/{team_id}/budget` (auth `workspace`).
    pub async fn budget(self, team_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::TEAMS_BUDGET, &[team_id]))
            .await
    }

    /// `POST /api/v1/teams/{team_id}/budget/allocate` (auth `workspace`):
    /// moves money into the team pool, e.g. `{amount_cents}`.
    pub async fn allocate_budget(self, team_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::TEAMS_ALLOCATE_BUDGET, &[team_id]).json(body)?;
        self.client.send_json(spec).await
    }
}

impl TeamMembers<'_> {
    /// `POST /api/v1/teams/{team_id}/members` (auth `workspace`, an admin
    /// or the team's manager): `{user_id}` or `{email}`, with an optional
    /// `role` (`worker` by default). This server's route.
    pub async fn add(self, team_id: &str, body: &Value) -> Result<Value> {
        let path = format!("/api/v1/teams/{team_id}/members");
        let spec = RequestSpec::new(HttpMethod::Post, path, AuthMode::Workspace).json(body)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/teams/{team_id}/members/{membership_id}` (auth
    /// `workspace`, an admin or the team's manager). This server's route.
    pub async fn remove(self, team_id: &str, membership_id: &str) -> Result<Value> {
        let path = format!("/api/v1/teams/{team_id}/members/{membership_id}");
        let spec = RequestSpec::new(HttpMethod::Delete, path, AuthMode::Workspace);
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/teams/{team_id}/members` (auth `workspace`).
    pub async fn list(self, team_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::TEAMS_MEMBERS_LIST, &[team_id]))
            .await
    }

    /// `PATCH /api/v1/teams/{team_id}/members/{membership_id}` (auth
    /// `workspace`): `{role: "manager"|"worker"}` or `{role_id}`.
    pub async fn update(self, team_id: &str, membership_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::TEAMS_MEMBERS_UPDATE, &[team_id, membership_id])
            .json(body)?;
        self.client.send_json(spec).await
    }
}

//! `workspaces` (API.md §2.18).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// The caller's workspaces.
    Workspaces
);

impl Workspaces<'_> {
    /// `GET /api/v1/workspaces` (auth `workspace`): `{workspaces: [...]}`.
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::WORKSPACES_LIST, &[]))
            .await
    }

    /// `POST /api/v1/workspaces/switch` with `{orgId}` (auth `workspace`):
    /// sets the active-workspace cookie.
    pub async fn switch(self, org_id: &str) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::WORKSPACES_SWITCH, &[]).json(&json!({ "orgId": org_id }))?;
        self.client.send_json(spec).await
    }
}

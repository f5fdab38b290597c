//! `budget_requests` (API.md §2.19).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// Requests for team budget.
    BudgetRequests
);

impl BudgetRequests<'_> {
    /// `POST /api/v1/budget-requests` (auth `workspace`), e.g. `{team_id,
    /// amount_cents, reason}`.
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::BUDGET_REQUESTS_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/budget-requests` (auth `workspace`).
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::BUDGET_REQUESTS_LIST, &[]))
            .await
    }

    /// `PATCH /api/v1/budget-requests/{request_id}` (auth `workspace`), e.g.
    /// `{action: "approve"|"reject", note}`.
    pub async fn resolve(self, request_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::BUDGET_REQUESTS_RESOLVE, &[request_id]).json(body)?;
        self.client.send_json(spec).await
    }
}

//! `approvals` (API.md §2.3).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::ServiceRequestOutcome;

use super::handle;

handle!(
    /// Pending approvals.
    Approvals
);

impl Approvals<'_> {
    /// `GET /api/v1/approvals?status=pending` (auth `workspace`):
    /// `{approvals: [...]}`.
    pub async fn list(self) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::APPROVALS_LIST, &[]).query_pair("status", "pending");
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/approvals/{approval_id}/approve` (auth `workspace`):
    /// executes the pending request (the budget is checked again) and
    /// returns its outcome.
    pub async fn approve(self, approval_id: &str) -> Result<ServiceRequestOutcome> {
        let spec =
            RequestSpec::endpoint(&ep::APPROVALS_APPROVE, &[approval_id]).json(&json!({}))?;
        self.client.send_typed(spec).await
    }

    /// Settles an outcome review (`orev_…`: a request a server crash left
    /// `failed` / `outcome_unknown` with its estimate held) as having
    /// happened, charging `amount_cents` (at most what is held; all of it
    /// when `None`). Releasing it is [`reject`](Self::reject).
    pub async fn settle_outcome(
        self,
        review_id: &str,
        amount_cents: Option<i64>,
    ) -> Result<ServiceRequestOutcome> {
        let body = match amount_cents {
            Some(cents) => json!({"amount_cents": cents}),
            None => json!({}),
        };
        let spec = RequestSpec::endpoint(&ep::APPROVALS_APPROVE, &[review_id]).json(&body)?;
        self.client.send_typed(spec).await
    }

    /// `POST /api/v1/approvals/{approval_id}/reject` (auth `workspace`):
    /// the request ends `blocked`.
    pub async fn reject(self, approval_id: &str) -> Result<ServiceRequestOutcome> {
        let spec = RequestSpec::endpoint(&ep::APPROVALS_REJECT, &[approval_id]).json(&json!({}))?;
        self.client.send_typed(spec).await
    }
}

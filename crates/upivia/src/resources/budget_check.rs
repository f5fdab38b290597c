//! `budget_check`: the free `platform.check_budget` meta-operation (API.md §2.1).

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{BudgetCheck, BudgetCheckRequest};

use super::handle;

handle!(
    /// The budget check.
    BudgetCheckApi
);

impl BudgetCheckApi<'_> {
    /// `POST /api/v1/service-requests` with `platform.check_budget`
    /// (auth `agent`): the agent's remaining budget, in dollars.
    ///
    /// Sends no idempotency key (header or field) and is never retried.
    pub async fn check(self, agent_id: &str) -> Result<BudgetCheck> {
        let spec = RequestSpec::endpoint(&ep::BUDGET_CHECK_CHECK, &[])
            .json(&BudgetCheckRequest::new(agent_id))?;
        self.client.send_typed(spec).await
    }
}

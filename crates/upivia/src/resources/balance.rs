//! `balance` (API.md §2.2).

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::Balance;

use super::handle;

handle!(
    /// The organisation's or a team's balance.
    BalanceApi
);

impl BalanceApi<'_> {
    /// `GET /api/v1/balance` (auth `workspace`): the organisation's balance,
    /// or the team's budget when `team_id` is given.
    pub async fn get(self, team_id: Option<&str>) -> Result<Balance> {
        let mut spec = RequestSpec::endpoint(&ep::BALANCE_GET, &[]);
        if let Some(team_id) = team_id {
            spec = spec.query_pair("team_id", team_id);
        }
        self.client.send_typed(spec).await
    }
}

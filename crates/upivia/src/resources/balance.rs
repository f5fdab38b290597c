//! `balance` (API.md §2.2), and the owner's credit that funds it
//! (upivia-rs, outside the contract).

use serde_json::json;

use crate::client::RequestSpec;
use crate::endpoints::{self as ep, AuthMode, Endpoint, HttpMethod};
use crate::error::Result;
use crate::models::{Balance, Cents};

use super::handle;

handle!(
    /// The organisation's or a team's balance.
    BalanceApi
);

/// `POST /api/v1/balance/credits` (upivia-rs, outside the contract).
const BALANCE_CREDIT: Endpoint = Endpoint {
    resource: "balance",
    sdk_method: "credit",
    method: HttpMethod::Post,
    path: "/api/v1/balance/credits",
    auth: AuthMode::Workspace,
    success: "200",
};

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

    /// `POST /api/v1/balance/credits` with `{amount_cents, note}` (auth
    /// `workspace`, the owner only): adds `amount` (positive) to the
    /// organisation's balance. The reply is the new balance, with
    /// `credited_cents` in [`Balance::extra`]. Never retried: the server
    /// takes no idempotency key here, so a repeat would credit twice.
    ///
    /// ```no_run
    /// # async fn demo(client: upivia::Client) -> upivia::Result<()> {
    /// use upivia::models::Cents;
    /// let balance = client.balance().credit(Cents::new(2_500), Some("top-up")).await?;
    /// println!("{}", balance.amount_cents.get());
    /// # Ok(()) }
    /// ```
    pub async fn credit(self, amount: Cents, note: Option<&str>) -> Result<Balance> {
        let mut body = json!({"amount_cents": amount.get()});
        if let Some(note) = note {
            body["note"] = json!(note);
        }
        let spec = RequestSpec::endpoint(&BALANCE_CREDIT, &[]).json(&body)?;
        self.client.send_typed(spec).await
    }
}

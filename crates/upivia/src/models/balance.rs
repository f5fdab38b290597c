//! Balance and the budget check (API.md §2.1, §2.2).

use serde::{Deserialize, Serialize};

use super::{Cents, JsonMap};

/// `GET /api/v1/balance`: the organisation's balance, or the team budget
/// when asked with `team_id` (still under `amount_cents`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    /// The amount in integer cents.
    pub amount_cents: Cents,
    /// Currency code, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The budget check's reply. Its top-level amounts are **dollars as
/// floats**, the one pinned exception to integer cents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheck {
    /// Dollars the agent may still spend this month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_dollars: Option<f64>,
    /// Dollars spent this month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_spent: Option<f64>,
    /// The monthly limit in dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_limit: Option<f64>,
    /// The organisation's balance in dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_balance: Option<f64>,
    /// The rest of the reply (`status`, `result`, `cost_cents`, ...).
    #[serde(flatten)]
    pub extra: JsonMap,
}

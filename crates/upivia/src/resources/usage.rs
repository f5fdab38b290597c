//! `usage` (API.md §2.2).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::ListUsage;

use super::handle;

handle!(
    /// Usage records.
    Usage
);

impl Usage<'_> {
    /// `GET /api/v1/usage` (auth `workspace`): `{total_cents, records}`,
    /// plus chart extras with `include_chart`.
    pub async fn list(self, filter: ListUsage) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::USAGE_LIST, &[]).query(&filter)?;
        self.client.send_json(spec).await
    }
}

//! `services`: the public catalog (API.md §2.16).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// The service catalog.
    Services
);

impl Services<'_> {
    /// `GET /api/v1/services` (auth `none`): services with their operations,
    /// prices in cents and input schemas. No `Authorization` header is sent.
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::SERVICES_LIST, &[]))
            .await
    }
}

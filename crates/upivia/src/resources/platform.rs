//! `platform`: probes and agent docs (API.md §2.21).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// Health probes and the agent docs.
    Platform
);

impl Platform<'_> {
    /// `GET /api/v1/healthz` (auth `none`): a 503 (after the GET retries)
    /// is an error of kind `Http`.
    pub async fn health(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::PLATFORM_HEALTH, &[]))
            .await
    }

    /// `GET /api/v1/health/readiness` (auth `none`): database and worker
    /// checks; 503 when down.
    pub async fn readiness(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::PLATFORM_READINESS, &[]))
            .await
    }

    /// `GET /api/v1/agent-docs` (auth `none`): machine-readable API spec,
    /// catalog and pricing.
    pub async fn agent_docs(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::PLATFORM_AGENT_DOCS, &[]))
            .await
    }
}

//! `service_requests`: governed service execution (API.md §2.1).

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{CreateServiceRequest, ServiceRequestOutcome};

use super::{WaitOptions, handle, poll_until};

handle!(
    /// Service requests: create, get, and create-then-wait.
    ServiceRequests
);

impl ServiceRequests<'_> {
    /// `POST /api/v1/service-requests` (auth `agent`): dispatch a governed
    /// request and get its outcome.
    ///
    /// Sends the idempotency key both as the `Idempotency-Key` header and as
    /// the body's `idempotency_key`: the caller's key, or a generated one.
    /// The same key goes out on every retry, which makes this POST safe to
    /// retry (on network errors and 429/502/503/504).
    pub async fn create(self, request: CreateServiceRequest) -> Result<ServiceRequestOutcome> {
        let mut request = request;
        let key = match request.idempotency_key.take().filter(|k| !k.is_empty()) {
            Some(key) => key,
            None => self.client.generate_idempotency_key(),
        };
        request.idempotency_key = Some(key.clone());
        let spec = RequestSpec::endpoint(&ep::SERVICE_REQUESTS_CREATE, &[])
            .json(&request)?
            .idempotent()
            .header("idempotency-key", key);
        self.client.send_typed(spec).await
    }

    /// `GET /api/v1/service-requests/{request_id}` (auth `agent`): the
    /// request's current outcome; `running` until it is reconciled.
    pub async fn get(self, request_id: &str) -> Result<ServiceRequestOutcome> {
        let spec = RequestSpec::endpoint(&ep::SERVICE_REQUESTS_GET, &[request_id]);
        self.client.send_typed(spec).await
    }

    /// [`create`](Self::create), then, if the outcome is `running`, polls
    /// [`get`](Self::get) until it is `executed`, `failed` or `blocked`
    /// (`approval_required` keeps polling). Any other first outcome is
    /// returned at once. Fails with kind `Http` after `wait.timeout`.
    pub async fn create_and_wait(
        self,
        request: CreateServiceRequest,
        wait: WaitOptions,
    ) -> Result<ServiceRequestOutcome> {
        let created = self.create(request).await?;
        let ServiceRequestOutcome::Running(running) = &created else {
            return Ok(created);
        };
        let request_id = running.request_id.clone();
        poll_until(wait, format!("service request {request_id}"), || async {
            let detail = self.get(&request_id).await?;
            Ok(detail.is_terminal().then_some(detail))
        })
        .await
    }
}

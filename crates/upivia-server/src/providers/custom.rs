//! An organisation's private service (`platform.register_service`): the
//! validated payload is POSTed as JSON to the registered endpoint, with the
//! named organisation secret as its credential, and the JSON answer is the
//! result. The endpoint passes the same host list and SSRF guard as
//! webhooks, checked again at every call (the list may have changed since
//! registration). An upstream 5xx is not retried: the call may have had its
//! effect before failing.

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use url::Url;

use super::http::Retry;
use super::{Execution, Outbound, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll};
use crate::catalog::OperationSpec;
use crate::money::Cents;
use crate::store::{CustomAuth, CustomOperation};

/// The name requests report as their `provider`.
pub const NAME: &str = "custom";

/// How long a private service that declares itself idempotent is trusted
/// to recognise a repeated `Idempotency-Key`.
const IDEMPOTENCY_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

pub struct CustomService {
    op: CustomOperation,
    outbound: Outbound,
}

impl CustomService {
    pub fn new(op: CustomOperation, outbound: Outbound) -> CustomService {
        CustomService { op, outbound }
    }

    fn what(&self) -> String {
        format!("the {}.{} endpoint", self.op.service, self.op.operation)
    }
}

/// What a 2xx body becomes: its JSON, `{}` when empty.
pub fn result_of(body: &Bytes, what: &str) -> Result<Value, ProviderError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::Adapter(format!("{what} answered with something not JSON: {e}"))
    })
}

#[async_trait]
impl Provider for CustomService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn replay_window(&self) -> Option<std::time::Duration> {
        self.op.idempotent.then_some(IDEMPOTENCY_WINDOW)
    }

    fn estimate(&self, _operation: &OperationSpec, _payload: &Value) -> Cents {
        self.op.cost_estimate
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let what = self.what();
        if call.org_id != &self.op.org_id {
            return Err(ProviderError::Adapter(format!(
                "{what} belongs to another organisation"
            )));
        }
        let url = Url::parse(&self.op.endpoint)
            .map_err(|e| ProviderError::Adapter(format!("{what} is not a URL: {e}")))?;
        let reach =
            self.outbound.hosts.check(&url).map_err(|why| {
                ProviderError::Adapter(format!("{what} is no longer allowed: {why}"))
            })?;
        let secret_ref = self.op.auth.secret_ref();
        let secret = call
            .secrets
            .secret(call.org_id, secret_ref)
            .await?
            .ok_or_else(|| {
                ProviderError::Adapter(format!(
                    "the secret {secret_ref} that {what} authenticates with is not set; \
                     PUT /api/v1/secrets/{secret_ref}"
                ))
            })?;
        let (header, value) = match &self.op.auth {
            CustomAuth::Bearer { .. } => (
                "authorization",
                format!("Bearer {}", secret.expose_secret()),
            ),
            CustomAuth::Header { header, .. } => {
                (header.as_str(), secret.expose_secret().to_owned())
            }
        };
        let mut value = reqwest::header::HeaderValue::try_from(value).map_err(|_| {
            ProviderError::Adapter(format!(
                "the secret {secret_ref} cannot be sent in a header: it holds control characters"
            ))
        })?;
        value.set_sensitive(true);
        let body = serde_json::to_vec(call.payload)
            .map_err(|e| ProviderError::Adapter(format!("the payload cannot be sent: {e}")))?;
        let reply = self
            .outbound
            .http
            .send(reach, &what, Retry::RateLimited, |client, _| {
                client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("idempotency-key", call.request_id)
                    .header(header, value.clone())
                    .body(body.clone())
            })
            .await?;
        let result = result_of(&reply.body(&what).await?, &what)?;
        Ok(Execution::Completed {
            result,
            actual_cost: self.op.cost_estimate,
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(ProviderError::Adapter(format!(
            "{} completes synchronously; there is nothing to poll",
            poll.operation.full_name()
        )))
    }
}

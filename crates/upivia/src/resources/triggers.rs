//! `triggers` (API.md §1.12, §2.13).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::{Error, Result};
use crate::models::{CreatedTrigger, FireResult, Page, PageQuery, Trigger};

use super::audit_logs::fetch_page;
use super::{ItemStream, handle};

handle!(
    /// Cron and webhook triggers.
    Triggers
);

/// The `x-agentwallet-signature` value for a fire body:
/// `sha256=<lowercase hex HMAC-SHA256 of the exact bytes, keyed by the
/// secret as UTF-8>`.
pub fn sign_fire_body(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Triggers<'_> {
    /// `GET /api/v1/triggers` (auth `workspace`): one page of `triggers`.
    pub async fn list(self, query: PageQuery) -> Result<Page<Trigger>> {
        let spec = RequestSpec::endpoint(&ep::TRIGGERS_LIST, &[]).query(&query)?;
        fetch_page(self.client, spec, "triggers", "next_cursor").await
    }

    /// Every trigger, across pages (`GET /api/v1/triggers` repeatedly, auth
    /// `workspace`). `query.cursor` is ignored.
    pub fn list_all(&self, query: PageQuery) -> ItemStream<Trigger> {
        let client = self.client.clone();
        Box::pin(crate::pagination::paginate(move |cursor| {
            let client = client.clone();
            let query = PageQuery {
                cursor,
                limit: query.limit,
            };
            async move { client.triggers().list(query).await }
        }))
    }

    /// `POST /api/v1/triggers` (auth `workspace`, permission
    /// `resource.manage`): `{agent_id, kind, operation, payload_template,
    /// schedule_expr}`. The reply's `secret` is shown this once.
    pub async fn create(self, body: &Value) -> Result<CreatedTrigger> {
        let spec = RequestSpec::endpoint(&ep::TRIGGERS_CREATE, &[]).json(body)?;
        self.client.send_typed(spec).await
    }

    /// `GET /api/v1/triggers/{trigger_id}` (auth `workspace`).
    pub async fn get(self, trigger_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::TRIGGERS_GET, &[trigger_id]))
            .await
    }

    /// `PATCH /api/v1/triggers/{trigger_id}` (auth `workspace`): only
    /// `disabled`, `schedule_expr` and `payload_template` can change.
    pub async fn update(self, trigger_id: &str, patch: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::TRIGGERS_UPDATE, &[trigger_id]).json(patch)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/triggers/{trigger_id}` (auth `workspace`): disables
    /// the trigger, or with `purge` (`purge=true`) deletes it for good where
    /// the server allows it.
    pub async fn delete(self, trigger_id: &str, purge: bool) -> Result<Value> {
        let mut spec = RequestSpec::endpoint(&ep::TRIGGERS_DELETE, &[trigger_id]);
        if purge {
            spec = spec.query_pair("purge", "true");
        }
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/triggers/{trigger_id}/fire` (auth `none`): fires a
    /// webhook trigger.
    ///
    /// The payload (`{}` when `None`) is serialised once as compact JSON and
    /// signed with [`sign_fire_body`]; the signature goes in
    /// `x-agentwallet-signature` and no `Authorization` header is sent.
    /// Answers 202 even when the dispatch was refused (see
    /// [`FireResult::dispatch_status`]). Never retried.
    pub async fn fire(
        self,
        trigger_id: &str,
        payload: Option<&Value>,
        secret: &str,
    ) -> Result<FireResult> {
        let body = match payload {
            None | Some(Value::Null) => b"{}".to_vec(),
            Some(value) => {
                serde_json::to_vec(value).map_err(|e| Error::InvalidArgument(e.to_string()))?
            }
        };
        let signature = sign_fire_body(secret, &body);
        let spec = RequestSpec::endpoint(&ep::TRIGGERS_FIRE, &[trigger_id])
            .raw(body)
            .header("content-type", "application/json")
            .header("x-agentwallet-signature", signature);
        self.client.send_typed(spec).await
    }
}

//! `audit_logs` (API.md §2.4).

use crate::client::{Client, RequestSpec, decode};
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{AuditLogEntry, ListAuditLogs, Page};

use super::{ItemStream, handle};

handle!(
    /// The audit trail.
    AuditLogs
);

pub(crate) async fn fetch_page<T: serde::de::DeserializeOwned>(
    client: &Client,
    spec: RequestSpec,
    items_key: &str,
    cursor_key: &str,
) -> Result<Page<T>> {
    let method = spec.method;
    let path = spec.path.clone();
    let value = client.send_json(spec).await?;
    let object: crate::models::JsonMap = decode(method.as_str(), &path, value)?;
    Page::from_object(object, items_key, cursor_key).map_err(|e| crate::Error::InvalidResponse {
        request: format!("{method} {path}"),
        reason: e.to_string(),
        status: None,
        body: None,
        request_id: None,
    })
}

impl AuditLogs<'_> {
    /// `GET /api/v1/audit-logs` (auth `workspace`): one page of `logs`.
    pub async fn list(self, filter: ListAuditLogs) -> Result<Page<AuditLogEntry>> {
        let spec = RequestSpec::endpoint(&ep::AUDIT_LOGS_LIST, &[]).query(&filter)?;
        fetch_page(self.client, spec, "logs", "next_cursor").await
    }

    /// Every row matching `filter`, across pages (`GET /api/v1/audit-logs`
    /// repeatedly, auth `workspace`). `filter.cursor` is ignored.
    pub fn list_all(&self, filter: ListAuditLogs) -> ItemStream<AuditLogEntry> {
        let client = self.client.clone();
        Box::pin(crate::pagination::paginate(move |cursor| {
            let client = client.clone();
            let filter = ListAuditLogs {
                cursor,
                ..filter.clone()
            };
            async move { client.audit_logs().list(filter).await }
        }))
    }
}

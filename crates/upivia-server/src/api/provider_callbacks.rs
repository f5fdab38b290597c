//! Status callbacks providers send about asynchronous calls. They carry no
//! platform credential: each is authenticated by the provider's own
//! signature, checked against the URL the platform gave it.
//!
//! `POST /api/v1/providers/twilio/calls?request_id=req_…`: Twilio's call
//! status callback (`X-Twilio-Signature` over the public URL, the query
//! and the form). A final status settles the `running` request at the
//! call's real length, as a poll would; an earlier one changes nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::AppState;
use super::error::ApiError;
use crate::governance::reconcile;
use crate::ids::RequestId;
use crate::model::RequestStatus;
use crate::providers::twilio::{self, CallState};
use crate::store::StoreError;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/providers/twilio/calls", post(twilio_call))
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn twilio_call(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // Without Twilio or a public URL no callback was ever handed out.
    let (Some(settings), Some(public)) = (
        state.config.providers.twilio.as_ref(),
        state.config.public_base_url.as_deref(),
    ) else {
        return Err(ApiError::NotFound("route"));
    };
    // Twilio posts a form; read as one whatever it says it is.
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let query = query.unwrap_or_default();
    let url = format!(
        "{}{}{}{query}",
        public.trim_end_matches('/'),
        twilio::CALL_CALLBACK_PATH,
        if query.is_empty() { "" } else { "?" },
    );
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !settings.verify_signature(&url, &form, signature) {
        tracing::warn!("a Twilio status callback with a bad signature was refused");
        return Err(ApiError::Forbidden(
            "the X-Twilio-Signature does not match this request".into(),
        ));
    }
    let request_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "request_id")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::InvalidRequest("the callback names no request_id".into()))?;
    let platform = &state.platform;
    let request = platform
        .stores
        .governance
        .request(&RequestId::from(request_id.as_str()))
        .await?
        .ok_or(ApiError::NotFound("service request"))?;
    let sid = param(&form, "CallSid").unwrap_or_default();
    if request.provider.as_deref() != Some(twilio::NAME)
        || request.external_id.as_deref() != Some(sid)
    {
        return Err(ApiError::NotFound("call"));
    }
    if request.status != RequestStatus::Running {
        // Settled already (by the poll, or an earlier delivery).
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(operation) = platform
        .catalog
        .operation(&request.service, &request.operation)
    else {
        return Err(ApiError::NotFound("operation"));
    };
    let call = CallState {
        sid,
        status: param(&form, "CallStatus").unwrap_or_default(),
        duration_seconds: param(&form, "CallDuration").and_then(|d| d.parse().ok()),
        to: param(&form, "To").unwrap_or_default(),
        from: param(&form, "From").unwrap_or_default(),
        ended_at: param(&form, "Timestamp"),
    };
    let status = call.poll_status(operation, platform.clock.now());
    match reconcile::conclude(platform, &request, status, "provider:twilio").await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        // The reconciler settled it a moment before.
        Err(crate::governance::GovernanceError::Store(StoreError::Conflict(_))) => {
            Ok(StatusCode::NO_CONTENT)
        }
        Err(e) => Err(e.into()),
    }
}

//! Service requests: the create body and the outcome (API.md §2.1).
//!
//! A governance decision is an answer, not an error: a blocked request or
//! an approval gate comes back as a 200 whose `status` says so, decoded
//! here as one [`ServiceRequestOutcome`] variant.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{Cents, JsonMap};

/// Body of `POST /api/v1/service-requests`.
///
/// `metadata` is sent as `null` when unset, like the reference SDK.
/// The SDK fills `idempotency_key` (and the matching `Idempotency-Key`
/// header) with a fresh key when the caller gives none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateServiceRequest {
    /// Catalog service id, e.g. `email`.
    pub service: String,
    /// Operation within the service, e.g. `send`.
    pub operation: String,
    /// The operation's input (a JSON object).
    pub payload: Value,
    /// Free-form metadata, or `null`.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Idempotency key; equal to the `Idempotency-Key` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl CreateServiceRequest {
    /// A request for `service.operation` with `payload`.
    pub fn new(service: impl Into<String>, operation: impl Into<String>, payload: Value) -> Self {
        CreateServiceRequest {
            service: service.into(),
            operation: operation.into(),
            payload,
            metadata: None,
            idempotency_key: None,
        }
    }

    /// Attaches free-form metadata.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Uses this idempotency key instead of a generated one. Any string.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Body of the budget check: the free `platform.check_budget`
/// meta-operation, sent with no idempotency key and no metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheckRequest {
    /// Always `platform`.
    pub service: String,
    /// Always `check_budget`.
    pub operation: String,
    /// `{"agent_id": ...}`.
    pub payload: Value,
}

impl BudgetCheckRequest {
    /// The budget check for `agent_id`.
    pub fn new(agent_id: impl Into<String>) -> Self {
        BudgetCheckRequest {
            service: "platform".to_owned(),
            operation: "check_budget".to_owned(),
            payload: serde_json::json!({ "agent_id": agent_id.into() }),
        }
    }
}

/// `status: "executed"`: the operation ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutedOutcome {
    /// Service request id.
    pub request_id: String,
    /// The operation's output.
    #[serde(default)]
    pub result: Value,
    /// What was charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_cents: Option<Cents>,
    /// The estimate made before execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_cents: Option<Cents>,
    /// The settled cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_cost_cents: Option<Cents>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `status: "blocked"`: a policy or budget stop (also what a rejected
/// approval reports).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockedOutcome {
    /// Service request id.
    pub request_id: String,
    /// Why, e.g. `policy_block`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `status: "approval_required"`: a human has to approve first. Not
/// terminal: the request may still execute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequiredOutcome {
    /// Service request id.
    pub request_id: String,
    /// The approval to act on.
    pub approval_id: String,
    /// Estimated cost if approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_cents: Option<Cents>,
    /// When the approval lapses (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `status: "failed"`: a provider or adapter error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedOutcome {
    /// Service request id.
    pub request_id: String,
    /// Why, e.g. `adapter_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `status: "running"` (HTTP 202): asynchronous execution, reconciled
/// later; poll `service_requests().get(..)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningOutcome {
    /// Service request id.
    pub request_id: String,
    /// The cost known when execution started (e.g. a call's first
    /// minute). The final cost comes with reconciliation; until then the
    /// server may hold more (the estimate, in `extra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_cost_cents: Option<Cents>,
    /// Provider running the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's id for the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `status` this SDK does not know (or no `status` at all), kept whole so
/// a newer server does not break an older SDK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnknownOutcome {
    /// The `status` string, when there was one.
    pub status: Option<String>,
    /// The whole response object, `status` included.
    pub body: JsonMap,
}

/// The outcome of a service request, told apart by `status`.
///
/// The same shape comes back from create, get, and approval approve/reject.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceRequestOutcome {
    /// `executed`
    Executed(ExecutedOutcome),
    /// `blocked`
    Blocked(BlockedOutcome),
    /// `approval_required`
    ApprovalRequired(ApprovalRequiredOutcome),
    /// `failed`
    Failed(FailedOutcome),
    /// `running`
    Running(RunningOutcome),
    /// Any other `status`.
    Unknown(UnknownOutcome),
}

impl ServiceRequestOutcome {
    /// The wire `status` (`None` only for an unknown outcome without one).
    pub fn status(&self) -> Option<&str> {
        match self {
            ServiceRequestOutcome::Executed(_) => Some("executed"),
            ServiceRequestOutcome::Blocked(_) => Some("blocked"),
            ServiceRequestOutcome::ApprovalRequired(_) => Some("approval_required"),
            ServiceRequestOutcome::Failed(_) => Some("failed"),
            ServiceRequestOutcome::Running(_) => Some("running"),
            ServiceRequestOutcome::Unknown(u) => u.status.as_deref(),
        }
    }

    /// The service request id, when the outcome carries one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ServiceRequestOutcome::Executed(o) => Some(&o.request_id),
            ServiceRequestOutcome::Blocked(o) => Some(&o.request_id),
            ServiceRequestOutcome::ApprovalRequired(o) => Some(&o.request_id),
            ServiceRequestOutcome::Failed(o) => Some(&o.request_id),
            ServiceRequestOutcome::Running(o) => Some(&o.request_id),
            ServiceRequestOutcome::Unknown(u) => u.body.get("request_id").and_then(Value::as_str),
        }
    }

    /// `executed`, `failed` and `blocked` are terminal; `running` and
    /// `approval_required` are not (API.md §1.15).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ServiceRequestOutcome::Executed(_)
                | ServiceRequestOutcome::Failed(_)
                | ServiceRequestOutcome::Blocked(_)
        )
    }

    /// Decodes an outcome from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let Value::Object(body) = value else {
            return Err(serde_json::Error::custom(
                "service request outcome must be a JSON object",
            ));
        };
        let status = body
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let rest = || {
            let mut map = body.clone();
            map.remove("status");
            Value::Object(map)
        };
        Ok(match status.as_deref() {
            Some("executed") => ServiceRequestOutcome::Executed(serde_json::from_value(rest())?),
            Some("blocked") => ServiceRequestOutcome::Blocked(serde_json::from_value(rest())?),
            Some("approval_required") => {
                ServiceRequestOutcome::ApprovalRequired(serde_json::from_value(rest())?)
            }
            Some("failed") => ServiceRequestOutcome::Failed(serde_json::from_value(rest())?),
            Some("running") => ServiceRequestOutcome::Running(serde_json::from_value(rest())?),
            _ => ServiceRequestOutcome::Unknown(UnknownOutcome { status, body }),
        })
    }

    /// Encodes the outcome as its wire object, `status` included.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        let (status, inner) = match self {
            ServiceRequestOutcome::Executed(o) => ("executed", serde_json::to_value(o)?),
            ServiceRequestOutcome::Blocked(o) => ("blocked", serde_json::to_value(o)?),
            ServiceRequestOutcome::ApprovalRequired(o) => {
                ("approval_required", serde_json::to_value(o)?)
            }
            ServiceRequestOutcome::Failed(o) => ("failed", serde_json::to_value(o)?),
            ServiceRequestOutcome::Running(o) => ("running", serde_json::to_value(o)?),
            ServiceRequestOutcome::Unknown(u) => return Ok(Value::Object(u.body.clone())),
        };
        let Value::Object(mut map) = inner else {
            return Err(serde_json::Error::custom(
                "outcome did not serialize to an object",
            ));
        };
        map.insert("status".to_owned(), Value::String(status.to_owned()));
        Ok(Value::Object(map))
    }
}

impl Serialize for ServiceRequestOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ServiceRequestOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        ServiceRequestOutcome::from_value(value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests;

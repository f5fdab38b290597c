//! `platform.register_service`, `platform.update_service` and
//! `platform.remove_service`: an agent changes its organisation's catalog
//! of private services through a governed request, so the change needs a
//! binding, may need an approval, and is audited like any other.
//!
//! Who may: an agent whose owner is an admin or the owner of the
//! organisation (an agent never holds more authority than the person it
//! acts for). What is checked, before anything is held and again when it
//! runs (an approval may come later): the key's shape, that it names no
//! built-in service, the endpoint against the outbound host list, that the
//! secret exists, and that the request schema compiles.

use serde_json::{Map, Value, json};

use super::GovernanceError;
use crate::clock::rfc3339;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, AuditEvent, Role, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{CustomAuth, CustomOperation, PutMode, StoreError};

pub const REGISTER: &str = "register_service";
pub const UPDATE: &str = "update_service";
pub const REMOVE: &str = "remove_service";
/// The operation a key without a dot registers.
pub const DEFAULT_OPERATION: &str = "call";
/// The most one call may be estimated at: $10,000.
pub const MAX_COST_CENTS: i64 = 1_000_000;
const MAX_SCHEMA_BYTES: usize = 64 * 1024;
const MAX_DESCRIPTION: usize = 1000;
/// Headers the platform sets itself, or that would confuse the upstream.
const RESERVED_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "idempotency-key",
    "te",
    "upgrade",
];

/// Is `service.operation` one of these three?
pub fn handles(service: &str, operation: &str) -> bool {
    service == "platform" && [REGISTER, UPDATE, REMOVE].contains(&operation)
}

/// What a request changes.
#[derive(Clone, Debug)]
pub enum Change {
    Put(Box<CustomOperation>, PutMode),
    Remove { service: String, operation: String },
}

fn invalid(field: &str, message: impl Into<String>) -> GovernanceError {
    GovernanceError::InvalidPayload {
        field: format!("payload.{field}"),
        message: message.into(),
    }
}

fn is_name(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `svc.op`, or `svc` for operation [`DEFAULT_OPERATION`].
pub fn parse_key(key: &str) -> Result<(String, String), GovernanceError> {
    let (service, operation) = key.split_once('.').unwrap_or((key, DEFAULT_OPERATION));
    if !is_name(service, 40) || !is_name(operation, 40) {
        return Err(invalid(
            "key",
            format!(
                "{key:?} must be `service.operation` (or `service`): lowercase letters, digits \
                 and `_`, each starting with a letter, at most 40 characters"
            ),
        ));
    }
    Ok((service.to_owned(), operation.to_owned()))
}

fn key_of(payload: &Map<String, Value>) -> Result<(String, String), GovernanceError> {
    let key = payload
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("key", "required: `service.operation`"))?;
    parse_key(key)
}

/// The fields of a definition a payload sets over `base` (a register
/// starts from nothing; an update from what is stored).
fn apply(
    platform: &Platform,
    base: Option<&CustomOperation>,
    payload: &Map<String, Value>,
    key: (String, String),
    agent: &Agent,
    now: time::OffsetDateTime,
) -> Result<CustomOperation, GovernanceError> {
    let endpoint = match payload.get("endpoint") {
        Some(v) => endpoint(platform, v)?,
        None => base
            .map(|b| b.endpoint.clone())
            .ok_or_else(|| invalid("endpoint", "required: the HTTPS URL to call"))?,
    };
    let auth = match payload.get("auth") {
        Some(v) => auth(v)?,
        None => base
            .map(|b| b.auth.clone())
            .ok_or_else(|| invalid("auth", "required: {type, secret_ref}"))?,
    };
    let request_schema = match payload.get("request_schema") {
        Some(v) => schema(v)?,
        None => base.map_or_else(|| json!({"type": "object"}), |b| b.request_schema.clone()),
    };
    let cost_estimate = match payload.get("cost_estimate_cents") {
        Some(v) => cost(v)?,
        None => base.map_or(Cents::ZERO, |b| b.cost_estimate),
    };
    let idempotent = match payload.get("idempotent") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("idempotent", "must be true or false")),
        None => base.is_some_and(|b| b.idempotent),
    };
    let description = match payload.get("description") {
        Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION => d.clone(),
        Some(_) => {
            return Err(invalid(
                "description",
                format!("must be a string of at most {MAX_DESCRIPTION} characters"),
            ));
        }
        None => base.map_or_else(String::new, |b| b.description.clone()),
    };
    Ok(CustomOperation {
        org_id: OrgId::from(&agent.org_id),
        service: key.0,
        operation: key.1,
        description,
        endpoint,
        auth,
        request_schema,
        cost_estimate,
        idempotent,
        registered_by: agent.id.clone(),
        created_at: base.map_or(now, |b| b.created_at),
        updated_at: now,
    })
}

fn endpoint(platform: &Platform, value: &Value) -> Result<String, GovernanceError> {
    let raw = value
        .as_str()
        .filter(|s| s.len() <= 2048)
        .ok_or_else(|| invalid("endpoint", "must be a URL of at most 2048 characters"))?;
    let url = url::Url::parse(raw).map_err(|e| invalid("endpoint", format!("not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "endpoint",
            "must not carry credentials; name a secret in `auth` instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("endpoint", "must not have a #fragment"));
    }
    platform
        .outbound
        .hosts
        .check(&url)
        .map_err(|why| invalid("endpoint", why))?;
    Ok(url.to_string())
}

fn auth(value: &Value) -> Result<CustomAuth, GovernanceError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid("auth", "must be an object {type, secret_ref, header?}"))?;
    let secret_ref = map
        .get("secret_ref")
        .and_then(Value::as_str)
        .filter(|name| super::secrets::valid_name(name))
        .filter(|name| !super::secrets::reserved(name))
        .ok_or_else(|| {
            invalid(
                "auth.secret_ref",
                "required: the name of an organisation secret",
            )
        })?
        .to_owned();
    match map.get("type").and_then(Value::as_str) {
        Some("bearer") => Ok(CustomAuth::Bearer { secret_ref }),
        Some("header") => {
            let header = map
                .get("header")
                .and_then(Value::as_str)
                .filter(|h| {
                    h.len() <= 100 && reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_ok()
                })
                .ok_or_else(|| {
                    invalid("auth.header", "required with type header: a header name")
                })?;
            if RESERVED_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
                return Err(invalid(
                    "auth.header",
                    format!("{header:?} is set by the platform"),
                ));
            }
            Ok(CustomAuth::Header {
                header: header.to_owned(),
                secret_ref,
            })
        }
        _ => Err(invalid("auth.type", "must be bearer or header")),
    }
}

fn schema(value: &Value) -> Result<Value, GovernanceError> {
    if !value.is_object() {
        return Err(invalid("request_schema", "must be a JSON Schema object"));
    }
    if value.to_string().len() > MAX_SCHEMA_BYTES {
        return Err(invalid(
            "request_schema",
            format!("is larger than {MAX_SCHEMA_BYTES} bytes"),
        ));
    }
    jsonschema::validator_for(value)
        .map_err(|e| invalid("request_schema", format!("does not compile: {e}")))?;
    Ok(value.clone())
}

fn cost(value: &Value) -> Result<Cents, GovernanceError> {
    value
        .as_i64()
        .filter(|c| (0..=MAX_COST_CENTS).contains(c))
        .map(Cents::new)
        .ok_or_else(|| {
            invalid(
                "cost_estimate_cents",
                format!("must be an integer from 0 to {MAX_COST_CENTS}"),
            )
        })
}

/// Refused unless the agent acts for an admin or the owner.
async fn authority(platform: &Platform, agent: &Agent) -> Result<(), GovernanceError> {
    let role = match &agent.owner_user_id {
        Some(user) => platform
            .stores
            .identity
            .member(&agent.org_id, user)
            .await?
            .map(|m| m.role),
        None => None,
    };
    if role.is_some_and(|r| r >= Role::Admin) {
        return Ok(());
    }
    Err(GovernanceError::Forbidden(
        "changing the organisation's private services needs an agent owned by an admin or the \
         owner"
            .into(),
    ))
}

/// Checks a request completely and says what it would change.
pub async fn check(
    platform: &Platform,
    agent: &Agent,
    operation: &str,
    payload: &Value,
) -> Result<Change, GovernanceError> {
    let map = payload
        .as_object()
        .ok_or_else(|| invalid("key", "the payload must be an object"))?;
    authority(platform, agent).await?;
    let key = key_of(map)?;
    if platform.catalog.service(&key.0).is_some() {
        return Err(invalid(
            "key",
            format!("{:?} is a built-in service; choose another name", key.0),
        ));
    }
    let org = OrgId::from(&agent.org_id);
    let existing = platform
        .stores
        .custom_services
        .custom_operation(&org, &key.0, &key.1)
        .await?;
    let missing = || GovernanceError::UnknownOperation {
        service: key.0.clone(),
        operation: key.1.clone(),
    };
    let now = platform.clock.now();
    match operation {
        REGISTER => {
            if existing.is_some() {
                return Err(GovernanceError::Conflict {
                    code: "service_exists",
                    message: format!(
                        "{}.{} is already registered; use platform.update_service",
                        key.0, key.1
                    ),
                });
            }
            let op = apply(platform, None, map, key, agent, now)?;
            secret_exists(platform, &op).await?;
            Ok(Change::Put(Box::new(op), PutMode::Create))
        }
        UPDATE => {
            let base = existing.ok_or_else(missing)?;
            let op = apply(platform, Some(&base), map, key, agent, now)?;
            secret_exists(platform, &op).await?;
            Ok(Change::Put(Box::new(op), PutMode::Update))
        }
        _ => {
            existing.ok_or_else(missing)?;
            Ok(Change::Remove {
                service: key.0,
                operation: key.1,
            })
        }
    }
}

async fn secret_exists(platform: &Platform, op: &CustomOperation) -> Result<(), GovernanceError> {
    let name = op.auth.secret_ref();
    match platform.stores.secrets.secret(&op.org_id, name).await? {
        Some(_) => Ok(()),
        None => Err(invalid(
            "auth.secret_ref",
            format!("no organisation secret is named {name}; PUT /api/v1/secrets/{name} first"),
        )),
    }
}

/// A private operation as results and the catalog show it.
pub fn operation_json(op: &CustomOperation) -> Value {
    json!({
        "id": op.service,
        "operation": op.operation,
        "full_name": format!("{}.{}", op.service, op.operation),
        "description": op.description,
        "endpoint": op.endpoint,
        "auth": {
            "type": op.auth.kind(),
            "secret_ref": op.auth.secret_ref(),
            "header": op.auth.header(),
        },
        "request_schema": op.request_schema,
        "cost_estimate_cents": op.cost_estimate.get(),
        "idempotent": op.idempotent,
        "registered_by": op.registered_by,
        "created_at": rfc3339(op.created_at),
        "updated_at": rfc3339(op.updated_at),
    })
}

fn audit(request: &ServiceRequest, event: &str, details: Value) -> AuditEvent {
    AuditEvent::new(
        &request.org_id,
        event,
        super::trail::agent_actor(&request.agent_id),
    )
    .with_details(details)
}

pub(super) async fn apply_change(
    platform: &Platform,
    request: &ServiceRequest,
) -> Result<Value, GovernanceError> {
    let agent = platform
        .stores
        .agents
        .agent(
            &OrgId::from(&request.org_id),
            &AgentId::from(&request.agent_id),
        )
        .await?
        .ok_or(GovernanceError::NotFound("agent"))?;
    match check(platform, &agent, &request.operation, &request.payload).await? {
        Change::Put(op, mode) => {
            let event = match mode {
                PutMode::Create => "custom_service.registered",
                PutMode::Update => "custom_service.updated",
            };
            let mut details = operation_json(&op);
            details["request_id"] = json!(request.id);
            let written = platform
                .stores
                .custom_services
                .put_custom_operation(*op, mode, audit(request, event, details))
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(message) => GovernanceError::Conflict {
                        code: "service_exists",
                        message,
                    },
                    other => other.into(),
                })?;
            Ok(json!({"service": operation_json(&written)}))
        }
        Change::Remove { service, operation } => {
            let details = json!({
                "service": service, "operation": operation, "request_id": request.id,
            });
            platform
                .stores
                .custom_services
                .remove_custom_operation(
                    &OrgId::from(&request.org_id),
                    &service,
                    &operation,
                    platform.clock.now(),
                    audit(request, "custom_service.removed", details),
                )
                .await?;
            Ok(json!({
                "removed": {"id": service, "operation": operation,
                            "full_name": format!("{service}.{operation}")},
            }))
        }
    }
}

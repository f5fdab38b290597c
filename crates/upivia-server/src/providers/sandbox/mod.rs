//! The `sandbox` provider: carries out every built-in catalog operation
//! without side effects, so the whole pipeline (reserve, execute, settle,
//! reconcile) can run end to end in development and tests.
//!
//! Results are deterministic functions of the operation, the payload, the
//! request id and `now` (and, for polls, `started_at`): ids come from a
//! SHA-256 of the request id and the operation, timestamps from `now`. No
//! network, no randomness. Every result carries `"sandbox": true`.
//!
//! The sandbox checks payloads the way the real upstream would, beyond what
//! the catalog's JSON Schema can say (a webhook host outside the allow-list,
//! a repo that is not `owner/name`, an SMS to its own sender, ...), and
//! refuses with [`ProviderError::Adapter`]. It does not rely on the server
//! having validated the payload against the schema first.
//!
//! # Magic values
//!
//! Like a payment processor's test cards, these markers make the sandbox
//! fail on purpose so the server's failure paths can be exercised. A marker
//! counts when it is a substring of any string value anywhere in the payload
//! (nested objects and arrays included), for example an email to
//! `ops@sandbox-unavailable.test`.
//!
//! | Marker | Operations | Effect |
//! |---|---|---|
//! | `sandbox-slow` | all | `execute` sleeps 30 s before answering, so the server's provider timeout fires. If it is allowed to finish, the markers below still apply. |
//! | `sandbox-unavailable` | all | `execute` fails with [`ProviderError::Unavailable`]. |
//! | `sandbox-error` | all | `execute` fails with [`ProviderError::Adapter`]. |
//! | `sandbox-call-fails` in `say` | `voice_call.create` | `execute` starts the call as usual; `poll`, once the call is due, answers [`PollStatus::Failed`] with [`ProviderError::Unavailable`]. |
//!
//! The markers are checked in the order listed, before the operation's own
//! validation. `estimate` ignores them.
//!
//! # Pricing
//!
//! Flat operations cost `base_price_cents`, free ones nothing. Metered
//! operations use `base_price_cents` as a unit price:
//! `text_generation.generate` per started 1000 tokens (estimated from the
//! prompt length plus `max_tokens`, settled from the tokens actually
//! generated) and `voice_call.create` per started minute (estimated at
//! `max_duration_seconds`, first minute charged on start, settled from the
//! call length). Settlement never exceeds the estimate.
//!
//! `platform.check_budget` is answered by the server from its ledger; the
//! sandbox has no budget data and refuses it with an adapter error.

mod llm;
mod messaging;
mod social;
mod voice;
mod webhook;
mod workspace;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::{OperationSpec, ServiceSpec};
use crate::money::Cents;
use crate::providers::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, Providers,
    call_units, list_price, unit_price,
};

/// Makes `execute` fail with [`ProviderError::Unavailable`].
pub const MARKER_UNAVAILABLE: &str = "sandbox-unavailable";
/// Makes `execute` fail with [`ProviderError::Adapter`].
pub const MARKER_ERROR: &str = "sandbox-error";
/// Makes `execute` sleep [`SLOW_DELAY`] before answering.
pub const MARKER_SLOW: &str = "sandbox-slow";
/// In `voice_call.create`'s `say`: the call fails when polled.
pub const MARKER_CALL_FAILS: &str = "sandbox-call-fails";
/// Longer than any sensible provider timeout.
pub const SLOW_DELAY: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// How long after `started_at` a sandbox voice call completes. Real
    /// calls take minutes; tests want them over quickly.
    pub voice_call_delay: Duration,
    /// Hosts `notification.webhook` may deliver to: exact host names, or
    /// `*.domain` for any subdomain. Empty means any host ending in
    /// `.example.com` or `.test`, which can never reach a real system.
    pub webhook_allowed_hosts: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            voice_call_delay: Duration::from_secs(2),
            webhook_allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Sandbox {
    config: SandboxConfig,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        Sandbox { config }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// True when the sandbox has an answer for `service.operation`.
    pub fn supports(service: &str, operation: &str) -> bool {
        handler(service, operation).is_some()
    }
}

/// Registers one shared sandbox for every operation in `catalog` that it
/// implements (all built-in ones). Operations it does not know, such as a
/// workspace's custom services, are left for another provider.
pub fn register_sandbox(catalog: &[ServiceSpec], config: SandboxConfig, providers: &mut Providers) {
    let sandbox: Arc<dyn Provider> = Arc::new(Sandbox::new(config));
    for op in catalog.iter().flat_map(|s| s.operations.iter()) {
        if Sandbox::supports(&op.service, &op.name) {
            providers.register(op.full_name(), Arc::clone(&sandbox));
        }
    }
}

type Handler = fn(&Ctx<'_>, &Input<'_>) -> Result<Execution, ProviderError>;

const HANDLERS: &[(&str, &str, Handler)] = &[
    ("email", "send", messaging::email_send),
    ("text_generation", "generate", llm::generate),
    ("web_search", "search", llm::search),
    ("discord", "send_message", social::discord_send_message),
    ("reddit", "submit_post", social::reddit_submit_post),
    ("bluesky", "post", social::bluesky_post),
    ("x", "post", social::x_post),
    ("mastodon", "post", social::mastodon_post),
    ("github", "create_issue", workspace::github_create_issue),
    ("notion", "create_page", workspace::notion_create_page),
    ("platform", "check_budget", check_budget),
    ("voice_call", "create", voice::create),
    ("sms", "send", messaging::sms_send),
    ("sms", "read", messaging::sms_read),
    ("mms", "send", messaging::mms_send),
    ("chat", "dm", messaging::chat_dm),
    ("chat", "read", messaging::chat_read),
    ("notification", "webhook", webhook::deliver),
];

fn handler(service: &str, operation: &str) -> Option<Handler> {
    HANDLERS
        .iter()
        .find(|(s, o, _)| *s == service && *o == operation)
        .map(|(_, _, h)| *h)
}

fn check_budget(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Execution, ProviderError> {
    Err(ctx.invalid(
        "a meta-operation the server answers from its own ledger; the sandbox provider has no budget data",
    ))
}

#[async_trait]
impl Provider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn has_side_effects(&self) -> bool {
        false
    }

    fn estimate(&self, operation: &OperationSpec, payload: &Value) -> Cents {
        let full_name = operation.full_name();
        let empty = Map::new();
        let input = Input::new(&full_name, payload.as_object().unwrap_or(&empty));
        match (&*operation.service, &*operation.name) {
            ("text_generation", "generate") => llm::estimate(operation, &input),
            ("voice_call", "create") => voice::estimate(operation, &input),
            _ => list_price(operation),
        }
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let op = call.operation;
        let full_name = op.full_name();
        let Some(handler) = handler(&op.service, &op.name) else {
            return Err(ProviderError::Adapter(format!(
                "the sandbox provider does not implement {full_name}"
            )));
        };
        let Some(map) = call.payload.as_object() else {
            return Err(ProviderError::Adapter(format!(
                "{full_name}: the payload must be a JSON object"
            )));
        };
        if contains_marker(call.payload, MARKER_SLOW) {
            tokio::time::sleep(SLOW_DELAY).await;
        }
        if contains_marker(call.payload, MARKER_UNAVAILABLE) {
            return Err(ProviderError::Unavailable(format!(
                "{full_name}: upstream unavailable (sandbox magic value `{MARKER_UNAVAILABLE}`)"
            )));
        }
        if contains_marker(call.payload, MARKER_ERROR) {
            return Err(ProviderError::Adapter(format!(
                "{full_name}: upstream refused the call (sandbox magic value `{MARKER_ERROR}`)"
            )));
        }
        let ctx = Ctx {
            op,
            full_name: &full_name,
            request_id: call.request_id,
            now: call.now,
            config: &self.config,
        };
        handler(&ctx, &Input::new(&full_name, map))
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        let full_name = poll.operation.full_name();
        match (&*poll.operation.service, &*poll.operation.name) {
            ("voice_call", "create") => {
                let Some(map) = poll.payload.as_object() else {
                    return Err(ProviderError::Adapter(format!(
                        "{full_name}: the payload must be a JSON object"
                    )));
                };
                let ctx = Ctx {
                    op: poll.operation,
                    full_name: &full_name,
                    request_id: poll.request_id,
                    now: poll.now,
                    config: &self.config,
                };
                voice::poll(
                    &ctx,
                    &Input::new(&full_name, map),
                    poll.external_id,
                    poll.started_at,
                )
            }
            _ => Err(ProviderError::Adapter(format!(
                "{full_name} completes synchronously in the sandbox; there is nothing to poll"
            ))),
        }
    }
}

/// Depth-first over the payload with an explicit stack: a payload built in
/// code (not parsed) can nest deeper than the call stack allows.
fn contains_marker(payload: &Value, marker: &str) -> bool {
    let mut stack = vec![payload];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) if s.contains(marker) => return true,
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    false
}

/// The call being carried out, and the deterministic material results are
/// made of.
struct Ctx<'a> {
    op: &'a OperationSpec,
    full_name: &'a str,
    request_id: &'a str,
    now: OffsetDateTime,
    config: &'a SandboxConfig,
}

impl Ctx<'_> {
    /// SHA-256 over the request id, the operation and a salt, so every id a
    /// result needs is stable for a request yet distinct from the others.
    fn digest(&self, salt: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [self.request_id, self.full_name, salt] {
            hasher.update(part.as_bytes());
            // Separator, so ("ab", "c") and ("a", "bc") hash differently.
            hasher.update([0u8]);
        }
        hasher.finalize().into()
    }

    /// `<prefix>_<16 hex>`, for example `msg_3f9a0c1d2e4b5a69`.
    fn id(&self, prefix: &str) -> String {
        self.sub_id(prefix, "")
    }

    /// Like [`Ctx::id`] for the n-th item of a result.
    fn sub_id(&self, prefix: &str, salt: &str) -> String {
        let digest = self.digest(salt);
        format!("{prefix}_{}", hex::encode(&digest[..8]))
    }

    fn seed(&self, salt: &str) -> u64 {
        let digest = self.digest(salt);
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[8..16]);
        u64::from_be_bytes(bytes)
    }

    fn timestamp(&self) -> Result<String, ProviderError> {
        rfc3339(self.now)
    }

    fn invalid(&self, message: impl std::fmt::Display) -> ProviderError {
        ProviderError::Adapter(format!("{}: {message}", self.full_name))
    }

    /// A completed result at the operation's list price.
    fn done(&self, result: Value) -> Result<Execution, ProviderError> {
        self.done_at(result, list_price(self.op))
    }

    fn done_at(&self, mut result: Value, actual_cost: Cents) -> Result<Execution, ProviderError> {
        if let Some(map) = result.as_object_mut() {
            map.insert("sandbox".to_owned(), Value::Bool(true));
        }
        Ok(Execution::Completed {
            result,
            actual_cost,
        })
    }
}

/// RFC 3339 in UTC with `Z`, whole seconds, as the wire contract shows.
fn rfc3339(t: OffsetDateTime) -> Result<String, ProviderError> {
    t.to_offset(time::UtcOffset::UTC)
        .truncate_to_second()
        .format(&Rfc3339)
        .map_err(|e| ProviderError::Adapter(format!("timestamp out of range: {e}")))
}

/// Typed, fallible access to payload fields. Every accessor treats an
/// explicit `null` like an absent field, as most upstream APIs do.
struct Input<'a> {
    op: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Input<'a> {
    fn new(op: &'a str, map: &'a Map<String, Value>) -> Self {
        Input { op, map }
    }

    fn invalid(&self, message: impl std::fmt::Display) -> ProviderError {
        ProviderError::Adapter(format!("{}: {message}", self.op))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(format_args!("`{key}` must be a string"))),
        }
    }

    fn str(&self, key: &str) -> Result<&'a str, ProviderError> {
        self.opt_str(key)?
            .ok_or_else(|| self.invalid(format_args!("`{key}` is required")))
    }

    /// A required string of `min..=max` characters that is not just
    /// whitespace when `min > 0`.
    fn text(&self, key: &str, min: usize, max: usize) -> Result<&'a str, ProviderError> {
        let s = self.str(key)?;
        self.check_len(key, s, min, max)?;
        Ok(s)
    }

    fn opt_text(&self, key: &str, max: usize) -> Result<Option<&'a str>, ProviderError> {
        let s = self.opt_str(key)?;
        if let Some(s) = s {
            self.check_len(key, s, 0, max)?;
        }
        Ok(s)
    }

    fn check_len(&self, key: &str, s: &str, min: usize, max: usize) -> Result<(), ProviderError> {
        let len = s.chars().count();
        if len > max {
            return Err(self.invalid(format_args!(
                "`{key}` is {len} characters; the limit is {max}"
            )));
        }
        if min > 0 && s.trim().chars().count() < min {
            return Err(self.invalid(format_args!("`{key}` must not be empty")));
        }
        Ok(())
    }

    /// An optional integer in `min..=max`. Accepts `5.0` as 5, as JSON
    /// Schema's `integer` does.
    fn opt_int(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ProviderError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let n = value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                .map(|f| f as u64)
        });
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.invalid(format_args!(
                "`{key}` must be an integer from {min} to {max}"
            ))),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(format_args!("`{key}` must be true or false"))),
        }
    }

    fn opt_object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(self.invalid(format_args!("`{key}` must be an object"))),
        }
    }

    fn opt_array(&self, key: &str, max_items: usize) -> Result<&'a [Value], ProviderError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) if items.len() <= max_items => Ok(items),
            Some(Value::Array(items)) => Err(self.invalid(format_args!(
                "`{key}` has {} items; the limit is {max_items}",
                items.len()
            ))),
            Some(_) => Err(self.invalid(format_args!("`{key}` must be an array"))),
        }
    }

    /// An optional array of strings, each checked by `valid`.
    fn opt_strings(
        &self,
        key: &str,
        max_items: usize,
        valid: impl Fn(&str) -> bool,
    ) -> Result<Vec<&'a str>, ProviderError> {
        self.opt_array(key, max_items)?
            .iter()
            .map(|item| match item {
                Value::String(s) if valid(s) => Ok(s.as_str()),
                other => Err(self.invalid(format_args!("`{key}` has an invalid item {other}"))),
            })
            .collect()
    }
}

/// `+` then 7 to 15 digits, the first not 0 (E.164).
fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// One `@`, something before it, a dotted domain after it, no whitespace.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 320
        && !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

/// Lowercase ASCII words of `s` joined by `sep`, at most `max` bytes; for
/// URL slugs.
fn slug(s: &str, sep: char, max: usize) -> String {
    let mut out = String::new();
    for word in s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + word.len() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(sep);
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// The first `max` characters of `s`.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Milliseconds since the Unix epoch, clamped at zero.
fn unix_millis(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A Twitter-style snowflake: milliseconds since `epoch_ms` in the high
/// bits, 22 bits of `seed` below, so ids sort by time like the real ones.
fn snowflake(now: OffsetDateTime, epoch_ms: u64, seed: u64) -> u64 {
    let millis = unix_millis(now).saturating_sub(epoch_ms) & ((1 << 41) - 1);
    (millis << 22) | (seed & ((1 << 22) - 1))
}

/// Base32 with the given 32-symbol alphabet, no padding.
fn base32(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(alphabet[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(alphabet[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    //! Helpers shared by the family modules' tests, and the tests that
    //! cover the provider as a whole.

    use std::time::Duration;

    use serde_json::{Value, json};
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;
    use crate::catalog::PricingType;
    use crate::catalog::builtin::{builtin, example_payload};

    pub(crate) const REQUEST_ID: &str = "req_01jtestsandbox0000000000";

    pub(crate) fn now() -> OffsetDateTime {
        datetime!(2026-03-01 12:00:00 UTC)
    }

    pub(crate) fn spec(service: &str, name: &str) -> OperationSpec {
        builtin()
            .into_iter()
            .flat_map(|s| s.operations)
            .find(|o| o.service == service && o.name == name)
            .unwrap_or_else(|| panic!("{service}.{name} is not in the builtin catalog"))
    }

    pub(crate) async fn execute(
        sandbox: &Sandbox,
        op: &OperationSpec,
        payload: &Value,
        request_id: &str,
        now: OffsetDateTime,
    ) -> Result<Execution, ProviderError> {
        sandbox
            .execute(ProviderCall {
                operation: op,
                org_id: &crate::ids::OrgId::from("org_sandbox_test"),
                secrets: &crate::providers::NoSecrets,
                payload,
                request_id,
                now,
            })
            .await
    }

    pub(crate) async fn run(
        service: &str,
        name: &str,
        payload: Value,
    ) -> Result<Execution, ProviderError> {
        run_as(REQUEST_ID, service, name, payload).await
    }

    pub(crate) async fn run_as(
        request_id: &str,
        service: &str,
        name: &str,
        payload: Value,
    ) -> Result<Execution, ProviderError> {
        execute(
            &Sandbox::default(),
            &spec(service, name),
            &payload,
            request_id,
            now(),
        )
        .await
    }

    pub(crate) async fn run_at(
        at: OffsetDateTime,
        service: &str,
        name: &str,
        payload: Value,
    ) -> Result<Execution, ProviderError> {
        execute(
            &Sandbox::default(),
            &spec(service, name),
            &payload,
            REQUEST_ID,
            at,
        )
        .await
    }

    pub(crate) async fn run_with_config(
        config: SandboxConfig,
        service: &str,
        name: &str,
        payload: Value,
    ) -> Result<Execution, ProviderError> {
        execute(
            &Sandbox::new(config),
            &spec(service, name),
            &payload,
            REQUEST_ID,
            now(),
        )
        .await
    }

    pub(crate) fn estimate(service: &str, name: &str, payload: &Value) -> Cents {
        Sandbox::default().estimate(&spec(service, name), payload)
    }

    pub(crate) async fn poll_at(
        sandbox: &Sandbox,
        payload: &Value,
        external_id: &str,
        started_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<PollStatus, ProviderError> {
        sandbox
            .poll(ProviderPoll {
                operation: &spec("voice_call", "create"),
                payload,
                request_id: REQUEST_ID,
                external_id,
                started_at,
                now,
            })
            .await
    }

    /// The result and cost of a synchronous completion.
    pub(crate) fn completed(exec: &Execution) -> (Value, Cents) {
        match exec {
            Execution::Completed {
                result,
                actual_cost,
            } => (result.clone(), *actual_cost),
            other => panic!("expected Completed, got {other:?}"),
        }
    }

    fn assert_conforms(schema: &Value, value: &Value, what: &str) {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(schema)
            .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:?}\n{value:#}");
    }

    /// The built-ins the sandbox answers (the platform's own catalog
    /// changes are carried out by the server, not by a provider).
    fn all_operations() -> Vec<OperationSpec> {
        builtin()
            .into_iter()
            .flat_map(|s| s.operations)
            .filter(|op| Sandbox::supports(&op.service, &op.name))
            .collect()
    }

    #[tokio::test]
    async fn every_example_executes_and_matches_the_output_schema() {
        let sandbox = Sandbox::default();
        let started = now();
        for op in all_operations() {
            let what = op.full_name();
            let payload = example_payload(&op.service, &op.name);
            if what == "platform.check_budget" {
                continue; // covered by check_budget_is_left_to_the_server
            }
            let estimated = sandbox.estimate(&op, &payload);
            let outcome = execute(&sandbox, &op, &payload, REQUEST_ID, started).await;
            let (result, cost) = match outcome {
                Ok(Execution::Completed {
                    result,
                    actual_cost,
                }) => {
                    assert!(!op.asynchronous, "{what} should have started");
                    (result, actual_cost)
                }
                Ok(Execution::Started {
                    external_id,
                    initial_cost,
                }) => {
                    assert!(op.asynchronous, "{what} should have completed");
                    assert!(initial_cost <= estimated, "{what}");
                    let at = started + time::Duration::seconds(3);
                    match poll_at(&sandbox, &payload, &external_id, started, at).await {
                        Ok(PollStatus::Completed {
                            result,
                            actual_cost,
                        }) => (result, actual_cost),
                        other => panic!("{what}: poll gave {other:?}"),
                    }
                }
                Err(e) => panic!("{what}: {e}"),
            };
            assert_eq!(result["sandbox"], true, "{what}");
            assert_conforms(&op.output_schema, &result, &what);
            assert!(cost <= estimated, "{what}: {cost} > {estimated}");
            match op.pricing {
                PricingType::Flat => assert_eq!(cost, op.base_price_cents, "{what}"),
                PricingType::Free => assert_eq!(cost, Cents::ZERO, "{what}"),
                PricingType::Metered => assert!(cost >= op.base_price_cents, "{what}"),
            }
        }
    }

    #[tokio::test]
    async fn check_budget_is_left_to_the_server() {
        let payload = example_payload("platform", "check_budget");
        match run("platform", "check_budget", payload.clone()).await {
            Err(ProviderError::Adapter(message)) => {
                assert!(message.contains("server"), "{message}")
            }
            other => panic!("expected an adapter error, got {other:?}"),
        }
        assert_eq!(estimate("platform", "check_budget", &payload), Cents::ZERO);
    }

    #[tokio::test]
    async fn same_input_same_result() {
        let sandbox = Sandbox::default();
        for op in all_operations() {
            let payload = example_payload(&op.service, &op.name);
            let first = execute(&sandbox, &op, &payload, REQUEST_ID, now()).await;
            let second = execute(&Sandbox::default(), &op, &payload, REQUEST_ID, now()).await;
            assert_eq!(first, second, "{}", op.full_name());
            assert_eq!(
                sandbox.estimate(&op, &payload),
                sandbox.estimate(&op, &payload),
                "{}",
                op.full_name()
            );
        }
    }

    #[tokio::test]
    async fn different_requests_get_different_ids() {
        let payload = example_payload("email", "send");
        let a = run_as("req_a", "email", "send", payload.clone())
            .await
            .unwrap();
        let b = run_as("req_b", "email", "send", payload).await.unwrap();
        assert_ne!(completed(&a).0["id"], completed(&b).0["id"]);
        let sms = run_as("req_a", "sms", "send", example_payload("sms", "send"))
            .await
            .unwrap();
        // Same request id, other operation: other id too.
        assert_ne!(
            completed(&a).0["id"].as_str().map(|s| &s[4..]),
            completed(&sms).0["id"].as_str().map(|s| &s[4..])
        );
    }

    #[tokio::test]
    async fn timestamps_are_utc_with_z() {
        let at = datetime!(2026-03-01 13:30:05.123456 +01:30);
        let exec = run_at(at, "email", "send", example_payload("email", "send"))
            .await
            .unwrap();
        assert_eq!(completed(&exec).0["sent_at"], "2026-03-01T12:00:05Z");
    }

    #[tokio::test]
    async fn unavailable_marker_anywhere_gives_unavailable() {
        let cases = [
            (
                "email",
                "send",
                json!({"to": "ops@sandbox-unavailable.test", "subject": "s", "body": "b"}),
            ),
            (
                "notification",
                "webhook",
                json!({"url": "https://hooks.example.com/x", "body": {"deep": [{"x": ["sandbox-unavailable"]}]}}),
            ),
            (
                "voice_call",
                "create",
                json!({"to": "+15555550123", "from": "+15555550100", "say": "sandbox-unavailable"}),
            ),
            // Markers win over validation: this payload is otherwise invalid.
            ("sms", "send", json!({"to": "sandbox-unavailable"})),
        ];
        for (service, name, payload) in cases {
            let outcome = run(service, name, payload).await;
            assert!(
                matches!(outcome, Err(ProviderError::Unavailable(_))),
                "{service}.{name}: {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn error_marker_gives_adapter_error() {
        let payload = json!({"query": "why is sandbox-error here", "num_results": 2});
        match run("web_search", "search", payload).await {
            Err(ProviderError::Adapter(message)) => assert!(message.contains(MARKER_ERROR)),
            other => panic!("{other:?}"),
        }
        // Both markers: unavailable is checked first.
        let both = json!({"prompt": "sandbox-error and sandbox-unavailable"});
        assert!(matches!(
            run("text_generation", "generate", both).await,
            Err(ProviderError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn markers_in_keys_or_numbers_do_not_count() {
        let payload = json!({
            "url": "https://hooks.example.com/x",
            "headers": {"X-sandbox-error": "fine"},
        });
        run("notification", "webhook", payload).await.unwrap();
    }

    #[tokio::test]
    async fn slow_marker_outlasts_a_provider_timeout() {
        let payload = json!({"to": "a@b.example", "subject": "sandbox-slow", "body": "b"});
        let op = spec("email", "send");
        let sandbox = Sandbox::default();
        let call = execute(&sandbox, &op, &payload, REQUEST_ID, now());
        let outcome = tokio::time::timeout(Duration::from_millis(200), call).await;
        assert!(outcome.is_err(), "answered within the timeout: {outcome:?}");
        // Without the marker the same call answers at once.
        let quick = json!({"to": "a@b.example", "subject": "quick", "body": "b"});
        let call = execute(&sandbox, &op, &quick, REQUEST_ID, now());
        let outcome = tokio::time::timeout(Duration::from_millis(200), call).await;
        assert!(matches!(outcome, Ok(Ok(_))), "{outcome:?}");
    }

    #[test]
    fn marker_search_walks_nested_values() {
        let mut nested = json!("sandbox-error");
        for _ in 0..64 {
            nested = json!({"k": [1, null, nested]});
        }
        assert!(contains_marker(&nested, MARKER_ERROR));
        assert!(!contains_marker(&nested, MARKER_UNAVAILABLE));
        assert!(!contains_marker(&json!({"sandbox-error": 1}), MARKER_ERROR));
    }

    #[tokio::test]
    async fn refuses_unknown_operations_and_non_object_payloads() {
        let mut custom = spec("email", "send");
        custom.service = "custom".into();
        custom.name = "acme_lookup".into();
        let outcome = execute(&Sandbox::default(), &custom, &json!({}), REQUEST_ID, now()).await;
        assert!(
            matches!(outcome, Err(ProviderError::Adapter(_))),
            "{outcome:?}"
        );
        for payload in [
            json!(null),
            json!([]),
            json!("sandbox-unavailable"),
            json!(3),
        ] {
            let outcome = run("email", "send", payload.clone()).await;
            assert!(
                matches!(outcome, Err(ProviderError::Adapter(_))),
                "{payload}: {outcome:?}"
            );
        }
    }

    /// No operation panics, and every one with required fields refuses an
    /// empty or mistyped payload with an adapter error.
    #[tokio::test]
    async fn garbage_payloads_are_refused_not_panicked_on() {
        let garbage = [
            json!({}),
            json!({"to": 1, "from": [], "body": {}, "say": null, "prompt": false}),
            json!({"max_tokens": -1, "limit": 1e300, "num_results": "5", "since": "", "url": 7}),
        ];
        for op in all_operations() {
            let has_required = op.input_schema["required"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
                || op.full_name() == "text_generation.generate";
            for payload in &garbage {
                let outcome = execute(&Sandbox::default(), &op, payload, REQUEST_ID, now()).await;
                let _ = Sandbox::default().estimate(&op, payload);
                if has_required || payload != &json!({}) {
                    assert!(
                        matches!(outcome, Err(ProviderError::Adapter(_))),
                        "{} accepted {payload}: {outcome:?}",
                        op.full_name()
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn poll_on_a_synchronous_operation_is_an_adapter_error() {
        let outcome = Sandbox::default()
            .poll(ProviderPoll {
                operation: &spec("email", "send"),
                payload: &example_payload("email", "send"),
                request_id: REQUEST_ID,
                external_id: "msg_0",
                started_at: now(),
                now: now(),
            })
            .await;
        assert!(
            matches!(outcome, Err(ProviderError::Adapter(_))),
            "{outcome:?}"
        );
    }

    #[test]
    fn flat_and_free_estimates_are_the_list_price() {
        for op in all_operations() {
            let payload = example_payload(&op.service, &op.name);
            let estimated = Sandbox::default().estimate(&op, &payload);
            match op.pricing {
                PricingType::Flat => {
                    assert_eq!(estimated, op.base_price_cents, "{}", op.full_name())
                }
                PricingType::Free => assert_eq!(estimated, Cents::ZERO, "{}", op.full_name()),
                PricingType::Metered => {
                    assert!(estimated >= op.base_price_cents, "{}", op.full_name())
                }
            }
        }
    }

    #[test]
    fn registers_one_shared_sandbox_for_every_builtin_operation() {
        let mut catalog = builtin();
        let mut custom = spec("email", "send");
        custom.service = "custom".into();
        custom.name = "acme_lookup".into();
        catalog.push(ServiceSpec {
            id: "custom",
            name: "Custom",
            description: "A private service.",
            operations: vec![custom.clone()],
        });
        let mut providers = Providers::new();
        register_sandbox(&catalog, SandboxConfig::default(), &mut providers);
        let mut first: Option<Arc<dyn Provider>> = None;
        for op in all_operations() {
            let provider = providers
                .for_operation(&op, crate::model::KeyMode::Live)
                .unwrap_or_else(|| panic!("{} has no provider", op.full_name()));
            assert_eq!(provider.name(), "sandbox");
            match &first {
                None => first = Some(Arc::clone(provider)),
                Some(first) => assert!(Arc::ptr_eq(first, provider), "not shared"),
            }
        }
        assert!(
            providers
                .for_operation(&custom, crate::model::KeyMode::Live)
                .is_none()
        );
    }

    #[test]
    fn helpers_behave() {
        assert!(is_e164("+15555550123"));
        assert!(!is_e164("+05555550123"));
        assert!(!is_e164("+123456"));
        assert!(!is_e164("+1234567890123456"));
        assert!(is_email("a.b+c@sub.example.com"));
        for bad in [
            "a@b",
            "@b.example",
            "a@@b.example",
            "a b@c.example",
            "a@b..example",
            "a@.example",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert_eq!(
            slug("Hello, World! Ünïcode 42", '-', 60),
            "hello-world-n-code-42"
        );
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(
            base32(b"foobar", b"abcdefghijklmnopqrstuvwxyz234567"),
            "mzxw6ytboi"
        );
        assert_eq!(unix_millis(datetime!(1960-01-01 0:00 UTC)), 0);
        assert_eq!(
            snowflake(datetime!(1970-01-01 0:00:01 UTC), 0, 5),
            (1000 << 22) | 5
        );
    }
}

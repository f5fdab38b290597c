//! One chat turn, top to bottom: the session's agent answers the user
//! with a model; each tool call the model makes is a governed service
//! request of that agent (policy, budgets, approvals, idempotency, audit),
//! or, for the client's local tools, is handed back to the client. A call
//! that needs a human, or the client, pauses the turn: its state is
//! stored with the messages so far, and `continue_from` resumes it later,
//! from any connection and after a restart.
//!
//! [`prepare`] does everything that can refuse the request (so refusals
//! are ordinary JSON errors); [`run`] then streams [`Event`]s and never
//! fails: a problem becomes an `error` event, and `done` is always last.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::model::{
    ChatModel, ModelError, ModelMessage, ModelReply, ModelRequest, ToolCall, Usage,
};
use super::sandbox::SandboxModel;
use super::service;
use super::tools::{self, LocalTool, Target, Toolset};
use crate::domains::DomainError;
use crate::domains::automation::dispatch::{Dispatch, dispatch_gated};
use crate::governance::metered::{self, MeteredCall, Metering};
use crate::governance::{GovernanceError, approvals, outcome};
use crate::ids::{self, AgentId, OrgId, RequestId};
use crate::model::{Account, Agent, HoldLimit, KeyMode, RequestStatus, Role, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::providers::ProviderError;
use crate::store::{AppendChat, ChatMessage, ChatPause, ChatSession, PauseChange};

/// Most model calls in one turn (a model that keeps calling tools stops
/// here with an `error` event).
pub const MAX_MODEL_CALLS: usize = 8;
/// How much history goes to the model: the newest messages whose text
/// fits in this many bytes (about 12k tokens), cut at a user message.
pub const CONTEXT_BUDGET_BYTES: usize = 48_000;
/// Longest `result_preview` in `tool_done`.
const PREVIEW_CHARS: usize = 300;
/// Longest user message.
pub const MESSAGE_MAX_CHARS: usize = 32_000;

/// One server-sent event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub data: Value,
}

impl Event {
    fn new(name: &'static str, data: Value) -> Event {
        Event { name, data }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Governance(#[from] GovernanceError),
}

impl From<crate::store::StoreError> for TurnError {
    fn from(e: crate::store::StoreError) -> TurnError {
        TurnError::Domain(e.into())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

/// A result the client sends back for one of its local tools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalResult {
    pub tool_call_id: String,
    #[serde(default)]
    pub tool_name: Option<String>,
    #[serde(default)]
    pub result: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContinueFrom {
    Approval {
        request_id: String,
        action: Option<Decision>,
    },
    LocalResults(Vec<LocalResult>),
}

/// `POST /chat/turn`, decoded.
#[derive(Clone, Debug, Default)]
pub struct TurnRequest {
    pub session_id: String,
    pub message: String,
    pub model_id: Option<String>,
    pub instructions: Option<String>,
    pub require_approval_all: bool,
    pub continue_from: Option<ContinueFrom>,
    pub local_tools: Vec<LocalTool>,
}

/// What a paused turn stored to go on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct PausedTurn {
    instructions: Option<String>,
    require_approval_all: bool,
    local_tools: Vec<LocalTool>,
    /// The calls the pause waits on (one approval, or the client's).
    awaiting: Vec<ToolCall>,
    /// Governed calls of the same model reply not yet made.
    remaining: Vec<ToolCall>,
    /// Local calls of the same reply, for the client after the rest.
    local: Vec<ToolCall>,
    model_calls: usize,
}

/// A turn that may start: everything checked, the pause (if resuming)
/// taken.
pub struct Prepared {
    session: ChatSession,
    agent: Agent,
    user: UserPrincipal,
    message: String,
    state: PausedTurn,
    /// Tool answers the resume brings (approval outcome, local results).
    answers: Vec<ChatMessage>,
    model: Arc<dyn ChatModel>,
    /// The `modelId` asked for, when the turn runs on another model.
    substituted: Option<String>,
    /// Metadata every request of the turn carries (a room's id).
    scope: serde_json::Map<String, Value>,
    cancel: CancellationToken,
}

impl Prepared {
    pub fn model_id(&self) -> &str {
        self.model.id()
    }

    /// Stops the turn at its next step once `token` fires: before a model
    /// call or a tool call, never inside one, so nothing is left half
    /// made or half billed. What the turn said so far stays in the
    /// history.
    pub fn cancel_on(mut self, token: CancellationToken) -> Prepared {
        self.cancel = token;
        self
    }

    /// Adds `metadata` to every service request the turn makes (its model
    /// calls and tool calls): a room's reply names the room, whose budget
    /// it spends from (`governance::room_budget`).
    pub fn scoped(mut self, metadata: serde_json::Map<String, Value>) -> Prepared {
        self.scope = metadata;
        self
    }
}

/// `base` with the turn's scope added.
fn with_scope(mut base: Value, scope: &serde_json::Map<String, Value>) -> Value {
    if let Value::Object(map) = &mut base {
        for (k, v) in scope {
            map.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Checks and loads a turn. Every refusal happens here, before any event.
pub async fn prepare(
    platform: &Platform,
    user: &UserPrincipal,
    request: TurnRequest,
) -> Result<Prepared, TurnError> {
    if request.message.chars().count() > MESSAGE_MAX_CHARS {
        return Err(DomainError::Invalid(format!(
            "invalid field message: at most {MESSAGE_MAX_CHARS} characters"
        ))
        .into());
    }
    let (session, agent) = service::open_for_turn(platform, user, &request.session_id).await?;
    let (model, substituted) = model_for(platform, &agent, request.model_id.as_deref());
    let org = OrgId::from(&user.org_id);
    let mut state = PausedTurn {
        instructions: request.instructions.clone(),
        require_approval_all: request.require_approval_all,
        local_tools: request.local_tools.clone(),
        ..PausedTurn::default()
    };
    let mut answers = Vec::new();
    match request.continue_from {
        None => {
            if request.message.trim().is_empty() {
                return Err(DomainError::Invalid(
                    "invalid field message: required unless continue_from is given".into(),
                )
                .into());
            }
            // A new message moves on from a paused turn: its unanswered
            // calls read as abandoned to the model (`conversation`); a
            // parked request stays in the approvals inbox on its own. One
            // decided meanwhile (from the inbox, without continue_from)
            // answers its call with the outcome instead.
            let pause = platform
                .stores
                .chat
                .take_chat_pause(&org, &session.id)
                .await?;
            if let Some(pause) = pause {
                answers = decided_meanwhile(platform, &session, &pause).await?;
            }
        }
        Some(cont) => {
            let pause = platform
                .stores
                .chat
                .take_chat_pause(&org, &session.id)
                .await?
                .ok_or_else(|| DomainError::Conflict {
                    code: "nothing_to_continue",
                    message: "this session has no paused turn to continue".into(),
                })?;
            let paused: PausedTurn = serde_json::from_value(pause.state.clone())
                .map_err(|e| crate::store::StoreError::Corrupt(format!("chat pause: {e}")))?;
            match resume(platform, user, &session, &pause, &paused, cont).await {
                Ok(found) => answers = found,
                Err(e) => {
                    // Not resumed: the pause stays for a later attempt.
                    restore_pause(platform, &org, &session.id, pause).await?;
                    return Err(e);
                }
            }
            // The client may send its tools again; the stored ones stand
            // otherwise.
            state = PausedTurn {
                instructions: request.instructions.or(paused.instructions),
                require_approval_all: request.require_approval_all || paused.require_approval_all,
                local_tools: if request.local_tools.is_empty() {
                    paused.local_tools
                } else {
                    request.local_tools
                },
                awaiting: Vec::new(),
                remaining: paused.remaining,
                local: paused.local,
                model_calls: paused.model_calls,
            };
        }
    }
    Ok(Prepared {
        session,
        agent,
        user: user.clone(),
        message: request.message,
        state,
        answers,
        model,
        substituted,
        scope: serde_json::Map::new(),
        cancel: CancellationToken::new(),
    })
}

/// The configured model for a live agent, the sandbox otherwise (a test
/// agent spends nothing real, as with its providers), and the `modelId`
/// the turn asked for when it is not that model. Only the configured
/// model's prices are known, so another would be billed at the wrong
/// rate: the turn runs on the configured one and its `model` event says
/// so (the terminal client offers a catalogue of models this server does
/// not have, and refusing its turns would leave it unusable).
fn model_for(
    platform: &Platform,
    agent: &Agent,
    model_id: Option<&str>,
) -> (Arc<dyn ChatModel>, Option<String>) {
    let asked = model_id
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    let model: Arc<dyn ChatModel> = match platform
        .chat_model
        .as_ref()
        .filter(|_| agent.key_mode == KeyMode::Live)
    {
        Some(model) => model.clone(),
        None => Arc::new(SandboxModel),
    };
    let substituted = asked.filter(|m| !model.serves(m));
    (model, substituted)
}

async fn restore_pause(
    platform: &Platform,
    org: &OrgId,
    session_id: &str,
    pause: ChatPause,
) -> Result<(), TurnError> {
    platform
        .stores
        .chat
        .append_chat(AppendChat {
            org_id: org.clone(),
            session_id: session_id.to_owned(),
            messages: Vec::new(),
            pause: PauseChange::Set(pause),
            now: platform.clock.now(),
        })
        .await?;
    Ok(())
}

/// The tool messages that answer a pause's awaited calls.
async fn resume(
    platform: &Platform,
    user: &UserPrincipal,
    session: &ChatSession,
    pause: &ChatPause,
    paused: &PausedTurn,
    cont: ContinueFrom,
) -> Result<Vec<ChatMessage>, TurnError> {
    let now = platform.clock.now();
    match (pause.kind.as_str(), cont) {
        ("approval", ContinueFrom::Approval { request_id, action }) => {
            if pause.request_id.as_deref() != Some(request_id.as_str()) {
                return Err(DomainError::Conflict {
                    code: "nothing_to_continue",
                    message: format!(
                        "the paused turn waits on {:?}, not {request_id}",
                        pause.request_id
                    ),
                }
                .into());
            }
            let outcome = approval_outcome(platform, user, pause, &request_id, action).await?;
            let call = paused.awaiting.first().ok_or_else(|| {
                crate::store::StoreError::Corrupt("an approval pause without its call".into())
            })?;
            Ok(vec![tool_message(session, call, &outcome, now)])
        }
        ("local_tools", ContinueFrom::LocalResults(results)) => {
            let mut answers = Vec::new();
            for call in &paused.awaiting {
                let result = results
                    .iter()
                    .find(|r| r.tool_call_id == call.id)
                    .map(|r| r.result.clone())
                    .unwrap_or_else(|| json!({"error": "the client sent no result for this call"}));
                answers.push(tool_message(session, call, &result, now));
            }
            Ok(answers)
        }
        (kind, _) => Err(DomainError::Conflict {
            code: "nothing_to_continue",
            message: format!(
                "the paused turn waits for {}, not for this continue_from",
                if kind == "approval" {
                    "an approval (continue_from {request_id, action})"
                } else {
                    "local tool results (continue_from {action: \"local_results\", results})"
                }
            ),
        }
        .into()),
    }
}

/// The answer of an approval pause's call when its request was decided
/// since the turn paused; nothing otherwise.
async fn decided_meanwhile(
    platform: &Platform,
    session: &ChatSession,
    pause: &ChatPause,
) -> Result<Vec<ChatMessage>, TurnError> {
    let Some(request_id) = pause
        .request_id
        .as_deref()
        .filter(|_| pause.kind == "approval")
    else {
        return Ok(Vec::new());
    };
    let Ok(paused) = serde_json::from_value::<PausedTurn>(pause.state.clone()) else {
        return Ok(Vec::new());
    };
    let Some(call) = paused.awaiting.first() else {
        return Ok(Vec::new());
    };
    let decided = platform
        .stores
        .governance
        .request(&RequestId::from(request_id))
        .await?
        .filter(|r| r.org_id == session.org_id && r.status != RequestStatus::AwaitingApproval);
    Ok(decided
        .map(|r| {
            let outcome = outcome::render(&r);
            vec![tool_message(session, call, &outcome, platform.clock.now())]
        })
        .unwrap_or_default())
}

/// Where the paused request stands; decides it first when it is still
/// pending and the caller may decide approvals.
async fn approval_outcome(
    platform: &Platform,
    user: &UserPrincipal,
    pause: &ChatPause,
    request_id: &str,
    action: Option<Decision>,
) -> Result<Value, TurnError> {
    let request = platform
        .stores
        .governance
        .request(&RequestId::from(request_id))
        .await?
        .filter(|r| r.org_id == user.org_id)
        .ok_or(DomainError::NotFound("service request"))?;
    if request.status != RequestStatus::AwaitingApproval {
        return Ok(outcome::render(&request));
    }
    let (Some(action), Some(approval_id)) = (action, pause.approval_id.as_deref()) else {
        return Err(still_pending(request_id));
    };
    if user.role < Role::Admin {
        return Err(still_pending(request_id));
    }
    Ok(match action {
        Decision::Approve => approvals::approve(platform, user, approval_id, None).await?,
        Decision::Reject => approvals::reject(platform, user, approval_id, None).await?,
    })
}

fn still_pending(request_id: &str) -> TurnError {
    DomainError::Conflict {
        code: "approval_pending",
        message: format!(
            "{request_id} still awaits approval: an admin decides it (POST \
             /api/v1/chat/approvals/{{approval_id}}), then continue the turn"
        ),
    }
    .into()
}

fn tool_message(
    session: &ChatSession,
    call: &ToolCall,
    result: &Value,
    now: time::OffsetDateTime,
) -> ChatMessage {
    ChatMessage {
        id: ids::new_id(service::MESSAGE_PREFIX),
        session_id: session.id.clone(),
        role: "tool".into(),
        content: result.to_string(),
        tool_calls: None,
        tool_call_id: Some(call.id.clone()),
        tool_name: Some(call.name.clone()),
        created_at: now,
    }
}

/// The running turn: events out, messages and pauses into the store.
struct Turn<'a> {
    platform: &'a Platform,
    p: Prepared,
    events: mpsc::Sender<Event>,
    org: OrgId,
    usage: Usage,
    /// What the turn's model calls cost, settled.
    cost: Cents,
    /// The service requests of its model calls.
    model_requests: Vec<String>,
    tools: Toolset,
}

impl Turn<'_> {
    async fn emit(&self, name: &'static str, data: Value) {
        // A client gone is no reason to stop: the turn's state is stored.
        let _ = self.events.send(Event::new(name, data)).await;
    }

    async fn save(&self, messages: Vec<ChatMessage>, pause: PauseChange) -> bool {
        let saved = self
            .platform
            .stores
            .chat
            .append_chat(AppendChat {
                org_id: self.org.clone(),
                session_id: self.p.session.id.clone(),
                messages,
                pause,
                now: self.platform.clock.now(),
            })
            .await;
        match saved {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, session = %self.p.session.id, "could not store a chat turn");
                self.emit("error", json!({"message": "the turn could not be stored"}))
                    .await;
                false
            }
        }
    }
}

/// Runs a prepared turn, sending its events; `done` is always the last.
pub async fn run(platform: Platform, prepared: Prepared, events: mpsc::Sender<Event>) {
    let org = OrgId::from(&prepared.user.org_id);
    let tools = match tools::toolset(&platform, &prepared.agent, &prepared.state.local_tools).await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "could not list a chat agent's tools");
            let _ = events
                .send(Event::new(
                    "error",
                    json!({"message": "the agent's tools could not be listed"}),
                ))
                .await;
            let _ = events.send(Event::new("done", json!({"ok": false}))).await;
            return;
        }
    };
    let mut turn = Turn {
        platform: &platform,
        p: prepared,
        events,
        org,
        usage: Usage::default(),
        cost: Cents::ZERO,
        model_requests: Vec::new(),
        tools,
    };
    let final_text = drive(&mut turn).await;
    finish(&turn, final_text).await;
}

/// Model calls and tool calls until the model answers in text (`Some`),
/// or the turn pauses or fails (`None`).
async fn drive(turn: &mut Turn<'_>) -> Option<String> {
    let model_id = turn.p.model.id().to_owned();
    let mut announced = json!({"id": model_id, "model": model_id});
    if let Some(asked) = &turn.p.substituted {
        announced["requested"] = json!(asked);
        announced["substituted"] = json!(true);
    }
    turn.emit("model", announced).await;
    // Answers of calls first (a resume's, or a pause decided meanwhile),
    // so each follows its call and precedes the new message.
    let mut first = std::mem::take(&mut turn.p.answers);
    if !turn.p.message.trim().is_empty() {
        first.push(ChatMessage {
            id: ids::new_id(service::MESSAGE_PREFIX),
            session_id: turn.p.session.id.clone(),
            role: "user".into(),
            content: turn.p.message.clone(),
            tool_calls: None,
            tool_call_id: None,
            tool_name: None,
            created_at: turn.platform.clock.now(),
        });
    }
    if !first.is_empty() && !turn.save(first, PauseChange::Keep).await {
        return None;
    }
    // A resumed reply's calls not yet made go first.
    let remaining = std::mem::take(&mut turn.p.state.remaining);
    let local = std::mem::take(&mut turn.p.state.local);
    if (!remaining.is_empty() || !local.is_empty()) && !run_calls(turn, remaining, local).await {
        return None;
    }
    loop {
        if turn.p.cancel.is_cancelled() {
            return None;
        }
        if turn.p.state.model_calls >= MAX_MODEL_CALLS {
            turn.emit(
                "error",
                json!({"message": format!("the turn stopped after {MAX_MODEL_CALLS} model calls")}),
            )
            .await;
            return None;
        }
        turn.p.state.model_calls += 1;
        turn.emit("status", json!({"step": "thinking", "message": "thinking"}))
            .await;
        let request = match model_request(turn).await {
            Some(r) => r,
            None => return None,
        };
        let reply = match metered_reply(turn, &request).await {
            Ok(reply) => reply,
            Err(error) => {
                turn.emit("error", error).await;
                return None;
            }
        };
        turn.usage.add(reply.usage);
        if reply.tool_calls.is_empty() {
            return Some(reply.text);
        }
        let assistant = ChatMessage {
            id: ids::new_id(service::MESSAGE_PREFIX),
            session_id: turn.p.session.id.clone(),
            role: "assistant".into(),
            content: reply.text.clone(),
            tool_calls: Some(json!(reply.tool_calls)),
            tool_call_id: None,
            tool_name: None,
            created_at: turn.platform.clock.now(),
        };
        if !turn.save(vec![assistant], PauseChange::Keep).await {
            return None;
        }
        let (local, governed): (Vec<ToolCall>, Vec<ToolCall>) = reply
            .tool_calls
            .into_iter()
            .partition(|c| turn.tools.target(&c.name) == Some(&Target::Local));
        if !run_calls(turn, governed, local).await {
            return None;
        }
    }
}

/// One model call. A priced model's call is a service request of the
/// agent (`governance::metered`): its quote is held before anything is
/// sent, or the turn stops with the budget's reason; its cost is settled
/// after, or the hold released when it failed. The error is the `error`
/// event's data.
async fn metered_reply(turn: &mut Turn<'_>, request: &ModelRequest) -> Result<ModelReply, Value> {
    let Some(quote) = turn.p.model.quote(request) else {
        return stream_reply(turn, request)
            .await
            .map_err(|e| json!({"message": e.to_string()}));
    };
    let session_id = turn.p.session.id.clone();
    let unrecorded = |e: GovernanceError| {
        tracing::error!(error = %e, session = %session_id, "a chat model call could not be recorded");
        json!({"message": "the model call could not be recorded; try again"})
    };
    let call = MeteredCall {
        service: "text_generation",
        operation: "generate",
        provider: quote.provider,
        payload: json!({
            "model": turn.p.model.id(),
            "max_tokens": quote.max_tokens,
            "prompt_token_bound": quote.prompt_token_bound,
            "messages": request.messages.len(),
            "tools": request.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        }),
        metadata: with_scope(
            json!({
                "chat_session_id": turn.p.session.id,
                "user_id": turn.p.user.user_id,
                "model_call": turn.p.state.model_calls,
            }),
            &turn.p.scope,
        ),
        estimate: quote.estimate,
    };
    let reservation = match metered::reserve(turn.platform, &turn.p.agent, call).await {
        Ok(Metering::Reserved(r)) => r,
        Ok(Metering::Refused {
            reason,
            message,
            request_id,
        }) => {
            return Err(json!({
                "message": format!("the model was not called: {message}"),
                "code": reason.as_str(),
                "request_id": request_id,
                "estimated_cost_cents": quote.estimate.get(),
            }));
        }
        Err(e) => return Err(unrecorded(e)),
    };
    let request_id = reservation.request_id().to_owned();
    turn.model_requests.push(request_id.clone());
    if let Err(e) = reservation.start(turn.platform).await {
        let nothing_sent = ProviderError::Unavailable(
            "the call could not be recorded before it was made; nothing was sent".into(),
        );
        // Released: the model was not called.
        let _ = reservation.settle(turn.platform, Err(nothing_sent)).await;
        return Err(unrecorded(e));
    }
    let answered = stream_reply(turn, request).await;
    let settled = match &answered {
        Ok(reply) => Ok((
            json!({
                "model": turn.p.model.id(),
                "text_chars": reply.text.chars().count(),
                "tool_calls": reply.tool_calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
                "usage": {
                    "prompt_tokens": reply.usage.prompt_tokens,
                    "completion_tokens": reply.usage.completion_tokens,
                    "estimated": reply.usage.estimated,
                },
            }),
            reply.cost,
        )),
        Err(ModelError::Malformed(m)) => Err(ProviderError::Adapter(m.clone())),
        Err(e) => Err(ProviderError::Unavailable(e.to_string())),
    };
    match reservation.settle(turn.platform, settled).await {
        Ok(finished) => turn.cost = turn.cost.checked_add(finished.cost).unwrap_or(turn.cost),
        // The request stays `executing`; recovery settles it.
        Err(e) => tracing::error!(error = %e, request_id, "a chat model call could not be settled"),
    }
    answered.map_err(|e| json!({"message": e.to_string(), "request_id": request_id}))
}

/// Streams one model reply; its text deltas go out as `message_delta`.
async fn stream_reply(turn: &Turn<'_>, request: &ModelRequest) -> Result<ModelReply, ModelError> {
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let model = turn.p.model.clone();
    let request = request.clone();
    let call = tokio::spawn(async move { model.respond(&request, &tx).await });
    while let Some(delta) = rx.recv().await {
        turn.emit("message_delta", json!({"delta": delta, "content": delta}))
            .await;
    }
    match call.await {
        Ok(result) => result,
        Err(_) => Err(ModelError::Upstream(
            "the model call stopped unexpectedly".into(),
        )),
    }
}

/// Makes the governed calls in order, then hands the local ones to the
/// client. `false` when the turn paused or failed.
async fn run_calls(turn: &mut Turn<'_>, governed: Vec<ToolCall>, local: Vec<ToolCall>) -> bool {
    let mut queue = governed.into_iter();
    while let Some(call) = queue.next() {
        // Calls not made read as abandoned to the model next time.
        if turn.p.cancel.is_cancelled() {
            return false;
        }
        turn.emit(
            "tool_planned",
            json!({"tool_name": call.name, "tool_call_id": call.id}),
        )
        .await;
        let outcome = match turn.tools.target(&call.name).cloned() {
            Some(Target::Governed { service, operation }) => {
                turn.emit("tool_executing", json!({"tool_name": call.name}))
                    .await;
                match governed_call(turn, &call, service, operation).await {
                    Ok(outcome) => outcome,
                    Err(()) => return false,
                }
            }
            Some(Target::Delegate) => {
                turn.emit("tool_executing", json!({"tool_name": call.name}))
                    .await;
                crate::domains::delegation::autonomy::delegate_from_turn(
                    turn.platform,
                    &turn.p.agent,
                    &call.arguments,
                    &turn.events,
                )
                .await
            }
            _ => json!({
                "status": "failed",
                "reason_code": "unknown_tool",
                "message": format!("{} is not one of this agent's tools", call.name),
            }),
        };
        let status = outcome["status"].as_str().unwrap_or("failed").to_owned();
        if status == "approval_required" {
            let remaining: Vec<ToolCall> = queue.collect();
            return pause_for_approval(turn, call, outcome, remaining, local).await;
        }
        turn.emit(
            "tool_done",
            json!({
                "tool_name": call.name,
                "tool_call_id": call.id,
                "status": status,
                "request_id": outcome.get("request_id"),
                "result_preview": preview(&outcome),
            }),
        )
        .await;
        let now = turn.platform.clock.now();
        let answer = tool_message(&turn.p.session, &call, &outcome, now);
        if !turn.save(vec![answer], PauseChange::Keep).await {
            return false;
        }
    }
    if local.is_empty() {
        return true;
    }
    if turn.p.cancel.is_cancelled() {
        return false;
    }
    let listed: Vec<Value> = local
        .iter()
        .map(|c| json!({"tool_call_id": c.id, "tool_name": c.name, "args": c.arguments}))
        .collect();
    let pause = ChatPause {
        session_id: turn.p.session.id.clone(),
        kind: "local_tools".into(),
        request_id: None,
        approval_id: None,
        state: paused_state(turn, local, Vec::new(), Vec::new()),
        created_at: turn.platform.clock.now(),
    };
    if turn.save(Vec::new(), PauseChange::Set(pause)).await {
        turn.emit("local_tools_pending", json!({"tools": listed}))
            .await;
    }
    false
}

async fn governed_call(
    turn: &Turn<'_>,
    call: &ToolCall,
    service: String,
    operation: String,
) -> Result<Value, ()> {
    let dispatch = Dispatch {
        org_id: turn.org.clone(),
        agent_id: AgentId::from(&turn.p.agent.id),
        service,
        operation,
        payload: call.arguments.clone(),
        // The same call of the same session is the same request, even when
        // a resumed or repeated turn makes it again.
        idempotency_key: Some(format!("chat:{}:{}", turn.p.session.id, call.id)),
        metadata: with_scope(
            json!({
                "chat_session_id": turn.p.session.id,
                "tool_call_id": call.id,
                "user_id": turn.p.user.user_id,
            }),
            &turn.p.scope,
        ),
    };
    match dispatch_gated(turn.platform, dispatch, turn.p.state.require_approval_all).await {
        Ok(d) if d.body.is_object() => Ok(d.body),
        Ok(d) => Ok(json!({
            "status": d.status,
            "reason_code": d.reason_code,
            "message": d.message,
            "request_id": d.request_id,
        })),
        Err(e) => {
            tracing::error!(error = %e, tool = %call.name, "a chat tool call could not be recorded");
            turn.emit(
                "error",
                json!({"message": format!("{} could not be recorded; try again", call.name)}),
            )
            .await;
            Err(())
        }
    }
}

async fn pause_for_approval(
    turn: &mut Turn<'_>,
    call: ToolCall,
    outcome: Value,
    remaining: Vec<ToolCall>,
    local: Vec<ToolCall>,
) -> bool {
    let request_id = outcome["request_id"].as_str().map(str::to_owned);
    let approval_id = outcome["approval_id"].as_str().map(str::to_owned);
    let pause = ChatPause {
        session_id: turn.p.session.id.clone(),
        kind: "approval".into(),
        request_id: request_id.clone(),
        approval_id: approval_id.clone(),
        state: paused_state(turn, vec![call.clone()], remaining, local),
        created_at: turn.platform.clock.now(),
    };
    if turn.save(Vec::new(), PauseChange::Set(pause)).await {
        turn.emit(
            "tool_pending",
            json!({
                "approval_id": approval_id,
                "request_id": request_id,
                "tool_name": call.name,
                "tool_call_id": call.id,
                "estimated_cost_cents": outcome.get("estimated_cost_cents"),
                "expires_at": outcome.get("expires_at"),
            }),
        )
        .await;
    }
    false
}

fn paused_state(
    turn: &Turn<'_>,
    awaiting: Vec<ToolCall>,
    remaining: Vec<ToolCall>,
    local: Vec<ToolCall>,
) -> Value {
    let state = PausedTurn {
        instructions: turn.p.state.instructions.clone(),
        require_approval_all: turn.p.state.require_approval_all,
        local_tools: turn.p.state.local_tools.clone(),
        awaiting,
        remaining,
        local,
        model_calls: turn.p.state.model_calls,
    };
    serde_json::to_value(state).unwrap_or(Value::Null)
}

fn preview(outcome: &Value) -> String {
    let shown = outcome
        .get("result")
        .filter(|r| !r.is_null())
        .or_else(|| outcome.get("message"))
        .unwrap_or(outcome);
    let text = match shown {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= PREVIEW_CHARS {
        text
    } else {
        let cut: String = text.chars().take(PREVIEW_CHARS).collect();
        format!("{cut}…")
    }
}

/// The conversation for the model: the agent's instructions, then the
/// newest history within [`CONTEXT_BUDGET_BYTES`].
async fn model_request(turn: &Turn<'_>) -> Option<ModelRequest> {
    let history = match turn
        .platform
        .stores
        .chat
        .chat_messages(&turn.org, &turn.p.session.id)
        .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "could not read a chat session's history");
            turn.emit(
                "error",
                json!({"message": "the session's history could not be read"}),
            )
            .await;
            return None;
        }
    };
    let mut system = format!(
        "You are {}, an agent of this organisation. Every tool call you make is a governed \
         request: it may be refused or need a human's approval; say so plainly when it is.",
        turn.p.agent.name
    );
    if let Some(extra) = &turn.p.state.instructions {
        system.push_str("\n\n");
        system.push_str(extra);
    }
    let mut messages = vec![ModelMessage::System(system)];
    messages.extend(within_budget(conversation(&history)));
    Some(ModelRequest {
        messages,
        tools: turn.tools.model_tools(),
    })
}

/// History as model messages, every call answered: a call whose answer
/// never came (a pause abandoned for a new message, a crash) gets one
/// that says so, since chat models refuse unanswered calls.
fn conversation(history: &[ChatMessage]) -> Vec<ModelMessage> {
    let mut out = Vec::new();
    let mut open: Vec<ToolCall> = Vec::new();
    let close_open = |out: &mut Vec<ModelMessage>, open: &mut Vec<ToolCall>| {
        for call in open.drain(..) {
            out.push(ModelMessage::Tool {
                tool_call_id: call.id,
                name: call.name,
                content: json!({"status": "abandoned",
                    "message": "the turn moved on before this call had an answer"})
                .to_string(),
            });
        }
    };
    for m in history {
        match m.role.as_str() {
            "tool" => {
                let id = m.tool_call_id.clone().unwrap_or_default();
                open.retain(|c| c.id != id);
                out.push(ModelMessage::Tool {
                    tool_call_id: id,
                    name: m.tool_name.clone().unwrap_or_default(),
                    content: m.content.clone(),
                });
            }
            role => {
                close_open(&mut out, &mut open);
                if role == "assistant" {
                    let calls: Vec<ToolCall> = m
                        .tool_calls
                        .clone()
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default();
                    open = calls.clone();
                    out.push(ModelMessage::Assistant {
                        content: m.content.clone(),
                        tool_calls: calls,
                    });
                } else {
                    out.push(ModelMessage::User(m.content.clone()));
                }
            }
        }
    }
    close_open(&mut out, &mut open);
    out
}

fn message_bytes(m: &ModelMessage) -> usize {
    match m {
        ModelMessage::System(t) | ModelMessage::User(t) => t.len(),
        ModelMessage::Assistant {
            content,
            tool_calls,
        } => content.len() + json!(tool_calls).to_string().len(),
        ModelMessage::Tool { content, .. } => content.len(),
    }
}

/// The newest messages within the budget, starting at a user message so
/// no tool answer is cut from its call (the newest user message always
/// goes, however long).
fn within_budget(messages: Vec<ModelMessage>) -> Vec<ModelMessage> {
    let mut total = 0;
    let mut start = messages.len();
    for (i, m) in messages.iter().enumerate().rev() {
        total += message_bytes(m);
        if matches!(m, ModelMessage::User(_)) {
            if total > CONTEXT_BUDGET_BYTES && start != messages.len() {
                break;
            }
            start = i;
        }
    }
    if start == messages.len() {
        return messages;
    }
    messages.into_iter().skip(start).collect()
}

/// The final text, usage and `done`.
async fn finish(turn: &Turn<'_>, final_text: Option<String>) {
    let ok = final_text.is_some();
    if let Some(text) = &final_text {
        let assistant = ChatMessage {
            id: ids::new_id(service::MESSAGE_PREFIX),
            session_id: turn.p.session.id.clone(),
            role: "assistant".into(),
            content: text.clone(),
            tool_calls: None,
            tool_call_id: None,
            tool_name: None,
            created_at: turn.platform.clock.now(),
        };
        turn.save(vec![assistant], PauseChange::Keep).await;
        turn.emit("message", json!({"content": text})).await;
    }
    turn.emit(
        "usage",
        json!({
            "model": turn.p.model.id(),
            "prompt_tokens": turn.usage.prompt_tokens,
            "completion_tokens": turn.usage.completion_tokens,
            // The model calls' settled cost; tool calls report their own.
            "cost_cents": turn.cost.get(),
            // Counts the model estimated (the sandbox's, or an endpoint
            // that reported none, charged its quote).
            "estimated": turn.usage.estimated || turn.model_requests.is_empty(),
            "model_request_ids": turn.model_requests,
        }),
    )
    .await;
    let balance = turn
        .platform
        .stores
        .governance
        .totals(Account::Org(turn.p.agent.org_id.clone()))
        .await
        .ok()
        .map(|t| t.available(&HoldLimit::Funds).get());
    let text = final_text.unwrap_or_default();
    turn.emit(
        "done",
        json!({
            "ok": ok,
            "balance_cents": balance,
            "assistant_message": text,
            "content": text,
        }),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            id: "m".into(),
            session_id: "s".into(),
            role: role.into(),
            content: content.into(),
            tool_calls: None,
            tool_call_id: None,
            tool_name: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_unanswered_call_gets_an_abandoned_answer_before_the_next_message() {
        let mut call = msg("assistant", "");
        call.tool_calls = Some(json!([{"id": "c1", "name": "email_send", "arguments": {}}]));
        let out = conversation(&[msg("user", "send"), call, msg("user", "never mind")]);
        assert_eq!(out.len(), 4);
        match &out[2] {
            ModelMessage::Tool {
                tool_call_id,
                content,
                ..
            } => {
                assert_eq!(tool_call_id, "c1");
                assert!(content.contains("abandoned"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(out[3], ModelMessage::User("never mind".into()));
    }

    #[test]
    fn the_budget_keeps_the_newest_messages_from_a_user_message_on() {
        let long = "x".repeat(CONTEXT_BUDGET_BYTES);
        let out = within_budget(vec![
            ModelMessage::User(long.clone()),
            ModelMessage::Assistant {
                content: long,
                tool_calls: vec![],
            },
            ModelMessage::User("latest".into()),
        ]);
        assert_eq!(out, vec![ModelMessage::User("latest".into())]);
        let short = within_budget(vec![
            ModelMessage::User("a".into()),
            ModelMessage::User("b".into()),
        ]);
        assert_eq!(short.len(), 2);
    }
}

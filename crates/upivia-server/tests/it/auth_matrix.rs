//! The auth matrix: every route the server answers × every kind of
//! credential → the class of answer it must get. A route that exists but
//! is missing from `ROUTES` fails `every_answered_endpoint_is_in_the_matrix`,
//! so a route added later cannot skip this check. Two of the credentials
//! belong to another organisation: on a route naming one of the first
//! organisation's resources they get 404 (never 403, which would tell the
//! resource exists), and no answer they get carries an id of the first
//! organisation.

use reqwest::Method;
use serde_json::{Value, json};

use upivia_server::auth;

use crate::sessions::owner_session;
use crate::support::TestServer;

/// Who a route is for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    /// Anyone, with or without credentials.
    Public,
    /// Authenticated by a signature over the body, which no credential of
    /// the matrix carries: 401 for everyone.
    Signed,
    /// Only an agent key.
    Agent,
    /// An agent key or a user credential.
    Either,
    /// A user (PAT or cookie) of at least this role; agent keys are 403.
    User(Role),
    /// The route's own agent key (`{agent}`'s), or a user of at least
    /// this role.
    AgentOr(Role),
    /// As `User`, and only of the operator's organisation (the first):
    /// platform-wide checks (the whole ledger, the one audit chain) would
    /// show another organisation what the others do.
    Operator(Role),
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Role {
    Member,
    Admin,
    Owner,
}

/// The routes, with `{agent}`, `{request}`, `{approval}` standing for real
/// ids that the matrix creates first.
const ROUTES: &[(&str, &str, Who)] = &[
    ("GET", "/healthz", Who::Public),
    ("GET", "/health/readiness", Who::Public),
    ("GET", "/agent-docs", Who::Public),
    ("GET", "/services", Who::Public),
    // Authenticated by Twilio's signature, not a credential (and not
    // served without Twilio configured, as here).
    ("POST", "/providers/twilio/calls", Who::Public),
    ("POST", "/auth/login", Who::Public),
    ("POST", "/auth/logout", Who::User(Role::Member)),
    ("GET", "/whoami", Who::User(Role::Member)),
    ("GET", "/auth/csrf", Who::User(Role::Member)),
    ("POST", "/auth/password", Who::User(Role::Member)),
    ("GET", "/audit-logs/checkpoints", Who::Operator(Role::Admin)),
    ("GET", "/audit-logs/public-key", Who::User(Role::Member)),
    ("POST", "/service-requests", Who::Agent),
    ("GET", "/service-requests/{request}", Who::Agent),
    ("POST", "/mcp", Who::Agent),
    ("GET", "/balance", Who::User(Role::Member)),
    ("POST", "/balance/credits", Who::User(Role::Owner)),
    ("GET", "/usage", Who::User(Role::Member)),
    ("GET", "/approvals", Who::User(Role::Member)),
    (
        "POST",
        "/approvals/{approval}/approve",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/approvals/{approval}/reject",
        Who::User(Role::Admin),
    ),
    ("GET", "/audit-logs", Who::User(Role::Member)),
    ("GET", "/agents", Who::Either),
    ("POST", "/agents", Who::User(Role::Member)),
    ("GET", "/agents/{agent}", Who::User(Role::Member)),
    // The matrix's agent belongs to the owner: a member manages only the
    // agents they own (tests/it/roles.rs covers the owning member).
    ("PATCH", "/agents/{agent}", Who::User(Role::Admin)),
    ("PATCH", "/agents/{agent}/key", Who::User(Role::Admin)),
    ("PATCH", "/agents/{agent}/budget", Who::User(Role::Admin)),
    ("POST", "/agents/{agent}/services", Who::User(Role::Admin)),
    ("DELETE", "/agents/{agent}/services", Who::User(Role::Admin)),
    ("POST", "/agents/{agent}/clone", Who::User(Role::Member)),
    ("PATCH", "/agents/{agent}/transfer", Who::User(Role::Admin)),
    ("GET", "/agents/health", Who::User(Role::Member)),
    ("GET", "/agents/{agent}/health", Who::User(Role::Member)),
    ("GET", "/agents/{agent}/activity", Who::User(Role::Member)),
    ("GET", "/agents/{agent}/skills", Who::User(Role::Member)),
    ("DELETE", "/agents/{agent}/skills", Who::User(Role::Admin)),
    // A fresh agent for each pass over the routes: the first credential
    // allowed deletes it, and those after it get 404 (allowed).
    ("DELETE", "/agents/{doomed}", Who::User(Role::Admin)),
    ("PATCH", "/org", Who::User(Role::Admin)),
    ("GET", "/members", Who::User(Role::Member)),
    ("POST", "/members", Who::User(Role::Admin)),
    // `{member}` is a member kept for this row: the first allowed DELETE
    // removes them, the rest find nobody (404).
    ("PATCH", "/members/{member}", Who::User(Role::Admin)),
    ("DELETE", "/members/{member}", Who::User(Role::Admin)),
    ("GET", "/tokens", Who::User(Role::Member)),
    ("POST", "/tokens", Who::User(Role::Member)),
    // `{token}` is one of the owner's PATs (not the one the matrix signs
    // in with): others' callers find nothing, the owner revokes it once.
    ("DELETE", "/tokens/{token}", Who::User(Role::Member)),
    ("GET", "/workspaces", Who::User(Role::Member)),
    ("POST", "/workspaces/switch", Who::User(Role::Member)),
    ("GET", "/admin/ledger/check", Who::Operator(Role::Admin)),
    ("GET", "/admin/audit/verify", Who::Operator(Role::Admin)),
    ("GET", "/teams", Who::User(Role::Member)),
    ("POST", "/teams", Who::User(Role::Admin)),
    ("POST", "/teams/switch", Who::User(Role::Member)),
    // The matrix's team has the owner as its manager and no other member:
    // admins manage every team, a member outside it nothing.
    ("GET", "/teams/{team}/members", Who::User(Role::Admin)),
    ("POST", "/teams/{team}/members", Who::User(Role::Admin)),
    (
        "PATCH",
        "/teams/{team}/members/{membership}",
        Who::User(Role::Admin),
    ),
    (
        "DELETE",
        "/teams/{team}/members/{membership}",
        Who::User(Role::Admin),
    ),
    ("GET", "/agent-requests", Who::Either),
    ("POST", "/agent-requests", Who::Either),
    ("PATCH", "/agent-requests", Who::User(Role::Member)),
    ("GET", "/agent-requests/{agent_request}", Who::Either),
    ("POST", "/agents/spawn", Who::Agent),
    ("GET", "/agents/spawn", Who::Agent),
    // Only the team's members and the owner read a pool (the matrix team's
    // only member is the owner); only the owner moves money into one.
    ("GET", "/teams/{team}/budget", Who::User(Role::Owner)),
    (
        "POST",
        "/teams/{team}/budget/allocate",
        Who::User(Role::Owner),
    ),
    // A literal name: every organisation has its own namespace of secrets.
    ("PUT", "/secrets/matrix_secret", Who::User(Role::Admin)),
    ("GET", "/secrets", Who::User(Role::Admin)),
    ("DELETE", "/secrets/matrix_secret", Who::User(Role::Admin)),
    ("GET", "/webhooks/signing-secret", Who::User(Role::Admin)),
    ("POST", "/webhooks/signing-secret", Who::User(Role::Owner)),
    ("GET", "/budget-requests", Who::User(Role::Member)),
    ("POST", "/budget-requests", Who::User(Role::Member)),
    // The owner's own request in the matrix team: only the owner (or
    // another manager of the team) decides it.
    (
        "PATCH",
        "/budget-requests/{budget_request}",
        Who::User(Role::Owner),
    ),
    // `{task}` is delegated by the matrix's agent to a child of its own;
    // acting on it needs the agent's key or a user who may manage it.
    ("GET", "/agents/{agent}/delegated-tasks", Who::Either),
    ("POST", "/agents/{agent}/delegated-tasks", Who::Agent),
    (
        "GET",
        "/agents/{agent}/delegated-tasks/{task}",
        Who::AgentOr(Role::Admin),
    ),
    (
        "PATCH",
        "/agents/{agent}/delegated-tasks/{task}",
        Who::AgentOr(Role::Admin),
    ),
    ("GET", "/delegated-tasks/{task}", Who::Either),
    // `{memory}` is one the matrix's agent wrote: the agent and members
    // read its memories, only the agent writes them, only who may manage
    // the agent (here an admin: the owner's agent) changes one; the first
    // allowed DELETE removes it, the rest find nothing (404).
    ("GET", "/agents/{agent}/memories", Who::Either),
    ("POST", "/agents/{agent}/memories", Who::Agent),
    (
        "GET",
        "/agents/{agent}/memories/graph",
        Who::User(Role::Member),
    ),
    (
        "PATCH",
        "/agents/{agent}/memories/{memory}",
        Who::User(Role::Admin),
    ),
    (
        "DELETE",
        "/agents/{agent}/memories/{memory}",
        Who::User(Role::Admin),
    ),
    // `{trigger}` and `{scheduled_task}` act for the matrix's agent (the
    // owner's): members read them, only who may manage the agent changes
    // them.
    ("GET", "/triggers", Who::User(Role::Member)),
    ("POST", "/triggers", Who::User(Role::Member)),
    ("GET", "/triggers/{trigger}", Who::User(Role::Member)),
    ("PATCH", "/triggers/{trigger}", Who::User(Role::Admin)),
    ("DELETE", "/triggers/{trigger}", Who::User(Role::Admin)),
    ("POST", "/triggers/{trigger}/fire", Who::Signed),
    ("GET", "/scheduled-tasks", Who::User(Role::Member)),
    ("POST", "/scheduled-tasks", Who::User(Role::Member)),
    (
        "GET",
        "/scheduled-tasks/{scheduled_task}",
        Who::User(Role::Member),
    ),
    (
        "PATCH",
        "/scheduled-tasks/{scheduled_task}",
        Who::User(Role::Admin),
    ),
    (
        "GET",
        "/scheduled-tasks/{scheduled_task}/runs",
        Who::User(Role::Member),
    ),
    // The first allowed DELETE removes it; the rest find nothing (404).
    (
        "DELETE",
        "/scheduled-tasks/{scheduled_task}",
        Who::User(Role::Admin),
    ),
    // `{workflow}` belongs to the matrix's agent and is shared with the
    // organisation (members read it; only who manages the agent changes
    // it); `{workflow_run}` is a test run waiting at an approval gate;
    // `{doomed_workflow}` is made again for each pass, which deletes it.
    ("GET", "/workflows", Who::User(Role::Member)),
    ("POST", "/workflows", Who::User(Role::Member)),
    ("GET", "/workflows/from-template", Who::User(Role::Member)),
    ("POST", "/workflows/from-template", Who::User(Role::Member)),
    ("GET", "/workflows/{workflow}", Who::User(Role::Member)),
    ("PATCH", "/workflows/{workflow}", Who::User(Role::Admin)),
    (
        "DELETE",
        "/workflows/{doomed_workflow}",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/versions",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/versions/{workflow_version}/publish",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/versions/{workflow_version}/unpublish",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/share",
        Who::User(Role::Admin),
    ),
    (
        "GET",
        "/workflows/{workflow}/export",
        Who::User(Role::Member),
    ),
    ("GET", "/workflows/{workflow}/runs", Who::User(Role::Member)),
    ("POST", "/workflows/{workflow}/runs", Who::User(Role::Admin)),
    (
        "GET",
        "/workflows/{workflow}/runs/{workflow_run}",
        Who::User(Role::Member),
    ),
    (
        "POST",
        "/workflows/{workflow}/runs/{workflow_run}/rerun-failed",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/runs/{workflow_run}/steps/{workflow_step}/retry",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/runs/{workflow_run}/steps/{workflow_step}/skip",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/workflows/{workflow}/runs/{workflow_run}/cancel",
        Who::User(Role::Admin),
    ),
    (
        "GET",
        "/workflows/{workflow}/agents",
        Who::User(Role::Member),
    ),
    (
        "POST",
        "/workflows/{workflow}/agents",
        Who::User(Role::Admin),
    ),
    (
        "DELETE",
        "/workflows/{workflow}/agents",
        Who::User(Role::Admin),
    ),
    ("GET", "/ops/runs", Who::User(Role::Member)),
    ("GET", "/ops/snapshot", Who::User(Role::Admin)),
    // `{human_input}` is a pending, unassigned request of the first
    // organisation: every member may answer it (the matrix's `{}` is 422).
    ("GET", "/human-input", Who::User(Role::Member)),
    (
        "POST",
        "/human-input/{human_input}",
        Who::User(Role::Member),
    ),
    // Whoever may manage the named agent; the matrix's `{}` names none.
    ("POST", "/simulations/policy-check", Who::User(Role::Member)),
    // Any person; a member sees only the rooms they opened or posted in,
    // so the owner's `{room}` is 404 to them (the matrix's `{}` is 422).
    ("GET", "/rooms", Who::User(Role::Member)),
    ("POST", "/rooms", Who::User(Role::Member)),
    ("GET", "/rooms/{room}", Who::User(Role::Member)),
    ("POST", "/rooms/{room}/messages", Who::User(Role::Member)),
    ("POST", "/swarms", Who::User(Role::Member)),
    // `{object}` is a file the owner uploaded: members read it; deleting
    // and restoring is for admins (or its uploader).
    ("GET", "/storage/objects", Who::User(Role::Member)),
    ("POST", "/storage/objects", Who::User(Role::Member)),
    ("GET", "/storage/objects/{object}", Who::User(Role::Member)),
    (
        "DELETE",
        "/storage/objects/{object}",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/storage/objects/{object}/restore",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/storage/objects/{object}/confirm",
        Who::User(Role::Member),
    ),
    (
        "GET",
        "/storage/objects/{object}/download",
        Who::User(Role::Member),
    ),
    // `{collection}` holds `{document}`, both the owner's.
    ("GET", "/knowledge/collections", Who::User(Role::Member)),
    ("POST", "/knowledge/collections", Who::User(Role::Member)),
    (
        "GET",
        "/knowledge/collections/{collection}",
        Who::User(Role::Member),
    ),
    (
        "POST",
        "/knowledge/collections/{collection}/documents",
        Who::User(Role::Member),
    ),
    (
        "GET",
        "/knowledge/collections/{collection}/documents/{document}",
        Who::User(Role::Member),
    ),
    (
        "DELETE",
        "/knowledge/collections/{collection}/documents/{document}",
        Who::User(Role::Admin),
    ),
    (
        "DELETE",
        "/knowledge/collections/{doomed_collection}",
        Who::User(Role::Admin),
    ),
    // `{chat_session}` is the owner's; nobody else sees it (404).
    ("GET", "/chat/sessions", Who::User(Role::Member)),
    ("POST", "/chat/sessions", Who::User(Role::Member)),
    ("DELETE", "/chat/sessions", Who::User(Role::Member)),
    (
        "GET",
        "/chat/sessions/{chat_session}",
        Who::User(Role::Member),
    ),
    ("POST", "/chat/turn", Who::User(Role::Member)),
    ("POST", "/chat/approvals/{approval}", Who::User(Role::Admin)),
    // `{device_session}` is a chat session of the owner's made for each
    // pass, `{device_command}` a command queued on it; nobody else sees
    // either (404), and the owner's DELETE, last, removes both.
    ("POST", "/devices/heartbeat", Who::User(Role::Member)),
    ("GET", "/devices/sessions", Who::User(Role::Member)),
    (
        "PATCH",
        "/devices/sessions/{device_session}",
        Who::User(Role::Member),
    ),
    (
        "POST",
        "/devices/sessions/{device_session}",
        Who::User(Role::Member),
    ),
    (
        "POST",
        "/devices/sessions/{device_session}/cwd",
        Who::User(Role::Member),
    ),
    (
        "PATCH",
        "/devices/commands/{device_command}",
        Who::User(Role::Member),
    ),
    (
        "DELETE",
        "/devices/sessions/{device_session}",
        Who::User(Role::Member),
    ),
    // Credential-free, authorised by the URL's signature.
    ("PUT", "/storage/uploads/{object}", Who::Signed),
    ("GET", "/storage/blobs/{object}", Who::Signed),
];

#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    Garbage,
    UnknownPat,
    UnknownAgentKey,
    AgentKey,
    MemberPat,
    AdminPat,
    OwnerPat,
    OwnerCookie,
    /// The owner of another organisation.
    OtherOrgPat,
    /// An agent of another organisation.
    OtherOrgAgentKey,
}

impl Cred {
    fn other_org(self) -> bool {
        matches!(self, Cred::OtherOrgPat | Cred::OtherOrgAgentKey)
    }
}

const CREDS: &[Cred] = &[
    Cred::None,
    Cred::Garbage,
    Cred::UnknownPat,
    Cred::UnknownAgentKey,
    Cred::AgentKey,
    Cred::MemberPat,
    Cred::AdminPat,
    Cred::OwnerPat,
    Cred::OwnerCookie,
    Cred::OtherOrgPat,
    Cred::OtherOrgAgentKey,
];

/// The class of answer a credential must get on a route.
#[derive(Debug, PartialEq)]
enum Class {
    Unauthenticated,
    Forbidden,
    /// Past authentication and authorisation: 2xx, or a 4xx about the
    /// input or the state (400, 404 of an id, 409, 422), never 401/403/5xx.
    Allowed,
    /// Exactly 404: the route names a resource the caller's organisation
    /// does not have.
    NotFound,
}

fn expected(who: Who, cred: Cred, path: &str) -> Class {
    use Class::*;
    let class = match (who, cred) {
        (Who::Public, _) => Allowed,
        (Who::Signed, _) => Unauthenticated,
        (_, Cred::None | Cred::Garbage | Cred::UnknownPat | Cred::UnknownAgentKey) => {
            Unauthenticated
        }
        (Who::Agent, Cred::AgentKey | Cred::OtherOrgAgentKey) => Allowed,
        (Who::Agent, _) => Forbidden,
        (Who::Either, _) => Allowed,
        (Who::AgentOr(_), Cred::AgentKey | Cred::OtherOrgAgentKey) => Allowed,
        (Who::User(_) | Who::Operator(_), Cred::AgentKey | Cred::OtherOrgAgentKey) => Forbidden,
        (Who::Operator(_), Cred::OtherOrgPat) => Forbidden,
        (Who::User(needed) | Who::Operator(needed) | Who::AgentOr(needed), cred) => {
            let role = match cred {
                Cred::OwnerPat | Cred::OwnerCookie | Cred::OtherOrgPat => Role::Owner,
                Cred::AdminPat => Role::Admin,
                _ => Role::Member,
            };
            if role >= needed { Allowed } else { Forbidden }
        }
    };
    // Every `{…}` of the table stands for a resource of the first
    // organisation.
    if class == Allowed && cred.other_org() && path.contains('{') {
        NotFound
    } else {
        class
    }
}

fn answers(want: &Class, status: u16) -> bool {
    match want {
        Class::NotFound => status == 404,
        want => classify(status).as_ref() == Some(want),
    }
}

fn classify(status: u16) -> Option<Class> {
    match status {
        401 => Some(Class::Unauthenticated),
        403 => Some(Class::Forbidden),
        200..=299 | 400 | 404 | 409 | 410 | 422 => Some(Class::Allowed),
        _ => None,
    }
}

/// The matrix fails authentication on purpose hundreds of times from one
/// address; the per-address budget for that has its own test
/// (`connections::an_address_that_keeps_failing_authentication_…`).
async fn matrix_server() -> TestServer {
    TestServer::start_with(|c| c.auth_failures_per_minute = None).await
}

struct Ids {
    agent: String,
    agent_key: String,
    request: String,
    approval: String,
    team: String,
    membership: String,
    agent_request: String,
    budget_request: String,
    task: String,
    memory: String,
    trigger: String,
    scheduled_task: String,
    workflow: String,
    workflow_version: String,
    workflow_run: String,
    doomed_workflow: String,
    object: String,
    collection: String,
    document: String,
    chat_session: String,
    device_session: String,
    device_command: String,
    human_input: String,
    room: String,
    doomed_collection: String,
    cookie: String,
    member_pat: String,
    admin_pat: String,
    other_pat: String,
    other_agent_key: String,
    member: String,
    token: String,
    /// An agent of the first organisation for `DELETE /agents/{doomed}`.
    doomed: String,
    /// Ids of the first organisation and of what it holds, none of which
    /// another organisation may ever be shown.
    first_org: Vec<String>,
}

async fn setup(s: &TestServer) -> Ids {
    let (agent, approval, request) = s.parked().await;
    let other = s.other_org("Other Ltd").await;
    let other_agent = s
        .post("/api/v1/agents", &other.pat, json!({"name": "other agent"}))
        .await;
    assert_eq!(other_agent.status, 200, "{other_agent:?}");
    let identity = &s.platform.stores.identity;
    let first_org = identity.primary_org().await.unwrap().unwrap().id;
    assert_ne!(first_org, other.id);
    let owner = identity
        .user_by_pat(&auth::hash_token(&s.pat))
        .await
        .unwrap()
        .unwrap();
    let member = s
        .post(
            "/api/v1/members",
            &s.pat,
            json!({"email": "matrix-member@example.com"}),
        )
        .await;
    assert_eq!(member.status, 200, "{member:?}");
    let member = member.body["member"]["id"].as_str().unwrap().to_owned();
    let token = s
        .post("/api/v1/tokens", &s.pat, json!({"name": "matrix"}))
        .await;
    assert_eq!(token.status, 200, "{token:?}");
    let token = token.body["token"]["id"].as_str().unwrap().to_owned();
    let team = s
        .post("/api/v1/teams", &s.pat, json!({"name": "Matrix team"}))
        .await;
    assert_eq!(team.status, 200, "{team:?}");
    let agent_request = s
        .post(
            "/api/v1/agent-requests",
            &agent.key,
            json!({"request_type": "blocked", "body": "matrix"}),
        )
        .await;
    assert_eq!(agent_request.status, 200, "{agent_request:?}");
    let child = s
        .spawn_child(&agent, "matrix child", json!(["email"]), 1)
        .await;
    let task = s
        .post(
            &format!("/api/v1/agents/{}/delegated-tasks", agent.id),
            &agent.key,
            json!({"child_agent_id": child.id, "objective": "matrix"}),
        )
        .await;
    assert_eq!(task.status, 200, "{task:?}");
    let task = task.body["task"]["id"].as_str().unwrap().to_owned();
    let memory = s
        .post(
            &format!("/api/v1/agents/{}/memories", agent.id),
            &agent.key,
            json!({"content": "matrix memory", "tags": ["matrix"]}),
        )
        .await;
    assert_eq!(memory.status, 200, "{memory:?}");
    let memory = memory.body["memory"]["id"].as_str().unwrap().to_owned();
    let team_id = team.body["team"]["id"].as_str().unwrap().to_owned();
    let budget_request = s
        .post(
            "/api/v1/budget-requests",
            &s.pat,
            json!({"team_id": team_id, "amount_cents": 5, "reason": "matrix"}),
        )
        .await;
    assert_eq!(budget_request.status, 200, "{budget_request:?}");
    let budget_request = budget_request.body["request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let trigger = s
        .post(
            "/api/v1/triggers",
            &s.pat,
            json!({"agent_id": agent.id, "kind": "webhook", "operation": "email.send"}),
        )
        .await;
    assert_eq!(trigger.status, 200, "{trigger:?}");
    let trigger = trigger.body["trigger"]["id"].as_str().unwrap().to_owned();
    let scheduled_task = matrix_task(s, &agent.id).await;
    let (workflow, workflow_version, workflow_run) = matrix_workflow(s, &agent.id).await;
    let doomed_workflow = matrix_workflow(s, &agent.id).await.0;
    let object = matrix_object(s).await;
    let collection = matrix_collection(s).await;
    let document = matrix_document(s, &collection, &object).await;
    let chat_session = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": agent.id}),
        )
        .await;
    assert_eq!(chat_session.status, 200, "{chat_session:?}");
    let chat_session = chat_session.body["id"].as_str().unwrap().to_owned();
    let membership = team.body["membership"]["id"].as_str().unwrap().to_owned();
    let agent_request = agent_request.body["request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_org = vec![
        first_org,
        member.clone(),
        token.clone(),
        owner.user_id,
        agent.id.clone(),
        approval.clone(),
        request.clone(),
        team_id.clone(),
        membership.clone(),
        agent_request.clone(),
        budget_request.clone(),
        child.id.clone(),
        task.clone(),
        memory.clone(),
        trigger.clone(),
        scheduled_task.clone(),
        workflow.clone(),
        workflow_version.clone(),
        workflow_run.clone(),
        object.clone(),
        collection.clone(),
        document.clone(),
        chat_session.clone(),
    ];
    let (device_session, device_command) = matrix_device(s, &agent.id).await;
    let human_input = matrix_human_input(s, &agent.id).await;
    let room = matrix_room(s).await;
    let mut first_org = first_org;
    first_org.extend([
        device_session.clone(),
        device_command.clone(),
        human_input.clone(),
        room.clone(),
    ]);
    Ids {
        agent: agent.id,
        agent_key: agent.key,
        request,
        approval,
        team: team_id,
        membership,
        agent_request,
        budget_request,
        task,
        memory,
        trigger,
        scheduled_task,
        doomed_workflow,
        workflow,
        workflow_version,
        workflow_run,
        object,
        collection,
        document,
        chat_session,
        device_session,
        device_command,
        human_input,
        room,
        doomed_collection: matrix_collection(s).await,
        cookie: owner_session(s).await,
        member_pat: s.user_pat(upivia_server::model::Role::Member).await,
        admin_pat: s.user_pat(upivia_server::model::Role::Admin).await,
        other_pat: other.pat,
        other_agent_key: other_agent.body["api_key"].as_str().unwrap().to_owned(),
        member,
        token,
        doomed: s.agent(json!({"name": "doomed"})).await.id,
        first_org,
    }
}

/// A room the owner opened, with no agents (posting in it asks nobody).
async fn matrix_room(s: &TestServer) -> String {
    let r = s
        .post("/api/v1/rooms", &s.pat, json!({"title": "matrix"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["room"]["id"].as_str().unwrap().to_owned()
}

/// A pending, unassigned human-input request, asked as a room asks.
async fn matrix_human_input(s: &TestServer, agent: &str) -> String {
    use upivia_server::domains::human_input::service::{self, Ask, Source};
    let org = s
        .platform
        .stores
        .identity
        .primary_org()
        .await
        .unwrap()
        .unwrap()
        .id;
    let ask = Ask {
        org_id: upivia_server::ids::OrgId::from(&org),
        title: "matrix".into(),
        prompt_text: "matrix?".into(),
        assignee_email: None,
        source: Source::Room {
            room_id: "room_matrix".into(),
            agent_id: Some(agent.to_owned()),
        },
        dedupe_key: None,
        actor: format!("agent:{agent}"),
    };
    service::ask(&s.platform, ask).await.unwrap().id
}

/// A chat session of the owner's with a command queued on it; one per
/// pass, since the pass deletes it. Its model is its own, so that opening
/// it does not hand back the matrix's `{chat_session}`.
async fn matrix_device(s: &TestServer, agent: &str) -> (String, String) {
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": agent, "model_id": format!("matrix-{}", ulid::Ulid::new())}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let session = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/devices/sessions/{session}"),
            &s.pat,
            json!({"content": "matrix"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let command = r.body["command"]["id"].as_str().unwrap().to_owned();
    (session, command)
}

/// A document of `collection`; one per pass, since the pass deletes it.
async fn matrix_document(s: &TestServer, collection: &str, object: &str) -> String {
    let r = s
        .post(
            &format!("/api/v1/knowledge/collections/{collection}/documents"),
            &s.pat,
            json!({"stored_object_id": object}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    r.body["document"]["id"].as_str().unwrap().to_owned()
}

/// A knowledge collection of the owner's.
async fn matrix_collection(s: &TestServer) -> String {
    let r = s
        .post(
            "/api/v1/knowledge/collections",
            &s.pat,
            json!({"name": "matrix"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["collection"]["id"].as_str().unwrap().to_owned()
}

/// A small file the owner uploads.
async fn matrix_object(s: &TestServer) -> String {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"matrix".to_vec()).file_name("matrix.txt"),
    );
    let r = s
        .http
        .post(format!("{}/api/v1/storage/objects", s.base))
        .bearer_auth(&s.pat)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = crate::support::reply(r).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["object"]["id"].as_str().unwrap().to_owned()
}

/// A scheduled task of the matrix's agent; one per pass, since the pass
/// deletes it.
async fn matrix_task(s: &TestServer, agent: &str) -> String {
    let r = s
        .post(
            "/api/v1/scheduled-tasks",
            &s.pat,
            json!({"agent_id": agent, "operation": "email.send", "schedule": "0 9 * * *"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["task"]["id"].as_str().unwrap().to_owned()
}

/// A workflow of the matrix's agent shared with the organisation, a draft
/// version of it and a test run waiting at its approval gate.
async fn matrix_workflow(s: &TestServer, agent: &str) -> (String, String, String) {
    let w = s
        .post(
            "/api/v1/workflows",
            &s.pat,
            json!({"name": "matrix", "agent_id": agent}),
        )
        .await;
    assert_eq!(w.status, 200, "{w:?}");
    let w = w.body["workflow"]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/workflows/{w}/share"),
            &s.pat,
            json!({"scope": "org"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = s
        .post(
            &format!("/api/v1/workflows/{w}/versions"),
            &s.pat,
            json!({"steps": [{"id": "gate", "type": "approval"}]}),
        )
        .await;
    assert_eq!(v.status, 200, "{v:?}");
    let v = v.body["version"]["id"].as_str().unwrap().to_owned();
    let run = s
        .post(
            &format!("/api/v1/workflows/{w}/runs"),
            &s.pat,
            json!({"workflow_version_id": v, "test_run": true}),
        )
        .await;
    assert_eq!(run.status, 201, "{run:?}");
    let run = run.body["run"]["id"].as_str().unwrap().to_owned();
    (w, v, run)
}

/// The first organisation's ids that `body` shows.
fn leaked<'a>(ids: &'a Ids, body: &Value) -> Vec<&'a str> {
    let text = body.to_string();
    ids.first_org
        .iter()
        .filter(|id| text.contains(id.as_str()))
        .map(String::as_str)
        .collect()
}

fn fill(path: &str, ids: &Ids) -> String {
    path.replace("{agent}", &ids.agent)
        .replace("{doomed}", &ids.doomed)
        .replace("{request}", &ids.request)
        .replace("{approval}", &ids.approval)
        .replace("{member}", &ids.member)
        .replace("{token}", &ids.token)
        .replace("{team}", &ids.team)
        .replace("{membership}", &ids.membership)
        .replace("{agent_request}", &ids.agent_request)
        .replace("{budget_request}", &ids.budget_request)
        .replace("{task}", &ids.task)
        .replace("{memory}", &ids.memory)
        .replace("{trigger}", &ids.trigger)
        .replace("{scheduled_task}", &ids.scheduled_task)
        .replace("{doomed_workflow}", &ids.doomed_workflow)
        .replace("{workflow_step}", "gate")
        .replace("{workflow_version}", &ids.workflow_version)
        .replace("{workflow_run}", &ids.workflow_run)
        .replace("{workflow}", &ids.workflow)
        .replace("{object}", &ids.object)
        .replace("{doomed_collection}", &ids.doomed_collection)
        .replace("{collection}", &ids.collection)
        .replace("{document}", &ids.document)
        .replace("{chat_session}", &ids.chat_session)
        .replace("{device_session}", &ids.device_session)
        .replace("{device_command}", &ids.device_command)
        .replace("{human_input}", &ids.human_input)
        .replace("{room}", &ids.room)
}

async fn call(s: &TestServer, ids: &Ids, method: &str, path: &str, cred: Cred) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let has_body = method != Method::GET;
    let mut req = s.http.request(method, format!("{}{path}", s.base));
    req = match cred {
        Cred::None => req,
        Cred::Garbage => req.bearer_auth("garbage"),
        Cred::UnknownPat => req.bearer_auth("upivia_pat_live_0000000000000000"),
        Cred::UnknownAgentKey => req.bearer_auth("agent_key_live_0000000000000000"),
        Cred::AgentKey => req.bearer_auth(&ids.agent_key),
        Cred::MemberPat => req.bearer_auth(&ids.member_pat),
        Cred::AdminPat => req.bearer_auth(&ids.admin_pat),
        Cred::OwnerPat => req.bearer_auth(&s.pat),
        Cred::OwnerCookie => req.header("cookie", &ids.cookie),
        Cred::OtherOrgPat => req.bearer_auth(&ids.other_pat),
        Cred::OtherOrgAgentKey => req.bearer_auth(&ids.other_agent_key),
    };
    if has_body {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_route_answers_every_credential_with_its_class() {
    let s = matrix_server().await;
    let mut ids = setup(&s).await;
    let mut failures = Vec::new();
    for prefix in ["/api/v1", "/v1"] {
        ids.doomed = s.agent(json!({"name": "doomed"})).await.id;
        ids.first_org.push(ids.doomed.clone());
        ids.scheduled_task = matrix_task(&s, &ids.agent).await;
        ids.first_org.push(ids.scheduled_task.clone());
        ids.doomed_workflow = matrix_workflow(&s, &ids.agent).await.0;
        ids.first_org.push(ids.doomed_workflow.clone());
        ids.doomed_collection = matrix_collection(&s).await;
        ids.first_org.push(ids.doomed_collection.clone());
        // The storage routes may have deleted the object; restore it first.
        s.post(
            &format!("/api/v1/storage/objects/{}/restore", ids.object),
            &s.pat,
            json!({}),
        )
        .await;
        ids.document = matrix_document(&s, &ids.collection, &ids.object).await;
        ids.first_org.push(ids.document.clone());
        (ids.device_session, ids.device_command) = matrix_device(&s, &ids.agent).await;
        ids.first_org
            .extend([ids.device_session.clone(), ids.device_command.clone()]);
        for &(method, path, who) in ROUTES {
            // Logging out ends the cookie's session; it goes last.
            if path == "/auth/logout" {
                continue;
            }
            let full = format!("{prefix}{}", fill(path, &ids));
            for &cred in CREDS {
                let (status, body) = call(&s, &ids, method, &full, cred).await;
                let want = expected(who, cred, path);
                if !answers(&want, status) {
                    failures.push(format!(
                        "{method} {full} with {cred:?}: {status} {body}, want {want:?}"
                    ));
                    continue;
                }
                let shown = leaked(&ids, &body);
                if cred.other_org() && !shown.is_empty() {
                    failures.push(format!(
                        "{method} {full} with {cred:?} shows the first organisation's {shown:?}: {body}"
                    ));
                }
                if status >= 400 && !body["error"]["code"].is_string() {
                    failures.push(format!(
                        "{method} {full} with {cred:?}: no envelope: {body}"
                    ));
                }
            }
        }
    }
    for &cred in CREDS {
        let (status, _) = call(&s, &ids, "POST", "/api/v1/auth/logout", cred).await;
        let want = expected(Who::User(Role::Member), cred, "/auth/logout");
        if !answers(&want, status) {
            failures.push(format!(
                "POST /auth/logout with {cred:?}: {status}, want {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every endpoint of the spec's list that this server answers (anything
/// but "no route" / "method not allowed") must be in `ROUTES`.
#[tokio::test]
async fn every_answered_endpoint_is_in_the_matrix() {
    let s = matrix_server().await;
    let table = include_str!("endpoints.tsv");
    let mut missing = Vec::new();
    let mut answered = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (method, path) = (cols[2], cols[3]);
        let concrete = fill_spec_params(path);
        let (status, body) = call_raw(&s, method, &concrete).await;
        let unrouted = (status == 404 && body["error"]["message"] == "no route for this path")
            || status == 405;
        if unrouted {
            continue;
        }
        answered += 1;
        let Some(rel) = path.strip_prefix("/api/v1") else {
            continue;
        };
        let known = ROUTES
            .iter()
            .any(|&(m, p, _)| m == method && same_shape(p, rel));
        if !known {
            missing.push(format!("{method} {path} ({status})"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes the server answers but the auth matrix does not cover:\n{}",
        missing.join("\n")
    );
    assert!(answered >= 20, "only {answered} endpoints answered");
}

fn fill_spec_params(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str("x_0");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Whether our route serves the spec's path: `/agents/{agent}` serves
/// `/agents/{agent_id}`, and also `/agents/health` until that has a route
/// of its own (axum then prefers the literal one).
fn same_shape(ours: &str, spec: &str) -> bool {
    let a: Vec<&str> = ours.split('/').collect();
    let b: Vec<&str> = spec.split('/').collect();
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || x.starts_with('{'))
}

async fn call_raw(s: &TestServer, method: &str, path: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let resp = s
        .http
        .request(method, format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Hostile input on every route of the matrix, with the credential that
/// gets furthest in: never a 5xx, always the envelope on an error.
#[tokio::test]
async fn hostile_input_on_every_route_never_breaks_the_server() {
    let s = matrix_server().await;
    let ids = setup(&s).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long = format!("{{\"name\":\"{}\"}}", "x".repeat(200_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"\"str\"".to_vec()),
        ("application/json", b"{\"amount_cents\":1e400}".to_vec()),
        (
            "application/json",
            b"{\"amount_cents\":-9223372036854775808}".to_vec(),
        ),
        (
            "application/json",
            b"{\"amount_cents\":9223372036854775807}".to_vec(),
        ),
        (
            "application/json",
            br#"{"name":"\u0000","service":{},"payload":[1]}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"service_id":"email","daily_limit":-1,"max_cost_cents":"x"}"#.to_vec(),
        ),
        ("application/json", deep.into_bytes()),
        ("application/json", long.into_bytes()),
        ("application/json", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("text/plain", b"amount_cents=5".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"amount_cents=5&name=x".to_vec(),
        ),
    ];
    let queries = [
        "?limit=-1",
        "?limit=99999999999999999999",
        "?cursor=%00%ff",
        "?cursor=bm90IGEgY3Vyc29y",
        "?status=%27%3B--",
        "?from=yesterday&to=2026-13-45",
    ];
    let mut failures = Vec::new();
    for &(method, path, who) in ROUTES {
        if path == "/auth/logout" {
            continue;
        }
        let token = if who == Who::Agent {
            ids.agent_key.clone()
        } else {
            s.pat.clone()
        };
        let url = format!("{}/api/v1{}", s.base, fill(path, &ids));
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut attempts: Vec<reqwest::RequestBuilder> = Vec::new();
        if m == Method::GET {
            for q in queries {
                attempts.push(s.http.get(format!("{url}{q}")));
            }
        } else {
            for (ctype, body) in &bodies {
                attempts.push(
                    s.http
                        .request(m.clone(), &url)
                        .header("content-type", *ctype)
                        .body(body.clone()),
                );
            }
        }
        if path.contains('{') {
            for bad in [
                "..%2F..%2Fetc",
                "%00",
                "agt_%F0%9F%92%A3",
                &"a".repeat(5000),
            ] {
                let bad_path = path
                    .replace("{agent}", bad)
                    .replace("{doomed}", bad)
                    .replace("{request}", bad)
                    .replace("{approval}", bad)
                    .replace("{team}", bad)
                    .replace("{membership}", bad)
                    .replace("{agent_request}", bad)
                    .replace("{task}", bad);
                attempts.push(
                    s.http
                        .request(m.clone(), format!("{}/api/v1{bad_path}", s.base))
                        .json(&json!({})),
                );
            }
        }
        for attempt in attempts {
            let resp = attempt.bearer_auth(&token).send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status >= 500 {
                failures.push(format!("{method} {path}: {status} {body}"));
            } else if status >= 400 && !body["error"]["code"].is_string() {
                failures.push(format!(
                    "{method} {path}: {status} without the envelope: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    let health = s
        .http
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    s.ledger_ok().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A new organisation starts empty, whatever the first one holds: every
/// list its owner reads is its own (empty), and its audit trail holds only
/// its own creation.
#[tokio::test]
async fn another_organisation_sees_only_its_own_empty_lists() {
    let s = TestServer::start().await;
    let ids = setup(&s).await;
    let spent = s.funded_agent("email", 500).await;
    let r = s
        .request(&spent, "email", "send", crate::support::email())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let other = s.other_org("Empty Ltd").await;

    let who = s.get("/api/v1/whoami", &other.pat).await;
    assert_eq!(who.body["org_id"], other.id.as_str(), "{who:?}");
    assert_eq!(who.body["user"]["role"], "owner", "{who:?}");
    let lists = [
        ("/api/v1/agents", "agents"),
        ("/api/v1/approvals", "approvals"),
        ("/api/v1/approvals?status=pending", "approvals"),
        ("/api/v1/usage", "records"),
        ("/api/v1/usage?include_chart=1", "per_agent"),
    ];
    for (path, field) in lists {
        let r = s.get(path, &other.pat).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(r.body[field], json!([]), "{path}: {r:?}");
        assert!(leaked(&ids, &r.body).is_empty(), "{path}: {r:?}");
    }
    let usage = s.get("/api/v1/usage", &other.pat).await;
    assert_eq!(usage.body["total_cents"], 0, "{usage:?}");
    let balance = s.get("/api/v1/balance", &other.pat).await;
    assert_eq!(balance.body["amount_cents"], 0, "{balance:?}");
    let logs = s.get("/api/v1/audit-logs", &other.pat).await;
    let events: Vec<&str> = logs.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["org.created"], "{logs:?}");
    assert_eq!(logs.body["logs"][0]["details"]["name"], "Empty Ltd");
    assert!(leaked(&ids, &logs.body).is_empty(), "{logs:?}");
    // The first organisation is untouched and still sees its own.
    let mine = s.get("/api/v1/agents", &s.pat).await;
    let names: Vec<&str> = mine.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(names.contains(&ids.agent.as_str()), "{mine:?}");
    assert!(names.contains(&spent.id.as_str()), "{mine:?}");
    let pending = s.get("/api/v1/approvals", &s.pat).await;
    assert!(
        pending.body["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == ids.approval.as_str()),
        "{pending:?}"
    );
    // The other organisation's agent key lists its own agent alone.
    let own = s.get("/api/v1/agents", &ids.other_agent_key).await;
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(
        own.body["agents"].as_array().map(Vec::len),
        Some(1),
        "{own:?}"
    );
    assert_eq!(own.body["agents"][0]["name"], "other agent");
}

/// The owner's email is unique across organisations: a second
/// organisation for it is refused and leaves nothing behind.
#[tokio::test]
async fn an_email_that_has_a_user_cannot_own_another_organisation() {
    use upivia_server::domains::identity::service::{self as identity, NewOrg};
    let s = TestServer::start().await;
    let store = s.platform.stores.identity.as_ref();
    let first = identity::create_org(
        store,
        NewOrg {
            name: "First".into(),
            owner_email: "boss@example.com".into(),
        },
        s.platform.clock.now(),
    )
    .await
    .unwrap();
    for email in ["boss@example.com", upivia_server::bootstrap::OWNER_EMAIL] {
        let again = identity::create_org(
            store,
            NewOrg {
                name: "Second".into(),
                owner_email: email.into(),
            },
            s.platform.clock.now(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            again.to_string(),
            "conflict: a user with this email already exists",
            "{email}"
        );
    }
    if !crate::support::on_postgres() {
        sqlite_holds_one_created_org(&s, first.org_id.as_str());
    }
    // Its PAT is its owner's, in its organisation.
    let who = s.get("/api/v1/whoami", &first.secrets.pat).await;
    assert_eq!(who.body["org_id"], first.org_id.as_str(), "{who:?}");
    assert_eq!(who.body["email"], "boss@example.com");
    s.ledger_ok().await;
    let verify = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(verify.body["ok"], true, "{verify:?}");
}

/// The refused creations left no organisation, and the one made has its
/// `org.created` entry.
fn sqlite_holds_one_created_org(s: &TestServer, org_id: &str) {
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    let orgs: Vec<String> = conn
        .prepare("SELECT name FROM orgs ORDER BY created_at, id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(orgs, ["Default", "First"]);
    let created: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE event_type = 'org.created' AND org_id = ?1",
            [org_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(created, 1);
}

//! One table row per endpoint: each SDK method is called once against a
//! mock server and the request it sent is checked field by field (method,
//! path, query, body, auth header). The test fails if any endpoint of
//! `upivia::endpoints::ALL` has no row.

use std::collections::{BTreeMap, BTreeSet};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use upivia::Client;
use upivia::endpoints::{self as ep, AuthMode, Endpoint};
use upivia::models::*;
use upivia::resources::{CreateDocument, UploadObject};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::*;

type Call = fn(Client) -> BoxFuture<'static, upivia::Result<()>>;

struct Case {
    endpoint: &'static Endpoint,
    call: Call,
    path: &'static str,
    query: Vec<(&'static str, &'static str)>,
    body: Option<Value>,
    reply: ResponseTemplate,
}

fn case(endpoint: &'static Endpoint, path: &'static str, call: Call) -> Case {
    Case {
        endpoint,
        call,
        path,
        query: Vec::new(),
        body: None,
        reply: json_reply(200, json!({"ok": true})),
    }
}

impl Case {
    fn query(mut self, pairs: &[(&'static str, &'static str)]) -> Self {
        self.query = pairs.to_vec();
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn reply(mut self, reply: ResponseTemplate) -> Self {
        self.reply = reply;
        self
    }
}

fn outcome() -> ResponseTemplate {
    json_reply(
        200,
        json!({"status": "executed", "request_id": "req_1", "result": {}, "cost_cents": 1}),
    )
}

const EMPTY: fn() -> Value = || json!({});

fn cases() -> Vec<Case> {
    vec![
        // service_requests
        case(&ep::SERVICE_REQUESTS_CREATE, "/api/v1/service-requests", |c| {
            async move {
                let req = CreateServiceRequest::new("email", "send", json!({"to": "a@b"}))
                    .with_metadata(json!({"m": 1}))
                    .with_idempotency_key("key-1");
                c.service_requests().create(req).await.map(drop)
            }
            .boxed()
        })
        .body(json!({"service": "email", "operation": "send", "payload": {"to": "a@b"}, "metadata": {"m": 1}, "idempotency_key": "key-1"}))
        .reply(outcome()),
        case(&ep::SERVICE_REQUESTS_GET, "/api/v1/service-requests/req_1", |c| {
            async move { c.service_requests().get("req_1").await.map(drop) }.boxed()
        })
        .reply(outcome()),
        case(&ep::BUDGET_CHECK_CHECK, "/api/v1/service-requests", |c| {
            async move { c.budget_check().check("agt_1").await.map(drop) }.boxed()
        })
        .body(json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": "agt_1"}}))
        .reply(json_reply(200, json!({"remaining_dollars": 5.0, "monthly_spent": 1.0, "monthly_limit": 6.0, "org_balance": 120.0}))),
        // balance, usage
        case(&ep::BALANCE_GET, "/api/v1/balance", |c| async move { c.balance().get(Some("team_1")).await.map(drop) }.boxed())
            .query(&[("team_id", "team_1")])
            .reply(json_reply(200, json!({"amount_cents": 10, "currency": "USD"}))),
        case(&ep::USAGE_LIST, "/api/v1/usage", |c| {
            async move {
                let f = ListUsage::default()
                    .with_agent_id("agt_1")
                    .with_from("2026-01-01T00:00:00Z")
                    .with_to("2026-02-01T00:00:00Z")
                    .with_limit(50)
                    .with_include_chart(true);
                c.usage().list(f).await.map(drop)
            }
            .boxed()
        })
        .query(&[
            ("agent_id", "agt_1"),
            ("from", "2026-01-01T00:00:00Z"),
            ("to", "2026-02-01T00:00:00Z"),
            ("limit", "50"),
            ("include_chart", "1"),
        ]),
        // approvals
        case(&ep::APPROVALS_LIST, "/api/v1/approvals", |c| async move { c.approvals().list().await.map(drop) }.boxed())
            .query(&[("status", "pending")]),
        case(&ep::APPROVALS_APPROVE, "/api/v1/approvals/appr_1/approve", |c| {
            async move { c.approvals().approve("appr_1").await.map(drop) }.boxed()
        })
        .body(EMPTY())
        .reply(outcome()),
        case(&ep::APPROVALS_REJECT, "/api/v1/approvals/appr_1/reject", |c| {
            async move { c.approvals().reject("appr_1").await.map(drop) }.boxed()
        })
        .body(EMPTY())
        .reply(json_reply(200, json!({"status": "blocked", "request_id": "req_1"}))),
        // audit logs
        case(&ep::AUDIT_LOGS_LIST, "/api/v1/audit-logs", |c| {
            async move {
                let f = ListAuditLogs::default()
                    .with_agent_id("agt_1")
                    .with_service("email")
                    .with_status("executed")
                    .with_from("2026-01-01")
                    .with_to("2026-02-01")
                    .with_limit(10)
                    .with_cursor("cur");
                c.audit_logs().list(f).await.map(drop)
            }
            .boxed()
        })
        .query(&[
            ("agent_id", "agt_1"),
            ("service", "email"),
            ("status", "executed"),
            ("from", "2026-01-01"),
            ("to", "2026-02-01"),
            ("limit", "10"),
            ("cursor", "cur"),
        ]),
        // agents
        case(&ep::AGENTS_LIST, "/api/v1/agents", |c| async move { c.agents().list().await.map(drop) }.boxed()),
        case(&ep::AGENTS_CREATE, "/api/v1/agents", |c| {
            async move { c.agents().create(&json!({"name": "bot"})).await.map(drop) }.boxed()
        })
        .body(json!({"name": "bot"})),
        case(&ep::AGENTS_GET, "/api/v1/agents/agt_1", |c| async move { c.agents().get("agt_1").await.map(drop) }.boxed()),
        case(&ep::AGENTS_UPDATE, "/api/v1/agents/agt_1", |c| {
            async move { c.agents().update("agt_1", &json!({"defaultModelId": "m"})).await.map(drop) }.boxed()
        })
        .body(json!({"defaultModelId": "m"})),
        case(&ep::AGENTS_DELETE, "/api/v1/agents/agt_1", |c| async move { c.agents().delete("agt_1").await.map(drop) }.boxed()),
        case(&ep::AGENTS_RESET_KEY, "/api/v1/agents/agt_1/key", |c| {
            async move { c.agents().reset_key("agt_1").await.map(drop) }.boxed()
        })
        .body(json!({"confirm": true})),
        case(&ep::AGENTS_CLONE, "/api/v1/agents/agt_1/clone", |c| {
            async move { c.agents().clone("agt_1", None).await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::AGENTS_TRANSFER, "/api/v1/agents/agt_1/transfer", |c| {
            async move { c.agents().transfer("agt_1", &json!({"user_id": "u"})).await.map(drop) }.boxed()
        })
        .body(json!({"user_id": "u"})),
        case(&ep::AGENTS_SET_BUDGET, "/api/v1/agents/agt_1/budget", |c| {
            async move { c.agents().set_budget("agt_1", &json!({"monthly_limit_cents": 500})).await.map(drop) }.boxed()
        })
        .body(json!({"monthly_limit_cents": 500})),
        case(&ep::AGENTS_ENABLE_SERVICE, "/api/v1/agents/agt_1/services", |c| {
            async move { c.agents().enable_service("agt_1", &json!({"service_id": "email"})).await.map(drop) }.boxed()
        })
        .body(json!({"service_id": "email"})),
        case(&ep::AGENTS_DISABLE_SERVICE, "/api/v1/agents/agt_1/services", |c| {
            async move { c.agents().disable_service("agt_1", "svc_email").await.map(drop) }.boxed()
        })
        .query(&[("service_id", "svc_email")]),
        case(&ep::AGENTS_HEALTH, "/api/v1/agents/agt_1/health", |c| async move { c.agents().health("agt_1").await.map(drop) }.boxed()),
        case(&ep::AGENTS_FLEET_HEALTH, "/api/v1/agents/health", |c| async move { c.agents().fleet_health().await.map(drop) }.boxed()),
        case(&ep::AGENTS_ACTIVITY, "/api/v1/agents/agt_1/activity", |c| {
            async move {
                let f = ListAgentActivity::default().with_limit(5).with_cursor("c1").with_type("audit").with_verify(true);
                c.agents().activity("agt_1", f).await.map(drop)
            }
            .boxed()
        })
        .query(&[("limit", "5"), ("cursor", "c1"), ("type", "audit"), ("verify", "1")]),
        case(&ep::AGENTS_SKILLS, "/api/v1/agents/agt_1/skills", |c| async move { c.agents().skills("agt_1").await.map(drop) }.boxed()),
        case(&ep::AGENTS_REMOVE_SKILL, "/api/v1/agents/agt_1/skills", |c| {
            async move { c.agents().remove_skill("agt_1", "wf_1").await.map(drop) }.boxed()
        })
        .query(&[("workflow_id", "wf_1")]),
        // spawn
        case(&ep::SPAWN_CREATE, "/api/v1/agents/spawn", |c| {
            async move {
                let s = SpawnAgent::new("kid", ["web_search.search", "email.send"]).with_budget_dollars(1.5);
                c.spawn().create(s).await.map(drop)
            }
            .boxed()
        })
        .body(json!({"name": "kid", "description": null, "services": ["web_search.search", "email.send"], "budget_cents": 150, "category": null, "icon": null})),
        case(&ep::SPAWN_ESTIMATE, "/api/v1/agents/spawn", |c| {
            async move { c.spawn().estimate(&["a.b", "c.d"]).await.map(drop) }.boxed()
        })
        .query(&[("operations", "a.b,c.d")]),
        // delegate
        case(&ep::DELEGATE_CREATE, "/api/v1/agents/agt_1/delegated-tasks", |c| {
            async move {
                let t = CreateDelegatedTask::new("do it")
                    .with_child_agent_id("agt_2")
                    .with_budget_cap_cents(Cents::new(300))
                    .with_permissions(["email.send"])
                    .with_execute_now(true);
                c.delegate().create("agt_1", t).await.map(drop)
            }
            .boxed()
        })
        .body(json!({"child_agent_id": "agt_2", "objective": "do it", "budget_cap_cents": 300, "permissions": ["email.send"], "model_id": null, "execute_now": true})),
        case(&ep::DELEGATE_LIST, "/api/v1/agents/agt_1/delegated-tasks", |c| {
            async move {
                let f = ListDelegatedTasks::default().with_direction("incoming").with_status("pending");
                c.delegate().list("agt_1", f).await.map(drop)
            }
            .boxed()
        })
        .query(&[("direction", "received"), ("status", "pending")]),
        case(&ep::DELEGATE_GET_TASK, "/api/v1/agents/agt_1/delegated-tasks/task_1", |c| {
            async move { c.delegate().get_task("agt_1", "task_1").await.map(drop) }.boxed()
        }),
        case(&ep::DELEGATE_UPDATE_TASK, "/api/v1/agents/agt_1/delegated-tasks/task_1", |c| {
            async move { c.delegate().update_task("agt_1", "task_1", &json!({"status": "accepted"})).await.map(drop) }.boxed()
        })
        .body(json!({"status": "accepted"})),
        case(&ep::DELEGATE_REATTACH, "/api/v1/delegated-tasks/task_1", |c| {
            async move { c.delegate().reattach("task_1", Some(7)).await.map(drop) }.boxed()
        })
        .query(&[("since", "7")]),
        // memory
        case(&ep::MEMORY_LIST, "/api/v1/agents/agt_1/memories", |c| async move { c.memory().list("agt_1").await.map(drop) }.boxed()),
        case(&ep::MEMORY_SEARCH, "/api/v1/agents/agt_1/memories", |c| {
            async move { c.memory().search("agt_1", "coffee").await.map(drop) }.boxed()
        })
        .query(&[("q", "coffee")]),
        case(&ep::MEMORY_CREATE, "/api/v1/agents/agt_1/memories", |c| {
            async move { c.memory().create("agt_1", &json!({"content": "x"})).await.map(drop) }.boxed()
        })
        .body(json!({"content": "x"})),
        case(&ep::MEMORY_UPDATE, "/api/v1/agents/agt_1/memories/mem_1", |c| {
            async move { c.memory().update("agt_1", "mem_1", &json!({"archived": true})).await.map(drop) }.boxed()
        })
        .body(json!({"archived": true})),
        case(&ep::MEMORY_DELETE, "/api/v1/agents/agt_1/memories/mem_1", |c| {
            async move { c.memory().delete("agt_1", "mem_1").await.map(drop) }.boxed()
        }),
        case(&ep::MEMORY_GRAPH, "/api/v1/agents/agt_1/memories/graph", |c| async move { c.memory().graph("agt_1").await.map(drop) }.boxed()),
        // workflows
        case(&ep::WORKFLOWS_LIST, "/api/v1/workflows", |c| async move { c.workflows().list(Some("ops")).await.map(drop) }.boxed())
            .query(&[("category", "ops")]),
        case(&ep::WORKFLOWS_CREATE, "/api/v1/workflows", |c| {
            async move { c.workflows().create(&json!({"name": "w"})).await.map(drop) }.boxed()
        })
        .body(json!({"name": "w"})),
        case(&ep::WORKFLOWS_GET, "/api/v1/workflows/wf_1", |c| async move { c.workflows().get("wf_1").await.map(drop) }.boxed()),
        case(&ep::WORKFLOWS_UPDATE, "/api/v1/workflows/wf_1", |c| {
            async move { c.workflows().update("wf_1", &json!({"name": "w2"})).await.map(drop) }.boxed()
        })
        .body(json!({"name": "w2"})),
        case(&ep::WORKFLOWS_DELETE, "/api/v1/workflows/wf_1", |c| async move { c.workflows().delete("wf_1").await }.boxed())
            .reply(ResponseTemplate::new(204)),
        case(&ep::WORKFLOWS_CREATE_VERSION, "/api/v1/workflows/wf_1/versions", |c| {
            async move { c.workflows().create_version("wf_1", &json!({"steps": [], "edges": []})).await.map(drop) }.boxed()
        })
        .body(json!({"steps": [], "edges": []})),
        case(&ep::WORKFLOWS_PUBLISH_VERSION, "/api/v1/workflows/wf_1/versions/v_1/publish", |c| {
            async move { c.workflows().publish_version("wf_1", "v_1", None).await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::WORKFLOWS_UNPUBLISH_VERSION, "/api/v1/workflows/wf_1/versions/v_1/unpublish", |c| {
            async move { c.workflows().unpublish_version("wf_1", "v_1", Some(&json!({"note": "n"}))).await.map(drop) }.boxed()
        })
        .body(json!({"note": "n"})),
        case(&ep::WORKFLOWS_SHARE, "/api/v1/workflows/wf_1/share", |c| {
            async move { c.workflows().share("wf_1", "org").await.map(drop) }.boxed()
        })
        .body(json!({"scope": "org"})),
        case(&ep::WORKFLOWS_EXPORT, "/api/v1/workflows/wf_1/export", |c| async move { c.workflows().export("wf_1").await.map(drop) }.boxed()),
        case(&ep::WORKFLOWS_RUNS_LIST, "/api/v1/workflows/wf_1/runs", |c| {
            async move { c.workflows().runs().list("wf_1").await.map(drop) }.boxed()
        }),
        case(&ep::WORKFLOWS_RUNS_CREATE, "/api/v1/workflows/wf_1/runs", |c| {
            async move {
                let run = RunWorkflow::new().with_version_id("v_1").with_input(json!({"x": 1})).with_test_run(true);
                c.workflows().runs().create("wf_1", &run).await.map(drop)
            }
            .boxed()
        })
        .body(json!({"workflow_version_id": "v_1", "input": {"x": 1}, "budget_cents": null, "test_run": true}))
        .reply(json_reply(201, json!({"run": {"id": "run_1", "status": "pending"}}))),
        case(&ep::WORKFLOWS_RUNS_GET, "/api/v1/workflows/wf_1/runs/run_1", |c| {
            async move { c.workflows().runs().get("wf_1", "run_1").await.map(drop) }.boxed()
        }),
        case(&ep::WORKFLOWS_RUNS_CANCEL, "/api/v1/workflows/wf_1/runs/run_1/cancel", |c| {
            async move { c.workflows().runs().cancel("wf_1", "run_1").await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::WORKFLOWS_RUNS_RERUN_FAILED, "/api/v1/workflows/wf_1/runs/run_1/rerun-failed", |c| {
            async move { c.workflows().runs().rerun_failed("wf_1", "run_1").await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::WORKFLOWS_RUNS_RETRY_STEP, "/api/v1/workflows/wf_1/runs/run_1/steps/st_1/retry", |c| {
            async move { c.workflows().runs().retry_step("wf_1", "run_1", "st_1", None).await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::WORKFLOWS_AGENTS_LIST, "/api/v1/workflows/wf_1/agents", |c| {
            async move { c.workflows().agents().list("wf_1").await.map(drop) }.boxed()
        }),
        case(&ep::WORKFLOWS_AGENTS_GRANT, "/api/v1/workflows/wf_1/agents", |c| {
            async move { c.workflows().agents().grant("wf_1", "agt_1").await.map(drop) }.boxed()
        })
        .body(json!({"agent_id": "agt_1"})),
        case(&ep::WORKFLOWS_AGENTS_REVOKE, "/api/v1/workflows/wf_1/agents", |c| {
            async move { c.workflows().agents().revoke("wf_1", "agt_1").await }.boxed()
        })
        .query(&[("agent_id", "agt_1")])
        .reply(ResponseTemplate::new(204)),
        case(&ep::WORKFLOWS_FROM_TEMPLATE_LIST, "/api/v1/workflows/from-template", |c| {
            async move { c.workflows().from_template().list().await.map(drop) }.boxed()
        }),
        case(&ep::WORKFLOWS_FROM_TEMPLATE_CREATE, "/api/v1/workflows/from-template", |c| {
            async move { c.workflows().from_template().create(&json!({"template_id": "t"})).await.map(drop) }.boxed()
        })
        .body(json!({"template_id": "t"})),
        // scheduled tasks
        case(&ep::SCHEDULED_TASKS_LIST, "/api/v1/scheduled-tasks", |c| {
            async move {
                let f = ListScheduledTasks::default()
                    .with_status("active")
                    .with_agent_id("agt_1")
                    .with_category("c")
                    .with_limit(20)
                    .with_offset(40);
                c.scheduled_tasks().list(f).await.map(drop)
            }
            .boxed()
        })
        .query(&[("status", "active"), ("agent_id", "agt_1"), ("category", "c"), ("limit", "20"), ("offset", "40")]),
        case(&ep::SCHEDULED_TASKS_CREATE, "/api/v1/scheduled-tasks", |c| {
            async move { c.scheduled_tasks().create(&json!({"name": "t"})).await.map(drop) }.boxed()
        })
        .body(json!({"name": "t"}))
        .reply(json_reply(201, json!({"task": {"id": "task_1"}}))),
        case(&ep::SCHEDULED_TASKS_GET, "/api/v1/scheduled-tasks/task_1", |c| {
            async move { c.scheduled_tasks().get("task_1").await.map(drop) }.boxed()
        }),
        case(&ep::SCHEDULED_TASKS_UPDATE, "/api/v1/scheduled-tasks/task_1", |c| {
            async move { c.scheduled_tasks().update("task_1", &json!({"status": "paused"})).await.map(drop) }.boxed()
        })
        .body(json!({"status": "paused"})),
        case(&ep::SCHEDULED_TASKS_DELETE, "/api/v1/scheduled-tasks/task_1", |c| {
            async move { c.scheduled_tasks().delete("task_1").await }.boxed()
        })
        .reply(ResponseTemplate::new(204)),
        case(&ep::SCHEDULED_TASKS_RUNS, "/api/v1/scheduled-tasks/task_1/runs", |c| {
            async move { c.scheduled_tasks().runs("task_1", Some(10), Some(0)).await.map(drop) }.boxed()
        })
        .query(&[("limit", "10"), ("offset", "0")]),
        // agent requests
        case(&ep::AGENT_REQUESTS_LIST, "/api/v1/agent-requests", |c| {
            async move {
                c.agent_requests()
                    .list(ListAgentRequests::default().with_status("all").with_type("clarification"))
                    .await
                    .map(drop)
            }
            .boxed()
        })
        .query(&[("status", "all"), ("type", "clarification")]),
        case(&ep::AGENT_REQUESTS_CREATE, "/api/v1/agent-requests", |c| {
            async move {
                let r = CreateAgentRequest::new("clarification", "which one?").with_title("Q");
                c.agent_requests().create(r).await.map(drop)
            }
            .boxed()
        })
        .body(json!({"request_type": "clarification", "body": "which one?", "agent_id": null, "title": "Q", "link": null})),
        case(&ep::AGENT_REQUESTS_RESOLVE, "/api/v1/agent-requests", |c| {
            async move { c.agent_requests().resolve("ar_1", Some("answered")).await.map(drop) }.boxed()
        })
        .body(json!({"request_id": "ar_1", "id": "ar_1", "action": "resolve", "response": "answered"})),
        // chat
        case(&ep::CHAT_TURN, "/api/v1/chat/turn", |c| {
            async move {
                let turn = ChatTurn::new("sess_1").with_message("hi").with_model_id("openai/gpt-4.1-mini");
                let stream = c.chat().turn(turn).await?;
                drop(stream);
                Ok(())
            }
            .boxed()
        })
        .body(json!({"sessionId": "sess_1", "message": "hi", "modelId": "openai/gpt-4.1-mini"}))
        .reply(ResponseTemplate::new(200).set_body_raw("event: done\ndata: {}\n\n", "text/event-stream")),
        case(&ep::CHAT_RESOLVE_APPROVAL, "/api/v1/chat/approvals/appr_1", |c| {
            async move { c.chat().resolve_approval("appr_1", ApprovalAction::Reject).await.map(drop) }.boxed()
        })
        .body(json!({"action": "reject"})),
        case(&ep::CHAT_SESSIONS_LIST, "/api/v1/chat/sessions", |c| {
            async move {
                let f = ListChatSessions::default()
                    .with_agent_id("agt_1")
                    .with_team_id("team_1")
                    .with_limit(3)
                    .with_include_closed(true)
                    .with_include_empty(true);
                c.chat().sessions().list(f).await.map(drop)
            }
            .boxed()
        })
        .query(&[("agent_id", "agt_1"), ("team_id", "team_1"), ("limit", "3"), ("include_closed", "true"), ("include_empty", "true")]),
        case(&ep::CHAT_SESSIONS_CREATE, "/api/v1/chat/sessions", |c| {
            async move { c.chat().sessions().create(CreateChatSession::default().with_agent_id("agt_1")).await.map(drop) }.boxed()
        })
        .body(json!({"agent_id": "agt_1", "model_id": null, "title": null})),
        case(&ep::CHAT_SESSIONS_GET, "/api/v1/chat/sessions/sess_1", |c| {
            async move { c.chat().sessions().get("sess_1").await.map(drop) }.boxed()
        }),
        case(&ep::CHAT_SESSIONS_DELETE, "/api/v1/chat/sessions", |c| {
            async move { c.chat().sessions().delete("sess_1").await.map(drop) }.boxed()
        })
        .query(&[("session_id", "sess_1")]),
        case(&ep::CHAT_SESSIONS_DELETE_ALL, "/api/v1/chat/sessions", |c| {
            async move { c.chat().sessions().delete_all().await.map(drop) }.boxed()
        })
        .query(&[("all", "true")]),
        // triggers
        case(&ep::TRIGGERS_LIST, "/api/v1/triggers", |c| {
            async move { c.triggers().list(PageQuery::default().with_limit(2).with_cursor("c")).await.map(drop) }.boxed()
        })
        .query(&[("limit", "2"), ("cursor", "c")]),
        case(&ep::TRIGGERS_CREATE, "/api/v1/triggers", |c| {
            async move { c.triggers().create(&json!({"agent_id": "agt_1", "kind": "webhook"})).await.map(drop) }.boxed()
        })
        .body(json!({"agent_id": "agt_1", "kind": "webhook"}))
        .reply(json_reply(200, json!({"trigger": {"id": "trg_1"}, "secret": "whsec_1", "fire_url": "u"}))),
        case(&ep::TRIGGERS_GET, "/api/v1/triggers/trg_1", |c| async move { c.triggers().get("trg_1").await.map(drop) }.boxed()),
        case(&ep::TRIGGERS_UPDATE, "/api/v1/triggers/trg_1", |c| {
            async move { c.triggers().update("trg_1", &json!({"disabled": true})).await.map(drop) }.boxed()
        })
        .body(json!({"disabled": true})),
        case(&ep::TRIGGERS_DELETE, "/api/v1/triggers/trg_1", |c| {
            async move { c.triggers().delete("trg_1", true).await.map(drop) }.boxed()
        })
        .query(&[("purge", "true")]),
        case(&ep::TRIGGERS_FIRE, "/api/v1/triggers/trg_1/fire", |c| {
            async move { c.triggers().fire("trg_1", Some(&json!({"a": 1})), "whsec_1").await.map(drop) }.boxed()
        })
        .body(json!({"a": 1}))
        .reply(json_reply(202, json!({"accepted": true, "dispatch_status": "executed"}))),
        // storage
        case(&ep::STORAGE_OBJECTS_LIST, "/api/v1/storage/objects", |c| {
            async move { c.storage().objects().list(PageQuery::default().with_limit(1)).await.map(drop) }.boxed()
        })
        .query(&[("limit", "1")]),
        case(&ep::STORAGE_OBJECTS_GET, "/api/v1/storage/objects/obj_1", |c| {
            async move { c.storage().objects().get("obj_1").await.map(drop) }.boxed()
        }),
        case(&ep::STORAGE_OBJECTS_DELETE, "/api/v1/storage/objects/obj_1", |c| {
            async move { c.storage().objects().delete("obj_1").await.map(drop) }.boxed()
        }),
        case(&ep::STORAGE_OBJECTS_RESTORE, "/api/v1/storage/objects/obj_1/restore", |c| {
            async move { c.storage().objects().restore("obj_1").await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::STORAGE_OBJECTS_UPLOAD, "/api/v1/storage/objects", |c| {
            async move { c.storage().objects().upload(UploadObject::new("a.txt", "hello")).await.map(drop) }.boxed()
        }),
        case(&ep::STORAGE_OBJECTS_PRESIGN, "/api/v1/storage/objects", |c| {
            async move {
                c.storage()
                    .objects()
                    .presign(PresignObject::new("big.bin", "application/octet-stream", 123))
                    .await
                    .map(drop)
            }
            .boxed()
        })
        .body(json!({"filename": "big.bin", "contentType": "application/octet-stream", "sizeBytes": 123})),
        case(&ep::STORAGE_OBJECTS_CONFIRM, "/api/v1/storage/objects/obj_1/confirm", |c| {
            async move { c.storage().objects().confirm("obj_1", None).await.map(drop) }.boxed()
        })
        .body(EMPTY()),
        case(&ep::STORAGE_OBJECTS_DOWNLOAD, "/api/v1/storage/objects/obj_1/download", |c| {
            async move { c.storage().objects().download("obj_1", Some(600)).await.map(drop) }.boxed()
        })
        .query(&[("expires_in", "600")])
        .reply(json_reply(302, json!({"url": "https://signed.example/x"})).insert_header("location", "https://signed.example/x")),
        // knowledge
        case(&ep::KNOWLEDGE_COLLECTIONS_LIST, "/api/v1/knowledge/collections", |c| {
            async move { c.knowledge().collections().list(PageQuery::default()).await.map(drop) }.boxed()
        }),
        case(&ep::KNOWLEDGE_COLLECTIONS_CREATE, "/api/v1/knowledge/collections", |c| {
            async move { c.knowledge().collections().create(&json!({"name": "k"})).await.map(drop) }.boxed()
        })
        .body(json!({"name": "k"})),
        case(&ep::KNOWLEDGE_COLLECTIONS_GET, "/api/v1/knowledge/collections/col_1", |c| {
            async move { c.knowledge().collections().get("col_1").await.map(drop) }.boxed()
        }),
        case(&ep::KNOWLEDGE_COLLECTIONS_DELETE, "/api/v1/knowledge/collections/col_1", |c| {
            async move { c.knowledge().collections().delete("col_1").await.map(drop) }.boxed()
        }),
        case(&ep::KNOWLEDGE_DOCUMENTS_CREATE, "/api/v1/knowledge/collections/col_1/documents", |c| {
            async move {
                c.knowledge()
                    .documents()
                    .create("col_1", CreateDocument::StoredObject("obj_1".into()))
                    .await
                    .map(drop)
            }
            .boxed()
        })
        .body(json!({"stored_object_id": "obj_1"}))
        .reply(json_reply(202, json!({"document": {"id": "doc_1"}}))),
        case(&ep::KNOWLEDGE_DOCUMENTS_GET, "/api/v1/knowledge/collections/col_1/documents/doc_1", |c| {
            async move { c.knowledge().documents().get("col_1", "doc_1").await.map(drop) }.boxed()
        }),
        case(&ep::KNOWLEDGE_DOCUMENTS_DELETE, "/api/v1/knowledge/collections/col_1/documents/doc_1", |c| {
            async move { c.knowledge().documents().delete("col_1", "doc_1").await.map(drop) }.boxed()
        }),
        // services, teams, workspaces, budget requests
        case(&ep::SERVICES_LIST, "/api/v1/services", |c| async move { c.services().list().await.map(drop) }.boxed()),
        case(&ep::TEAMS_LIST, "/api/v1/teams", |c| async move { c.teams().list().await.map(drop) }.boxed()),
        case(&ep::TEAMS_SWITCH, "/api/v1/teams/switch", |c| async move { c.teams().switch(None).await.map(drop) }.boxed())
            .body(json!({"team_id": null})),
        case(&ep::TEAMS_BUDGET, "/api/v1/teams/team_1/budget", |c| async move { c.teams().budget("team_1").await.map(drop) }.boxed()),
        case(&ep::TEAMS_ALLOCATE_BUDGET, "/api/v1/teams/team_1/budget/allocate", |c| {
            async move { c.teams().allocate_budget("team_1", &json!({"amount_cents": 100})).await.map(drop) }.boxed()
        })
        .body(json!({"amount_cents": 100})),
        case(&ep::TEAMS_MEMBERS_LIST, "/api/v1/teams/team_1/members", |c| {
            async move { c.teams().members().list("team_1").await.map(drop) }.boxed()
        }),
        case(&ep::TEAMS_MEMBERS_UPDATE, "/api/v1/teams/team_1/members/mem_1", |c| {
            async move { c.teams().members().update("team_1", "mem_1", &json!({"role": "manager"})).await.map(drop) }.boxed()
        })
        .body(json!({"role": "manager"})),
        case(&ep::WORKSPACES_LIST, "/api/v1/workspaces", |c| async move { c.workspaces().list().await.map(drop) }.boxed()),
        case(&ep::WORKSPACES_SWITCH, "/api/v1/workspaces/switch", |c| {
            async move { c.workspaces().switch("org_1").await.map(drop) }.boxed()
        })
        .body(json!({"orgId": "org_1"})),
        case(&ep::BUDGET_REQUESTS_CREATE, "/api/v1/budget-requests", |c| {
            async move { c.budget_requests().create(&json!({"amount_cents": 5})).await.map(drop) }.boxed()
        })
        .body(json!({"amount_cents": 5})),
        case(&ep::BUDGET_REQUESTS_LIST, "/api/v1/budget-requests", |c| async move { c.budget_requests().list().await.map(drop) }.boxed()),
        case(&ep::BUDGET_REQUESTS_RESOLVE, "/api/v1/budget-requests/br_1", |c| {
            async move { c.budget_requests().resolve("br_1", &json!({"action": "approve"})).await.map(drop) }.boxed()
        })
        .body(json!({"action": "approve"})),
        // devices
        case(&ep::DEVICES_HEARTBEAT, "/api/v1/devices/heartbeat", |c| {
            async move { c.devices().heartbeat("sess_1").await.map(drop) }.boxed()
        })
        .body(json!({"session_id": "sess_1"})),
        case(&ep::DEVICES_COMMANDS_UPDATE_ALIAS, "/api/v1/devices/commands/cmd_1", |c| {
            async move { c.devices().commands_update("cmd_1", "done").await.map(drop) }.boxed()
        })
        .body(json!({"status": "done"})),
        case(&ep::DEVICES_SESSIONS_LIST, "/api/v1/devices/sessions", |c| {
            async move { c.devices().sessions().list().await.map(drop) }.boxed()
        }),
        case(&ep::DEVICES_SESSIONS_UPDATE, "/api/v1/devices/sessions/sess_1", |c| {
            async move { c.devices().sessions().update("sess_1", &json!({"action": "rename", "title": "t"})).await.map(drop) }.boxed()
        })
        .body(json!({"action": "rename", "title": "t"})),
        case(&ep::DEVICES_SESSIONS_COMMAND, "/api/v1/devices/sessions/sess_1", |c| {
            async move { c.devices().sessions().command("sess_1", "ls").await.map(drop) }.boxed()
        })
        .body(json!({"content": "ls"})),
        case(&ep::DEVICES_SESSIONS_DELETE, "/api/v1/devices/sessions/sess_1", |c| {
            async move { c.devices().sessions().delete("sess_1").await.map(drop) }.boxed()
        }),
        case(&ep::DEVICES_SESSIONS_CWD, "/api/v1/devices/sessions/sess_1/cwd", |c| {
            async move { c.devices().sessions().cwd("sess_1", &json!({"action": "get"})).await.map(drop) }.boxed()
        })
        .body(json!({"action": "get"})),
        case(&ep::DEVICES_COMMANDS_UPDATE, "/api/v1/devices/commands/cmd_1", |c| {
            async move { c.devices().commands().update("cmd_1", "failed").await.map(drop) }.boxed()
        })
        .body(json!({"status": "failed"})),
        // platform
        case(&ep::PLATFORM_HEALTH, "/api/v1/healthz", |c| async move { c.platform().health().await.map(drop) }.boxed()),
        case(&ep::PLATFORM_READINESS, "/api/v1/health/readiness", |c| async move { c.platform().readiness().await.map(drop) }.boxed()),
        case(&ep::PLATFORM_AGENT_DOCS, "/api/v1/agent-docs", |c| async move { c.platform().agent_docs().await.map(drop) }.boxed()),
    ]
}

fn expected_authorization(auth: AuthMode) -> Option<String> {
    match auth {
        AuthMode::Agent | AuthMode::Any => Some(format!("Bearer {API_KEY}")),
        AuthMode::Workspace => Some(format!("Bearer {PAT}")),
        AuthMode::None => None,
    }
}

#[tokio::test]
async fn every_endpoint_sends_its_method_path_query_body_and_auth() {
    let server = MockServer::start().await;
    let client = client(&server);
    let mut covered = BTreeSet::new();
    for case in cases() {
        let name = case.endpoint.qualified_name();
        server.reset().await;
        reply_all(&server, case.reply).await;
        (case.call)(client.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: call failed: {e:?}"));
        let sent = requests(&server).await;
        assert_eq!(sent.len(), 1, "{name}: expected exactly one request");
        let req = &sent[0];
        assert_eq!(
            req.method.as_str(),
            case.endpoint.method.as_str(),
            "{name}: method"
        );
        assert_eq!(req.url.path(), case.path, "{name}: path");
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let want: BTreeMap<String, String> = case
            .query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(query, want, "{name}: query");
        assert_eq!(
            header(req, "authorization").map(str::to_owned),
            expected_authorization(case.endpoint.auth),
            "{name}: authorization"
        );
        let is_multipart =
            header(req, "content-type").is_some_and(|ct| ct.starts_with("multipart/form-data"));
        match &case.body {
            Some(body) => {
                let got: Value = serde_json::from_slice(&req.body).unwrap_or_else(|e| {
                    panic!(
                        "{name}: body is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&req.body)
                    )
                });
                assert_eq!(&got, body, "{name}: body");
            }
            None if is_multipart => {}
            None => assert!(
                req.body.is_empty(),
                "{name}: unexpected body {:?}",
                String::from_utf8_lossy(&req.body)
            ),
        }
        if !is_multipart {
            assert_eq!(
                header(req, "content-type"),
                Some("application/json"),
                "{name}: content-type"
            );
        }
        // Only service-request creates carry an idempotency key.
        assert_eq!(
            header(req, "idempotency-key").is_some(),
            *case.endpoint == ep::SERVICE_REQUESTS_CREATE,
            "{name}: idempotency-key"
        );
        assert!(covered.insert(name.clone()), "{name}: two rows");
    }
    let all: BTreeSet<String> = ep::ALL.iter().map(Endpoint::qualified_name).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a wire test: {missing:?}"
    );
}

#[tokio::test]
async fn common_headers_are_sent_and_defaults_can_add_a_cookie() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"services": []}))).await;
    let client = Client::builder()
        .base_url(format!("{}/", server.uri()))
        .default_header("cookie", "session=abc")
        .build()
        .unwrap();
    client.services().list().await.unwrap();
    client.approvals().list().await.unwrap();
    let sent = requests(&server).await;
    for req in &sent {
        assert_eq!(header(req, "accept"), Some("application/json"));
        assert_eq!(
            header(req, "user-agent"),
            Some(concat!("upivia-sdk-rs/", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(header(req, "cookie"), Some("session=abc"));
        // No PAT configured: workspace mode sends no Authorization header.
        assert_eq!(header(req, "authorization"), None);
    }
    // The trailing slash of the base URL is not doubled.
    assert_eq!(sent[0].url.path(), "/api/v1/services");
}

#[tokio::test]
async fn any_mode_falls_back_to_the_pat() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(200, json!({"memories": [], "semantic": false})),
    )
    .await;
    let client = Client::builder()
        .base_url(server.uri())
        .pat(PAT)
        .build()
        .unwrap();
    client.memory().search("agt_1", "q").await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
}

#[tokio::test]
async fn empty_2xx_body_is_nothing() {
    let server = MockServer::start().await;
    reply_all(&server, ResponseTemplate::new(200)).await;
    let client = client(&server);
    assert_eq!(client.agents().get("agt_1").await.unwrap(), Value::Null);
    // A typed reply cannot be empty.
    let err = client.balance().get(None).await.unwrap_err();
    assert_eq!(err.kind(), upivia::ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn an_injected_reqwest_client_is_used() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"ok": true}))).await;
    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert(
        "x-injected",
        reqwest::header::HeaderValue::from_static("yes"),
    );
    let http = reqwest::Client::builder()
        .default_headers(defaults)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = Client::builder()
        .base_url(server.uri())
        .http_client(http)
        .build()
        .unwrap();
    client.platform().agent_docs().await.unwrap();
    assert_eq!(
        header(&requests(&server).await[0], "x-injected"),
        Some("yes")
    );
}

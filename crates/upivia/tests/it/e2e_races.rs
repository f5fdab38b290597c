//! Harder cases against the real server: the same idempotency key racing
//! itself, paging while the trail grows, approvals that meet an empty
//! purse, replays of non-executed outcomes, and an asynchronous failure.

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use serde_json::json;
use upivia::models::{AuditLogEntry, ListAuditLogs, ServiceRequestOutcome};
use upivia::{ErrorKind, WaitOptions};

use crate::e2e_support::{Server, email, voice_call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_sent_twenty_times_at_once_executes_and_charges_once() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let calls = (0..20).map(|_| {
        let client = agent.client.clone();
        tokio::spawn(async move {
            client
                .service_requests()
                .create(email("raced").with_idempotency_key("race-1"))
                .await
        })
    });
    let results = futures::future::join_all(calls).await;
    let mut outcomes = Vec::new();
    for result in results {
        match result.unwrap() {
            Ok(outcome) => outcomes.push(outcome),
            // The only acceptable refusal: the first is still in progress.
            Err(e) => {
                assert_eq!(e.status(), Some(409), "{e:?}");
                assert_eq!(e.code(), Some("idempotency_key_in_use"), "{e:?}");
                assert_eq!(e.kind(), ErrorKind::Http);
            }
        }
    }
    assert!(!outcomes.is_empty());
    assert!(
        outcomes.iter().all(|o| *o == outcomes[0]),
        "every answer is the one stored: {outcomes:?}"
    );
    assert_eq!(outcomes[0].status(), Some("executed"));
    let owner = server.owner();
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        99
    );
    let usage = owner.usage().list(Default::default()).await.unwrap();
    assert_eq!(usage["records"].as_array().unwrap().len(), 1, "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_while_the_trail_grows_sees_no_row_twice() {
    let server = Server::start();
    let agent = server.funded_agent("email", 1_000).await;
    for n in 0..10 {
        agent
            .client
            .service_requests()
            .create(email(&format!("before {n}")))
            .await
            .unwrap();
    }
    let writer = {
        let client = agent.client.clone();
        tokio::spawn(async move {
            for n in 0..30 {
                client
                    .service_requests()
                    .create(email(&format!("during {n}")))
                    .await
                    .unwrap();
            }
        })
    };
    let owner = server.owner();
    let mut rows = owner
        .audit_logs()
        .list_all(ListAuditLogs::default().with_limit(2));
    let mut walked: Vec<AuditLogEntry> = Vec::new();
    while let Some(row) = rows.try_next().await.unwrap() {
        walked.push(row);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    writer.await.unwrap();
    let ids: HashSet<&str> = walked.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), walked.len(), "a row was returned twice");
    let seqs: Vec<i64> = walked
        .iter()
        .map(|e| e.extra["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    // Nothing older than the walk's first row was skipped.
    let first = seqs[0];
    assert_eq!(seqs.last(), Some(&1));
    assert_eq!(seqs.len() as i64, first, "seq 1..={first} all seen");
}

#[tokio::test]
async fn approving_after_the_money_ran_out_ends_blocked_not_in_error() {
    let server = Server::start();
    server.credit(1).await;
    let agent = server
        .agent_with("email", json!({"require_approval": true}))
        .await;
    let owner = server.owner();
    let mut gates = Vec::new();
    for n in 0..2 {
        let gated = agent
            .client
            .service_requests()
            .create(email(&format!("gate {n}")))
            .await
            .unwrap();
        let ServiceRequestOutcome::ApprovalRequired(gate) = gated else {
            panic!("expected approval_required, got {gated:?}")
        };
        gates.push(gate);
    }
    let first = owner
        .approvals()
        .approve(&gates[0].approval_id)
        .await
        .unwrap();
    assert_eq!(first.status(), Some("executed"), "{first:?}");
    let second = owner
        .approvals()
        .approve(&gates[1].approval_id)
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &second else {
        panic!("expected blocked, got {second:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("insufficient_balance"));
    let balance = owner.balance().get(None).await.unwrap();
    assert_eq!(balance.amount_cents.get(), 0);
    assert_eq!(balance.extra["reserved_cents"], 0);
}

#[tokio::test]
async fn replays_of_a_gate_and_of_a_block_do_not_gate_or_block_twice() {
    let server = Server::start();
    server.credit(100).await;
    let agent = server
        .agent_with("email", json!({"require_approval": true}))
        .await;
    let requests = agent.client.service_requests();
    let gated = requests
        .create(email("once").with_idempotency_key("gate-1"))
        .await
        .unwrap();
    let again = requests
        .create(email("once").with_idempotency_key("gate-1"))
        .await
        .unwrap();
    assert_eq!(gated, again);
    let pending = server.owner().approvals().list().await.unwrap();
    assert_eq!(
        pending["approvals"].as_array().unwrap().len(),
        1,
        "{pending}"
    );

    let blocked = requests
        .create(
            upivia::models::CreateServiceRequest::new(
                "web_search",
                "search",
                json!({"query": "x"}),
            )
            .with_idempotency_key("block-1"),
        )
        .await
        .unwrap();
    assert_eq!(blocked.status(), Some("blocked"));
    let replayed = requests
        .create(
            upivia::models::CreateServiceRequest::new(
                "web_search",
                "search",
                json!({"query": "x"}),
            )
            .with_idempotency_key("block-1"),
        )
        .await
        .unwrap();
    assert_eq!(blocked, replayed);
}

#[tokio::test]
async fn a_voice_call_that_fails_upstream_waits_to_failed_and_releases_its_hold() {
    let server = Server::start();
    let agent = server.funded_agent("voice_call", 1_000).await;
    let failing = upivia::models::CreateServiceRequest::new(
        "voice_call",
        "create",
        json!({"to": "+15555550123", "from": "+15555550100", "say": "sandbox-call-fails"}),
    );
    let wait = WaitOptions::default()
        .with_poll_interval(Duration::from_millis(50))
        .with_timeout(Duration::from_secs(20));
    let outcome = agent
        .client
        .service_requests()
        .create_and_wait(failing, wait)
        .await
        .unwrap();
    let ServiceRequestOutcome::Failed(failed) = &outcome else {
        panic!("expected failed, got {outcome:?}")
    };
    assert_eq!(failed.reason_code.as_deref(), Some("provider_unavailable"));
    let balance = server.owner().balance().get(None).await.unwrap();
    assert_eq!(balance.amount_cents.get(), 1_000);
    assert_eq!(balance.extra["reserved_cents"], 0);

    // A short wait gives up with kind Http, and the call goes on regardless.
    let impatient = WaitOptions::default()
        .with_poll_interval(Duration::from_millis(10))
        .with_timeout(Duration::from_millis(30));
    let err = agent
        .client
        .service_requests()
        .create_and_wait(voice_call(), impatient)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
}

#[tokio::test]
async fn the_budget_check_counts_what_a_running_call_holds() {
    let server = Server::start_with(|c| c.voice_call_delay = Duration::from_secs(3));
    let agent = server.funded_agent("voice_call", 1_000).await;
    server
        .owner()
        .agents()
        .set_budget(&agent.id, &json!({"monthly_budget_cents": 500}))
        .await
        .unwrap();
    let running = agent
        .client
        .service_requests()
        .create(voice_call())
        .await
        .unwrap();
    let ServiceRequestOutcome::Running(running) = running else {
        panic!("expected running, got {running:?}")
    };
    // The estimate stays held until reconciliation; `initial_cost_cents`
    // is only what is known so far (the first minute), and is less.
    let held = running.extra["estimated_cost_cents"]
        .as_i64()
        .expect("estimate");
    assert!(running.initial_cost_cents.expect("initial cost").get() <= held);
    let check = agent.client.budget_check().check(&agent.id).await.unwrap();
    assert_eq!(check.extra["monthly_reserved_cents"], held, "{check:?}");
    assert_eq!(check.extra["remaining_cents"], 500 - held, "{check:?}");
    assert_eq!(check.extra["org_balance_cents"], 1_000 - held, "{check:?}");
    assert_eq!(check.monthly_spent, Some(0.0));
    assert_eq!(check.monthly_limit, Some(5.0));
}

#[tokio::test]
async fn usage_and_audit_filters_narrow_what_comes_back() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    agent
        .client
        .service_requests()
        .create(email("filtered"))
        .await
        .unwrap();
    let owner = server.owner();
    let past = upivia::models::ListUsage::default().with_to("2000-01-01T00:00:00Z");
    let none = owner.usage().list(past).await.unwrap();
    assert_eq!(none["records"], json!([]), "{none}");
    assert_eq!(none["total_cents"], 0);
    let since = upivia::models::ListUsage::default().with_from("2000-01-01T00:00:00Z");
    assert_eq!(owner.usage().list(since).await.unwrap()["total_cents"], 1);
    let bad = owner
        .usage()
        .list(upivia::models::ListUsage::default().with_from("yesterday"))
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400), "{bad:?}");

    let email_rows: Vec<AuditLogEntry> = owner
        .audit_logs()
        .list_all(ListAuditLogs::default().with_service("email"))
        .try_collect()
        .await
        .unwrap();
    assert!(!email_rows.is_empty());
    assert!(
        email_rows.iter().all(|e| e.extra["service"] == "email"),
        "{email_rows:?}"
    );
    let nothing: Vec<AuditLogEntry> = owner
        .audit_logs()
        .list_all(ListAuditLogs::default().with_to("2000-01-01T00:00:00Z"))
        .try_collect()
        .await
        .unwrap();
    assert!(nothing.is_empty(), "{nothing:?}");
}

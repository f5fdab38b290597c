//! Crash safety: `kill -9` in the middle of load loses no committed
//! decision and leaves no reservation behind once the server restarts.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::{Server, call, free_port};

async fn start(data: &std::path::Path, port: u16, provider_timeout_ms: u32) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .args(["--provider-timeout-ms", &provider_timeout_ms.to_string()])
        // Hundreds of clients at once from this one address, by design.
        .args(["--max-connections-per-ip", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    support::healthy(child, port).await
}

fn email(i: usize, slow: bool) -> Value {
    json!({"service": "email", "operation": "send", "idempotency_key": format!("k-{i}"),
        "payload": {"to": "a@example.com", "subject": format!("n{i}"), "body": if slow { "sandbox-slow" } else { "fast" }}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_minus_nine_mid_load_loses_no_decision_and_no_money() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    // Slow requests stay in flight (budget reserved) until the kill.
    let mut server = start(&data, port, 20_000).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let (_agent_id, key) =
        support::funded_agent(&http, &base, &pat, 100_000, "crash", &["email"]).await;

    // Load: many fast requests, and every tenth one slow, so some are
    // mid-execution (budget reserved) when the process dies.
    let mut tasks = Vec::new();
    for i in 0..400 {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis((i as u64 % 100) * 5)).await;
            let body = email(i, i % 10 == 0);
            let r = http
                .post(format!("{base}/api/v1/service-requests"))
                .bearer_auth(&key)
                .header("idempotency-key", format!("k-{i}"))
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.json::<Value>().await {
                        Ok(v) => Some((i, status, v)),
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    let mut answered = Vec::new();
    for t in tasks {
        if let Some(a) = t.await.unwrap() {
            answered.push(a);
        }
    }
    assert!(
        !answered.is_empty(),
        "some requests were answered before the crash"
    );

    // After the restart a slow request that was never recorded would run
    // afresh; a short provider timeout keeps that quick.
    let server = start(&data, port, 300).await;
    let base = server.base.clone();
    // Every answer the clients received is still the recorded decision.
    for (i, status, body) in &answered {
        assert_eq!(*status, 200, "{body}");
        let id = body["request_id"].as_str().unwrap();
        let (code, now) = call(
            &http,
            reqwest::Method::GET,
            format!("{base}/api/v1/service-requests/{id}"),
            &key,
            None,
        )
        .await;
        assert_eq!(code, 200, "request {i} ({id}) was answered but is gone");
        assert_eq!(
            now["status"], body["status"],
            "request {i} changed after restart"
        );
        assert_eq!(now["cost_cents"], body["cost_cents"]);
    }
    // Requests cut off mid-flight replay as failed/interrupted, never executed twice.
    let mut retries = Vec::new();
    for i in 0..400 {
        if answered.iter().any(|(j, _, _)| *j == i) {
            continue;
        }
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        retries.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/service-requests"))
                .bearer_auth(&key)
                .header("idempotency-key", format!("k-{i}"))
                .json(&email(i, i % 10 == 0))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }));
    }
    let mut interrupted = 0;
    for r in retries {
        let v = r.await.unwrap();
        assert!(v["status"].is_string(), "{v}");
        if v["reason_code"] == "interrupted" {
            interrupted += 1;
            assert_eq!(v["status"], "failed");
            assert_eq!(v["cost_cents"], 0);
        }
    }
    assert!(
        interrupted > 0,
        "some slow requests were in flight at the kill"
    );

    // The ledger holds: nothing reserved, charged = executed.
    let (_, balance) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v1/balance"),
        &pat,
        None,
    )
    .await;
    assert_eq!(balance["reserved_cents"], 0, "{balance}");
    let (_, usage) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/v1/usage?limit=500"),
        &pat,
        None,
    )
    .await;
    assert_eq!(balance["settled_cents"], usage["total_cents"]);
    assert_eq!(
        balance["amount_cents"].as_i64().unwrap(),
        100000 - usage["total_cents"].as_i64().unwrap()
    );
    drop(server);
    let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["admin", "check-ledger", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// One agent gated by approval, one not, both funded; returns the keys.
async fn crash_fixture(http: &reqwest::Client, base: &str, pat: &str) -> (String, String) {
    let post = reqwest::Method::POST;
    call(
        http,
        post.clone(),
        format!("{base}/api/v1/balance/credits"),
        pat,
        Some(json!({"amount_cents": 1_000_000})),
    )
    .await;
    let mut keys = Vec::new();
    for require_approval in [false, true] {
        let (_, created) = call(
            http,
            post.clone(),
            format!("{base}/api/v1/agents"),
            pat,
            Some(json!({"name": format!("cycle-{require_approval}")})),
        )
        .await;
        let id = created["agent"]["id"].as_str().unwrap().to_owned();
        call(
            http,
            post.clone(),
            format!("{base}/api/v1/agents/{id}/services"),
            pat,
            Some(json!({"service_id": "email", "require_approval": require_approval})),
        )
        .await;
        keys.push(created["api_key"].as_str().unwrap().to_owned());
    }
    let gated = keys.pop().unwrap();
    (keys.pop().unwrap(), gated)
}

/// What a client was told, to hold the restarted server to it.
enum Told {
    Request {
        key: String,
        id: String,
        status: Value,
        cost: Value,
    },
    Decided {
        approval: String,
        approved: bool,
    },
}

/// Ten cycles of load (fast, slow and approval-gated requests, and
/// concurrent approve/reject races on the parked ones) cut by `kill -9` at
/// a different moment each time. After every restart each answer a client
/// got still stands, no approval is decided twice, and at the end the
/// ledger check and the audit verification pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_kill_minus_nine_cycles_keep_every_answer_and_the_books() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let http = reqwest::Client::new();
    let mut server = start(&data, port, 20_000).await;
    let creds: Value =
        serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
            .unwrap();
    let pat = creds["pat"].as_str().unwrap().to_owned();
    let (fast, gated) = crash_fixture(&http, &server.base, &pat).await;
    let mut told: Vec<Told> = Vec::new();
    let mut parked: Vec<String> = Vec::new();

    for cycle in 0..10u64 {
        let base = server.base.clone();
        let mut tasks = Vec::new();
        for i in 0..60u64 {
            let (http, base) = (http.clone(), base.clone());
            let key = if i % 3 == 0 {
                gated.clone()
            } else {
                fast.clone()
            };
            let slow = i % 7 == 0;
            let idem = format!("c{cycle}-{i}");
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 3)).await;
                let (status, body) = call(
                    &http,
                    reqwest::Method::POST,
                    format!("{base}/api/v1/service-requests"),
                    &key,
                    Some(email_keyed(&idem, slow)),
                )
                .await;
                (status == 200 || status == 202).then_some((key, body))
            }));
        }
        // Two deciders race on every approval parked in earlier cycles.
        let mut decisions = Vec::new();
        for approval in parked.drain(..) {
            for approve in [true, false] {
                let (http, base, pat, approval) =
                    (http.clone(), base.clone(), pat.clone(), approval.clone());
                decisions.push(tokio::spawn(async move {
                    let verb = if approve { "approve" } else { "reject" };
                    let (status, _) = call(
                        &http,
                        reqwest::Method::POST,
                        format!("{base}/api/v1/approvals/{approval}/{verb}"),
                        &pat,
                        Some(json!({})),
                    )
                    .await;
                    (status == 200).then_some((approval, approve))
                }));
            }
        }
        tokio::time::sleep(Duration::from_millis(40 + cycle * 25)).await;
        server.child.kill().expect("kill -9");
        server.child.wait().unwrap();
        for t in tasks {
            if let Ok(Some((key, body))) = t.await {
                let id = body["request_id"].as_str().unwrap().to_owned();
                if body["status"] == "approval_required" {
                    parked.push(body["approval_id"].as_str().unwrap().to_owned());
                }
                told.push(Told::Request {
                    key,
                    id,
                    status: body["status"].clone(),
                    cost: body["cost_cents"].clone(),
                });
            }
        }
        let mut won: Vec<String> = Vec::new();
        for d in decisions {
            if let Ok(Some((approval, approved))) = d.await {
                assert!(
                    !won.contains(&approval),
                    "approval {approval} was decided twice"
                );
                won.push(approval.clone());
                told.push(Told::Decided { approval, approved });
            }
        }
        server = start(&data, port, 20_000).await;
        // Approvals not decided before the kill stay open for the next cycle.
        let (_, pending) = call(
            &http,
            reqwest::Method::GET,
            format!("{}/api/v1/approvals?status=pending&limit=500", server.base),
            &pat,
            None,
        )
        .await;
        parked = pending["approvals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
    }

    let base = server.base.clone();
    let (mut requests, mut decisions) = (0, 0);
    for t in &told {
        match t {
            Told::Request {
                key,
                id,
                status,
                cost,
            } => {
                let (code, now) = call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/api/v1/service-requests/{id}"),
                    key,
                    None,
                )
                .await;
                assert_eq!(code, 200, "request {id} was answered but is gone");
                // A parked request may have been decided since; any other
                // answer is final.
                if status != "approval_required" {
                    assert_eq!(&now["status"], status, "request {id} changed: {now}");
                    assert_eq!(&now["cost_cents"], cost, "request {id}: {now}");
                }
                requests += 1;
            }
            Told::Decided { approval, approved } => {
                let (_, list) = call(
                    &http,
                    reqwest::Method::GET,
                    format!("{base}/api/v1/approvals?status=all&limit=500"),
                    &pat,
                    None,
                )
                .await;
                let row = list["approvals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["id"] == approval.as_str())
                    .cloned()
                    .unwrap_or_else(|| panic!("approval {approval} is gone"));
                let want = if *approved { "approved" } else { "rejected" };
                assert_eq!(row["status"], want, "approval {approval}: {row}");
                decisions += 1;
            }
        }
    }
    eprintln!("checked {requests} answered requests and {decisions} decisions");
    assert!(
        requests > 100,
        "only {requests} answered requests were checked"
    );
    assert!(decisions > 5, "only {decisions} decisions were checked");
    drop(server);
    for args in [["admin", "check-ledger"], ["audit", "verify"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn email_keyed(key: &str, slow: bool) -> Value {
    json!({"service": "email", "operation": "send", "idempotency_key": key,
        "payload": {"to": "a@example.com", "subject": key, "body": if slow { "sandbox-slow" } else { "fast" }}})
}

//! `upivia bench`: drives `email.send` on the sandbox provider from many
//! agents at a fixed concurrency for a fixed time, then reports
//! throughput, latency percentiles and outcome counts, and checks that the
//! money adds up: every executed request charged exactly once, the ledger
//! invariants intact. Loopback only; it stops by itself.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cli::BenchArgs;

struct Target {
    base: String,
    pat: String,
    http: reqwest::Client,
    _server: Option<(CancellationToken, tempfile::TempDir)>,
}

async fn start_in_process() -> anyhow::Result<Target> {
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = upivia_server::config::Config::new(addr, dir.path().join("data"));
    // All the load comes from this one address, by design.
    config.max_connections_per_ip = None;
    let prepared = upivia_server::prepare(config, addr).await?;
    let creds: Value = serde_json::from_slice(&std::fs::read(
        dir.path().join("data/initial-credentials.json"),
    )?)?;
    let cancel = CancellationToken::new();
    tokio::spawn(upivia_server::serve(prepared, listener, cancel.clone()));
    Ok(Target {
        base: format!("http://{addr}"),
        pat: creds["pat"]
            .as_str()
            .context("pat in credentials")?
            .to_owned(),
        http: client()?,
        _server: Some((cancel, dir)),
    })
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?)
}

async fn call(
    t: &Target,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = t
        .http
        .request(method, format!("{}{path}", t.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "{path}: {status}: {body}");
    Ok(body)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    ensure!(
        args.concurrency > 0 && args.agents > 0,
        "concurrency and agents must be positive"
    );
    let target = match &args.base_url {
        None => start_in_process().await?,
        Some(base) => {
            ensure!(
                base.starts_with("http://127.")
                    || base.starts_with("http://localhost")
                    || base.starts_with("http://[::1]"),
                "bench targets loopback only"
            );
            let pat = match (&args.pat, &args.data_dir) {
                (Some(p), _) => p.clone(),
                (None, Some(dir)) => {
                    let creds: Value = serde_json::from_slice(&std::fs::read(
                        dir.join("initial-credentials.json"),
                    )?)?;
                    creds["pat"]
                        .as_str()
                        .context("pat in credentials")?
                        .to_owned()
                }
                (None, None) => bail!("give --pat or --data-dir with --base-url"),
            };
            Target {
                base: base.trim_end_matches('/').to_owned(),
                pat,
                http: client()?,
                _server: None,
            }
        }
    };
    let post = reqwest::Method::POST;
    call(
        &target,
        post.clone(),
        "/api/v1/balance/credits",
        &target.pat,
        Some(json!({"amount_cents": 1_000_000_000, "note": "bench"})),
    )
    .await?;
    let before = call(
        &target,
        reqwest::Method::GET,
        "/api/v1/balance",
        &target.pat,
        None,
    )
    .await?;
    let before = before["amount_cents"].as_i64().unwrap_or(0);
    let mut keys = Vec::new();
    for i in 0..args.agents {
        let created = call(
            &target,
            post.clone(),
            "/api/v1/agents",
            &target.pat,
            // Past the server's default per-key ceiling: the load is the point.
            Some(json!({"name": format!("bench-{i}"), "rate_limit_per_minute": 1_000_000_000})),
        )
        .await?;
        let id = created["agent"]["id"]
            .as_str()
            .context("agent id")?
            .to_owned();
        call(
            &target,
            post.clone(),
            &format!("/api/v1/agents/{id}/services"),
            &target.pat,
            Some(json!({"service_id": "email"})),
        )
        .await?;
        keys.push(created["api_key"].as_str().context("api key")?.to_owned());
    }

    let target = Arc::new(target);
    let deadline = Instant::now() + Duration::from_secs(args.duration_secs);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let t = target.clone();
        let key = keys[w % keys.len()].clone();
        workers.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let idem = format!("bench-{w}-{n}");
                let body = json!({"service": "email", "operation": "send", "idempotency_key": idem,
                    "payload": {"to": "load@example.com", "subject": "bench", "body": "governed"}});
                let t0 = Instant::now();
                let resp = t
                    .http
                    .post(format!("{}/api/v1/service-requests", t.base))
                    .bearer_auth(&key)
                    .header("idempotency-key", &idem)
                    .json(&body)
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(r) => {
                        let code = r.status().as_u16();
                        match r.json::<Value>().await {
                            Ok(v) => v["status"]
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| format!("http_{code}")),
                            Err(_) => format!("http_{code}"),
                        }
                    }
                    Err(_) => "network_error".to_owned(),
                };
                let micros = u64::try_from(t0.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let _ = hist.record(micros.min(60_000_000));
                *counts.entry(outcome).or_default() += 1;
            }
            (hist, counts)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for w in workers {
        let (h, c) = w.await?;
        hist.add(h)?;
        for (k, v) in c {
            *counts.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = counts.values().sum();
    let executed = counts.get("executed").copied().unwrap_or(0);
    let after = call(
        &target,
        reqwest::Method::GET,
        "/api/v1/balance",
        &target.pat,
        None,
    )
    .await?;
    let spent = before - after["amount_cents"].as_i64().unwrap_or(0);
    let ledger = call(
        &target,
        reqwest::Method::GET,
        "/api/v1/admin/ledger/check",
        &target.pat,
        None,
    )
    .await?;
    let money_ok = i64::try_from(executed).ok() == Some(spent);
    let ledger_ok = ledger["ok"] == true;
    let report = json!({
        "concurrency": args.concurrency,
        "agents": args.agents,
        "duration_s": elapsed,
        "requests": total,
        "requests_per_s": total as f64 / elapsed,
        "latency_ms": {
            "p50": hist.value_at_quantile(0.50) as f64 / 1000.0,
            "p99": hist.value_at_quantile(0.99) as f64 / 1000.0,
            "max": hist.max() as f64 / 1000.0,
        },
        "outcomes": counts,
        "spent_cents": spent,
        "charged_once": money_ok,
        "ledger_ok": ledger_ok,
        "ledger_problems": ledger["problems"],
    });
    if args.json {
        println!("{report:#}");
    } else {
        println!(
            "requests      {total} in {elapsed:.1} s at concurrency {} over {} agents",
            args.concurrency, args.agents
        );
        println!("throughput    {:.0} requests/s", total as f64 / elapsed);
        println!(
            "latency       p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            report["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
            report["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
            report["latency_ms"]["max"].as_f64().unwrap_or(0.0)
        );
        for (k, v) in &counts {
            println!("outcome       {k:<14} {v}");
        }
        println!(
            "money         {executed} executed, {spent} cents spent: {}",
            if money_ok {
                "each charged exactly once"
            } else {
                "MISMATCH"
            }
        );
        println!(
            "ledger check  {}",
            if ledger_ok {
                "ok".to_owned()
            } else {
                format!("FAILED: {}", ledger["problems"])
            }
        );
    }
    Ok(if money_ok && ledger_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

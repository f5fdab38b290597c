//! `upivia bench`: drives `email.send` on the sandbox provider from many
//! agents at a fixed concurrency for a fixed time, then reports
//! throughput, latency percentiles and outcome counts, and checks that the
//! money adds up: every executed request charged exactly once, the ledger
//! invariants intact. Loopback only; it stops by itself, after a time or
//! after a fixed number of requests (what a count of instructions per
//! request needs). `--echo` drives a `bench echo-server` with the same
//! request instead, for the ratio to the HTTP ceiling.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cli::{BenchArgs, BenchServer};

struct Target {
    /// Where setup goes; the load is spread over `bases`.
    base: String,
    bases: Vec<String>,
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
        bases: vec![format!("http://{addr}")],
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

/// When the workers stop taking new requests.
enum Stop {
    At(Instant),
    /// Requests taken so far, and how many to take in all.
    After(AtomicU64, u64),
}

impl Stop {
    fn take(&self) -> bool {
        match self {
            Stop::At(deadline) => Instant::now() < *deadline,
            Stop::After(taken, total) => taken.fetch_add(1, Ordering::Relaxed) < *total,
        }
    }
}

/// An agent key's length, so that an echo request is the governed one byte
/// for byte.
const ECHO_TOKEN: &str = "agent_key_test_0000000000000000000000000000000000000000";

fn loopback_bases(list: &str) -> anyhow::Result<Vec<String>> {
    let bases: Vec<String> = list
        .split(',')
        .map(|b| b.trim().trim_end_matches('/').to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    ensure!(!bases.is_empty(), "--base-url names no server");
    for base in &bases {
        ensure!(
            base.starts_with("http://127.")
                || base.starts_with("http://localhost")
                || base.starts_with("http://[::1]"),
            "bench targets loopback only, not {base}"
        );
    }
    Ok(bases)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(BenchServer::EchoServer(echo)) = args.server {
        return super::bench_echo::run(echo).await;
    }
    ensure!(
        args.concurrency > 0 && args.agents > 0,
        "concurrency and agents must be positive"
    );
    let target = match &args.base_url {
        None => start_in_process().await?,
        Some(list) => {
            let bases = loopback_bases(list)?;
            let pat = match (&args.pat, &args.data_dir, args.echo) {
                (_, _, true) => String::new(),
                (Some(p), _, _) => p.clone(),
                (None, Some(dir), _) => {
                    let creds: Value = serde_json::from_slice(&std::fs::read(
                        dir.join("initial-credentials.json"),
                    )?)?;
                    creds["pat"]
                        .as_str()
                        .context("pat in credentials")?
                        .to_owned()
                }
                (None, None, false) => bail!("give --pat or --data-dir with --base-url"),
            };
            Target {
                base: bases[0].clone(),
                bases,
                pat,
                http: client()?,
                _server: None,
            }
        }
    };
    if args.echo {
        let load = drive(Arc::new(target), Vec::new(), &args).await?;
        return Ok(report_echo(&args, &load));
    }
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
    let load = drive(target.clone(), keys, &args).await?;
    let Load {
        hist,
        counts,
        elapsed,
    } = &load;
    let elapsed = *elapsed;
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
    let ledger = if args.no_ledger_check {
        json!({"ok": null, "problems": null})
    } else {
        call(
            &target,
            reqwest::Method::GET,
            "/api/v1/admin/ledger/check",
            &target.pat,
            None,
        )
        .await?
    };
    let money_ok = i64::try_from(executed).ok() == Some(spent);
    let ledger_ok = args.no_ledger_check || ledger["ok"] == true;
    let mut report = summary(&args, &load);
    report["spent_cents"] = json!(spent);
    report["charged_once"] = json!(money_ok);
    report["ledger_ok"] = ledger["ok"].clone();
    report["ledger_problems"] = ledger["problems"].clone();
    if args.json {
        println!("{report:#}");
    } else {
        print_summary(&args, total, elapsed, hist, counts);
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
            if args.no_ledger_check {
                "skipped".to_owned()
            } else if ledger_ok {
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

/// What the workers measured.
struct Load {
    hist: Histogram<u64>,
    counts: BTreeMap<String, u64>,
    elapsed: f64,
}

/// Runs `args.concurrency` workers for `--duration-secs` or `--requests`: governed `email.send`
/// requests with the agents' `keys`, or with `--echo` the same request to
/// `/echo`, which must come back unchanged.
async fn drive(target: Arc<Target>, keys: Vec<String>, args: &BenchArgs) -> anyhow::Result<Load> {
    let stop = Arc::new(match args.requests {
        Some(n) => Stop::After(AtomicU64::new(0), n),
        None => Stop::At(Instant::now() + Duration::from_secs(args.duration_secs)),
    });
    let echo = args.echo;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let t = target.clone();
        let stop = stop.clone();
        let key = if echo {
            ECHO_TOKEN.to_owned()
        } else {
            keys[w % keys.len()].clone()
        };
        let base = &t.bases[w % t.bases.len()];
        let url = if echo {
            format!("{base}/echo")
        } else {
            format!("{base}/api/v1/service-requests")
        };
        workers.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut n = 0u64;
            while stop.take() {
                n += 1;
                let idem = format!("bench-{w}-{n}");
                let body = json!({"service": "email", "operation": "send", "idempotency_key": idem,
                    "payload": {"to": "load@example.com", "subject": "bench", "body": "governed"}});
                let t0 = Instant::now();
                let resp = t
                    .http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("idempotency-key", &idem)
                    .json(&body)
                    .send()
                    .await;
                let outcome = match resp {
                    Ok(r) => {
                        let code = r.status().as_u16();
                        match r.json::<Value>().await {
                            Ok(v) if echo => {
                                if code == 200 && v == body {
                                    "echoed".to_owned()
                                } else {
                                    format!("http_{code}")
                                }
                            }
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
    Ok(Load {
        hist,
        counts,
        elapsed: started.elapsed().as_secs_f64(),
    })
}

fn summary(args: &BenchArgs, load: &Load) -> Value {
    let total: u64 = load.counts.values().sum();
    json!({
        "mode": if args.echo { "echo" } else { "governed" },
        "concurrency": args.concurrency,
        "agents": args.agents,
        "duration_s": load.elapsed,
        "requests": total,
        "requests_per_s": total as f64 / load.elapsed,
        "latency_ms": {
            "p50": load.hist.value_at_quantile(0.50) as f64 / 1000.0,
            "p99": load.hist.value_at_quantile(0.99) as f64 / 1000.0,
            "max": load.hist.max() as f64 / 1000.0,
        },
        "outcomes": load.counts,
    })
}

fn print_summary(
    args: &BenchArgs,
    total: u64,
    elapsed: f64,
    hist: &Histogram<u64>,
    counts: &BTreeMap<String, u64>,
) {
    if args.echo {
        println!(
            "requests      {total} in {elapsed:.1} s at concurrency {} (echo)",
            args.concurrency
        );
    } else {
        println!(
            "requests      {total} in {elapsed:.1} s at concurrency {} over {} agents",
            args.concurrency, args.agents
        );
    }
    println!("throughput    {:.0} requests/s", total as f64 / elapsed);
    println!(
        "latency       p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0
    );
    for (k, v) in counts {
        println!("outcome       {k:<14} {v}");
    }
}

/// Success when every request came back as it was sent.
fn report_echo(args: &BenchArgs, load: &Load) -> ExitCode {
    let total: u64 = load.counts.values().sum();
    if args.json {
        println!("{:#}", summary(args, load));
    } else {
        print_summary(args, total, load.elapsed, &load.hist, &load.counts);
    }
    if load.counts.keys().all(|k| k == "echoed") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

//! SDK benchmark: governed `email.send` requests per second through the
//! async client (one at a time, then many in flight), and the SSE parser's
//! throughput over a large stream built in memory.
//!
//! ```text
//! # against a running server (e.g. `target/release/upivia serve`):
//! cargo run --release -p upivia --example bench_sdk -- \
//!     --base-url http://127.0.0.1:3000 --pat upivia_pat_... [--json]
//! # or with a server started in this process on a temp dir:
//! cargo run --release -p upivia --example bench_sdk
//! ```
//!
//! Flags: `--sequential N` (default 3000), `--concurrent N` (default
//! 20000), `--concurrency C` (default 32), `--sse-mib M` (default 64),
//! `--sse-only` (the SSE parser alone, no server).
//! Setup (credits, an agent with `email` enabled) goes through the same
//! SDK with the owner's PAT. Every request must come back `executed`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use upivia::models::{CreateServiceRequest, ServiceRequestOutcome};
use upivia::sse::SseParser;
use upivia::{AuthMode, Client, HttpMethod, RequestSpec};

struct Options {
    base_url: Option<String>,
    pat: Option<String>,
    sequential: usize,
    concurrent: usize,
    concurrency: usize,
    sse_mib: usize,
    sse_only: bool,
    json: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        base_url: std::env::var("UPIVIA_BASE_URL").ok(),
        pat: std::env::var("UPIVIA_PAT").ok(),
        sequential: 3_000,
        concurrent: 20_000,
        concurrency: 32,
        sse_mib: 64,
        sse_only: false,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--base-url" => o.base_url = Some(value()?),
            "--pat" => o.pat = Some(value()?),
            "--sequential" => o.sequential = number(value()?)?,
            "--concurrent" => o.concurrent = number(value()?)?,
            "--concurrency" => o.concurrency = number(value()?)?.max(1),
            "--sse-mib" => o.sse_mib = number(value()?)?.max(1),
            "--json" => o.json = true,
            "--sse-only" => o.sse_only = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

/// A server in this process, on its own runtime thread, for runs without
/// `--base-url`. Returns its URL and owner PAT; the temp dir is leaked on
/// purpose (the process ends right after the run).
fn start_server() -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let data = dir.join("data");
    let (tx, rx) = std::sync::mpsc::channel();
    let data_for_server = data.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let config = upivia_server::config::Config::new(addr, data_for_server);
            let prepared = upivia_server::prepare(config, addr)
                .await
                .expect("server prepares");
            tx.send(addr).expect("bench waiting");
            let never = tokio_util::sync::CancellationToken::new();
            upivia_server::serve(prepared, listener, never)
                .await
                .expect("server runs");
        });
    });
    let addr = rx.recv().expect("server started");
    let creds: Value = serde_json::from_slice(
        &std::fs::read(data.join("initial-credentials.json")).expect("credentials"),
    )
    .expect("credentials JSON");
    (
        format!("http://{addr}"),
        creds["pat"].as_str().expect("pat").to_owned(),
    )
}

/// Credits the org and creates an agent with `email` enabled; returns a
/// client with the agent's key.
async fn setup(base_url: &str, pat: &str) -> Result<Client, Box<dyn std::error::Error>> {
    let owner = Client::builder().base_url(base_url).pat(pat).build()?;
    owner
        .send_json(
            RequestSpec::new(
                HttpMethod::Post,
                "/api/v1/balance/credits",
                AuthMode::Workspace,
            )
            .json(&json!({"amount_cents": 100_000_000, "note": "sdk bench"}))?,
        )
        .await?;
    let created = owner
        .agents()
        .create(&json!({"name": "rust sdk bench"}))
        .await?;
    let id = created["agent"]["id"].as_str().unwrap_or_default();
    owner
        .agents()
        .enable_service(id, &json!({"service_id": "email"}))
        .await?;
    let key = created["api_key"].as_str().unwrap_or_default();
    Ok(Client::builder()
        .base_url(base_url)
        .api_key(key)
        .max_retries(0)
        .build()?)
}

fn email(n: usize) -> CreateServiceRequest {
    CreateServiceRequest::new(
        "email",
        "send",
        json!({"to": "bench@example.com", "subject": format!("bench {n}"), "body": "Benchmark message."}),
    )
}

/// Runs `n` requests with `in_flight` at once; returns (elapsed, latencies,
/// requests that did not come back `executed`).
async fn drive(client: &Client, n: usize, in_flight: usize) -> (Duration, Vec<Duration>, usize) {
    let start = Instant::now();
    let results: Vec<(Duration, bool)> = futures::stream::iter(0..n)
        .map(|i| async move {
            let t = Instant::now();
            let ok = matches!(
                client.service_requests().create(email(i)).await,
                Ok(ServiceRequestOutcome::Executed(_))
            );
            (t.elapsed(), ok)
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let failed = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort_unstable();
    (elapsed, latencies, failed)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Chat turns shaped like the recorded stream in the SSE tests (model,
/// status, many `message_delta` chunks with `delta` and `content`, a tool
/// call split over two `data:` lines, keep-alives, CRLF and non-ASCII text,
/// `done`), repeated to at least `bytes` bytes. Returns the stream and its
/// number of frames.
fn sse_stream(bytes: usize) -> (Vec<u8>, usize) {
    const WORDS: [&str; 8] = [
        "The ",
        "checkout service ",
        "is failing",
        " for 5 minutes; ",
        "Grüße, ",
        "世界 🌍 ",
        "see the dashboard at https://status.example.com/checkout",
        ".\n\n",
    ];
    let mut out = Vec::with_capacity(bytes + 8192);
    let mut frames = 0usize;
    let mut turn = 0usize;
    while out.len() < bytes {
        out.extend_from_slice(b": keep-alive\r\n");
        out.extend_from_slice(b"event: model\r\ndata: {\"id\": \"openai/gpt-4.1-mini\", \"model\": \"openai/gpt-4.1-mini\"}\r\n\r\n");
        out.extend_from_slice(
            b"event: status\ndata: {\"step\": \"Planning\", \"message\": \"Planning\"}\n\n",
        );
        frames += 2;
        for i in 0..60 {
            let text = serde_json::to_string(WORDS[(turn + i) % WORDS.len()]).unwrap_or_default();
            out.extend_from_slice(
                format!(
                    "event: message_delta\ndata: {{\"delta\": {text}, \"content\": {text}}}\n\n"
                )
                .as_bytes(),
            );
            frames += 1;
            if i % 20 == 19 {
                out.extend_from_slice(b": ping\n\n");
            }
        }
        out.extend_from_slice(
            format!(
                "id: {turn}\nevent: tool_planned\ndata: {{\"tool\": \"email_send\", \"approval_id\": \"appr_{turn}\",\n\
                 data: \"arguments\": {{\"to\": \"ops@example.com\", \"subject\": \"Checkout down\"}}}}\n\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(b"event: done\ndata: {\"ok\": true, \"balance_cents\": 120}\n\n");
        frames += 2;
        turn += 1;
    }
    (out, frames)
}

/// Best of five passes over `stream` fed in `chunk`-byte pieces, in MB/s
/// (10^6 bytes), with the number of frames seen: `decode` runs the SDK's
/// `feed` (framing plus JSON decoding into events), otherwise framing only
/// (`feed_frames`).
fn sse_throughput(stream: &[u8], chunk: usize, decode: bool) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut frames = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut parser = SseParser::new();
        let mut count = 0usize;
        let mut data_bytes = 0usize;
        for piece in stream.chunks(chunk) {
            if decode {
                count += parser.feed(piece).len();
            } else {
                parser.feed_frames(piece, |frame| {
                    count += 1;
                    data_bytes += frame.data.len();
                });
            }
        }
        count += parser.finish().len();
        best = best.min(start.elapsed().as_secs_f64());
        std::hint::black_box(data_bytes);
        frames = count;
    }
    (stream.len() as f64 / best / 1e6, frames)
}

/// The SSE parser over a stream of `--sse-mib` MiB: decoding in 16 KiB and
/// 1 KiB chunks, and framing alone; fails when a pass miscounts frames.
fn sse_report(o: &Options) -> Result<Value, Box<dyn std::error::Error>> {
    let (stream, frames) = sse_stream(o.sse_mib * 1024 * 1024);
    let (sse_mbps, events) = sse_throughput(&stream, 16 * 1024, true);
    let (sse_small_mbps, small_events) = sse_throughput(&stream, 1024, true);
    let (framing_mbps, framed) = sse_throughput(&stream, 16 * 1024, false);
    for seen in [events, small_events, framed] {
        if seen != frames {
            return Err(
                format!("the SSE parser produced {seen} events for {frames} frames").into(),
            );
        }
    }

    Ok(
        json!({"bytes": stream.len(), "events": events, "decode_mb_per_s_16k_chunks": sse_mbps,
        "decode_mb_per_s_1k_chunks": sse_small_mbps, "framing_mb_per_s_16k_chunks": framing_mbps}),
    )
}

fn print_sse(o: &Options, sse: &Value) {
    let number = |key: &str| sse[key].as_f64().unwrap_or(0.0);
    println!(
        "  SSE decode : {:>9.1} MB/s   ({} MiB, {} events into ChatStreamEvent, 16 KiB chunks; {:.1} MB/s with 1 KiB chunks)",
        number("decode_mb_per_s_16k_chunks"),
        o.sse_mib,
        sse["events"],
        number("decode_mb_per_s_1k_chunks")
    );
    println!(
        "  SSE framing: {:>9.1} MB/s   (feed_frames, data left undecoded, 16 KiB chunks)",
        number("framing_mb_per_s_16k_chunks")
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    if o.sse_only {
        let sse = sse_report(&o)?;
        if o.json {
            println!("{}", json!({"sdk": "rust", "sse": sse}));
        } else {
            print_sse(&o, &sse);
        }
        return Ok(());
    }
    let (base_url, pat) = match (o.base_url.clone(), o.pat.clone()) {
        (Some(url), Some(pat)) => (url, pat),
        (None, _) => start_server(),
        (Some(_), None) => return Err("--base-url needs --pat (or UPIVIA_PAT)".into()),
    };
    let client = setup(&base_url, &pat).await?;

    // Warm-up: connections, the server's caches and SQLite pages.
    drive(&client, 200, o.concurrency).await;

    let (seq_time, seq_lat, seq_failed) = drive(&client, o.sequential, 1).await;
    let (con_time, _, con_failed) = drive(&client, o.concurrent, o.concurrency).await;
    let seq_rps = o.sequential as f64 / seq_time.as_secs_f64();
    let con_rps = o.concurrent as f64 / con_time.as_secs_f64();

    let sse = sse_report(&o)?;

    let report = json!({
        "sdk": "rust",
        "base_url": base_url,
        "sequential": {"requests": o.sequential, "seconds": seq_time.as_secs_f64(), "rps": seq_rps,
            "p50_ms": percentile(&seq_lat, 0.5), "p99_ms": percentile(&seq_lat, 0.99), "not_executed": seq_failed},
        "concurrent": {"requests": o.concurrent, "in_flight": o.concurrency, "seconds": con_time.as_secs_f64(),
            "rps": con_rps, "not_executed": con_failed},
        "sse": sse,
    });
    if o.json {
        println!("{report}");
    } else {
        println!("Rust SDK against {base_url}");
        println!(
            "  sequential : {:>9.1} req/s  ({} requests, p50 {:.2} ms, p99 {:.2} ms)",
            seq_rps,
            o.sequential,
            percentile(&seq_lat, 0.5),
            percentile(&seq_lat, 0.99)
        );
        println!(
            "  concurrent : {:>9.1} req/s  ({} requests, {} in flight)",
            con_rps, o.concurrent, o.concurrency
        );
        print_sse(&o, &sse);
    }
    if seq_failed + con_failed > 0 {
        return Err(format!("{} requests were not executed", seq_failed + con_failed).into());
    }
    Ok(())
}

//! Content against a real `upivia serve` process: a 100 MB upload and its
//! download stream through with the server's resident memory bounded, and
//! a document whose ingestion is cut off by `kill -9` is ingested after
//! the restart, once.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod support;
use support::{Server, call, free_port};

/// The upload limit, exactly.
const HUNDRED_MB: u64 = 100 * 1000 * 1000;
const CHUNK: usize = 1 << 20;
/// What the server may grow by while a 100 MB body passes through it:
/// its multipart parts and in-flight writes, not the body.
const RSS_GROWTH_LIMIT: u64 = 48 * 1024 * 1024;

fn serve(data: &std::path::Path, port: u16, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upivia"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data)
    .args(["--worker-interval-ms", "100"])
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// Resident and peak-resident bytes of `pid`, from `/proc`.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples the resident size of `pid` every 10 ms until `stop`; the largest.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut max = 0;
        while !stop.load(Ordering::Relaxed) {
            max = max.max(memory(pid).0);
            std::thread::sleep(Duration::from_millis(10));
        }
        max
    })
}

/// Block `index` of the test file: varied enough that nothing compresses it.
fn block(index: u64, len: usize) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// `size` bytes as a stream of 1 MiB blocks, generated as they are sent.
fn body_stream(size: u64) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let blocks = size.div_ceil(CHUNK as u64);
    futures::stream::iter(0..blocks).map(move |i| {
        let len = (size - i * CHUNK as u64).min(CHUNK as u64) as usize;
        Ok(block(i, len))
    })
}

fn sha256_of(size: u64) -> String {
    let mut h = Sha256::new();
    for i in 0..size.div_ceil(CHUNK as u64) {
        h.update(block(
            i,
            (size - i * CHUNK as u64).min(CHUNK as u64) as usize,
        ));
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn upload(http: &reqwest::Client, base: &str, pat: &str, size: u64) -> (u16, Value) {
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(body_stream(size)), size)
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/storage/objects"))
        .bearer_auth(pat)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_and_its_download_stream_through_bounded_server_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = support::healthy(serve(&data, port, &[]).spawn().unwrap(), port).await;
    let pid = server.child.id();
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();

    // A small upload first, so that what one upload allocates once (the
    // object store, the pools) is in the baseline.
    let (status, body) = upload(&http, &server.base, &pat, 64 * 1024).await;
    assert_eq!(status, 200, "{body}");
    let (baseline, _) = memory(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(pid, stop.clone());
    let started = Instant::now();
    let (status, body) = upload(&http, &server.base, &pat, HUNDRED_MB).await;
    let upload_took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let upload_peak = sampler.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let object = &body["object"];
    assert_eq!(object["status"], "live");
    assert_eq!(object["size_bytes"], HUNDRED_MB);
    assert_eq!(object["sha256"], sha256_of(HUNDRED_MB).as_str());
    let (_, hwm) = memory(pid);
    eprintln!(
        "100 MB upload in {upload_took:?}: baseline RSS {} MiB, sampled peak {} MiB, \
         VmHWM {} MiB",
        baseline >> 20,
        upload_peak >> 20,
        hwm >> 20
    );
    assert!(
        upload_peak.saturating_sub(baseline) < RSS_GROWTH_LIMIT
            && hwm.saturating_sub(baseline) < RSS_GROWTH_LIMIT,
        "server memory grew with the body: baseline {baseline}, peak {upload_peak}, hwm {hwm}"
    );

    // One byte over the limit is refused, and the refusal holds no more.
    // Measured from where the server stands now: the allocator may still
    // hold pages the upload freed (more of them on S3, whose parts are
    // buffers of their own), which is not memory the refusal took.
    let (before_refusal, _) = memory(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(pid, stop.clone());
    let (status, body) = upload(&http, &server.base, &pat, HUNDRED_MB + 1).await;
    stop.store(true, Ordering::Relaxed);
    let refusal_peak = sampler.join().unwrap();
    assert_eq!(status, 413, "{body}");
    assert!(
        refusal_peak.saturating_sub(before_refusal) < RSS_GROWTH_LIMIT,
        "refusing an oversized body grew the server to {refusal_peak} from {before_refusal}"
    );

    // The download streams out the same bytes.
    let id = object["id"].as_str().unwrap();
    // The download answers 302 with the link in its body too; read it.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, link) = call(
        &no_redirect,
        Method::GET,
        format!("{}/api/v1/storage/objects/{id}/download", server.base),
        &pat,
        None,
    )
    .await;
    assert!(status == 200 || status == 302, "{status} {link}");
    let url = link["url"].as_str().unwrap();
    let url = if url.starts_with('/') {
        format!("{}{url}", server.base)
    } else {
        url.to_owned()
    };
    // Measured from where the server stands, for the reason given above.
    let (before_download, _) = memory(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(pid, stop.clone());
    let r = http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut bytes = r.bytes_stream();
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    stop.store(true, Ordering::Relaxed);
    let download_peak = sampler.join().unwrap();
    assert_eq!(n, HUNDRED_MB);
    assert_eq!(hex(&h.finalize()), object["sha256"].as_str().unwrap());
    eprintln!(
        "100 MB download: RSS before {} MiB, sampled peak {} MiB",
        before_download >> 20,
        download_peak >> 20
    );
    assert!(
        download_peak.saturating_sub(before_download) < RSS_GROWTH_LIMIT,
        "serving the download grew the server to {download_peak} from {before_download}"
    );
}

/// An OpenAI-compatible embeddings endpoint that holds its first request
/// until the process that sent it is gone, then answers every other.
#[derive(Clone, Default)]
struct HangingEmbeddings {
    hang: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
}

impl HangingEmbeddings {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let me = self.clone();
        let app = axum::Router::new().route(
            "/v1/embeddings",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let me = me.clone();
                async move {
                    me.received.fetch_add(1, Ordering::SeqCst);
                    if me.hang.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let inputs = body["input"].as_array().cloned().unwrap_or_default();
                    let data: Vec<Value> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, text)| {
                            let len = text.as_str().map_or(0, str::len) as f64;
                            json!({"index": i, "embedding": [1.0, len, 0.5]})
                        })
                        .collect();
                    axum::Json(json!({"object": "list", "model": "fake", "data": data}))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }
}

async fn document(http: &reqwest::Client, base: &str, pat: &str, col: &str, doc: &str) -> Value {
    let (status, body) = call(
        http,
        Method::GET,
        format!("{base}/api/v1/knowledge/collections/{col}/documents/{doc}"),
        pat,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["document"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_cut_off_mid_ingestion_by_kill_nine_is_ready_after_the_restart() {
    let fake = HangingEmbeddings::default();
    fake.hang.store(true, Ordering::SeqCst);
    let embeddings = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let args = [
        "--embeddings-base-url",
        embeddings.as_str(),
        "--embeddings-model",
        "fake",
        "--provider-timeout-ms",
        "120000",
    ];
    let mut server = support::healthy(serve(&data, port, &args).spawn().unwrap(), port).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let base = server.base.clone();

    let (status, body) = call(
        &http,
        Method::POST,
        format!("{base}/api/v1/knowledge/collections"),
        &pat,
        Some(json!({"name": "runbooks"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let col = body["collection"]["id"].as_str().unwrap().to_owned();
    let text = "Failover runbook\n\nWhen the primary billing database stops answering, \
                promote the replica in the other zone.";
    let form = Form::new().part(
        "file",
        Part::bytes(text.as_bytes().to_vec())
            .file_name("failover.md")
            .mime_str("text/markdown")
            .unwrap(),
    );
    let r = http
        .post(format!(
            "{base}/api/v1/knowledge/collections/{col}/documents"
        ))
        .bearer_auth(&pat)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let doc = body["document"]["id"].as_str().unwrap().to_owned();

    // Cut off while the worker waits for the vectors.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.received.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "ingestion never asked for vectors"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = document(&http, &base, &pat, &col, &doc).await;
    assert_eq!(d["status"], "processing", "{d}");
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let _ = server.child.wait();
    drop(server);

    fake.hang.store(false, Ordering::SeqCst);
    let server: Server = support::healthy(serve(&data, port, &args).spawn().unwrap(), port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let d = loop {
        let d = document(&http, &base, &pat, &col, &doc).await;
        if d["status"] == "ready" || d["status"] == "failed" {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "never ingested after restart: {d}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(d["embedded"], true, "{d}");
    assert_eq!(d["chunk_count"], 1, "chunks written once: {d}");

    // The agent finds it, with vectors, and sees one copy of the chunk.
    let (_, key) = support::funded_agent(&http, &base, &pat, 1_000, "reader", &["knowledge"]).await;
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{base}/api/v1/service-requests"),
        &key,
        Some(json!({"service": "knowledge", "operation": "search",
                    "payload": {"collection_id": col, "query": "billing database failover", "top_k": 5}})),
    )
    .await;
    assert!(status < 300, "{body}");
    assert_eq!(body["status"], "executed", "{body}");
    let results = body["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{body}");
    assert_eq!(results[0]["document_id"], doc.as_str());
    assert_eq!(body["result"]["semantic"], true, "{body}");
    drop(server);
}

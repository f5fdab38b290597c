//! Connection limits: sockets that send nothing, send headers a byte at a
//! time or sit idle after a response are closed after the header-read
//! timeout while `/healthz` keeps answering; past the cap (global or per
//! address) a connection gets the JSON envelope; an address that keeps
//! failing authentication is throttled.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::TestServer;

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A connection from `from` (any 127.0.0.0/8 address is this machine's).
async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.expect("connects")
}

/// As [`connect_from`], with a moment before the server can have accepted.
async fn connect_timed(from: IpAddr, to: SocketAddr) -> (TcpStream, Instant) {
    let before = Instant::now();
    (connect_from(from, to).await, before)
}

fn server_addr(s: &TestServer) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().unwrap()
}

/// A client whose every request opens a new connection from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Waits until the server closes `stream` (EOF or reset) and returns when.
async fn closed_at(stream: &mut TcpStream, give_up: Duration) -> Option<Instant> {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + give_up;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(Instant::now()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads one response with a Content-Length body off `stream`.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("response");
        assert!(n > 0, "closed before a response");
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Connects and sends nothing.
    Silent,
    /// Sends a request line, then a header byte every 250 ms, never done.
    Slowloris,
    /// Sends one request, reads the answer, then sits on the connection.
    IdleKeepAlive,
}

/// Holds one socket of `kind` until the server closes it; returns how long
/// after a moment no later than when the server started waiting for a
/// request that was.
async fn hold(
    mut stream: TcpStream,
    connected: Instant,
    kind: Kind,
    give_up: Duration,
) -> Option<Duration> {
    let waiting_since = match kind {
        Kind::Silent => connected,
        Kind::Slowloris => {
            let since = connected;
            stream
                .write_all(b"GET /api/v1/healthz HTTP/1.1\r\nX-Slow: ")
                .await
                .unwrap();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut buf = [0u8; 64];
            let deadline = tokio::time::Instant::now() + give_up;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if stream.write_all(b"a").await.is_err() {
                            return Some(since.elapsed());
                        }
                    }
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return Some(since.elapsed()),
                        Ok(_) => {}
                    },
                    () = tokio::time::sleep_until(deadline) => return None,
                }
            }
        }
        Kind::IdleKeepAlive => {
            // The server starts waiting once it has answered, after this.
            let sent = Instant::now();
            stream
                .write_all(b"GET /api/v1/healthz HTTP/1.1\r\nHost: upivia\r\n\r\n")
                .await
                .unwrap();
            let answer = read_response(&mut stream).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            sent
        }
    };
    closed_at(&mut stream, give_up)
        .await
        .map(|at| at - waiting_since)
}

fn raise_open_file_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

fn summary(mut xs: Vec<Duration>) -> String {
    xs.sort();
    let ms = |d: Duration| d.as_millis();
    format!(
        "n={} min={}ms p50={}ms max={}ms",
        xs.len(),
        ms(xs[0]),
        ms(xs[xs.len() / 2]),
        ms(xs[xs.len() - 1])
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_idle_and_slowloris_sockets_are_closed_and_healthz_stays_fast() {
    // Each held socket costs two descriptors here: the server is in process.
    let limit = raise_open_file_limit();
    let per_kind = (limit.saturating_sub(1000) / 6).min(800) as usize;
    assert!(
        per_kind >= 200,
        "this test needs an open-file limit of at least 2200 (ulimit -n), has {limit}"
    );
    let timeout = Duration::from_secs(5);
    // Everything else stays at its default: 256 connections per address,
    // so the sockets come from 127.0.0.2 onwards, 200 each.
    let s = TestServer::start_with(|c| c.header_read_timeout = timeout).await;
    let addr = server_addr(&s);
    let kinds = [Kind::Silent, Kind::Slowloris, Kind::IdleKeepAlive];
    let total = per_kind * kinds.len();
    let opened = Instant::now();
    let mut holders = Vec::with_capacity(total);
    // In chunks, so the listen backlog is never what refuses them.
    for chunk in 0..total.div_ceil(100) {
        let from = loopback(2 + (chunk / 2) as u8);
        let n = 100.min(total - chunk * 100);
        let streams = join_all((0..n).map(|_| connect_timed(from, addr))).await;
        for (i, (stream, connected)) in streams.into_iter().enumerate() {
            let kind = kinds[(chunk * 100 + i) % kinds.len()];
            holders.push(tokio::spawn(async move {
                (
                    kind,
                    hold(stream, connected, kind, Duration::from_secs(20)).await,
                )
            }));
        }
    }
    let connected = opened.elapsed();

    // While every socket is held: fresh connections to /healthz.
    let probe = client_from(loopback(1));
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let r = probe
            .get(format!("{}/api/v1/healthz", s.base))
            .send()
            .await
            .expect("healthz answers while sockets are held");
        assert_eq!(r.status(), StatusCode::OK);
        latencies.push(start.elapsed());
    }
    let probed_by = opened.elapsed();
    assert!(
        probed_by < timeout,
        "the probes ran after the server began closing sockets ({probed_by:?}); the figure would not show anything"
    );
    let healthz = summary(latencies.clone());
    latencies.sort();
    assert!(
        latencies[latencies.len() / 2] < Duration::from_millis(100)
            && latencies[latencies.len() - 1] < Duration::from_secs(1),
        "healthz slowed down with {total} sockets held: {healthz}"
    );

    let mut closed: [Vec<Duration>; 3] = Default::default();
    for holder in holders {
        let (kind, after) = holder.await.unwrap();
        let after = after.unwrap_or_else(|| panic!("a {kind:?} socket was still open after 20 s"));
        closed[kind as usize].push(after);
    }
    for (kind, times) in kinds.iter().zip(&closed) {
        // Never before the timeout, and not long after (a slowloris client
        // trickling bytes does not extend it).
        assert!(
            times
                .iter()
                .all(|t| *t >= timeout && *t < timeout + Duration::from_secs(3)),
            "{kind:?}: {}",
            summary(times.clone())
        );
    }
    println!(
        "held {total} sockets (connected in {connected:?}); /healthz while held: {healthz}; \
         closed after (timeout {timeout:?}): silent {}, slowloris {}, idle keep-alive {}",
        summary(closed[0].clone()),
        summary(closed[1].clone()),
        summary(closed[2].clone())
    );
    // And the server is at ease once they are gone.
    let r = probe
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_connection_past_the_cap_is_answered_503_until_held_sockets_time_out() {
    let timeout = Duration::from_secs(2);
    let s = TestServer::start_with(|c| {
        c.max_connections = 16;
        c.max_connections_per_ip = None;
        c.header_read_timeout = timeout;
    })
    .await;
    let addr = server_addr(&s);
    let held = join_all((0..16).map(|_| connect_from(loopback(1), addr))).await;
    let started = Instant::now();
    let probe = client_from(loopback(1));
    let r = probe
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .expect("refused with an answer, not a reset");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["connection"], "close");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // The held sockets are still open on this side; the server closes them
    // after the timeout and serves again.
    let served = loop {
        if let Ok(r) = probe.get(format!("{}/api/v1/healthz", s.base)).send().await
            && r.status() == StatusCode::OK
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < timeout + Duration::from_secs(5),
            "never served again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(served >= timeout - Duration::from_millis(200), "{served:?}");
    drop(held);
}

#[tokio::test]
async fn an_address_over_its_connection_share_gets_429_while_others_are_served() {
    let s = TestServer::start_with(|c| c.max_connections_per_ip = Some(4)).await;
    let addr = server_addr(&s);
    let _held = join_all((0..4).map(|_| connect_from(loopback(2), addr))).await;
    let r = client_from(loopback(2))
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // A request with a body (unread by the refusal) gets the same answer,
    // not a reset.
    for _ in 0..20 {
        let r = client_from(loopback(2))
            .post(format!("{}/api/v1/service-requests", s.base))
            .bearer_auth("agent_key_test_x")
            .json(&serde_json::json!({"service": "email", "operation": "send", "payload": {"body": "x".repeat(32 * 1024)}}))
            .send()
            .await
            .expect("an answer, not a reset");
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let r = client_from(loopback(3))
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_that_keeps_failing_authentication_is_refused_before_credentials_are_checked() {
    let s = TestServer::start_with(|c| c.auth_failures_per_minute = Some(3)).await;
    let guesser = client_from(loopback(2));
    let balance = format!("{}/api/v1/balance", s.base);
    for _ in 0..3 {
        let r = guesser
            .get(&balance)
            .bearer_auth("upivia_pat_live_guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Its budget is spent: even a good credential waits, and so does a
    // login (no password hashing for it).
    let r = guesser
        .get(&balance)
        .bearer_auth(&s.pat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let r = guesser
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&serde_json::json!({"email": "owner@upivia.local", "password": s.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Health probes pass, and other addresses are not affected.
    let r = guesser
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client_from(loopback(3))
        .get(&balance)
        .bearer_auth(&s.pat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

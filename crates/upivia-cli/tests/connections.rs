//! The real binary under a small open-file limit: sockets that send
//! nothing exhaust its descriptors, the accept loop pauses instead of
//! spinning, and it serves again once the header-read timeout has closed
//! them, while the client still holds every one. And the metrics flags.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `upivia serve` under `ulimit -n <fds>` (soft and hard, so the
/// server cannot raise it), logging to `log`.
async fn start(dir: &Path, fds: u32, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_upivia"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .args(args)
        .envs(envs.iter().copied())
        .env("UPIVIA_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("server starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthy(&server.base).await {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// One `/healthz` on a fresh connection.
async fn healthy(base: &str) -> bool {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    matches!(http.get(format!("{base}/api/v1/healthz")).send().await, Ok(r) if r.status() == 200)
}

/// The process's CPU time so far (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which sits in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_sec: u64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    Duration::from_millis(ticks * 1000 / per_sec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_server_pauses_accepting_and_serves_again_without_the_clients_letting_go()
 {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(1000);
    let mut server = start(
        dir.path(),
        128,
        &[
            "--header-read-timeout-ms",
            "1000",
            // Caps above what 128 descriptors allow: accept itself fails.
            "--max-connections",
            "1000",
            "--max-connections-per-ip",
            "0",
        ],
        &[],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let log = dir.path().join("server.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("Too many open files")
    {
        assert!(
            Instant::now() < deadline,
            "the server never ran out of descriptors"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Out of descriptors, the loop sleeps between attempts.
    let pid = server.child.id();
    let (cpu0, wall0) = (cpu_time(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy = (cpu_time(pid) - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    assert!(busy < 0.5, "the accept loop spins: {busy:.2} of a core");
    // Every socket is still open on this side; the server closes its ends
    // after the timeout and gets to /healthz behind them.
    let started = Instant::now();
    while !healthy(&server.base).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "/healthz never answered while the sockets were held"
        );
    }
    println!(
        "with 300 silent sockets held against 128 descriptors: {busy:.2} of a core while out of \
         descriptors; /healthz answered after {:?} (header-read timeout {timeout:?})",
        started.elapsed()
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    drop(held);
}

#[tokio::test]
async fn metrics_flags_move_metrics_to_their_own_address_behind_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let token = "a-metrics-token-from-the-environment";
    let server = start(
        dir.path(),
        1024,
        &["--metrics-listen", &metrics_addr],
        &[("UPIVIA_METRICS_TOKEN", token)],
    )
    .await;
    let http = reqwest::Client::new();
    let on_api = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    let url = format!("http://{metrics_addr}/metrics");
    let without = http.get(&url).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let with = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(with.status(), 200);
    assert!(
        with.text()
            .await
            .unwrap()
            .contains("upivia_http_requests_total")
    );
    // The token never reaches the log.
    assert!(
        !std::fs::read_to_string(dir.path().join("server.log"))
            .unwrap()
            .contains(token)
    );
}

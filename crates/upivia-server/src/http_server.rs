//! The accept loop and its connection limits. `axum::serve` cannot set
//! hyper's header-read timeout or cap connections, so a client that opens
//! sockets and sends nothing could hold them all until the process ran
//! out of file descriptors. Here:
//!
//! - HTTP/1.1 only, with hyper's header-read timeout: it runs from the
//!   moment the server waits for a request (a new connection, or the end
//!   of the previous response on a kept-alive one), so a silent socket, a
//!   slowloris header and an idle keep-alive connection are all closed
//!   after it. (hyper-util's HTTP/2 sniffing waits for the first bytes with
//!   no timeout at all, and no client of this API speaks h2c.)
//! - A cap on open connections, and one per client address: one more is
//!   answered with the JSON envelope (503, or 429 for an address over its
//!   share) and closed; when even those answers pile up, it is closed
//!   unanswered.
//! - An accept error other than a reset (EMFILE, ENFILE, ENOBUFS) pauses
//!   the loop, doubling from 10 ms to 1 s, instead of retrying at once
//!   (the pending socket keeps the listener ready, so a retry spins).
//! - On shutdown the listener closes at once, idle connections are closed
//!   and in-flight requests finish. (hyper-util's `GracefulShutdown` does
//!   this for plain connections only; a connection that may upgrade to a
//!   WebSocket, `/ws`, is drained here by hand.)

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::{CONNECTION, HeaderValue, RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::api::error::ApiError;
use crate::config::Config;

/// Refusals answered at once; past this, a refused socket is closed
/// unanswered, so refusing never holds more than this many descriptors.
const REFUSALS_IN_FLIGHT: usize = 64;
/// Longest a refused connection is kept: reading its request, answering.
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// File descriptors the process needs besides connections: the database
/// and its pool, the refusals, the runtime.
pub const FD_RESERVE: u64 = 256;
/// Connections the separate metrics listener keeps open at once.
const METRICS_CONNECTIONS: usize = 64;

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// What one listener enforces.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: Option<usize>,
}

impl Limits {
    pub fn api(config: &Config) -> Limits {
        Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            max_connections_per_ip: config.max_connections_per_ip,
        }
    }

    /// A scraper needs a connection or two; the metrics listener gets a
    /// small cap of its own and no per-address share.
    pub fn metrics(config: &Config) -> Limits {
        Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: METRICS_CONNECTIONS.min(config.max_connections),
            max_connections_per_ip: None,
        }
    }
}

/// The key limits count a client by: its IPv4 address, or its IPv6 /64
/// (one host usually holds a whole /64, so counting single IPv6 addresses
/// would let it open 2^64 shares).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Connections the kernel queues while the accept loop catches up.
/// `TcpListener::bind` asks for 128, which a burst of clients overflows:
/// each connection dropped there waits a second for its SYN to be resent.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` for [`run`] with a [`LISTEN_BACKLOG`]-deep queue.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restart may bind while old sockets linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `shutdown` fires, then closes the
/// listener and waits for open connections to finish their requests.
pub async fn run(listener: TcpListener, app: Router, limits: Limits, shutdown: CancellationToken) {
    let admission = Admission::new(&limits);
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let mut serving = http1::Builder::new();
    serving
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let serving = Arc::new(serving);
    let mut refusing = http1::Builder::new();
    refusing
        .timer(TokioTimer::new())
        .keep_alive(false)
        .header_read_timeout(limits.header_read_timeout.min(REFUSAL_TIME));
    let refusing = Arc::new(refusing);
    // Fires when the listener closes: every connection then finishes its
    // request in flight and closes.
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut pause = FIRST_PAUSE;
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = FIRST_PAUSE;
                match admission.admit(peer.ip()) {
                    Ok(admitted) => spawn_connection(
                        stream,
                        peer,
                        app.clone(),
                        serving.clone(),
                        (&connections, &closing),
                        admitted,
                    ),
                    Err(refusal) => refuse(
                        stream,
                        refusal,
                        &refusals,
                        refusing.clone(),
                        (&connections, &closing),
                    ),
                }
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                metrics::counter!("upivia_http_accept_errors_total").increment(1);
                tracing::error!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed; pausing before the next accept");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<http1::Builder>,
    (connections, closing): (&TaskTracker, &CancellationToken),
    admitted: Admitted,
) {
    let closing = closing.clone();
    connections.spawn(async move {
        metrics::gauge!("upivia_http_connections_open").increment(1.0);
        let service = service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        // An upgraded connection (`/ws`) leaves hyper here and lives on in
        // the socket's own task, which watches the shutdown itself.
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(conn);
        let served = tokio::select! {
            served = conn.as_mut() => served,
            () = closing.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = served {
            // Timeouts and resets: the client's doing, not ours.
            tracing::debug!(error = %e, "connection closed with an error");
        }
        metrics::gauge!("upivia_http_connections_open").decrement(1.0);
        drop(admitted);
    });
}

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Capacity,
    PerAddress,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Capacity => "capacity",
            Refusal::PerAddress => "per_address",
        }
    }

    fn response(self) -> Response {
        let mut response = match self {
            Refusal::Capacity => {
                let mut r = ApiError::Unavailable(
                    "the server has too many connections open; retry shortly".into(),
                )
                .into_response();
                r.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            Refusal::PerAddress => ApiError::RateLimited {
                message: "too many connections open from this address; close some and retry".into(),
                retry_after: Duration::from_secs(1),
            }
            .into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        crate::api::hygiene_headers(headers);
        response
    }
}

fn refuse(
    stream: TcpStream,
    refusal: Refusal,
    refusals: &Arc<Semaphore>,
    builder: Arc<http1::Builder>,
    (connections, closing): (&TaskTracker, &CancellationToken),
) {
    metrics::counter!("upivia_http_connections_refused_total", "reason" => refusal.label())
        .increment(1);
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        // Answering costs a descriptor for up to REFUSAL_TIME; under a
        // flood, closing at once is the refusal.
        drop(stream);
        return;
    };
    let closing = closing.clone();
    connections.spawn(async move {
        let service = service_fn(move |_req: hyper::Request<Incoming>| async move {
            Ok::<_, Infallible>(refusal.response())
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let answered = async {
            tokio::select! {
                _ = conn.as_mut() => {}
                () = closing.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        };
        let _ = tokio::time::timeout(REFUSAL_TIME, answered).await;
        drop(permit);
    });
}

/// Open connections per client address.
type AddressCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Connection slots: one semaphore for the whole listener, a count per
/// client address.
struct Admission {
    slots: Arc<Semaphore>,
    per_address: Option<(usize, AddressCounts)>,
}

/// A connection's slots, given back when it closes.
struct Admitted {
    _slot: OwnedSemaphorePermit,
    _address: Option<AddressSlot>,
}

struct AddressSlot {
    key: IpAddr,
    counts: AddressCounts,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl Admission {
    fn new(limits: &Limits) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            per_address: limits
                .max_connections_per_ip
                .map(|cap| (cap, Arc::new(Mutex::new(HashMap::new())))),
        }
    }

    fn admit(&self, ip: IpAddr) -> Result<Admitted, Refusal> {
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Capacity)?;
        let address = match &self.per_address {
            None => None,
            Some((cap, counts)) => {
                let key = client_key(ip);
                let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
                let n = map.entry(key).or_insert(0);
                if *n >= *cap {
                    return Err(Refusal::PerAddress);
                }
                *n += 1;
                Some(AddressSlot {
                    key,
                    counts: counts.clone(),
                })
            }
        };
        Ok(Admitted {
            _slot: slot,
            _address: address,
        })
    }
}

/// Warns when the connection cap is above what the file-descriptor limit
/// allows: accept would then fail with EMFILE before the cap refuses.
pub fn check_descriptor_limit(limits: &Limits) {
    #[cfg(unix)]
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        let wanted = limits.max_connections as u64 + FD_RESERVE;
        if soft < wanted {
            tracing::warn!(
                soft_limit = soft,
                max_connections = limits.max_connections,
                "the open-file limit is below the connection cap plus {FD_RESERVE}; raise it (ulimit -n) or lower --max-connections"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = limits;
}

#[cfg(test)]
mod tests;

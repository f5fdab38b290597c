//! Local fakes of the upstreams real providers call, on 127.0.0.1:0: an
//! HTTP server that answers from a script and records every request (an
//! OpenAI-compatible API, streamed answers included; a webhook receiver),
//! and an SMTP sink that speaks
//! just enough SMTP for lettre (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT) and records each transaction.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One canned HTTP answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// When set, the body is these pieces, written one after the other.
    pub pieces: Vec<String>,
    /// After its pieces the body never ends (an upstream that stalls).
    pub stalls: bool,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Canned {
        Canned {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            pieces: Vec::new(),
            stalls: false,
        }
    }

    /// A streamed chat completion: each chunk a `data:` event written on
    /// its own, then `data: [DONE]`.
    pub fn sse(chunks: &[serde_json::Value]) -> Canned {
        let mut pieces: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        pieces.push("data: [DONE]\n\n".into());
        Canned {
            status: 200,
            headers: vec![("content-type", "text/event-stream".into())],
            body: String::new(),
            pieces,
            stalls: false,
        }
    }

    /// [`Canned::sse`] without its end: the chunks, then nothing, forever.
    pub fn sse_stalled(chunks: &[serde_json::Value]) -> Canned {
        let mut canned = Canned::sse(chunks);
        canned.pieces.pop();
        canned.stalls = true;
        canned
    }

    pub fn text(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![],
            body: body.into(),
            pieces: Vec::new(),
            stalls: false,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Canned {
        self.headers.push((name, value.into()));
        self
    }
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct HttpState {
    script: Mutex<VecDeque<Canned>>,
    last: Mutex<Option<Canned>>,
    hits: Mutex<Vec<Hit>>,
}

/// Answers requests with the scripted answers in order, then repeats the
/// last one.
#[derive(Clone)]
pub struct FakeHttp {
    pub addr: SocketAddr,
    state: Arc<HttpState>,
}

impl FakeHttp {
    pub async fn start(script: Vec<Canned>) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(HttpState {
            script: Mutex::new(script.into()),
            ..HttpState::default()
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeHttp { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    pub fn push(&self, canned: Canned) {
        self.state.script.lock().unwrap().push_back(canned);
    }
}

async fn answer(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    state.hits.lock().unwrap().push(Hit {
        method: parts.method,
        uri: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
        at: Instant::now(),
    });
    let canned = {
        let next = state.script.lock().unwrap().pop_front();
        let mut last = state.last.lock().unwrap();
        if let Some(next) = next {
            *last = Some(next);
        }
        last.clone().unwrap_or_else(|| Canned::text(200, "ok"))
    };
    let status = StatusCode::from_u16(canned.status).unwrap();
    let mut response = if canned.pieces.is_empty() {
        (status, canned.body).into_response()
    } else {
        let pieces = futures::stream::iter(canned.pieces).then(|piece| async move {
            // Apart in time, so the client reads them as separate chunks.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            Ok::<_, std::convert::Infallible>(Bytes::from(piece))
        });
        let rest = if canned.stalls {
            futures::stream::pending().boxed()
        } else {
            futures::stream::empty().boxed()
        };
        (status, axum::body::Body::from_stream(pieces.chain(rest))).into_response()
    };
    for (name, value) in canned.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// A port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// One mail transaction the sink accepted (or refused at RCPT).
#[derive(Clone, Debug, Default)]
pub struct Mail {
    /// The `AUTH PLAIN` credentials, decoded: (user, password).
    pub auth: Option<(String, String)>,
    pub from: String,
    pub rcpt: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed.
    pub data: String,
}

/// How the sink answers `RCPT TO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RcptReply {
    Accept,
    /// 550: permanent.
    Reject,
    /// 451: transient.
    Defer,
}

struct SmtpState {
    rcpt: Mutex<RcptReply>,
    mails: Mutex<Vec<Mail>>,
    connections: Mutex<usize>,
}

#[derive(Clone)]
pub struct FakeSmtp {
    pub addr: SocketAddr,
    state: Arc<SmtpState>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(SmtpState {
            rcpt: Mutex::new(RcptReply::Accept),
            mails: Mutex::new(Vec::new()),
            connections: Mutex::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                *shared.connections.lock().unwrap() += 1;
                tokio::spawn(session(socket, shared.clone()));
            }
        });
        FakeSmtp { addr, state }
    }

    pub fn set_rcpt_reply(&self, reply: RcptReply) {
        *self.state.rcpt.lock().unwrap() = reply;
    }

    /// Transactions that reached DATA.
    pub fn mails(&self) -> Vec<Mail> {
        self.state.mails.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        *self.state.connections.lock().unwrap()
    }
}

async fn session(socket: tokio::net::TcpStream, state: Arc<SmtpState>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 fake.test ESMTP\r\n").await;
    let mut auth = None;
    let mut mail = Mail::default();
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME".into()
        } else if let Some(encoded) = upper.strip_prefix("AUTH PLAIN ").map(|_| &line[11..]) {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap_or_default();
            let parts: Vec<String> = decoded
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            auth = parts
                .get(1)
                .zip(parts.get(2))
                .map(|(u, p)| (u.clone(), p.clone()));
            "235 2.7.0 authenticated".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                auth: auth.clone(),
                from: address(&line),
                ..Mail::default()
            };
            "250 2.1.0 ok".into()
        } else if upper.starts_with("RCPT TO:") {
            match *state.rcpt.lock().unwrap() {
                RcptReply::Accept => {
                    mail.rcpt.push(address(&line));
                    "250 2.1.5 ok".into()
                }
                RcptReply::Reject => "550 5.1.1 no such user here".into(),
                RcptReply::Defer => "451 4.3.0 try again later".into(),
            }
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            mail.data = data;
            state.mails.lock().unwrap().push(std::mem::take(&mut mail));
            "250 2.0.0 queued".into()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 ok".into()
        } else {
            "502 not implemented".into()
        };
        if write
            .write_all(format!("{reply}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.find('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

/// An OpenAI-compatible embeddings endpoint for tests: a deterministic
/// vector per text, from its words cut to five letters and hashed into 256
/// dimensions (so texts sharing word stems are close). A fake, standing in
/// for a real model's endpoint; `requests()` counts what it answered.
pub struct FakeEmbeddings {
    pub base_url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeEmbeddings {
    pub async fn start() -> FakeEmbeddings {
        use axum::routing::post;
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        let app = axum::Router::new().route(
            "/v1/embeddings",
            post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let inputs: Vec<String> = body["input"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    let data: Vec<serde_json::Value> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, t)| serde_json::json!({"index": i, "embedding": fake_vector(t)}))
                        .collect();
                    axum::Json(serde_json::json!({"object": "list", "data": data}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeEmbeddings {
            base_url: format!("http://{addr}/v1"),
            requests,
        }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn fake_vector(text: &str) -> Vec<f32> {
    use std::hash::{Hash, Hasher};
    let mut v = vec![0f32; 256];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let stem: String = word.to_lowercase().chars().take(5).collect();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        stem.hash(&mut h);
        v[(h.finish() % 256) as usize] += 1.0;
    }
    v
}

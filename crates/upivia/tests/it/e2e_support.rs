//! End-to-end harness: the real `upivia-server` on 127.0.0.1:0 with a
//! fresh temp data dir, driven only through the SDK.
//!
//! The server runs on its own thread and runtime, so the same harness
//! serves async tests and the blocking client (which must not be called
//! from inside a runtime). Its workers really run (every 50 ms) and the
//! sandbox completes voice calls after 200 ms, so `create_and_wait` sees a
//! real reconciliation.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use upivia::models::CreateServiceRequest;
use upivia::retry::RetryPolicy;
use upivia::{AuthMode, Client, HttpMethod, RequestSpec};
use upivia_server::config::Config;

/// A running server, stopped when dropped.
pub struct Server {
    pub base_url: String,
    /// The owner's personal access token, from `initial-credentials.json`.
    pub pat: String,
    credentials: Value,
    shutdown: CancellationToken,
    _dir: TempDir,
}

/// An agent created through the SDK: its id, key and a client with that key.
pub struct Agent {
    pub id: String,
    pub key: String,
    pub client: Client,
}

/// Retries with millisecond backoff, so a retried 5xx costs no seconds.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::new(2).with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(|_| {})
    }

    /// Starts a server after `configure` has adjusted its config.
    pub fn start_with(configure: impl FnOnce(&mut Config) + Send + 'static) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let token = shutdown.clone();
        let data_for_server = data.clone();
        std::thread::Builder::new()
            .name("upivia-e2e-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1:0");
                    let addr = listener.local_addr().expect("local addr");
                    let mut config = Config::new(addr, data_for_server);
                    config.voice_call_delay = Duration::from_millis(200);
                    config.worker_interval = Duration::from_millis(50);
                    config.provider_timeout = Duration::from_secs(5);
                    configure(&mut config);
                    let prepared = upivia_server::prepare(config, addr)
                        .await
                        .expect("server prepares");
                    // The listener already accepts: no wait is needed after this.
                    ready_tx.send(addr).expect("test still waiting");
                    upivia_server::serve(prepared, listener, token)
                        .await
                        .expect("server runs");
                });
            })
            .expect("server thread");
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start");
        let creds: Value = serde_json::from_slice(
            &std::fs::read(data.join("initial-credentials.json")).expect("credentials file"),
        )
        .expect("credentials are JSON");
        Server {
            base_url: format!("http://{addr}"),
            pat: creds["pat"].as_str().expect("pat").to_owned(),
            credentials: creds,
            shutdown,
            _dir: dir,
        }
    }

    /// The owner's first-start credentials (`email`, `password`, `pat`).
    pub fn credentials(&self) -> &Value {
        &self.credentials
    }

    /// A client with the owner's PAT only.
    pub fn owner(&self) -> Client {
        Client::builder()
            .base_url(&self.base_url)
            .pat(&self.pat)
            .retry_policy(quick_retries())
            .build()
            .expect("owner client")
    }

    /// A client with this agent key only.
    pub fn agent_client(&self, key: &str) -> Client {
        Client::builder()
            .base_url(&self.base_url)
            .api_key(key)
            .retry_policy(quick_retries())
            .build()
            .expect("agent client")
    }

    /// A client with no credential at all.
    pub fn anonymous(&self) -> Client {
        Client::builder()
            .base_url(&self.base_url)
            .retry_policy(quick_retries())
            .build()
            .expect("anonymous client")
    }

    /// Funds the organisation (`POST /balance/credits`, owner only), sent
    /// through the SDK's raw request path.
    pub async fn credit(&self, cents: i64) -> Value {
        self.owner()
            .send_json(credit_spec(cents))
            .await
            .expect("credit")
    }

    /// Creates an agent and binds `service` to it with `settings` (merged
    /// into `{"service_id": service}`).
    pub async fn agent_with(&self, service: &str, settings: Value) -> Agent {
        let owner = self.owner();
        let created = owner
            .agents()
            .create(&json!({"name": format!("{service} agent")}))
            .await
            .expect("agent created");
        let agent = agent_from(self, &created);
        owner
            .agents()
            .enable_service(&agent.id, &binding(service, settings))
            .await
            .expect("service enabled");
        agent
    }

    /// Credits `cents`, then an agent with `service` enabled without limits.
    pub async fn funded_agent(&self, service: &str, cents: i64) -> Agent {
        self.credit(cents).await;
        self.agent_with(service, json!({})).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn credit_spec(cents: i64) -> RequestSpec {
    RequestSpec::new(
        HttpMethod::Post,
        "/api/v1/balance/credits",
        AuthMode::Workspace,
    )
    .json(&json!({"amount_cents": cents, "note": "e2e"}))
    .expect("credit body")
}

pub fn binding(service: &str, settings: Value) -> Value {
    let mut body = json!({"service_id": service});
    if let (Value::Object(body), Value::Object(settings)) = (&mut body, settings) {
        body.extend(settings);
    }
    body
}

/// The agent in a create (or reset-key) reply.
pub fn agent_from(server: &Server, created: &Value) -> Agent {
    let id = created["agent"]["id"]
        .as_str()
        .expect("agent.id")
        .to_owned();
    let key = created["api_key"].as_str().expect("api_key").to_owned();
    Agent {
        client: server.agent_client(&key),
        id,
        key,
    }
}

/// A valid `email.send`.
pub fn email(subject: &str) -> CreateServiceRequest {
    CreateServiceRequest::new(
        "email",
        "send",
        json!({"to": "ops@example.com", "subject": subject, "body": "Sent by the e2e tests."}),
    )
}

/// A valid `voice_call.create` (the sandbox completes it after 200 ms).
pub fn voice_call() -> CreateServiceRequest {
    CreateServiceRequest::new(
        "voice_call",
        "create",
        json!({"to": "+15555550123", "from": "+15555550100", "say": "The pager fired."}),
    )
}

/// The eleven operations the reference SDK's tools fall back to.
pub const DEFAULT_OPERATIONS: [(&str, &str); 11] = [
    ("email", "send"),
    ("text_generation", "generate"),
    ("web_search", "search"),
    ("discord", "send_message"),
    ("reddit", "submit_post"),
    ("bluesky", "post"),
    ("x", "post"),
    ("mastodon", "post"),
    ("github", "create_issue"),
    ("notion", "create_page"),
    ("platform", "check_budget"),
];

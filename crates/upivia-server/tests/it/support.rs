//! The test harness: a real server on 127.0.0.1:0 with a temp data dir,
//! driven over HTTP. `TestServer` also hands out the platform so a test
//! can run a worker pass or move the clock, never to touch the store
//! (except to add a member or another organisation, which no API does
//! yet).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use upivia_server::audit::Sealer;
use upivia_server::auth;
use upivia_server::clock::OffsetClock;
use upivia_server::config::Config;
use upivia_server::domains::identity::service::{self as identity, NewOrg};
use upivia_server::model::Role;
use upivia_server::platform::Platform;
use upivia_server::store::NewMember;
use upivia_server::store::postgres::{self, testing::TestDatabase};
use upivia_server::workers::{self, WorkerHealth};

pub struct TestServer {
    pub base: String,
    pub pat: String,

    pub password: String,
    pub http: reqwest::Client,
    pub platform: Platform,
    pub clock: Arc<OffsetClock>,
    pub dir: TempDir,
    /// Signs audit checkpoints; tests seal by hand (`seal_audit`).
    pub sealer: Arc<Sealer>,
    shutdown: CancellationToken,
    served: Option<tokio::task::JoinHandle<Result<(), upivia_server::StartError>>>,
    /// The PostgreSQL database this server runs on, when the suite runs on
    /// PostgreSQL; dropped after the server. Only held, for its drop.
    #[allow(dead_code)]
    pub database: Option<TestDatabase>,
}

/// Which backend the suite runs on: `UPIVIA_TEST_BACKEND=postgres` runs
/// every test on a fresh PostgreSQL database (on the server named by
/// `UPIVIA_TEST_POSTGRES_URL`); anything else, SQLite in the temp dir.
pub fn on_postgres() -> bool {
    std::env::var("UPIVIA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Where a test server keeps stored objects' bytes: with
/// `UPIVIA_TEST_S3_URL` set (an `s3://bucket[/prefix]?endpoint=…` URL, as
/// `tests/s3/run.sh` sets it), in that bucket under a prefix of this
/// server's own (`<prefix>/test-<ulid>`), so that no test sees another's
/// blobs; otherwise `None`, the data dir's `objects` directory. Tests that
/// look at that directory itself (`data_at_rest`) need the default.
fn s3_storage_url() -> Option<String> {
    let raw = std::env::var("UPIVIA_TEST_S3_URL").ok()?;
    let mut url = url::Url::parse(&raw).expect("UPIVIA_TEST_S3_URL is a URL");
    assert_eq!(url.scheme(), "s3", "UPIVIA_TEST_S3_URL is an s3:// URL");
    let prefix = format!(
        "{}/test-{}",
        url.path().trim_end_matches('/'),
        ulid::Ulid::new().to_string().to_lowercase()
    );
    url.set_path(&prefix);
    Some(url.into())
}

/// A fresh PostgreSQL database for a test that needs one whatever the
/// suite's backend; `None` (the test is skipped) when no server is
/// configured outside CI.
pub async fn postgres_database() -> Option<TestDatabase> {
    let server = postgres::testing::server_url()?;
    Some(
        TestDatabase::create(&server)
            .await
            .expect("create a test database"),
    )
}

/// A response: status, headers and parsed JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = upivia_server::http_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::new(addr, dir.path().join("data"));
        config.provider_timeout = Duration::from_secs(2);
        config.voice_call_delay = Duration::from_millis(200);
        // Workers are ticked by hand in tests, so their loop stays idle.
        config.worker_interval = Duration::from_secs(3600);
        config.audit_checkpoint_interval = Duration::from_secs(3600);
        let database = if on_postgres() {
            let database = postgres_database()
                .await
                .expect("UPIVIA_TEST_BACKEND=postgres needs UPIVIA_TEST_POSTGRES_URL");
            config.database_url = Some(database.url().to_owned().into());
            Some(database)
        } else {
            None
        };
        config.storage_url = s3_storage_url();
        configure(&mut config);
        let clock = Arc::new(OffsetClock::default());
        let prepared = upivia_server::prepare_with_clock(config, addr, clock.clone())
            .await
            .expect("server prepares");
        let platform = prepared.platform.clone();
        let sealer = prepared.sealer.clone();
        let creds: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("data/initial-credentials.json")).unwrap(),
        )
        .unwrap();
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(upivia_server::serve(prepared, listener, shutdown.clone()));
        TestServer {
            base: format!("http://{addr}"),
            pat: creds["pat"].as_str().unwrap().to_owned(),

            password: creds["password"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
            platform,
            clock,
            dir,
            sealer,
            shutdown,
            served: Some(served),
            database,
        }
    }

    /// A clean stop, waited for: in-flight requests, workers, last seal.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(served) = self.served.take() {
            served.await.expect("serve task").expect("serve");
        }
    }

    /// How many blobs the storage backend holds, on disk or in S3.
    pub async fn blob_count(&self) -> usize {
        self.platform
            .storage
            .blobs
            .count()
            .await
            .expect("list blobs")
    }

    /// One sealing pass: signs the audit chain's head if it moved.
    pub async fn seal_audit(&self) {
        workers::seal_audit(&self.platform, &self.sealer).await;
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.path().join("data/audit-checkpoints.jsonl")
    }

    /// Starts a graceful shutdown, as Ctrl-C does in `upivia serve`.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data/upivia.db")
    }

    /// The first column of every row of `sql` as text, read from the
    /// database on whichever backend the server runs (SQL that both
    /// accept, without parameters): for tests of what is stored.
    pub async fn column(&self, sql: &'static str) -> Vec<String> {
        match &self.database {
            Some(database) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(database.url()).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            None => {
                let conn = rusqlite::Connection::open(self.db_path()).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
        }
    }

    /// A child of `parent` spawned with its key (`POST /agents/spawn`),
    /// with `services` (a subset of the parent's) and `budget_cents`
    /// carved out of the parent's month.
    pub async fn spawn_child(
        &self,
        parent: &TestAgent,
        name: &str,
        services: Value,
        budget_cents: i64,
    ) -> TestAgent {
        let r = self
            .post(
                "/api/v1/agents/spawn",
                &parent.key,
                json!({"name": name, "services": services, "budget_cents": budget_cents}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        TestAgent {
            id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
            key: r.body["api_key"].as_str().unwrap().to_owned(),
        }
    }

    /// One worker pass (reconciliation, expiry, heartbeat), deterministic.
    pub async fn tick_workers(&self) {
        workers::tick(&self.platform, &WorkerHealth::new(Duration::from_secs(1))).await;
    }

    /// One automation pass (cron triggers, scheduled tasks): how many
    /// ticks this pass dispatched.
    pub async fn tick_automation(&self) -> usize {
        workers::automation_tick(&self.platform).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Funds the organisation.
    pub async fn credit(&self, cents: i64) {
        let r = self
            .post(
                "/api/v1/balance/credits",
                &self.pat,
                json!({"amount_cents": cents, "note": "test"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    pub async fn balance(&self) -> i64 {
        let r = self.get("/api/v1/balance", &self.pat).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body["amount_cents"].as_i64().unwrap()
    }

    /// Creates an agent (extra fields merged into the body).
    pub async fn agent(&self, extra: Value) -> TestAgent {
        let mut body = json!({"name": "test agent"});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let r = self.post("/api/v1/agents", &self.pat, body).await;
        assert_eq!(r.status, 200, "{r:?}");
        TestAgent {
            id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
            key: r.body["api_key"].as_str().unwrap().to_owned(),
        }
    }

    /// Enables a service (or operations) for an agent with settings.
    pub async fn enable(&self, agent: &TestAgent, settings: Value) {
        let r = self
            .post(
                &format!("/api/v1/agents/{}/services", agent.id),
                &self.pat,
                settings,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// An agent with `service` enabled (no limits) and the org funded.
    pub async fn funded_agent(&self, service: &str, cents: i64) -> TestAgent {
        self.credit(cents).await;
        let agent = self.agent(json!({})).await;
        self.enable(&agent, json!({"service_id": service})).await;
        agent
    }

    pub async fn request(
        &self,
        agent: &TestAgent,
        service: &str,
        operation: &str,
        payload: Value,
    ) -> Reply {
        self.post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": service, "operation": operation, "payload": payload}),
        )
        .await
    }

    pub async fn request_with_key(&self, agent: &TestAgent, key: &str, body: Value) -> Reply {
        let req = self
            .http
            .post(format!("{}/api/v1/service-requests", self.base))
            .bearer_auth(&agent.key)
            .header("idempotency-key", key)
            .json(&body);
        reply(req.send().await.unwrap()).await
    }

    /// A PAT of a new user with `role` (admin or member) in the
    /// organisation: there is no members API yet, so this goes through the
    /// store function that API will use.
    pub async fn user_pat(&self, role: Role) -> String {
        let store = &self.platform.stores.identity;
        let org = store
            .primary_org()
            .await
            .unwrap()
            .expect("bootstrapped org");
        let now = self.platform.clock.now();
        let principal = store
            .add_member(NewMember {
                org_id: org.id,
                email: format!("{}-{}@example.com", role.as_str(), ulid::Ulid::new()),
                // Not a hash of anything: this user signs in by PAT only.
                password_hash: "!".into(),
                role,
                now,
                actor: "system".into(),
            })
            .await
            .unwrap();
        let pat = auth::new_pat();
        store
            .create_pat(&principal, "test", &auth::hash_token(&pat), now)
            .await
            .unwrap();
        pat
    }

    /// Another organisation, made by the function `upivia admin
    /// create-org` calls (no API creates one): its id and its owner's PAT.
    pub async fn other_org(&self, name: &str) -> OtherOrg {
        let created = identity::create_org(
            self.platform.stores.identity.as_ref(),
            NewOrg {
                name: name.into(),
                owner_email: format!("owner-{}@example.com", ulid::Ulid::new()),
            },
            self.platform.clock.now(),
        )
        .await
        .expect("another organisation");
        OtherOrg {
            id: created.org_id.as_str().to_owned(),
            pat: created.secrets.pat,
        }
    }

    /// An agent whose email binding needs approval, with one request
    /// parked for it, in an organisation funded with 100 cents: the agent,
    /// the approval id and the request id.
    pub async fn parked(&self) -> (TestAgent, String, String) {
        self.credit(100).await;
        let agent = self.agent(json!({})).await;
        self.enable(
            &agent,
            json!({"service_id": "email", "require_approval": true}),
        )
        .await;
        let r = self.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "approval_required", "{r:?}");
        let approval = r.body["approval_id"].as_str().unwrap().to_owned();
        let request = r.body["request_id"].as_str().unwrap().to_owned();
        (agent, approval, request)
    }

    pub async fn ledger_ok(&self) {
        let r = self.get("/api/v1/admin/ledger/check", &self.pat).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body["ok"], true,
            "ledger problems: {}",
            r.body["problems"]
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "non-JSON body ({status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Reply {
        status,
        headers,
        body,
    }
}

pub struct OtherOrg {
    pub id: String,
    pub pat: String,
}

pub struct TestAgent {
    pub id: String,
    pub key: String,
}

pub fn email() -> Value {
    json!({"to": "ops@example.com", "subject": "Hello", "body": "Testing."})
}

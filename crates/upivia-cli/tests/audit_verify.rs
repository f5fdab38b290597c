//! `upivia audit verify` over a data directory a real `upivia serve` wrote
//! and stopped cleanly (so its last checkpoint signs every entry), then
//! tampered with as someone with write access to the database, but not to
//! the audit key, would. Each test works on a copy of that directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use upivia_server::audit::{AuditSigningKey, Checkpoint, entry_hash};
use upivia_server::model::{AuditEntry, AuditEvent};
use upivia_server::money::Cents;

const BIN: &str = env!("CARGO_BIN_EXE_upivia");

fn upivia() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("UPIVIA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("UPIVIA_LOG", "warn");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The directory the server left, and the public key exported from it
/// (kept outside it, as an auditor would).
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    trusted_key: PathBuf,
    copy: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let copy = dir.path().join("elsewhere.jsonl");
    let port = free_port();
    let mut child = upivia()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        // Only the start and the clean stop sign: the test knows what is covered.
        .args(["--audit-checkpoint-interval-secs", "3600"])
        .arg("--audit-checkpoint-copy")
        .arg(&copy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("upivia serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http
            .get(format!("{base}/api/v1/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let creds: Value =
            serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
                .unwrap();
        let pat = creds["pat"].as_str().unwrap();
        let post = |path: String, token: String, body: Value| {
            let req = http
                .post(format!("{base}/api/v1{path}"))
                .bearer_auth(token)
                .json(&body);
            async move {
                let r = req.send().await.unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                r.json::<Value>().await.unwrap()
            }
        };
        let post =
            |path: &str, token: &str, body: Value| post(path.to_owned(), token.to_owned(), body);
        post("/balance/credits", pat, json!({"amount_cents": 1000})).await;
        let created = post("/agents", pat, json!({"name": "audited"})).await;
        let agent = created["agent"]["id"].as_str().unwrap();
        let key = created["api_key"].as_str().unwrap();
        post(
            &format!("/agents/{agent}/services"),
            pat,
            json!({"service_id": "email"}),
        )
        .await;
        for i in 0..8 {
            let body = json!({"service": "email", "operation": "send",
                "payload": {"to": "a@example.com", "subject": format!("n{i}"), "body": "x"}});
            post("/service-requests", key, body).await;
        }
    });
    // A clean stop (SIGTERM), which signs the last entries.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "upivia serve exited with {status}");

    let exported = upivia()
        .args(["audit", "public-key", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", stderr(&exported));
    let trusted_key = dir.path().join("trusted.pem");
    std::fs::write(&trusted_key, &exported.stdout).unwrap();
    Fixture {
        _dir: dir,
        data,
        trusted_key,
        copy,
    }
}

/// A copy of the data directory to tamper with.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        for file in std::fs::read_dir(&fixture().data).unwrap() {
            let file = file.unwrap();
            // The chain lives in regular files; the object store's folder is not part of it.
            if !file.file_type().unwrap().is_file() {
                continue;
            }
            std::fs::copy(file.path(), dir.path().join(file.file_name())).unwrap();
        }
        Case { dir }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> Connection {
        Connection::open(self.data().join("upivia.db")).unwrap()
    }

    fn checkpoints(&self) -> PathBuf {
        self.data().join("audit-checkpoints.jsonl")
    }

    /// `upivia audit verify --json`, with the data directory's keys.
    fn verify(&self) -> (i32, Value) {
        self.run_verify(&[])
    }

    /// The same with the exported public key and no secret.
    fn verify_public(&self) -> (i32, Value) {
        let key = fixture().trusted_key.to_str().unwrap().to_owned();
        self.run_verify(&["--public-key", &key])
    }

    fn run_verify(&self, extra: &[&str]) -> (i32, Value) {
        let out = upivia()
            .args(["audit", "verify", "--json", "--data-dir"])
            .arg(self.data())
            .args(extra)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("not JSON (exit {code}): {}{}", stdout(&out), stderr(&out)));
        (code, report)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn max_seq(conn: &Connection) -> i64 {
    conn.query_row("SELECT MAX(seq) FROM audit_log", [], |r| r.get(0))
        .unwrap()
}

/// An executed request's entry in the middle of the chain.
fn middle_seq(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT seq FROM audit_log WHERE event_type = 'service_request.executed' ORDER BY seq LIMIT 1 OFFSET 3",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn entry(conn: &Connection, seq: i64) -> AuditEntry {
    conn.query_row(
        "SELECT id, org_id, event_type, actor, agent_id, service, operation, status, request_id, \
         cost_cents, details, created_at, prev_hash, hash, mac FROM audit_log WHERE seq = ?1",
        [seq],
        |r| {
            let details: String = r.get(10)?;
            let created: String = r.get(11)?;
            Ok(AuditEntry {
                seq,
                id: r.get(0)?,
                event: AuditEvent {
                    org_id: r.get(1)?,
                    event_type: r.get(2)?,
                    actor: r.get(3)?,
                    agent_id: r.get(4)?,
                    service: r.get(5)?,
                    operation: r.get(6)?,
                    status: r.get(7)?,
                    request_id: r.get(8)?,
                    cost: r.get::<_, Option<i64>>(9)?.map(Cents::new),
                    details: serde_json::from_str(&details).unwrap(),
                },
                created_at: upivia_server::clock::parse_rfc3339(&created).unwrap(),
                prev_hash: r.get(12)?,
                hash: r.get(13)?,
                mac: r.get(14)?,
            })
        },
    )
    .unwrap()
}

/// Recomputes the plain SHA-256 chain from `seq` (inclusive) to `last`.
fn rehash(conn: &Connection, seq: i64, last: i64) {
    let mut prev: Option<String> = None;
    for s in seq..=last {
        let mut e = entry(conn, s);
        if let Some(p) = prev {
            e.prev_hash = p;
        }
        e.hash = entry_hash(&e);
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            params![e.prev_hash, e.hash, s],
        )
        .unwrap();
        prev = Some(e.hash);
    }
}

fn broken_at(report: &(i32, Value)) -> (i32, i64) {
    let (code, v) = report;
    assert_eq!(v["ok"], false, "{v}");
    (*code, v["first_break"]["seq"].as_i64().unwrap())
}

fn reason(report: &(i32, Value)) -> String {
    report.1["first_break"]["reason"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_intact_directory_verifies_with_its_keys_and_with_the_public_key_alone() {
    let case = Case::new();
    let (code, v) = case.verify();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["keyed"], true);
    assert_eq!(v["entries_checked"], max_seq(&case.db()));
    // The clean stop signed every entry.
    assert_eq!(v["last_checkpoint"]["seq"], max_seq(&case.db()));
    assert_eq!(v["unsigned_entries"], 0);
    assert!(v["checkpoints_checked"].as_i64().unwrap() >= 2, "{v}");

    // The public check needs no secret: take both keys away.
    std::fs::remove_file(case.data().join("audit.key")).unwrap();
    std::fs::remove_file(case.data().join("audit-signing.key")).unwrap();
    let (code, v) = case.verify_public();
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["keyed"], false);
    // Without --public-key and without the audit key, it says what to do.
    let out = upivia()
        .args(["audit", "verify", "--data-dir"])
        .arg(case.data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--public-key"), "{}", stderr(&out));

    let text = Case::new().run_verify_text();
    assert!(text.contains("chain intact"), "{text}");
}

impl Case {
    fn run_verify_text(&self) -> String {
        let out = upivia()
            .args(["audit", "verify", "--data-dir"])
            .arg(self.data())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stdout(&out));
        stdout(&out)
    }
}

#[test]
fn an_edited_row_fails() {
    let case = Case::new();
    let conn = case.db();
    let seq = middle_seq(&conn);
    conn.execute("UPDATE audit_log SET cost_cents = 0 WHERE seq = ?1", [seq])
        .unwrap();
    assert_eq!(broken_at(&case.verify()), (1, seq));
    assert_eq!(broken_at(&case.verify_public()), (1, seq));
    assert!(reason(&case.verify()).contains("content"));
}

#[test]
fn an_edited_row_with_its_plain_hash_recomputed_fails() {
    let case = Case::new();
    let conn = case.db();
    let seq = middle_seq(&conn);
    conn.execute("UPDATE audit_log SET cost_cents = 0 WHERE seq = ?1", [seq])
        .unwrap();
    rehash(&conn, seq, seq);
    let keyed = case.verify();
    assert_eq!(broken_at(&keyed), (1, seq));
    assert!(reason(&keyed).contains("MAC"), "{}", reason(&keyed));
    // Without the key, the next link gives it away.
    assert_eq!(broken_at(&case.verify_public()), (1, seq + 1));
}

#[test]
fn an_edited_row_with_the_sha256_chain_recomputed_without_the_key_fails() {
    let case = Case::new();
    let conn = case.db();
    let seq = middle_seq(&conn);
    let last = max_seq(&conn);
    conn.execute("UPDATE audit_log SET cost_cents = 0 WHERE seq = ?1", [seq])
        .unwrap();
    rehash(&conn, seq, last);
    let keyed = case.verify();
    assert_eq!(broken_at(&keyed), (1, seq));
    assert!(reason(&keyed).contains("without the audit key"));
    // The public key holder sees it where the chain meets a signed head.
    let public = case.verify_public();
    assert_eq!(broken_at(&public), (1, last));
    assert!(reason(&public).contains("signed"), "{}", reason(&public));
}

#[test]
fn a_deleted_middle_row_fails() {
    let case = Case::new();
    let conn = case.db();
    let seq = middle_seq(&conn);
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [seq])
        .unwrap();
    let keyed = case.verify();
    assert_eq!(broken_at(&keyed), (1, seq + 1));
    assert!(reason(&keyed).contains("gap"));
    assert_eq!(broken_at(&case.verify_public()), (1, seq + 1));
}

#[test]
fn a_deleted_last_row_fails() {
    let case = Case::new();
    let conn = case.db();
    let last = max_seq(&conn);
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [last])
        .unwrap();
    assert_eq!(broken_at(&case.verify()), (1, last));
    assert_eq!(broken_at(&case.verify_public()), (1, last));
    assert!(reason(&case.verify()).contains("deleted"));
}

#[test]
fn the_last_five_rows_deleted_fail() {
    let case = Case::new();
    let conn = case.db();
    let last = max_seq(&conn);
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [last - 5])
        .unwrap();
    let keyed = case.verify();
    assert_eq!(broken_at(&keyed), (1, last - 4));
    assert!(
        reason(&keyed).contains(&format!("entries {} to {last} were deleted", last - 4)),
        "{}",
        reason(&keyed)
    );
    assert_eq!(broken_at(&case.verify_public()), (1, last - 4));
}

#[test]
fn a_missing_checkpoint_file_fails() {
    let case = Case::new();
    std::fs::remove_file(case.checkpoints()).unwrap();
    let keyed = case.verify();
    assert_eq!(broken_at(&keyed).0, 1);
    assert!(
        reason(&keyed).contains("no checkpoint file"),
        "{}",
        reason(&keyed)
    );
    assert!(
        reason(&keyed).contains("the database records"),
        "{}",
        reason(&keyed)
    );
    assert_eq!(broken_at(&case.verify_public()).0, 1);
    // Emptied instead of deleted: the same.
    std::fs::write(case.checkpoints(), "").unwrap();
    assert!(reason(&case.verify()).contains("is empty"));
}

#[test]
fn a_tampered_checkpoint_fails() {
    let case = Case::new();
    let text = std::fs::read_to_string(case.checkpoints()).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.len() - 1;
    lines[last]["seq"] = json!(lines[last]["seq"].as_i64().unwrap() - 5);
    let rewritten: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(case.checkpoints(), rewritten).unwrap();
    for report in [case.verify(), case.verify_public()] {
        assert_eq!(report.0, 1, "{}", report.1);
        assert_eq!(
            report.1["first_break"]["id"],
            format!("checkpoint line {}", last + 1)
        );
        assert!(
            reason(&report).contains("does not verify"),
            "{}",
            reason(&report)
        );
    }
}

/// Cuts the last five entries and re-signs the checkpoints to match with a
/// key of the attacker's own. With `replace_key` the data directory's
/// signing key is swapped too, and the database's record adjusted.
fn forge_with_another_key(case: &Case, replace_key: bool) {
    let conn = case.db();
    let last = max_seq(&conn);
    let cut = last - 5;
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [cut])
        .unwrap();
    let head: String = conn
        .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [cut], |r| {
            r.get(0)
        })
        .unwrap();
    let theirs = if replace_key {
        let path = case.data().join("audit-signing.key");
        std::fs::remove_file(&path).unwrap();
        AuditSigningKey::load_or_create(&path).unwrap()
    } else {
        AuditSigningKey::generate()
    };
    let text = std::fs::read_to_string(case.checkpoints()).unwrap();
    let mut forged = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        v.as_object_mut().unwrap().remove("sig");
        let mut c: Checkpoint = serde_json::from_value(v).unwrap();
        if c.seq > cut {
            c.seq = cut;
            c.head_hash = head.clone();
        }
        c.key_id = theirs.public().id();
        forged.push_str(&c.sign(&theirs));
        forged.push('\n');
    }
    std::fs::write(case.checkpoints(), forged).unwrap();
    conn.execute("UPDATE audit_chains SET checkpoint_seq = ?1", [cut])
        .unwrap();
}

#[test]
fn checkpoints_signed_by_another_key_fail() {
    let case = Case::new();
    forge_with_another_key(&case, false);
    for report in [case.verify(), case.verify_public()] {
        assert_eq!(report.0, 1, "{}", report.1);
        assert_eq!(report.1["first_break"]["id"], "checkpoint line 1");
        assert!(
            reason(&report).contains("another key"),
            "{}",
            reason(&report)
        );
    }

    // Swapping the data directory's signing key as well fools a check that
    // trusts the directory, but not one against the exported public key:
    // that is what exporting it is for.
    let case = Case::new();
    forge_with_another_key(&case, true);
    let (code, v) = case.verify();
    assert_eq!(code, 0, "{v}");
    let public = case.verify_public();
    assert_eq!(public.0, 1, "{}", public.1);
    assert!(
        reason(&public).contains("another key"),
        "{}",
        reason(&public)
    );
}

#[test]
fn the_checkpoint_copy_matches_and_verifies() {
    let case = Case::new();
    let primary = std::fs::read_to_string(case.checkpoints()).unwrap();
    let copy = std::fs::read_to_string(&fixture().copy).unwrap();
    assert_eq!(primary, copy);
    std::fs::remove_file(case.checkpoints()).unwrap();
    let path = fixture().copy.to_str().unwrap().to_owned();
    let (code, v) = case.run_verify(&["--checkpoints", &path]);
    assert_eq!(code, 0, "{v}");
    let key = fixture().trusted_key.to_str().unwrap().to_owned();
    let (code, v) = case.run_verify(&["--checkpoints", &path, "--public-key", &key]);
    assert_eq!(code, 0, "{v}");
}

/// Runs `upivia serve` on `data` expecting it to refuse to start.
fn serve_refuses(data: &Path, env: &[(&str, &str)]) -> String {
    let port = free_port();
    let mut cmd = upivia();
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(2));
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("upivia serve started on a directory it should refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    err
}

#[test]
fn the_server_refuses_a_chain_cut_below_its_checkpoint_and_a_foreign_audit_key() {
    let case = Case::new();
    let conn = case.db();
    let last = max_seq(&conn);
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [last])
        .unwrap();
    drop(conn);
    let err = serve_refuses(case.data(), &[]);
    assert!(
        err.contains("does not reach its last signed checkpoint"),
        "{err}"
    );

    let case = Case::new();
    let other = "ab".repeat(32);
    let err = serve_refuses(case.data(), &[("UPIVIA_AUDIT_KEY", &other)]);
    assert!(
        err.contains("is not the one this database's chain was written with"),
        "{err}"
    );
}

/// What each SQLite migration after the third adds, undone, in migration
/// order: 0004 (keyed chains: what this test is about), then the others.
const UNDO_AFTER_3: &[&str] = &[
    "DROP TABLE audit_chains; ALTER TABLE audit_log DROP COLUMN mac;",
    "ALTER TABLE pats DROP COLUMN expires_at; DROP INDEX pats_user_org; \
     DROP INDEX sessions_user_org; DROP INDEX memberships_user;",
    "ALTER TABLE pats DROP COLUMN active_team_id; ALTER TABLE sessions DROP COLUMN active_team_id; \
     DROP TABLE team_members; DROP INDEX teams_org_name;",
    "DROP TABLE agent_requests;",
    "DROP INDEX ledger_entries_transfer; ALTER TABLE ledger_entries DROP COLUMN transfer_id;",
    "DROP TABLE budget_requests;",
    "DROP INDEX agents_parent; ALTER TABLE agents DROP COLUMN spawn_depth; \
     ALTER TABLE agents DROP COLUMN parent_agent_id;",
    "DROP TABLE delegated_task_events; DROP TABLE delegated_tasks;",
    "DROP TABLE org_secrets; DROP TABLE org_data_keys;",
    "DROP TABLE custom_operations;",
    "DROP TABLE outcome_reviews; ALTER TABLE service_requests DROP COLUMN provider_started_at;",
    "ALTER TABLE custom_operations DROP COLUMN idempotent;",
    "DROP TABLE scheduled_task_runs; DROP TABLE scheduled_tasks; DROP TABLE triggers;",
    "DROP TABLE workflow_grants; DROP TABLE workflow_runs; DROP TABLE workflow_publish_requests; \
     DROP TABLE workflow_versions; DROP TABLE workflows;",
    "DROP TABLE stored_objects;",
    "DROP TABLE knowledge_chunks_fts; DROP TABLE knowledge_chunks; DROP TABLE knowledge_documents; \
     DROP TABLE knowledge_collections;",
    "DROP TABLE memories_fts; DROP TABLE memories;",
    "DROP TABLE chat_pauses; DROP TABLE chat_messages; DROP TABLE chat_sessions;",
    "DROP TABLE device_commands; DROP TABLE device_sessions;",
    "DROP TABLE room_turns; DROP TABLE room_messages; DROP TABLE room_participants; \
     DROP TABLE rooms; ALTER TABLE chat_sessions DROP COLUMN room_id;",
    "DROP TABLE human_inputs;",
    // 0054 only respelled two CHECKs; applied again it matches nothing.
    "SELECT 1;",
];

#[test]
fn a_database_from_before_keyed_chains_verifies_after_one_start_and_continues_keyed() {
    // Turn a copy back into what the previous version left: plain chain,
    // no MAC column, no chain record, no keys, no checkpoints.
    let case = Case::new();
    let conn = case.db();
    // Rewound to migration 3: the migrations after it are undone first,
    // newest first, so that the start re-applies all of them.
    let applied: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        applied,
        3 + UNDO_AFTER_3.len(),
        "a SQLite migration was added: add its undo to UNDO_AFTER_3"
    );
    for undo in UNDO_AFTER_3.iter().rev() {
        conn.execute_batch(undo).unwrap();
    }
    conn.execute_batch("PRAGMA user_version = 3;").unwrap();
    let legacy = max_seq(&conn);
    drop(conn);
    for file in ["audit.key", "audit-signing.key", "audit-checkpoints.jsonl"] {
        std::fs::remove_file(case.data().join(file)).unwrap();
    }
    // The first start migrates it, creates the keys and signs its head.
    let port = free_port();
    let mut child = upivia()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(case.data())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let creds: Value = serde_json::from_slice(
        &std::fs::read(case.data().join("initial-credentials.json")).unwrap(),
    )
    .unwrap();
    let pat = creds["pat"].as_str().unwrap().to_owned();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http
            .get(format!("{base}/api/v1/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = http
            .post(format!("{base}/api/v1/balance/credits"))
            .bearer_auth(&pat)
            .json(&json!({"amount_cents": 5}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    });
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    let (code, v) = case.verify();
    assert_eq!(code, 0, "{v}");
    let conn = case.db();
    let keyed_from: i64 = conn
        .query_row("SELECT keyed_from FROM audit_chains", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keyed_from, legacy + 1);
    let first_keyed = entry(&conn, legacy + 1);
    assert!(first_keyed.mac.is_some());
    assert_eq!(first_keyed.prev_hash, entry(&conn, legacy).hash);
    assert!(entry(&conn, legacy).mac.is_none());
    // Stripping the new MAC to pass it off as legacy is caught.
    conn.execute(
        "UPDATE audit_log SET mac = NULL WHERE seq = ?1",
        [legacy + 1],
    )
    .unwrap();
    assert_eq!(broken_at(&case.verify()), (1, legacy + 1));
}

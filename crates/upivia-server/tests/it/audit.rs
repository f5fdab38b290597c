//! The audit trail: every decision recorded, paginated, and tamper-evident:
//! a keyed chain, and signed checkpoints of its head outside the database.
//! The tampering tests run on either backend, through [`Db`]: the SQLite
//! file opened directly, or the PostgreSQL database past its append-only
//! triggers, as someone who owns the database would.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _, PgConnection, Row as _};
use upivia_server::audit::{AuditPublicKey, Checkpoint, entry_hash};
use upivia_server::model::{AuditEntry, AuditEvent};
use upivia_server::money::Cents;

use crate::support::{TestServer, email, on_postgres};

/// The database, opened as an attacker with write access would. On
/// PostgreSQL entries are addressed by their place in the chain
/// (`chain_seq`), which is what verification reports.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(PgConnection),
}

async fn db(s: &TestServer) -> Db {
    match &s.database {
        Some(database) => {
            // Entries written so far get their place in the chain first.
            s.platform.stores.governance.audit_head().await.unwrap();
            let mut conn = PgConnection::connect(database.url()).await.unwrap();
            conn.execute("SET session_replication_role = replica")
                .await
                .unwrap();
            Db::Postgres(conn)
        }
        None => {
            let conn = rusqlite::Connection::open(s.db_path()).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .unwrap();
            Db::Sqlite(conn)
        }
    }
}

impl Db {
    /// Runs `sql` written for SQLite (`seq`, `?1`), or its PostgreSQL
    /// spelling (`chain_seq`, `$1`), with `seq` bound when it takes one;
    /// an empty one is for the other backend only.
    async fn run(&mut self, sqlite: &str, postgres: &str, seq: Option<i64>) {
        match self {
            Db::Sqlite(_) if sqlite.is_empty() => {}
            Db::Postgres(_) if postgres.is_empty() => {}
            Db::Sqlite(conn) => {
                match seq {
                    Some(seq) => conn.execute(sqlite, [seq]),
                    None => conn.execute(sqlite, []),
                }
                .unwrap();
            }
            Db::Postgres(conn) => {
                let query = sqlx::query(sqlx::AssertSqlSafe(postgres.to_owned()));
                let query = match seq {
                    Some(seq) => query.bind(seq),
                    None => query,
                };
                query.execute(&mut *conn).await.unwrap();
            }
        }
    }

    /// `UPDATE audit_log SET <set>` on the entry at `seq`.
    async fn set(&mut self, set: &str, seq: i64) {
        self.run(
            &format!("UPDATE audit_log SET {set} WHERE seq = ?1"),
            &format!("UPDATE audit_log SET {set} WHERE chain_seq = $1"),
            Some(seq),
        )
        .await;
    }

    async fn delete(&mut self, seq: i64) {
        self.run(
            "DELETE FROM audit_log WHERE seq = ?1",
            "DELETE FROM audit_log WHERE chain_seq = $1",
            Some(seq),
        )
        .await;
    }

    async fn delete_after(&mut self, seq: i64) {
        self.run(
            "DELETE FROM audit_log WHERE seq > ?1",
            "DELETE FROM audit_log WHERE chain_seq > $1",
            Some(seq),
        )
        .await;
    }

    async fn scalar(&mut self, sqlite: &str, postgres: &str) -> i64 {
        match self {
            Db::Sqlite(conn) => conn.query_row(sqlite, [], |r| r.get(0)).unwrap(),
            Db::Postgres(conn) => sqlx::query_scalar(sqlx::AssertSqlSafe(postgres.to_owned()))
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
        }
    }

    async fn max_seq(&mut self) -> i64 {
        self.scalar(
            "SELECT MAX(seq) FROM audit_log",
            "SELECT MAX(chain_seq) FROM audit_log",
        )
        .await
    }

    /// The seq of the `offset`-th executed request's entry.
    async fn executed_seq(&mut self, offset: i64) -> i64 {
        self.scalar(
            &format!(
                "SELECT seq FROM audit_log WHERE event_type = 'service_request.executed' \
                 ORDER BY seq LIMIT 1 OFFSET {offset}"
            ),
            &format!(
                "SELECT chain_seq FROM audit_log WHERE event_type = 'service_request.executed' \
                 ORDER BY chain_seq LIMIT 1 OFFSET {offset}"
            ),
        )
        .await
    }

    async fn entry(&mut self, seq: i64) -> AuditEntry {
        match self {
            Db::Sqlite(conn) => conn
                .query_row(
                    "SELECT id, org_id, event_type, actor, agent_id, service, operation, status, \
                     request_id, cost_cents, details, created_at, prev_hash, hash, mac \
                     FROM audit_log WHERE seq = ?1",
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
                .unwrap(),
            Db::Postgres(conn) => {
                let r = sqlx::query(
                    "SELECT id, org_id, event_type, actor, agent_id, service, operation, status, \
                     request_id, cost_cents, details, created_at, prev_hash, hash, mac \
                     FROM audit_log WHERE chain_seq = $1",
                )
                .bind(seq)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
                let details: String = r.get("details");
                AuditEntry {
                    seq,
                    id: r.get("id"),
                    event: AuditEvent {
                        org_id: r.get("org_id"),
                        event_type: r.get("event_type"),
                        actor: r.get("actor"),
                        agent_id: r.get("agent_id"),
                        service: r.get("service"),
                        operation: r.get("operation"),
                        status: r.get("status"),
                        request_id: r.get("request_id"),
                        cost: r.get::<Option<i64>, _>("cost_cents").map(Cents::new),
                        details: serde_json::from_str(&details).unwrap(),
                    },
                    created_at: r.get("created_at"),
                    prev_hash: r.get("prev_hash"),
                    hash: r.get("hash"),
                    mac: r.get("mac"),
                }
            }
        }
    }

    async fn set_hashes(&mut self, seq: i64, prev_hash: &str, hash: &str) {
        match self {
            Db::Sqlite(conn) => {
                conn.execute(
                    "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                    rusqlite::params![prev_hash, hash, seq],
                )
                .unwrap();
            }
            Db::Postgres(conn) => {
                sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE chain_seq = $3")
                    .bind(prev_hash)
                    .bind(hash)
                    .bind(seq)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
    }

    /// Recomputes the plain SHA-256 chain from `seq` to the end, as someone
    /// who can write the database but does not hold the audit key would.
    async fn rehash_from(&mut self, seq: i64) {
        let mut prev: Option<String> = None;
        for s in seq..=self.max_seq().await {
            let mut e = self.entry(s).await;
            if let Some(p) = prev {
                e.prev_hash = p;
            }
            e.hash = entry_hash(&e);
            self.set_hashes(s, &e.prev_hash, &e.hash).await;
            prev = Some(e.hash);
        }
    }
}

async fn max_seq(s: &TestServer) -> i64 {
    db(s).await.max_seq().await
}

async fn verify(s: &TestServer) -> Value {
    let r = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn checkpoint_lines(s: &TestServer) -> Vec<Value> {
    std::fs::read_to_string(s.checkpoint_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn every_decision_appends_an_entry_with_its_status() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    s.request(
        &agent,
        "sms",
        "send",
        json!({"to": "+15555550123", "from": "+15555550100", "body": "x"}),
    )
    .await;
    let r = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    let types: Vec<&str> = r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "service_request.blocked",
            "service_request.executed",
            "binding.enabled",
            "agent.created"
        ]
    );
    let blocked = &r.body["logs"][0];
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["details"]["reason_code"], "service_not_enabled");
    assert_eq!(r.body["logs"][1]["cost_cents"], 1);

    let only_blocked = s.get("/api/v1/audit-logs?status=blocked", &s.pat).await;
    assert_eq!(only_blocked.body["logs"].as_array().unwrap().len(), 1);
    let email_only = s.get("/api/v1/audit-logs?service=email", &s.pat).await;
    assert_eq!(email_only.body["logs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cursor_pages_walk_every_entry_once_in_a_stable_order() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..9 {
        s.request(&agent, "email", "send", email()).await;
    }
    let all = s.get("/api/v1/audit-logs?limit=500", &s.pat).await;
    let expected: Vec<String> = all.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.len() >= 12);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit-logs?limit=4&cursor={c}"),
            None => "/api/v1/audit-logs?limit=4".to_owned(),
        };
        let page = s.get(&path, &s.pat).await;
        assert_eq!(page.status, 200);
        for l in page.body["logs"].as_array().unwrap() {
            seen.push(l["id"].as_str().unwrap().to_owned());
        }
        // New entries appended meanwhile must not shift the pages.
        s.request(&agent, "email", "send", email()).await;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
    let bad = s.get("/api/v1/audit-logs?cursor=bogus", &s.pat).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn the_chain_verifies_and_an_edited_row_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..5 {
        s.request(&agent, "email", "send", email()).await;
    }
    let ok = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(ok.body["ok"], true, "{ok:?}");
    assert_eq!(ok.body["keyed"], true, "{ok:?}");
    assert!(
        ok.body["checkpoints_checked"].as_i64().unwrap() >= 1,
        "{ok:?}"
    );
    let checked = ok.body["entries_checked"].as_i64().unwrap();
    assert!(checked >= 8);

    // An attacker with database access lowers a recorded cost.
    let mut conn = db(&s).await;
    let seq = conn.executed_seq(2).await;
    conn.set("cost_cents = 0", seq).await;
    drop(conn);

    let broken = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_break"]["seq"], seq);
    assert_eq!(broken.body["entries_checked"], seq - 1);
}

#[tokio::test]
async fn deleting_a_row_is_caught_too() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..3 {
        s.request(&agent, "email", "send", email()).await;
    }
    db(&s).await.delete(3).await;
    let broken = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_break"]["seq"], 4);
}

#[tokio::test]
async fn an_edited_row_with_its_hash_recomputed_fails_its_mac() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..4 {
        s.request(&agent, "email", "send", email()).await;
    }
    let mut conn = db(&s).await;
    let seq = conn.executed_seq(1).await;
    let mut e = conn.entry(seq).await;
    e.event.cost = Some(Cents::new(0));
    e.hash = entry_hash(&e);
    conn.set("cost_cents = 0", seq).await;
    conn.set_hashes(seq, &e.prev_hash, &e.hash).await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], seq, "{v}");
    assert_eq!(v["first_break"]["id"], e.id.as_str());
    assert!(
        v["first_break"]["reason"].as_str().unwrap().contains("MAC"),
        "{v}"
    );
}

#[tokio::test]
async fn a_chain_recomputed_without_the_key_is_caught_at_the_rewritten_row() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..4 {
        s.request(&agent, "email", "send", email()).await;
    }
    let mut conn = db(&s).await;
    let seq = conn.max_seq().await - 3;
    conn.set("details = '{\"forged\":true}'", seq).await;
    conn.rehash_from(seq).await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], seq, "{v}");
    assert_eq!(v["entries_checked"], seq - 1);
}

#[tokio::test]
async fn cutting_the_tail_below_a_checkpoint_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..6 {
        s.request(&agent, "email", "send", email()).await;
    }
    s.seal_audit().await;
    let mut conn = db(&s).await;
    let last = conn.max_seq().await;
    conn.delete(last).await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["seq"], last, "{v}");
    let reason = v["first_break"]["reason"].as_str().unwrap();
    assert!(reason.contains("were deleted"), "{reason}");

    conn.delete_after(last - 5).await;
    let v = verify(&s).await;
    assert_eq!(v["first_break"]["seq"], last - 4, "{v}");
    assert!(
        v["first_break"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("entries {} to {last}", last - 4)),
        "{v}"
    );
}

#[tokio::test]
async fn entries_after_the_last_checkpoint_are_reported_unsigned() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.seal_audit().await;
    let signed = max_seq(&s).await;
    for _ in 0..3 {
        s.request(&agent, "email", "send", email()).await;
    }
    let last = max_seq(&s).await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["last_checkpoint"]["seq"], signed);
    assert_eq!(v["unsigned_entries"], last - signed);
    // Cutting unsigned entries off the end leaves the head the server
    // knows (SQLite: its writer's; PostgreSQL: the chain's record) past
    // the last entry.
    db(&s).await.delete(last).await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["seq"], last, "{v}");
    let reason = v["first_break"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("entry {last} was deleted")),
        "{reason}"
    );
}

#[tokio::test]
async fn a_deleted_checkpoint_file_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    s.seal_audit().await;
    std::fs::remove_file(s.checkpoint_path()).unwrap();
    if on_postgres() {
        // There the database's record is the one that counts.
        let v = verify(&s).await;
        assert_eq!(v["ok"], true, "{v}");
        db(&s)
            .await
            .run("", "DELETE FROM audit_checkpoints", None)
            .await;
    }
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    let reason = v["first_break"]["reason"].as_str().unwrap();
    let gone = if on_postgres() {
        "(audit_checkpoints) is empty"
    } else {
        "no checkpoint file"
    };
    assert!(reason.contains(gone), "{reason}");
    assert!(
        reason.contains("the database records 2 checkpoints"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_checkpoint_file_rolled_back_to_an_older_copy_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let old = std::fs::read(s.checkpoint_path()).unwrap();
    for _ in 0..3 {
        s.request(&agent, "email", "send", email()).await;
    }
    s.seal_audit().await;
    let mut conn = db(&s).await;
    let last = conn.max_seq().await;
    // Cut the entries the newer checkpoint signed, and put back the file
    // from before it, so every remaining checkpoint still matches (on
    // PostgreSQL, delete the newer recorded checkpoint too).
    let first: i64 = checkpoint_lines(&s)[0]["seq"].as_i64().unwrap();
    conn.delete_after(first).await;
    conn.run(
        "",
        &format!("DELETE FROM audit_checkpoints WHERE seq > {first}"),
        None,
    )
    .await;
    std::fs::write(s.checkpoint_path(), old).unwrap();
    let v = verify(&s).await;
    assert_eq!(v["ok"], false, "{v}");
    let reason = v["first_break"]["reason"].as_str().unwrap();
    let older = if on_postgres() {
        "checkpoints were deleted"
    } else {
        "older copy"
    };
    assert!(reason.contains(older), "{reason}");
    assert!(reason.contains(&format!("seq {last}")), "{reason}");
}

#[tokio::test]
async fn a_tampered_checkpoint_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    s.seal_audit().await;
    let text = std::fs::read_to_string(s.checkpoint_path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut forged: Value = serde_json::from_str(lines[1]).unwrap();
    forged["seq"] = json!(forged["seq"].as_i64().unwrap() - 1);
    std::fs::write(s.checkpoint_path(), format!("{}\n{forged}\n", lines[0])).unwrap();
    let line = if on_postgres() {
        // The database's record is read first.
        let seq = forged["seq"].as_i64().unwrap() + 1;
        let forged = forged.to_string().replace('\'', "''");
        db(&s)
            .await
            .run(
                "",
                &format!("UPDATE audit_checkpoints SET line = '{forged}' WHERE seq = {seq}"),
                None,
            )
            .await;
        "recorded checkpoint 2"
    } else {
        "checkpoint line 2"
    };
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_break"]["id"], line, "{v}");
    assert!(
        v["first_break"]["reason"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{v}"
    );
}

#[tokio::test]
async fn the_head_is_signed_at_start_and_again_only_when_it_moves() {
    let s = TestServer::start().await;
    let lines = checkpoint_lines(&s);
    assert_eq!(lines.len(), 1, "the start signs the bootstrap entries");
    assert_eq!(lines[0]["seq"], max_seq(&s).await);
    assert_eq!(lines[0]["chain"], "global");
    s.seal_audit().await;
    assert_eq!(checkpoint_lines(&s).len(), 1, "nothing new to sign");
    s.credit(100).await;
    s.seal_audit().await;
    let lines = checkpoint_lines(&s);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["seq"], max_seq(&s).await);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let data = s.dir.path().join("data");
        for file in ["audit-checkpoints.jsonl", "audit.key", "audit-signing.key"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

#[tokio::test]
async fn a_clean_stop_signs_the_last_entries() {
    let mut s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..3 {
        s.request(&agent, "email", "send", email()).await;
    }
    s.stop().await;
    let lines = checkpoint_lines(&s);
    assert_eq!(lines.last().unwrap()["seq"], max_seq(&s).await);
}

#[tokio::test]
async fn checkpoints_and_the_public_key_are_served() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    s.seal_audit().await;

    let key = s.get("/api/v1/audit-logs/public-key", &s.pat).await;
    assert_eq!(key.status, 200, "{key:?}");
    assert_eq!(key.body["algorithm"], "ed25519");
    let public = AuditPublicKey::from_pem(key.body["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(&public, s.sealer.public_key());
    assert_eq!(key.body["key_id"], public.id().as_str());

    let r = s.get("/api/v1/audit-logs/checkpoints", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["chain"], "global");
    assert_eq!(r.body["public_key"], key.body["public_key"]);
    let served = r.body["checkpoints"].as_array().unwrap();
    assert_eq!(served.len(), 2);
    // Newest first, and exactly the file's lines, which verify.
    let mut file = checkpoint_lines(&s);
    file.reverse();
    assert_eq!(served, &file);
    for c in served {
        Checkpoint::open(&c.to_string(), &public).unwrap();
    }
    assert_eq!(served[0]["seq"], max_seq(&s).await);

    let one = s
        .get("/api/v1/audit-logs/checkpoints?limit=1", &s.pat)
        .await;
    assert_eq!(one.body["checkpoints"].as_array().unwrap().len(), 1);
    for bad in ["0", "1001", "x"] {
        let r = s
            .get(
                &format!("/api/v1/audit-logs/checkpoints?limit={bad}"),
                &s.pat,
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    for path in [
        "/api/v1/audit-logs/checkpoints",
        "/api/v1/audit-logs/public-key",
    ] {
        let r = s.get(path, &agent.key).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{path}");
        let r = s.send(reqwest::Method::GET, path, None, None).await;
        assert_eq!(r.status.as_u16(), 401, "{path}");
    }
}

#[tokio::test]
async fn the_sealing_worker_signs_on_its_interval() {
    let s = TestServer::start_with(|c| {
        c.audit_checkpoint_interval = std::time::Duration::from_millis(50);
    })
    .await;
    s.credit(100).await;
    let head = max_seq(&s).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while checkpoint_lines(&s).last().unwrap()["seq"] != head {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of seq {head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(verify(&s).await["unsigned_entries"], 0);
}

#[tokio::test]
async fn a_deleted_chain_record_is_caught() {
    let s = TestServer::start().await;
    db(&s)
        .await
        .run("DELETE FROM audit_chains", "DELETE FROM audit_chains", None)
        .await;
    let v = verify(&s).await;
    assert_eq!(v["ok"], false);
    assert!(
        v["first_break"]["reason"]
            .as_str()
            .unwrap()
            .contains("audit_chains"),
        "{v}"
    );
}

#[tokio::test]
async fn every_node_of_a_database_must_hold_its_audit_and_signing_keys() {
    // Only PostgreSQL has several nodes on one database.
    if !on_postgres() {
        return;
    }
    let s = TestServer::start().await;
    let data = s.dir.path().join("data");
    let recorded = || async {
        s.platform
            .stores
            .governance
            .audit_checkpoints(None)
            .await
            .unwrap()
            .unwrap()
            .len()
    };
    let before = recorded().await;
    let other = tempfile::tempdir().unwrap();
    let node = |configure: &dyn Fn(&mut upivia_server::config::Config)| {
        let mut config = upivia_server::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            other.path().join("data"),
        );
        config.database_url = s.database.as_ref().map(|d| d.url().to_owned().into());
        configure(&mut config);
        upivia_server::prepare(config, "127.0.0.1:1".parse().unwrap())
    };
    let audit_key = upivia_server::audit::AuditKey::load(&data.join("audit.key")).unwrap();
    // Its own data dir's new keys: the audit key is refused first.
    let err = node(&|_| {})
        .await
        .err()
        .expect("another audit key is refused");
    assert!(
        matches!(
            err,
            upivia_server::StartError::Audit(upivia_server::audit::AuditError::KeyMismatch { .. })
        ),
        "{err:?}"
    );
    // The same audit key, another signing key.
    let err = node(&|c| c.audit_key = Some(audit_key.clone()))
        .await
        .err()
        .expect("another signing key is refused");
    let upivia_server::StartError::Audit(e) = &err else {
        panic!("{err:?}")
    };
    assert!(e.to_string().contains("--audit-signing-key-file"), "{e}");
    // Both keys: a second node, whose start signs nothing the first did.
    let second = node(&|c| {
        c.audit_key = Some(audit_key.clone());
        c.audit_signing_key_file = Some(data.join("audit-signing.key"));
    })
    .await
    .expect("a node with both keys starts");
    assert_eq!(recorded().await, before);
    s.credit(100).await;
    second
        .sealer
        .seal(
            second.platform.stores.governance.as_ref(),
            second.platform.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(recorded().await, before + 1);
    assert_eq!(verify(&s).await["ok"], true);
}

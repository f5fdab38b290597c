//! The audit trail on PostgreSQL, at the store: entries inserted
//! unchained by several nodes end up in one contiguous chain, chained in
//! commit order by one node at a time; tampering, entries kept out of the
//! chain and cut tails are caught; nodes seal without duplicates; a node
//! that dies holding the chainer's lock holds nothing. Each test runs on
//! a fresh database of its own (skipped without a PostgreSQL server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use upivia_server::audit::{AuditKey, AuditReport, AuditSigningKey, ChainRules, Sealer};
use upivia_server::model::AuditEvent;
use upivia_server::money::Cents;
use upivia_server::store::postgres::testing::TestDatabase;
use upivia_server::store::postgres::{AUDIT_CHAIN_LOCK, PgSettings, PgStore};
use upivia_server::store::{AuditQuery, GovernanceStore};

use crate::support::postgres_database;

const ORG: &str = "org_audit";

/// Few connections: the suite runs many databases on one server at once.
fn settings() -> PgSettings {
    PgSettings {
        max_connections: 4,
        ..PgSettings::default()
    }
}

async fn node(db: &TestDatabase, key: &AuditKey) -> Arc<PgStore> {
    PgStore::connect_keyed(db.url(), settings(), key.clone())
        .await
        .expect("node connects")
}

fn event(kind: &str, i: usize) -> AuditEvent {
    AuditEvent::new(ORG, kind, "system")
        .with_operation("email", "send")
        .with_status("executed")
        .with_cost(Cents::new(i64::try_from(i).unwrap()))
        .with_details(json!({"n": i, "nested": {"b": 1, "a": [1, 2]}}))
}

async fn append(store: &PgStore, kind: &str, count: usize) {
    for i in 0..count {
        store
            .append_audit(event(kind, i), time::OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
}

async fn scalar(db: &TestDatabase, sql: &'static str) -> i64 {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

async fn chained(db: &TestDatabase) -> i64 {
    scalar(
        db,
        "SELECT count(*) FROM audit_log WHERE chain_seq IS NOT NULL",
    )
    .await
}

/// Waits for `n` chained entries (the chainer runs every 200 ms).
async fn wait_chained(db: &TestDatabase, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while chained(db).await < n {
        assert!(Instant::now() < deadline, "{n} entries were not chained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rules(key: &AuditKey) -> ChainRules {
    ChainRules {
        key: Some(key.clone()),
        keyed_from: 1,
        checkpoints: Vec::new(),
    }
}

/// Runs `sql` as a superuser past the append-only triggers, as an
/// attacker who owns the database would (`session_replication_role`
/// switches ordinary triggers off).
async fn tamper(db: &TestDatabase, sql: &'static str) {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
}

/// A database with `n` chained entries, signed by a sealer (in `dir`).
struct Sealed {
    db: TestDatabase,
    key: AuditKey,
    store: Arc<PgStore>,
    sealer: Sealer,
    _dir: tempfile::TempDir,
}

async fn sealed(n: usize) -> Option<Sealed> {
    let db = postgres_database().await?;
    let key = AuditKey::generate();
    let store = node(&db, &key).await;
    append(&store, "test.entry", n).await;
    // The chainer runs in the background; a checkpoint seals chained
    // entries only.
    wait_chained(&db, i64::try_from(n).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let sealer = Sealer::open(
        key.clone(),
        AuditSigningKey::generate(),
        dir.path().join("audit-checkpoints.jsonl"),
        None,
    )
    .unwrap();
    let signed = sealer.seal(store.as_ref(), now()).await.unwrap();
    assert_eq!(signed.map(|c| c.seq), Some(i64::try_from(n).unwrap()));
    Some(Sealed {
        db,
        key,
        store,
        sealer,
        _dir: dir,
    })
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

impl Sealed {
    async fn verify(&self) -> AuditReport {
        self.sealer.verify(self.store.as_ref()).await.unwrap()
    }
}

fn broken(report: &AuditReport) -> (i64, String) {
    let brk = report.first_break.as_ref().expect("a break");
    (brk.seq, brk.reason.clone())
}

#[tokio::test]
async fn entries_from_several_nodes_form_one_contiguous_verified_chain() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let key = AuditKey::generate();
    let nodes = vec![
        node(&db, &key).await,
        node(&db, &key).await,
        node(&db, &key).await,
    ];
    let writes = nodes.iter().flat_map(|n| {
        (0..40).map(move |i| {
            let n = n.clone();
            async move { n.append_audit(event("test.concurrent", i), now()).await }
        })
    });
    for written in futures::future::join_all(writes).await {
        written.unwrap();
    }
    // `head` chains everything written before it.
    let head = nodes[1].audit_head().await.unwrap();
    assert_eq!(head.seq, 120);
    assert_eq!(chained(&db).await, 120);
    let (lo, hi, distinct) = {
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT min(chain_seq), max(chain_seq), count(DISTINCT chain_seq) FROM audit_log",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!((lo, hi, distinct), (1, 120, 120));
    let v = nodes[2].verify_audit(rules(&key)).await.unwrap();
    assert!(v.first_break.is_none(), "{:?}", v.first_break);
    assert_eq!((v.entries_checked, v.last_seq), (120, Some(120)));
    assert_eq!(
        nodes[0].audit_hash_at(120).await.unwrap(),
        Some(head.hash.clone())
    );
    // Listed newest first, every one with its place in the chain.
    let listed = nodes[0]
        .audit_entries(AuditQuery {
            org_id: ORG.into(),
            limit: 500,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 120);
    assert!(listed.windows(2).all(|w| w[0].seq > w[1].seq));
    assert!(listed.iter().all(|e| e.hash.len() == 64 && e.mac.is_some()));
    for n in &nodes {
        n.close().await;
    }
}

#[tokio::test]
async fn a_long_open_transaction_holds_back_only_the_entries_after_it() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let key = AuditKey::generate();
    let store = node(&db, &key).await;
    append(&store, "test.before", 3).await;
    // A transaction with an id, left open (a slow request on some node).
    let mut open = PgConnection::connect(db.url()).await.unwrap();
    open.execute("BEGIN").await.unwrap();
    open.execute("SELECT pg_current_xact_id()").await.unwrap();
    append(&store, "test.after", 3).await;
    wait_chained(&db, 3).await;
    // Several chainer passes later, the entries after it still wait.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(chained(&db).await, 3);
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM audit_log WHERE event_type = 'test.before' AND chain_seq IS NOT NULL"
        )
        .await,
        3
    );
    // Listed meanwhile, with no chain fields yet; filters and the cursor
    // work on them like on any entry.
    let listed = store
        .audit_entries(AuditQuery {
            org_id: ORG.into(),
            status: Some("executed".into()),
            limit: 2,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|e| e.hash.is_empty() && e.mac.is_none()));
    assert_eq!(listed[0].event.event_type, "test.after");
    let rest = store
        .audit_entries(AuditQuery {
            org_id: ORG.into(),
            before_seq: Some(listed[1].seq),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 4);
    assert!(
        !rest[1].hash.is_empty(),
        "the entries before it are chained"
    );
    // Unchained entries are not a break while a transaction before them
    // is still open.
    let v = store.verify_audit(rules(&key)).await.unwrap();
    assert!(v.first_break.is_none(), "{:?}", v.first_break);
    assert_eq!(v.last_seq, Some(3));

    open.execute("COMMIT").await.unwrap();
    wait_chained(&db, 6).await;
    let after_first: i64 = scalar(
        &db,
        "SELECT min(chain_seq) FROM audit_log WHERE event_type = 'test.after'",
    )
    .await;
    assert_eq!(after_first, 4);
    let v = store.verify_audit(rules(&key)).await.unwrap();
    assert!(v.first_break.is_none(), "{:?}", v.first_break);
    assert_eq!(v.last_seq, Some(6));
    store.close().await;
}

#[tokio::test]
async fn chained_entries_refuse_updates_and_deletes() {
    let Some(s) = sealed(4).await else {
        return;
    };
    let mut conn = PgConnection::connect(s.db.url()).await.unwrap();
    for sql in [
        "UPDATE audit_log SET cost_cents = 0 WHERE chain_seq = 2",
        "UPDATE audit_log SET mac = NULL WHERE chain_seq = 2",
        "DELETE FROM audit_log WHERE chain_seq = 4",
        "TRUNCATE audit_log",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET line = '{}'",
    ] {
        let err = conn.execute(sql).await.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let report = s.verify().await;
    assert!(report.ok(), "{:?}", report.first_break);
    assert_eq!(report.checkpoints_checked, 1);
}

#[tokio::test]
async fn an_edited_chained_entry_is_caught() {
    let Some(s) = sealed(8).await else {
        return;
    };
    tamper(
        &s.db,
        "UPDATE audit_log SET cost_cents = 0 WHERE chain_seq = 5",
    )
    .await;
    let report = s.verify().await;
    assert_eq!(report.entries_checked, 4);
    let (seq, reason) = broken(&report);
    assert_eq!(seq, 5);
    assert!(reason.contains("hash does not match"), "{reason}");
}

#[tokio::test]
async fn a_deleted_chained_entry_is_caught() {
    let Some(s) = sealed(8).await else {
        return;
    };
    tamper(&s.db, "DELETE FROM audit_log WHERE chain_seq = 5").await;
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 6);
    assert!(reason.contains("sequence gap"), "{reason}");
}

#[tokio::test]
async fn a_removed_mac_is_caught() {
    let Some(s) = sealed(8).await else {
        return;
    };
    tamper(&s.db, "UPDATE audit_log SET mac = NULL WHERE chain_seq = 3").await;
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 3);
    assert!(reason.contains("no MAC"), "{reason}");
}

#[tokio::test]
async fn a_tail_cut_below_a_checkpoint_is_caught() {
    let Some(s) = sealed(8).await else {
        return;
    };
    tamper(&s.db, "DELETE FROM audit_log WHERE chain_seq > 5").await;
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 6);
    assert!(reason.contains("entries 6 to 8 were deleted"), "{reason}");
}

#[tokio::test]
async fn a_tail_cut_above_the_last_checkpoint_is_caught_by_the_head_record() {
    let Some(s) = sealed(5).await else {
        return;
    };
    append(&s.store, "test.entry", 3).await;
    wait_chained(&s.db, 8).await;
    // Entries 7 and 8 are signed by no checkpoint yet; only the head
    // record answers for them.
    tamper(&s.db, "DELETE FROM audit_log WHERE chain_seq > 6").await;
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 7);
    assert!(reason.contains("entries 7 to 8 were deleted"), "{reason}");
    // A head record pointing at an entry with another hash is caught too.
    tamper(
        &s.db,
        "UPDATE audit_chains SET head_seq = 6, head_hash = 'ab'",
    )
    .await;
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 6);
    assert!(reason.contains("does not match"), "{reason}");
}

#[tokio::test]
async fn a_cut_with_the_database_record_rewound_is_caught_by_a_nodes_file() {
    let Some(s) = sealed(5).await else {
        return;
    };
    append(&s.store, "test.entry", 3).await;
    let signed = s.sealer.seal(s.store.as_ref(), now()).await.unwrap();
    assert_eq!(signed.map(|c| c.seq), Some(8));
    // The database's owner cuts the last three entries, the checkpoint
    // that signed them, and rewinds every record of both.
    tamper(&s.db, "DELETE FROM audit_log WHERE chain_seq > 5").await;
    tamper(&s.db, "DELETE FROM audit_checkpoints WHERE seq = 8").await;
    tamper(
        &s.db,
        "UPDATE audit_chains SET checkpoints = 1, checkpoint_seq = 5, head_seq = 5, \
         head_hash = (SELECT hash FROM audit_log WHERE chain_seq = 5)",
    )
    .await;
    // The node that signed it kept the line in its file.
    let (seq, reason) = broken(&s.verify().await);
    assert_eq!(seq, 6);
    assert!(reason.contains("entries 6 to 8 were deleted"), "{reason}");
    // The database alone cannot tell: the limit ARCHITECTURE.md states
    // (keep the files, or a copy, out of the database owner's reach).
    let alone =
        upivia_server::audit::verify(s.store.as_ref(), Some(&s.key), s.sealer.public_key(), None)
            .await
            .unwrap();
    assert!(alone.ok(), "{:?}", alone.first_break);
    assert_eq!(alone.entries_checked, 5);
}

#[tokio::test]
async fn an_entry_kept_out_of_the_chain_is_caught() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let key = AuditKey::generate();
    let store = node(&db, &key).await;
    append(&store, "test.entry", 2).await;
    wait_chained(&db, 2).await;
    // Someone holds the chainer's lock and slips in an entry "from two
    // minutes ago" that no node can chain.
    let mut holder = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(AUDIT_CHAIN_LOCK)
        .execute(&mut holder)
        .await
        .unwrap();
    holder
        .execute(
            "INSERT INTO audit_log (id, org_id, event_type, actor, details, created_at, inserted_at) \
             VALUES ('aud_hidden', 'org_audit', 'test.hidden', 'system', '{}', now(), \
             now() - interval '2 minutes')",
        )
        .await
        .unwrap();
    // Chainable, once every transaction before it has finished (of the
    // whole server: other tests' databases count too).
    let deadline = Instant::now() + Duration::from_secs(15);
    while scalar(
        &db,
        "SELECT count(*) FROM audit_log WHERE id = 'aud_hidden' \
         AND xid < pg_snapshot_xmin(pg_current_snapshot())",
    )
    .await
        == 0
    {
        assert!(Instant::now() < deadline, "an older transaction stays open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = store.verify_audit(rules(&key)).await.unwrap();
    let brk = v.first_break.expect("a break");
    assert_eq!((brk.seq, brk.id.as_str()), (3, "aud_hidden"));
    assert!(
        brk.reason.contains("left out of the chain"),
        "{}",
        brk.reason
    );
    // Let go, the chainer takes it, and the chain holds again.
    holder.close().await.unwrap();
    wait_chained(&db, 3).await;
    let v = store.verify_audit(rules(&key)).await.unwrap();
    assert!(v.first_break.is_none(), "{:?}", v.first_break);
    store.close().await;
}

#[tokio::test]
async fn a_store_without_the_audit_key_does_not_chain() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let offline = PgStore::connect(db.url(), settings()).await.unwrap();
    append(&offline, "test.entry", 2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(chained(&db).await, 0);
    assert_eq!(offline.audit_head().await.unwrap().seq, 0);
    let key = AuditKey::generate();
    let keyed = node(&db, &key).await;
    wait_chained(&db, 2).await;
    offline.close().await;
    keyed.close().await;
}

#[tokio::test]
async fn two_nodes_sealing_at_once_record_each_head_once() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let key = AuditKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let signing = dir.path().join("signing.key");
    let (a, b) = (node(&db, &key).await, node(&db, &key).await);
    let open = |name: &str| {
        Sealer::open(
            key.clone(),
            AuditSigningKey::load_or_create(&signing).unwrap(),
            dir.path().join(name),
            None,
        )
        .unwrap()
    };
    let (seal_a, seal_b) = (open("a.jsonl"), open("b.jsonl"));
    for round in 0..5 {
        append(&a, "test.a", 3).await;
        append(&b, "test.b", 2).await;
        let (x, y) = tokio::join!(
            seal_a.seal(a.as_ref(), now()),
            seal_b.seal(b.as_ref(), now())
        );
        let signed: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
        assert_eq!(signed.len(), 1, "round {round}: {signed:?}");
        assert_eq!(signed[0].seq, (round + 1) * 5);
    }
    let lines = a.audit_checkpoints(None).await.unwrap().unwrap();
    assert_eq!(lines.len(), 5);
    let state = b.audit_chain().await.unwrap().unwrap();
    assert_eq!((state.checkpoints, state.checkpoint_seq), (5, Some(25)));
    // Each node's file holds what it signed, all of it recorded.
    let mut in_files = 0;
    for name in ["a.jsonl", "b.jsonl"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        for line in text.lines() {
            assert!(lines.iter().any(|l| l == line), "{name}: {line}");
            in_files += 1;
        }
    }
    assert_eq!(in_files, 5);
    for (sealer, store) in [(&seal_a, &a), (&seal_b, &b)] {
        let report = sealer.verify(store.as_ref()).await.unwrap();
        assert!(report.ok(), "{:?}", report.first_break);
        assert_eq!(
            (report.checkpoints_checked, report.entries_checked),
            (5, 25)
        );
        assert_eq!(sealer.recent(store.as_ref(), 2).await.unwrap().len(), 2);
        sealer.check_reaches(store.as_ref()).await.unwrap();
    }
    // Nothing moved: neither signs again.
    assert!(seal_a.seal(a.as_ref(), now()).await.unwrap().is_none());
    assert!(seal_b.seal(b.as_ref(), now()).await.unwrap().is_none());
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_node_dying_with_the_chainers_lock_leaves_chaining_to_another() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let key = AuditKey::generate();
    let (dying, survivor) = (node(&db, &key).await, node(&db, &key).await);
    // The dying node is mid-pass: its transaction holds the lock.
    let mut held = dying.pool().acquire().await.unwrap();
    held.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_CHAIN_LOCK)
        .execute(&mut *held)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *held)
        .await
        .unwrap();
    append(&survivor, "test.entry", 3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(chained(&db).await, 0, "the lock is held");
    // The node dies: its connection goes, and the lock with it.
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(survivor.pool())
        .await
        .unwrap();
    assert!(terminated);
    drop(held);
    drop(dying);
    wait_chained(&db, 3).await;
    let v = survivor.verify_audit(rules(&key)).await.unwrap();
    assert!(v.first_break.is_none(), "{:?}", v.first_break);
    survivor.close().await;
}

#[tokio::test]
async fn every_node_must_share_the_signing_key() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let store = PgStore::connect(db.url(), settings()).await.unwrap();
    assert_eq!(
        store
            .claim_audit_signing_key("ed25519:first")
            .await
            .unwrap(),
        Some("ed25519:first".to_owned())
    );
    assert_eq!(
        store
            .claim_audit_signing_key("ed25519:other")
            .await
            .unwrap(),
        Some("ed25519:first".to_owned())
    );
    store.close().await;
}

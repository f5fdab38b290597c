//! `upivia audit verify --database-url`: a PostgreSQL database written by
//! a node (its entries chained and a checkpoint recorded), verified with
//! the keys given as flags or with the public key alone, then tampered
//! with as the database's owner could. Skipped without a PostgreSQL
//! server (`UPIVIA_TEST_POSTGRES_URL`).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use upivia_server::audit::{AuditKey, AuditSigningKey, Sealer};
use upivia_server::model::AuditEvent;
use upivia_server::store::GovernanceStore;
use upivia_server::store::postgres::testing::{TestDatabase, server_url};
use upivia_server::store::postgres::{PgSettings, PgStore};

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

fn verify(url: &str, keys: &Path, extra: &[&str]) -> (i32, Value) {
    let out = upivia()
        .args(["audit", "verify", "--json", "--database-url", url])
        .arg("--audit-key-file")
        .arg(keys.join("audit.key"))
        .arg("--audit-signing-key-file")
        .arg(keys.join("audit-signing.key"))
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON (exit {code}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

#[tokio::test]
async fn verify_reads_a_postgresql_database_and_names_the_tampered_entry() {
    let Some(server) = server_url() else {
        return;
    };
    let db = TestDatabase::create(&server).await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = AuditKey::load_or_create(&keys.path().join("audit.key")).unwrap();
    let signing = AuditSigningKey::load_or_create(&keys.path().join("audit-signing.key")).unwrap();
    let settings = PgSettings {
        max_connections: 2,
        ..PgSettings::default()
    };
    let store = PgStore::connect_keyed(db.url(), settings, key.clone())
        .await
        .unwrap();
    for i in 0..10 {
        let event =
            AuditEvent::new("org_cli", "test.entry", "system").with_details(json!({"n": i}));
        store
            .append_audit(event, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
    let sealer = Sealer::open(
        key,
        signing,
        keys.path().join("audit-checkpoints.jsonl"),
        None,
    )
    .unwrap();
    let signed = sealer
        .seal(store.as_ref(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(signed.map(|c| c.seq), Some(10));

    let (code, v) = verify(db.url(), keys.path(), &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["keyed"], true);
    assert_eq!(v["entries_checked"], 10);
    assert_eq!(v["checkpoints_checked"], 1);
    assert_eq!(v["last_checkpoint"]["seq"], 10);

    let public = keys.path().join("trusted.pem");
    std::fs::write(&public, sealer.public_key().to_pem()).unwrap();
    let public = public.to_str().unwrap().to_owned();
    let (code, v) = verify(db.url(), keys.path(), &["--public-key", &public]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["keyed"], false);

    // The owner of the database switches the append-only trigger off and
    // lowers a cost, recomputing nothing.
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute("SET session_replication_role = replica")
        .await
        .unwrap();
    conn.execute("UPDATE audit_log SET details = '{\"n\":0}' WHERE chain_seq = 4")
        .await
        .unwrap();
    for extra in [vec![], vec!["--public-key", public.as_str()]] {
        let (code, v) = verify(db.url(), keys.path(), &extra);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["first_break"]["seq"], 4, "{v}");
        assert_eq!(v["entries_checked"], 3);
    }
    // Text output names it too.
    let out = upivia()
        .args([
            "audit",
            "verify",
            "--database-url",
            db.url(),
            "--public-key",
            &public,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("broken: seq 4"), "{text}");
    store.close().await;
}

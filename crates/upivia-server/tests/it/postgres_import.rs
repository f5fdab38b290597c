//! The importer's refusals, on a small dump of a real SQLite database:
//! each bad dump is refused with a reason and leaves the PostgreSQL
//! database empty. (The whole move, with traffic and a server on each
//! side, is the CLI's test `migrate_to_postgres`.) Skipped without a
//! PostgreSQL server.

use upivia_server::auth;
use upivia_server::store::postgres::import::import;
use upivia_server::store::postgres::testing::{TestDatabase, server_url};
use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::sqlite::SqliteStore;
use upivia_server::store::transfer::TransferError;
use upivia_server::store::{BootstrapPlan, IdentityStore};

/// A dump of a bootstrapped SQLite database, and its owner's PAT.
async fn dump() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upivia.db");
    let pat = auth::new_pat();
    {
        let key = upivia_server::audit::AuditKey::generate();
        let store = SqliteStore::open_keyed(&db, key).unwrap();
        store
            .bootstrap(BootstrapPlan {
                org_name: "Default".into(),
                email: "owner@upivia.local".into(),
                password_hash: "!".into(),
                pat_hash: auth::hash_token(&pat),
                now: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let mut out = Vec::new();
    upivia_server::store::sqlite::export::export(
        &db,
        &dir.path().join("audit-checkpoints.jsonl"),
        &mut out,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    (String::from_utf8(out).unwrap(), pat)
}

async fn empty() -> Option<TestDatabase> {
    let server = server_url()?;
    Some(TestDatabase::create_empty(&server).await.unwrap())
}

async fn orgs(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// `text` with its line `n` (from 0) replaced by `with(line)`.
fn edit(text: &str, n: usize, with: impl Fn(&str) -> String) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| if i == n { with(l) } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_of(text: &str, starts: &str) -> usize {
    text.lines().position(|l| l.starts_with(starts)).unwrap()
}

#[tokio::test]
async fn a_dump_imports_once_and_its_owner_signs_in_on_postgresql() {
    let Some(db) = empty().await else { return };
    let (text, pat) = dump().await;
    let summary = import(db.url(), text.as_bytes()).await.unwrap();
    assert_eq!(summary.rows["orgs"], 1);
    assert_eq!(summary.rows["audit_log"], 1);
    let store = PgStore::connect(db.url(), PgSettings::default())
        .await
        .unwrap();
    let owner = store
        .user_by_pat(&auth::hash_token(&pat))
        .await
        .unwrap()
        .expect("the PAT works on PostgreSQL");
    assert_eq!(store.primary_org().await.unwrap().unwrap().id, owner.org_id);
    store.close().await;
    match import(db.url(), text.as_bytes()).await {
        Err(TransferError::Refused(m)) => assert!(m.contains("not empty"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(orgs(db.url()).await, 1);
}

#[tokio::test]
async fn bad_dumps_are_refused_and_leave_the_database_empty() {
    let Some(db) = empty().await else { return };
    let (text, _) = dump().await;
    let orgs_row = line_of(&text, "{\"table\":\"orgs\"") + 1;
    let last = text.lines().count() - 1;
    let cases: Vec<(&str, String)> = vec![
        (
            "format",
            edit(&text, 0, |l| {
                l.replace("\"upivia_export\":1", "\"upivia_export\":2")
            }),
        ),
        (
            "migrations",
            edit(&text, 0, |l| {
                // One migration fewer than this build has, whatever that is.
                let mut header: serde_json::Value = serde_json::from_str(l).unwrap();
                let applied = header["sqlite_migration"].as_i64().unwrap();
                header["sqlite_migration"] = (applied - 1).into();
                header.to_string()
            }),
        ),
        (
            "not one this upivia knows",
            edit(&text, orgs_row - 1, |l| l.replace("\"orgs\"", "\"orgz\"")),
        ),
        (
            "a row of 4 values",
            edit(&text, orgs_row, |l| {
                let mut v: Vec<serde_json::Value> = serde_json::from_str(l).unwrap();
                v.pop();
                serde_json::to_string(&v).unwrap()
            }),
        ),
        (
            "not a time as upivia writes it",
            edit(&text, orgs_row, |l| {
                let mut v: Vec<serde_json::Value> = serde_json::from_str(l).unwrap();
                let i = v
                    .iter()
                    .position(|x| x.as_str().is_some_and(|s| s.ends_with('Z')))
                    .unwrap();
                let t = v[i].as_str().unwrap();
                v[i] = serde_json::Value::String(format!("{}Z", &t[..19]));
                serde_json::to_string(&v).unwrap()
            }),
        ),
        (
            "is not a boolean",
            edit(&text, orgs_row, |l| {
                let mut v: Vec<serde_json::Value> = serde_json::from_str(l).unwrap();
                let i = v.iter().position(|x| x.as_i64() == Some(0)).unwrap();
                v[i] = serde_json::json!(2);
                serde_json::to_string(&v).unwrap()
            }),
        ),
        (
            "the dump says it holds",
            edit(&text, last, |l| l.replace("\"orgs\":1", "\"orgs\":2")),
        ),
        ("cut off", edit(&text, last, |_| String::new())),
        ("lines after the last one", format!("{text}[\"more\"]\n")),
        ("not the header", edit(&text, 0, |_| "{}".into())),
    ];
    for (why, bad) in cases {
        let err = import(db.url(), bad.as_bytes())
            .await
            .err()
            .unwrap_or_else(|| panic!("{why}: imported"));
        assert!(err.to_string().contains(why), "{why}: {err}");
        assert_eq!(orgs(db.url()).await, 0, "{why}: rolled back");
    }
    // And the good one still goes in.
    import(db.url(), text.as_bytes()).await.unwrap();
    assert_eq!(orgs(db.url()).await, 1);
}

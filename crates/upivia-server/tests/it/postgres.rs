//! The PostgreSQL backend's own mechanics (migrations, nodes); everything
//! else runs on PostgreSQL as the whole suite, `UPIVIA_TEST_BACKEND=postgres`.

use upivia_server::store::postgres::testing::TestDatabase;
use upivia_server::store::postgres::{PgSettings, PgStore};

use crate::support::postgres_database;

async fn empty_database() -> Option<TestDatabase> {
    let server = upivia_server::store::postgres::testing::server_url()?;
    Some(
        TestDatabase::create_empty(&server)
            .await
            .expect("create database"),
    )
}

#[tokio::test]
async fn nodes_starting_at_once_on_an_empty_database_migrate_it_once() {
    let Some(db) = empty_database().await else {
        return;
    };
    let starts = (0..4).map(|_| PgStore::connect(db.url(), PgSettings::default()));
    let stores = futures::future::join_all(starts).await;
    let stores: Vec<_> = stores
        .into_iter()
        .map(|s| s.expect("every node starts"))
        .collect();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, files as i64, "each migration applied exactly once");
    let nodes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(nodes, 4, "every node registered");
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn a_closed_node_is_marked_stopped() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let store = PgStore::connect(db.url(), PgSettings::default())
        .await
        .unwrap();
    let id = store.node_id().to_owned();
    store.close().await;
    let other = PgStore::connect(db.url(), PgSettings::default())
        .await
        .unwrap();
    let stopped: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT stopped_at FROM nodes WHERE id = $1")
            .bind(&id)
            .fetch_one(other.pool())
            .await
            .unwrap();
    assert!(stopped.is_some());
    other.close().await;
}

#[tokio::test]
async fn a_bad_url_is_unavailable_not_a_panic() {
    let err = PgStore::connect(
        "postgres://nobody@127.0.0.1:1/none",
        PgSettings {
            acquire_timeout: std::time::Duration::from_secs(1),
            ..PgSettings::default()
        },
    )
    .await
    .err()
    .expect("no server there");
    assert!(
        matches!(err, upivia_server::store::StoreError::Unavailable(_)),
        "{err:?}"
    );
}

//! The queries that the background workers run on every pass, and that the
//! writer runs to seed its daily counters, must read through an index: a
//! full scan costs nothing on a test database and grows with every request
//! ever made in production. SQLite's plan says which it is.

use rusqlite::Connection;

use super::{MIGRATIONS, approvals, configure, requests};
use crate::model::RequestStatus;

/// Column `column` of every row of `{explain} {sql}`, the statement's
/// parameters left NULL: what SQLite plans does not depend on their values.
fn explained(conn: &Connection, explain: &str, sql: &str, column: usize) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("{explain} {sql}"))
        .expect("the statement compiles");
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |r| {
        r.get::<_, String>(column)
    })
    .expect("explain")
    .collect::<Result<_, _>>()
    .expect("explain rows")
}

/// The plan's lines for `sql`, e.g. `SCAN r` or `SEARCH r USING INDEX …`.
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    explained(conn, "EXPLAIN QUERY PLAN", sql, 3)
}

/// A scan of a table (not of one of its indexes) reads every row.
fn full_scans(plan: &[String]) -> Vec<&String> {
    plan.iter()
        .filter(|line| line.starts_with("SCAN ") && !line.contains(" USING "))
        .collect()
}

fn migrated() -> Connection {
    let mut conn = Connection::open_in_memory().expect("open");
    configure(&conn).expect("configure");
    rusqlite_migration::Migrations::from_slice(MIGRATIONS)
        .to_latest(&mut conn)
        .expect("migrate");
    conn
}

#[test]
fn worker_and_counter_queries_read_through_an_index() {
    let conn = migrated();
    let queries = [
        requests::in_status_sql(RequestStatus::Running),
        requests::in_status_sql(RequestStatus::Executing),
        approvals::expired_sql(),
        requests::AGENT_DAY_COUNT.to_owned(),
        requests::BINDING_DAY_COUNT.to_owned(),
    ];
    for sql in queries {
        let plan = plan(&conn, &sql);
        assert!(
            full_scans(&plan).is_empty(),
            "{sql}\nscans a whole table: {plan:?}"
        );
    }
}

#[test]
fn a_bound_status_would_miss_the_partial_index() {
    // Pins the reason `in_status_sql` spells the status out: the same query
    // with the status bound as a parameter scans the table.
    let conn = migrated();
    let bound = requests::in_status_sql(RequestStatus::Running).replace("'running'", "?2");
    assert!(!full_scans(&plan(&conn, &bound)).is_empty());
}

/// Whether running `sql` builds a temporary B-tree (`OpenEphemeral`), as
/// SQLite does for a constant IN list of more than two values, in a query
/// or in a CHECK constraint of the table written.
fn builds_temporary_table(conn: &Connection, sql: &str) -> bool {
    explained(conn, "EXPLAIN", sql, 1)
        .iter()
        .any(|op| op == "OpenEphemeral")
}

#[test]
fn hot_writes_build_no_temporary_tables() {
    // Migration 0054 spelled the CHECKs of these tables without IN lists;
    // with them, each of these statements built a temporary B-tree.
    let conn = migrated();
    for sql in [
        super::ledger::INSERT_ENTRY,
        requests::INSERT_REQUEST,
        requests::FINISH_REQUEST,
    ] {
        assert!(!builds_temporary_table(&conn, sql), "{sql}");
    }
    // What the test would see without the migration.
    assert!(builds_temporary_table(
        &conn,
        "SELECT 1 WHERE ?1 IN ('a', 'b', 'c')"
    ));
}

#[test]
fn the_rewritten_checks_refuse_what_the_lists_refused() {
    // Migration 0054 edits the schema's text in place: the database must
    // stay sound, and the constraints must still hold.
    let conn = migrated();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
    let entry = |kind: &str| {
        conn.execute(
            super::ledger::INSERT_ENTRY,
            rusqlite::params![
                "org_1",
                "org:org_1",
                kind,
                1,
                None::<String>,
                None::<String>,
                "t",
                None::<String>
            ],
        )
    };
    for kind in ["credit", "debit", "reserve", "release", "settle"] {
        entry(kind).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    let refused = entry("refund").expect_err("a kind outside the list");
    assert!(
        refused.to_string().contains("CHECK constraint"),
        "{refused}"
    );
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'service_requests'",
            [],
            |r| r.get(0),
        )
        .expect("schema");
    assert!(!sql.contains("status IN"), "{sql}");
    for status in [
        "awaiting_approval",
        "executing",
        "running",
        "executed",
        "blocked",
        "failed",
    ] {
        assert!(
            sql.contains(&format!("status = '{status}'")),
            "{status}: {sql}"
        );
    }
}

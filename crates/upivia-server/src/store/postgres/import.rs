//! Reads a dump of a SQLite deployment (`store::transfer`) into an empty
//! PostgreSQL database, in one transaction: it all arrives, or nothing
//! does. Rows keep their ids, times, JSON text and audit links exactly;
//! what PostgreSQL keeps beside them is derived from them: balance rows
//! from the ledger entries, daily counters from the requests, the chain's
//! head from the audit rows, the bootstrap claim from the first
//! organisation, the id sequences from the highest ids, and the memories'
//! search vectors (a generated column) from their text.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::{MIGRATOR, db_error};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::store::StoreError;
use crate::store::sqlite::export::MIGRATION_LEVEL;
use crate::store::transfer::{
    CHECKPOINTS, End, FORMAT_VERSION, Header, Line, TABLES, TableStart, TransferError,
    TransferSummary,
};

/// Rows per insert statement (one array per column, so no limit on
/// parameters applies).
const BATCH: usize = 1000;

/// Tables an import leaves alone when it checks that the database is
/// empty: the migrations' record, the chain record the first migration
/// creates (checked to be untouched instead), and the nodes serving it.
const BOOKKEEPING: &[&str] = &["_sqlx_migrations", "audit_chains", "nodes"];

/// Imports the dump read from `input` into the database at `url`,
/// migrating it first. Refused unless the database is empty.
pub async fn import<R: AsyncBufRead + Unpin>(
    url: &str,
    input: R,
) -> Result<TransferSummary, TransferError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(db_error)?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| StoreError::Other(Box::new(e)))?;
    let mut tx = pool.begin().await.map_err(db_error)?;
    // Two imports, or a node starting, wait for this one to finish: the
    // chain record is what each of them reads first.
    sqlx::query("LOCK TABLE audit_chains IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    refuse_unless_empty(&mut tx).await?;
    let summary = Reader::new(input).read_into(&mut tx).await?;
    derive(&mut tx).await?;
    tx.commit().await.map_err(db_error)?;
    pool.close().await;
    Ok(summary)
}

async fn refuse_unless_empty(conn: &mut PgConnection) -> Result<(), TransferError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    for table in tables.iter().filter(|t| !BOOKKEEPING.contains(&t.as_str())) {
        // The name is the catalog's, quoted.
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", ident(table));
        let any: bool = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error)?;
        if any {
            return Err(not_empty(&format!("{table} has rows")));
        }
    }
    let touched: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_chains WHERE NOT (chain = 'global' AND head_seq = 0 \
         AND mac_key_id IS NULL AND checkpoints = 0))",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    if touched {
        return Err(not_empty("its audit chain record was used"));
    }
    Ok(())
}

fn not_empty(why: &str) -> TransferError {
    TransferError::Refused(format!(
        "the database is not empty ({why}): import only into a new database"
    ))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A PostgreSQL column type a dump value converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Int8,
    Int4,
    Time,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        match data_type {
            "text" => Some(Kind::Text),
            "boolean" => Some(Kind::Bool),
            "bigint" => Some(Kind::Int8),
            "integer" => Some(Kind::Int4),
            "timestamp with time zone" => Some(Kind::Time),
            _ => None,
        }
    }

    fn array_type(self) -> &'static str {
        match self {
            Kind::Text => "TEXT[]",
            Kind::Bool => "BOOLEAN[]",
            Kind::Int8 => "BIGINT[]",
            Kind::Int4 => "INTEGER[]",
            Kind::Time => "TIMESTAMPTZ[]",
        }
    }
}

/// One column's values of a batch.
enum Values {
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Time(Vec<Option<OffsetDateTime>>),
}

impl Values {
    fn new(kind: Kind) -> Values {
        match kind {
            Kind::Text => Values::Text(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Int8 => Values::Int8(Vec::new()),
            Kind::Int4 => Values::Int4(Vec::new()),
            Kind::Time => Values::Time(Vec::new()),
        }
    }

    /// Appends `value` converted to this column's type; the error says why
    /// it does not fit.
    fn push(&mut self, value: &Value) -> Result<(), String> {
        match (self, value) {
            (Values::Text(v), Value::Null) => v.push(None),
            (Values::Bool(v), Value::Null) => v.push(None),
            (Values::Int8(v), Value::Null) => v.push(None),
            (Values::Int4(v), Value::Null) => v.push(None),
            (Values::Time(v), Value::Null) => v.push(None),
            (Values::Text(v), Value::String(s)) => v.push(Some(s.clone())),
            (Values::Bool(v), Value::Bool(b)) => v.push(Some(*b)),
            (Values::Bool(v), n @ Value::Number(_)) => match n.as_i64() {
                Some(0) => v.push(Some(false)),
                Some(1) => v.push(Some(true)),
                _ => return Err(format!("{n} is not a boolean (0 or 1)")),
            },
            (Values::Int8(v), n @ Value::Number(_)) => match n.as_i64() {
                Some(i) => v.push(Some(i)),
                None => return Err(format!("{n} is not a 64-bit integer")),
            },
            (Values::Int4(v), n @ Value::Number(_)) => {
                match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
                    Some(i) => v.push(Some(i)),
                    None => return Err(format!("{n} is not a 32-bit integer")),
                }
            }
            (Values::Time(v), Value::String(s)) => match parse_rfc3339(s) {
                // The audit hash covers times as text: one that would come
                // back in another spelling would break the chain.
                Some(t) if rfc3339(t) == *s => v.push(Some(t)),
                _ => return Err(format!("{s:?} is not a time as upivia writes it")),
            },
            (_, other) => return Err(format!("{other} has the wrong type")),
        }
        Ok(())
    }

    fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        match self {
            Values::Text(v) => query.bind(v),
            Values::Bool(v) => query.bind(v),
            Values::Int8(v) => query.bind(v),
            Values::Int4(v) => query.bind(v),
            Values::Time(v) => query.bind(v),
        }
    }
}

/// Where each value of a dump row goes.
struct Plan {
    table: String,
    /// Target columns (PostgreSQL's names) and their types.
    columns: Vec<(String, Kind)>,
    /// For each target column, the index of the dump value it takes.
    sources: Vec<usize>,
    /// How many values a dump row has.
    width: usize,
    /// The chain record: applied to the row the migration made.
    chain_record: bool,
}

/// The dump, line by line.
struct Reader<R> {
    lines: tokio::io::Lines<R>,
    number: u64,
}

impl<R: AsyncBufRead + Unpin> Reader<R> {
    fn new(input: R) -> Reader<R> {
        Reader {
            lines: input.lines(),
            number: 0,
        }
    }

    fn bad(&self, message: impl Into<String>) -> TransferError {
        TransferError::Dump {
            line: self.number,
            message: message.into(),
        }
    }

    async fn next(&mut self) -> Result<Option<String>, TransferError> {
        let line = self.lines.next_line().await?;
        if line.is_some() {
            self.number += 1;
        }
        Ok(line)
    }

    async fn read_into(
        mut self,
        conn: &mut PgConnection,
    ) -> Result<TransferSummary, TransferError> {
        let Some(first) = self.next().await? else {
            return Err(TransferError::Refused("the dump is empty".into()));
        };
        let header: Header = serde_json::from_str(&first)
            .map_err(|_| self.bad("not the header of an upivia export"))?;
        if header.upivia_export != FORMAT_VERSION || header.source != "sqlite" {
            return Err(self.bad(format!(
                "an export of format {} from {}; this upivia reads format {FORMAT_VERSION} from \
                 sqlite",
                header.upivia_export, header.source
            )));
        }
        if usize::try_from(header.sqlite_migration).ok() != Some(MIGRATION_LEVEL) {
            return Err(self.bad(format!(
                "exported from a database with {} SQLite migrations; this upivia imports one \
                 with {MIGRATION_LEVEL}: export and import with the same version",
                header.sqlite_migration
            )));
        }
        let mut summary = TransferSummary::default();
        let mut plan: Option<Plan> = None;
        let mut batch: Vec<Values> = Vec::new();
        let mut pending = 0usize;
        loop {
            let Some(raw) = self.next().await? else {
                return Err(TransferError::Refused(
                    "the dump ends before its last line: it was cut off".into(),
                ));
            };
            match Line::parse(&raw) {
                Some(Line::Table(start)) => {
                    if let Some(done) = plan.take() {
                        flush(conn, &done, &mut batch, &mut pending).await?;
                    }
                    if summary.rows.contains_key(&start.table) {
                        return Err(self.bad(format!("table {} comes twice", start.table)));
                    }
                    let next = self.plan(conn, start).await?;
                    batch = next.columns.iter().map(|(_, k)| Values::new(*k)).collect();
                    summary.rows.insert(next.table.clone(), 0);
                    plan = Some(next);
                }
                Some(Line::Row(values)) => {
                    let Some(p) = &plan else {
                        return Err(self.bad("a row before any table"));
                    };
                    if values.len() != p.width {
                        return Err(self.bad(format!(
                            "a row of {} values in {}, which has {} columns",
                            values.len(),
                            p.table,
                            p.width
                        )));
                    }
                    self.push_row(p, &values, &mut batch)?;
                    *summary.rows.entry(p.table.clone()).or_default() += 1;
                    pending += 1;
                    if p.chain_record {
                        apply_chain_record(conn, p, &mut batch).await?;
                        pending = 0;
                    } else if pending >= BATCH {
                        flush(conn, p, &mut batch, &mut pending).await?;
                    }
                }
                Some(Line::End(End { end })) => {
                    if let Some(done) = plan.take() {
                        flush(conn, &done, &mut batch, &mut pending).await?;
                    }
                    if end != summary.rows {
                        return Err(self.bad(format!(
                            "the dump says it holds {end:?} but holds {:?}",
                            summary.rows
                        )));
                    }
                    break;
                }
                None => return Err(self.bad("not a line of an upivia export")),
            }
        }
        while let Some(rest) = self.next().await? {
            if !rest.trim().is_empty() {
                return Err(self.bad("lines after the last one"));
            }
        }
        Ok(summary)
    }

    async fn plan(
        &self,
        conn: &mut PgConnection,
        start: TableStart,
    ) -> Result<Plan, TransferError> {
        let checkpoints = start.table == CHECKPOINTS;
        if !checkpoints && !TABLES.contains(&start.table.as_str()) {
            return Err(self.bad(format!(
                "table {} is not one this upivia knows: import with the version that exported it",
                start.table
            )));
        }
        let catalog: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&start.table)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        if catalog.is_empty() {
            return Err(TransferError::Refused(format!(
                "this PostgreSQL schema has no table {}",
                start.table
            )));
        }
        let mut columns = Vec::new();
        let mut sources = Vec::new();
        for (i, name) in start.columns.iter().enumerate() {
            let Some((pg_name, data_type)) = catalog.iter().find(|(c, _)| c == name) else {
                return Err(self.bad(format!(
                    "{}.{name} has no column in PostgreSQL",
                    start.table
                )));
            };
            let Some(kind) = Kind::of(data_type) else {
                return Err(TransferError::Refused(format!(
                    "{}.{name} is {data_type} in PostgreSQL, which an import does not fill",
                    start.table
                )));
            };
            columns.push((pg_name.clone(), kind));
            sources.push(i);
        }
        if start.columns.iter().collect::<HashSet<_>>().len() != start.columns.len() {
            return Err(self.bad(format!("{} names a column twice", start.table)));
        }
        let seq = start.columns.iter().position(|c| c == "seq");
        match (start.table.as_str(), seq) {
            // SQLite's seq is the entry's place in the chain: PostgreSQL
            // keeps it twice, as the listing order and the chain position.
            ("audit_log", Some(seq)) => {
                columns.push(("chain_seq".into(), Kind::Int8));
                sources.push(seq);
            }
            ("audit_log", None) => return Err(self.bad("audit_log without seq")),
            (CHECKPOINTS, _) => {
                if start.columns != ["line"] {
                    return Err(self.bad("checkpoints are one line each"));
                }
                // The line's own seq, read from it in push_row.
                columns.push(("seq".into(), Kind::Int8));
                sources.push(usize::MAX);
            }
            _ => {}
        }
        Ok(Plan {
            chain_record: start.table == "audit_chains",
            table: start.table,
            columns,
            sources,
            width: start.columns.len(),
        })
    }

    fn push_row(
        &self,
        p: &Plan,
        values: &[Value],
        batch: &mut [Values],
    ) -> Result<(), TransferError> {
        for (((name, _), source), out) in p.columns.iter().zip(&p.sources).zip(batch.iter_mut()) {
            let derived;
            let value = if *source == usize::MAX {
                // A checkpoint line's seq.
                derived = values
                    .first()
                    .and_then(Value::as_str)
                    .and_then(|line| serde_json::from_str::<Value>(line).ok())
                    .and_then(|v| v.get("seq").cloned())
                    .ok_or_else(|| self.bad("a checkpoint line without its seq"))?;
                &derived
            } else {
                values
                    .get(*source)
                    .ok_or_else(|| self.bad("a row shorter than its table"))?
            };
            out.push(value)
                .map_err(|why| self.bad(format!("{}.{name}: {why}", p.table)))?;
        }
        Ok(())
    }
}

/// Inserts the batch's rows, one array per column.
async fn flush(
    conn: &mut PgConnection,
    plan: &Plan,
    batch: &mut Vec<Values>,
    pending: &mut usize,
) -> Result<(), TransferError> {
    if *pending == 0 || plan.chain_record {
        return Ok(());
    }
    let names: Vec<String> = plan.columns.iter().map(|(n, _)| ident(n)).collect();
    let arrays: Vec<String> = plan
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, k))| format!("${}::{}", i + 1, k.array_type()))
        .collect();
    // Table and column names are the catalog's (checked against it in
    // `plan`), quoted; every value is bound.
    let sql = format!(
        "INSERT INTO {} ({}) SELECT * FROM UNNEST({})",
        ident(&plan.table),
        names.join(", "),
        arrays.join(", ")
    );
    let fresh: Vec<Values> = plan.columns.iter().map(|(_, k)| Values::new(*k)).collect();
    let full = std::mem::replace(batch, fresh);
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for values in full {
        query = values.bind(query);
    }
    query.execute(&mut *conn).await.map_err(db_error)?;
    *pending = 0;
    Ok(())
}

/// SQLite's chain record, onto the row PostgreSQL's first migration made.
async fn apply_chain_record(
    conn: &mut PgConnection,
    plan: &Plan,
    batch: &mut Vec<Values>,
) -> Result<(), TransferError> {
    let fresh: Vec<Values> = plan.columns.iter().map(|(_, k)| Values::new(*k)).collect();
    let row = std::mem::replace(batch, fresh);
    let mut by_name: HashMap<&str, Values> = plan
        .columns
        .iter()
        .map(|(n, _)| n.as_str())
        .zip(row)
        .collect();
    let text = |v: Option<Values>| match v {
        Some(Values::Text(mut v)) => v.pop().flatten(),
        _ => None,
    };
    let int = |v: Option<Values>| match v {
        Some(Values::Int8(mut v)) => v.pop().flatten(),
        _ => None,
    };
    let time = |v: Option<Values>| match v {
        Some(Values::Time(mut v)) => v.pop().flatten(),
        _ => None,
    };
    let chain = text(by_name.remove("chain"));
    if chain.as_deref() != Some("global") {
        return Err(TransferError::Refused(format!(
            "audit_chains holds a chain {chain:?}; SQLite keeps only the global one"
        )));
    }
    let keyed_from = int(by_name.remove("keyed_from"))
        .ok_or_else(|| TransferError::Refused("audit_chains without keyed_from".into()))?;
    let changed = sqlx::query(
        "UPDATE audit_chains SET keyed_from = $1, mac_key_id = $2, checkpoints = $3, \
         checkpoint_seq = $4, checkpoint_at = $5 WHERE chain = 'global'",
    )
    .bind(keyed_from)
    .bind(text(by_name.remove("mac_key_id")))
    .bind(int(by_name.remove("checkpoints")).unwrap_or(0))
    .bind(int(by_name.remove("checkpoint_seq")))
    .bind(time(by_name.remove("checkpoint_at")))
    .execute(&mut *conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if changed != 1 {
        return Err(TransferError::Refused(
            "the database has no chain record to import onto".into(),
        ));
    }
    Ok(())
}

/// What PostgreSQL keeps beside the rows, computed from them.
async fn derive(conn: &mut PgConnection) -> Result<(), TransferError> {
    let overdrawn: Option<String> = sqlx::query_scalar(
        "SELECT account FROM ledger_entries GROUP BY account \
         HAVING SUM(CASE WHEN kind = 'reserve' THEN amount_cents ELSE 0 END) \
              < SUM(CASE WHEN kind IN ('settle', 'release') THEN amount_cents ELSE 0 END) \
         ORDER BY account LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    if let Some(account) = overdrawn {
        return Err(TransferError::Refused(format!(
            "the ledger gives back more than was held on {account}: run `upivia admin \
             check-ledger` on the SQLite data directory"
        )));
    }
    let steps: [&'static str; 7] = [
        "INSERT INTO account_balances (account, credits_cents, settled_cents, reserved_cents) \
         SELECT account, \
                SUM(CASE WHEN kind = 'credit' THEN amount_cents \
                         WHEN kind = 'debit' THEN -amount_cents ELSE 0 END), \
                SUM(CASE WHEN kind = 'settle' THEN amount_cents ELSE 0 END), \
                SUM(CASE WHEN kind = 'reserve' THEN amount_cents ELSE 0 END) \
                - SUM(CASE WHEN kind IN ('settle', 'release') THEN amount_cents ELSE 0 END) \
         FROM ledger_entries GROUP BY account",
        // The keys SQLite's writer counts by (`agent:<id>:<YYYY-MM-DD>`,
        // `binding:<id>:<YYYY-MM-DD>`, the UTC day of the request).
        "INSERT INTO daily_counts (key, count) \
         SELECT 'agent:' || agent_id || ':' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), \
                COUNT(*) \
         FROM service_requests WHERE counts_toward_limits GROUP BY 1 \
         UNION ALL \
         SELECT 'binding:' || binding_id || ':' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), \
                COUNT(*) \
         FROM service_requests WHERE counts_toward_limits AND binding_id IS NOT NULL GROUP BY 1",
        // The organisation SQLite's first start made: the first created.
        "INSERT INTO bootstrap (singleton, org_id, created_at) \
         SELECT TRUE, id, created_at FROM orgs ORDER BY created_at, id COLLATE \"C\" LIMIT 1",
        "UPDATE audit_chains SET \
         head_seq = COALESCE((SELECT MAX(chain_seq) FROM audit_log), 0), \
         head_hash = COALESCE((SELECT hash FROM audit_log ORDER BY chain_seq DESC LIMIT 1), \
                              head_hash) \
         WHERE chain = 'global'",
        "SELECT setval(pg_get_serial_sequence('ledger_entries', 'seq'), \
                       COALESCE(MAX(seq), 0) + 1, false) FROM ledger_entries",
        "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), \
                       COALESCE(MAX(seq), 0) + 1, false) FROM audit_log",
        "SELECT setval(pg_get_serial_sequence('memories', 'seq'), \
                       COALESCE(MAX(seq), 0) + 1, false) FROM memories",
    ];
    for sql in steps {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

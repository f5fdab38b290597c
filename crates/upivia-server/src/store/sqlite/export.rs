//! Writes the database as a dump (`store::transfer`) from one read
//! snapshot, over a read-only connection of its own: a running server
//! goes on writing meanwhile (WAL keeps the snapshot), and nothing here
//! migrates, writes or creates a file.

use std::io::{BufRead, Write};
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;
use time::OffsetDateTime;

use super::{MIGRATIONS, db_error};
use crate::clock::rfc3339;
use crate::store::transfer::{
    CHECKPOINTS, End, FORMAT_VERSION, Header, TABLES, TableStart, TransferError, TransferSummary,
};

/// How many migrations a database this build writes has applied.
pub const MIGRATION_LEVEL: usize = MIGRATIONS.len();

/// Writes the database at `db`, and the lines of the checkpoint file at
/// `checkpoints` that the snapshot records, to `out`.
pub fn export(
    db: &Path,
    checkpoints: &Path,
    out: &mut dyn Write,
    now: OffsetDateTime,
) -> Result<TransferSummary, TransferError> {
    if !db.exists() {
        return Err(TransferError::Refused(format!(
            "no database at {}",
            db.display()
        )));
    }
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_error)?;
    // The first read of the transaction fixes its snapshot: every table
    // below, and the checkpoint record, are read as of this moment.
    conn.execute_batch("BEGIN").map_err(db_error)?;
    let tables = tables(&conn)?;
    let level: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_error)?;
    if usize::try_from(level).ok() != Some(MIGRATION_LEVEL) {
        return Err(TransferError::Refused(format!(
            "the database has {level} migrations applied and this upivia writes {MIGRATION_LEVEL}: \
             export with the version of upivia that last served it (or start this version's server \
             on it once, which migrates it)"
        )));
    }
    let header = Header {
        upivia_export: FORMAT_VERSION,
        source: "sqlite".into(),
        sqlite_migration: level,
        exported_at: rfc3339(now),
    };
    line(out, &header)?;
    let mut summary = TransferSummary::default();
    for table in &tables {
        let rows = table_rows(&conn, table, out)?;
        summary.rows.insert(table.clone(), rows);
    }
    let signed = checkpoint_seq(&conn)?;
    let lines = checkpoint_lines(checkpoints, signed)?;
    line(
        out,
        &TableStart {
            table: CHECKPOINTS.into(),
            columns: vec!["line".into()],
        },
    )?;
    for checkpoint in &lines {
        line(out, &Value::Array(vec![Value::String(checkpoint.clone())]))?;
    }
    summary.rows.insert(
        CHECKPOINTS.into(),
        u64::try_from(lines.len()).unwrap_or(u64::MAX),
    );
    let end = End {
        end: summary.rows.clone(),
    };
    line(out, &end)?;
    out.flush()?;
    conn.execute_batch("COMMIT").map_err(db_error)?;
    Ok(summary)
}

/// One line; structs keep their field order (the header's first key names
/// the format).
fn line(out: &mut dyn Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Every table of the database: the known ones in insert order, then any
/// other (an importer that does not know it refuses the dump, rather than
/// a row going missing). Full-text indexes (virtual tables, and the shadow
/// tables they keep their data in) are derived from other tables' rows and
/// left out: the importing side indexes the rows itself.
fn tables(conn: &Connection) -> Result<Vec<String>, TransferError> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(db_error)?;
    let present: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(db_error)?
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    let mut ordered: Vec<String> = TABLES
        .iter()
        .filter(|t| present.iter().any(|p| p == *t))
        .map(|t| (*t).to_owned())
        .collect();
    ordered.extend(
        present
            .into_iter()
            .filter(|p| !TABLES.contains(&p.as_str())),
    );
    Ok(ordered)
}

fn table_rows(conn: &Connection, table: &str, out: &mut dyn Write) -> Result<u64, TransferError> {
    // The name comes from sqlite_master; quoted for SQL all the same.
    let quoted = table.replace('"', "\"\"");
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM \"{quoted}\" ORDER BY rowid"))
        .map_err(db_error)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    line(
        out,
        &TableStart {
            table: table.to_owned(),
            columns: columns.clone(),
        },
    )?;
    let mut rows = stmt.query([]).map_err(db_error)?;
    let mut count = 0u64;
    while let Some(row) = rows.next().map_err(db_error)? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let value = match row.get_ref(i).map_err(db_error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Value::String(text.to_owned()),
                    Err(_) => return Err(unexpected(table, column, "text that is not UTF-8")),
                },
                // The store writes neither: a row holding one was written
                // by something else, and would not survive the move intact.
                ValueRef::Real(_) => return Err(unexpected(table, column, "a REAL")),
                ValueRef::Blob(_) => return Err(unexpected(table, column, "a BLOB")),
            };
            values.push(value);
        }
        line(out, &Value::Array(values))?;
        count += 1;
    }
    Ok(count)
}

fn unexpected(table: &str, column: &str, what: &str) -> TransferError {
    TransferError::Refused(format!(
        "{table}.{column} holds {what}, which upivia never writes"
    ))
}

fn checkpoint_seq(conn: &Connection) -> Result<Option<i64>, TransferError> {
    let seq: Option<Option<i64>> = conn
        .query_row(
            "SELECT checkpoint_seq FROM audit_chains WHERE chain = 'global'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    Ok(seq.flatten())
}

/// The checkpoint file's lines up to the last checkpoint the snapshot
/// records (`signed`). A server appends to the file before it records the
/// checkpoint, so the file may hold newer ones, and a half-written last
/// line; neither belongs to the snapshot.
fn checkpoint_lines(path: &Path, signed: Option<i64>) -> Result<Vec<String>, TransferError> {
    let Some(signed) = signed else {
        return Ok(Vec::new());
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TransferError::Refused(format!(
                "the database records checkpoints up to seq {signed} but there is no checkpoint \
                 file at {} (give it with --checkpoints)",
                path.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let mut lines = Vec::new();
    let mut reader = std::io::BufReader::new(file);
    let mut raw = String::new();
    let mut reached = false;
    loop {
        raw.clear();
        if reader.read_line(&mut raw)? == 0 || !raw.ends_with('\n') {
            break;
        }
        let text = raw.trim_end_matches('\n');
        let seq = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("seq").and_then(Value::as_i64));
        let Some(seq) = seq else {
            return Err(TransferError::Refused(format!(
                "{} holds a line that is not a checkpoint: {text:?}",
                path.display()
            )));
        };
        if seq > signed {
            break;
        }
        reached |= seq == signed;
        lines.push(text.to_owned());
    }
    if !reached {
        return Err(TransferError::Refused(format!(
            "the database records a checkpoint of seq {signed} that {} lacks",
            path.display()
        )));
    }
    Ok(lines)
}

//! Translates PostgreSQL errors once, by SQLSTATE class: integrity
//! violations are constraint errors, serialization failures and deadlocks
//! conflicts the caller may retry, lost connections and an exhausted pool
//! "unavailable", the rest "other".

use sqlx::Error;

use crate::store::StoreError;

pub(crate) fn db_error(e: Error) -> StoreError {
    match &e {
        Error::RowNotFound => StoreError::NotFound,
        Error::PoolTimedOut | Error::PoolClosed | Error::Io(_) | Error::Tls(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        Error::Database(db) => match db.code().as_deref() {
            // 23xxx: integrity constraint violation (unique, check, FK).
            Some(code) if code.starts_with("23") => StoreError::Constraint(db.message().to_owned()),
            // character_not_in_repertoire: a NUL, which PostgreSQL text
            // cannot hold (SQLite can). Nothing stored can match one, so a
            // lookup by it (an id in a path or query) finds nothing, as on
            // SQLite; the API refuses NULs in the text it stores.
            Some("22021") => StoreError::NotFound,
            // serialization_failure, deadlock_detected
            Some("40001" | "40P01") => {
                StoreError::Conflict("the database asked to retry; try again".to_owned())
            }
            // 08: connection exception; 57P0x: the server is shutting down;
            // 53: insufficient resources.
            Some(code)
                if code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") =>
            {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Other(Box::new(e)),
        },
        _ => StoreError::Other(Box::new(e)),
    }
}

/// A value read back that does not fit what the store writes.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

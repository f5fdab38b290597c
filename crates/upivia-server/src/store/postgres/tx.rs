//! One transaction per store method, run again when PostgreSQL gives up
//! on it for a deadlock or a serialization failure (SQLSTATE 40P01,
//! 40001). Every lock is taken in one order (daily counters, then balance
//! rows, each by key), so a retry is a safety net, not the normal path.
//! A body answers whether to commit or to roll back: a refusal (a limit,
//! a hold that does not fit, a key already used) writes nothing.

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

use super::{StoreError, StoreResult, db_error};

/// How many times a transaction is run again after the first attempt.
const RETRIES: u32 = 3;

pub(super) enum Step<T> {
    Commit(T),
    Rollback(T),
}

/// A failure inside a transaction, kept as sqlx's error until the end so a
/// retryable one is still recognisable.
#[derive(Debug)]
pub(super) enum TxError {
    Db(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> TxError {
        TxError::Db(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> TxError {
        TxError::Store(e)
    }
}

impl TxError {
    fn retryable(&self) -> bool {
        match self {
            TxError::Db(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        }
    }

    fn into_store(self) -> StoreError {
        match self {
            TxError::Db(e) => db_error(e),
            TxError::Store(e) => e,
        }
    }
}

pub(super) type TxResult<T> = Result<T, TxError>;

/// The body of a transaction: a function of the connection and its input,
/// so it can run again from scratch.
pub(super) type Body<A, T> = for<'c> fn(&'c mut PgConnection, &'c A) -> BoxFuture<'c, TxResult<T>>;

/// Runs `body` on `arg` in a transaction, committing or rolling back as it
/// answers.
pub(super) async fn run<A, T>(pool: &PgPool, arg: &A, body: Body<A, Step<T>>) -> StoreResult<T>
where
    A: Sync,
    T: Send,
{
    let mut retries = 0;
    loop {
        let attempt: TxResult<T> = async {
            let mut tx = pool.begin().await?;
            match body(&mut tx, arg).await? {
                Step::Commit(value) => {
                    tx.commit().await?;
                    Ok(value)
                }
                Step::Rollback(value) => {
                    tx.rollback().await?;
                    Ok(value)
                }
            }
        }
        .await;
        match attempt {
            Err(e) if e.retryable() && retries < RETRIES => {
                retries += 1;
                tracing::debug!(error = ?e, retries, "transaction retried");
            }
            done => return done.map_err(TxError::into_store),
        }
    }
}

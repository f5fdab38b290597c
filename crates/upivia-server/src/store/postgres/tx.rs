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
    /// The body asks to be run again at once, knowing more
    /// (`ledger::Reach`: create rows first, or look at every stripe); not
    /// counted as a retry.
    Again,
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

    pub(super) fn into_store(self) -> StoreError {
        match self {
            TxError::Db(e) => db_error(e),
            TxError::Store(e) => e,
            TxError::Again => StoreError::Conflict(
                "a reservation asked to run again too many times; try again".into(),
            ),
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
    // Create rows, then widen: two re-runs at most.
    let mut agains = 0;
    loop {
        let attempt: TxResult<T> = async {
            let mut tx = pool.begin().await?;
            match body(&mut tx, arg).await {
                Ok(Step::Commit(value)) => {
                    tx.commit().await?;
                    Ok(value)
                }
                Ok(Step::Rollback(value)) => {
                    tx.rollback().await?;
                    Ok(value)
                }
                Err(e) => {
                    // Rolled back now, not when the pool next uses the
                    // connection: the next attempt may need the row locks
                    // this one holds. A failure here (the connection is
                    // gone) drops the transaction with it.
                    let _ = tx.rollback().await;
                    Err(e)
                }
            }
        }
        .await;
        match attempt {
            Err(TxError::Again) if agains < 2 => agains += 1,
            Err(e) if e.retryable() && retries < RETRIES => {
                retries += 1;
                tracing::debug!(error = ?e, retries, "transaction retried");
            }
            done => return done.map_err(TxError::into_store),
        }
    }
}

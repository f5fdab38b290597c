//! Batches: repeatable jobs unguarded when all succeed, started over with
//! a savepoint per job when one fails; once-only jobs each in a savepoint,
//! beside unguarded repeatable ones in the same transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Writer;
use crate::store::StoreError;
use crate::store::sqlite::{SqliteStore, db_error};

const DAY_KEY: &str = "test-day";

/// Runs `jobs` (futures not yet polled) as one batch: a job holds the
/// writer until each of them has been handed over, in order.
async fn in_one_batch<F: Future + Unpin>(writer: &Writer, mut jobs: Vec<F>) -> Vec<F::Output> {
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let held = {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |_| {
                    let _ = started.send(());
                    let _ = gate.recv();
                    Ok(())
                })
                .await
        })
    };
    running.await.expect("the gate job runs on the writer");
    // One poll each hands every job to the writer, in order, while it is
    // still held: they are all waiting when it takes its next batch.
    for job in &mut jobs {
        assert!(futures::poll!(job).is_pending());
    }
    release.send(()).expect("release the writer");
    held.await.expect("gate").expect("gate job");
    let mut out = Vec::new();
    for job in jobs {
        out.push(job.await);
    }
    out
}

/// Queues `count` repeatable jobs as one batch (see [`mixed_batch`]).
async fn one_batch(
    writer: &Writer,
    count: usize,
    failing: Option<usize>,
) -> Vec<(Result<usize, StoreError>, usize)> {
    let results = mixed_batch(writer, count, |_| false, failing).await;
    results
        .into_iter()
        .map(|(result, runs)| (result.map(|(i, _)| i), runs))
        .collect()
}

async fn rows_and_counter(writer: &Writer) -> (Vec<String>, u32) {
    writer
        .write(|ctx| {
            let mut stmt = ctx
                .conn
                .prepare(
                    "SELECT worker FROM worker_heartbeats WHERE worker LIKE 'j%' ORDER BY worker",
                )
                .map_err(db_error)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(db_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_error)?;
            let count = ctx.daily_count(DAY_KEY, |_| Ok(0))?;
            Ok((rows, count))
        })
        .await
        .expect("read back")
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("writer.db")).expect("open");
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_succeeds_runs_each_job_once() {
    let (_dir, store) = open();
    let results = one_batch(&store.writer, 8, None).await;
    for (i, (result, runs)) in results.iter().enumerate() {
        assert_eq!(result.as_ref().ok(), Some(&i));
        assert_eq!(*runs, 1, "job {i} ran {runs} times");
    }
    let (rows, counted) = rows_and_counter(&store.writer).await;
    assert_eq!(rows.len(), 8);
    assert_eq!(counted, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_fails_alone_and_its_batch_commits_once() {
    let (_dir, store) = open();
    let results = one_batch(&store.writer, 8, Some(5)).await;
    for (i, (result, runs)) in results.iter().enumerate() {
        if i == 5 {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            assert_eq!(result.as_ref().ok(), Some(&i));
        }
        // The jobs up to the failing one ran unguarded, then all again.
        let expected = if i <= 5 { 2 } else { 1 };
        assert_eq!(*runs, expected, "job {i} ran {runs} times");
    }
    // Nothing of the failed job nor of the abandoned first pass remains,
    // in the database or in the writer's counters.
    let (rows, counted) = rows_and_counter(&store.writer).await;
    let expected: Vec<String> = [0, 1, 2, 3, 4, 6, 7]
        .iter()
        .map(|i| format!("j{i}"))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(counted, 7);
}

/// Whether the running job is inside a savepoint of its own: rolling back
/// to `job` at the start of a job undoes nothing, and fails outside one.
fn guarded(ctx: &super::WriteCtx<'_>) -> bool {
    ctx.conn.execute_batch("ROLLBACK TO job").is_ok()
}

type Outcome = (Result<(usize, bool), StoreError>, usize);

/// Queues `count` jobs as one batch, job `i` once-only when `once(i)`.
/// Job `failing` (if any) writes and then fails. Each job writes a
/// heartbeat row named `j<i>`, bumps a daily counter and reports whether
/// it ran in a savepoint. Returns each job's result and how often it ran.
async fn mixed_batch(
    writer: &Writer,
    count: usize,
    once: impl Fn(usize) -> bool,
    failing: Option<usize>,
) -> Vec<Outcome> {
    let runs: Vec<_> = (0..count).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let body = move |i: usize, runs: &AtomicUsize, ctx: &mut super::WriteCtx<'_>| {
        runs.fetch_add(1, Ordering::SeqCst);
        let guarded = guarded(ctx);
        ctx.conn
            .execute(
                "INSERT INTO worker_heartbeats (worker, beat_at) VALUES (?1, 'now')",
                [format!("j{i}")],
            )
            .map_err(db_error)?;
        ctx.daily_count(DAY_KEY, |_| Ok(0))?;
        ctx.bump_daily(DAY_KEY);
        if failing == Some(i) {
            return Err(StoreError::Conflict(format!("job {i} fails")));
        }
        Ok((i, guarded))
    };
    let mut jobs: Vec<std::pin::Pin<Box<dyn Future<Output = _> + Send>>> = Vec::new();
    for (i, runs) in runs.iter().enumerate() {
        let runs = runs.clone();
        if once(i) {
            jobs.push(Box::pin(writer.write(move |ctx| body(i, &runs, ctx))));
        } else {
            jobs.push(Box::pin(
                writer.write_repeatable(move |ctx| body(i, &runs, ctx)),
            ));
        }
    }
    let results = in_one_batch(writer, jobs).await;
    let runs = runs.iter().map(|r| r.load(Ordering::SeqCst));
    results.into_iter().zip(runs).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_guards_only_its_once_only_jobs() {
    let (_dir, store) = open();
    // Every third job is once-only; job 3, once-only, fails.
    let results = mixed_batch(&store.writer, 9, |i| i % 3 == 0, Some(3)).await;
    for (i, (result, runs)) in results.iter().enumerate() {
        assert_eq!(*runs, 1, "job {i} ran {runs} times");
        if i == 3 {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            let guarded = i % 3 == 0;
            assert_eq!(result.as_ref().ok(), Some(&(i, guarded)), "job {i}");
        }
    }
    let (rows, counted) = rows_and_counter(&store.writer).await;
    let expected: Vec<String> = [0, 1, 2, 4, 5, 6, 7, 8]
        .iter()
        .map(|i| format!("j{i}"))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(counted, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_repeatable_job_reruns_a_mixed_batch_guarded_and_once_only_jobs_once() {
    let (_dir, store) = open();
    // Job 4, repeatable, fails: the repeatable jobs run again guarded, the
    // once-only ones (0, 3, 6) had not run yet and run once, guarded.
    let results = mixed_batch(&store.writer, 8, |i| i % 3 == 0, Some(4)).await;
    for (i, (result, runs)) in results.iter().enumerate() {
        if i == 4 {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            assert_eq!(result.as_ref().ok(), Some(&(i, true)), "job {i}");
        }
        let expected = if i % 3 == 0 || i > 4 { 1 } else { 2 };
        assert_eq!(*runs, expected, "job {i} ran {runs} times");
    }
    let (rows, counted) = rows_and_counter(&store.writer).await;
    let expected: Vec<String> = [0, 1, 2, 3, 5, 6, 7]
        .iter()
        .map(|i| format!("j{i}"))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(counted, 7);
}

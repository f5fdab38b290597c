//! Keeping the write-ahead log bounded.
//!
//! A checkpoint thread copies committed WAL frames into the database file
//! with PASSIVE checkpoints, which never block the writer or the readers.
//! But SQLite only rewinds the WAL to its start when a write begins after
//! a checkpoint that caught up with every frame while no reader held an
//! older snapshot; under steady load there is always a newer frame or a
//! reader, so the file grows without bound (6 GB in 40 s of the benchmark)
//! and every read searches a larger WAL index.
//!
//! So when a PASSIVE pass sees the log past [`RESTART_FRAMES`], it asks the
//! writer to rewind it. The writer, between two batches (when it holds no
//! transaction and nothing else can append), runs a RESTART checkpoint: the
//! PASSIVE pass has already copied nearly everything, so what is left is a
//! few batches' frames and a sync of the database file. A reader still on
//! an old snapshot makes it give up after [`RESTART_WAIT`] rather than
//! stall writes; the next PASSIVE pass asks again.
//!
//! A pass follows the amount written, not the clock alone: it runs once
//! [`PASS_AFTER_COMMITS`] commits have landed since the last one (or, with
//! fewer, once [`QUIET_PASS_EVERY`] has gone by). A pass copies every page
//! changed since the one before, and the hot pages (index roots, the
//! ledger's and the requests' last leaves) change in nearly every commit;
//! passes spaced by commits copy each of them once per few hundred
//! commits on any machine. Spaced by time, a slow machine (or a server
//! under callgrind, tens of times slower) copied them every few commits.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Log size (in pages) past which the writer rewinds the log: 32 MiB of
/// 4 KiB pages, a few seconds of heavy load.
const RESTART_FRAMES: i64 = 8192;

/// How often the checkpoint thread runs a PASSIVE pass.
const PASSIVE_EVERY: Duration = Duration::from_millis(250);

/// Commits after which a pass is due.
const PASS_AFTER_COMMITS: u64 = 256;

/// Longest time between two passes when fewer commits than
/// [`PASS_AFTER_COMMITS`] landed (and at least one did).
const QUIET_PASS_EVERY: Duration = Duration::from_secs(2);

/// Longest the writer waits for readers of an old snapshot to finish.
pub(super) const RESTART_WAIT: Duration = Duration::from_millis(20);

/// Shared between the checkpoint thread, the writer and the store.
#[derive(Clone)]
pub(super) struct WalSignals {
    /// Set by the store when it is dropped.
    pub(super) stop: Arc<AtomicBool>,
    /// Set by the checkpoint thread, taken by the writer.
    restart_wanted: Arc<AtomicBool>,
    /// Counted by the writer, one per committed batch.
    commits: Arc<AtomicU64>,
    restart_frames: i64,
    passive_every: Duration,
    pass_after_commits: u64,
}

impl Default for WalSignals {
    fn default() -> Self {
        WalSignals::rewinding_past(RESTART_FRAMES)
    }
}

impl WalSignals {
    /// Signals that ask for a rewind once the log holds `frames` pages.
    pub(super) fn rewinding_past(frames: i64) -> WalSignals {
        WalSignals {
            stop: Arc::default(),
            restart_wanted: Arc::default(),
            commits: Arc::default(),
            restart_frames: frames,
            passive_every: PASSIVE_EVERY,
            pass_after_commits: PASS_AFTER_COMMITS,
        }
    }

    /// With PASSIVE passes every `every` instead of [`PASSIVE_EVERY`]: a
    /// test then sees many passes in a fixed number of writes, however
    /// slow the machine.
    #[cfg(test)]
    pub(super) fn passing_every(mut self, every: Duration) -> WalSignals {
        self.passive_every = every;
        self.pass_after_commits = 1;
        self
    }

    /// Called by the writer after each committed batch.
    pub(super) fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// True once after the checkpoint thread asked for a rewind.
    pub(super) fn take_restart(&self) -> bool {
        self.restart_wanted.swap(false, Ordering::AcqRel)
    }
}

/// Starts the PASSIVE checkpoint thread on a connection of its own.
pub(super) fn start_checkpointer(path: &Path, signals: WalSignals) -> StoreResult<()> {
    let conn = Connection::open(path).map_err(super::db_error)?;
    super::configure(&conn).map_err(super::db_error)?;
    std::thread::Builder::new()
        .name("upivia-sqlite-checkpoint".into())
        .spawn(move || {
            let mut passed_at = (0u64, Instant::now());
            // While the log is past the rewind size, every tick passes and
            // asks again: a rewind that a reader put off is retried at once.
            let mut rewinding = false;
            while !signals.stop.load(Ordering::Relaxed) {
                std::thread::sleep(signals.passive_every);
                let commits = signals.commits.load(Ordering::Relaxed);
                let since = commits - passed_at.0;
                let due = rewinding
                    || since >= signals.pass_after_commits
                    || (since > 0 && passed_at.1.elapsed() >= QUIET_PASS_EVERY);
                if !due {
                    continue;
                }
                passed_at = (commits, Instant::now());
                match passive(&conn) {
                    Ok(log_frames) => {
                        rewinding = log_frames >= signals.restart_frames;
                        if rewinding {
                            signals.restart_wanted.store(true, Ordering::Release);
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "wal checkpoint skipped"),
                }
            }
        })
        .map_err(|e| StoreError::Other(Box::new(e)))?;
    Ok(())
}

/// One PASSIVE pass; returns the log's size in frames.
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Checkpoints everything and lets the next write start the log over.
/// Run by the writer between batches.
pub(super) fn restart(conn: &Connection) {
    let started = std::time::Instant::now();
    let outcome = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    });
    match outcome {
        Ok((0, frames)) => tracing::debug!(frames, took = ?started.elapsed(), "wal rewound"),
        Ok((_, frames)) => {
            tracing::debug!(frames, took = ?started.elapsed(), "wal rewind put off: a reader is still on it");
        }
        Err(e) => tracing::warn!(error = %e, "wal rewind failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::WalSignals;
    use crate::store::GovernanceStore;
    use crate::store::sqlite::SqliteStore;

    /// Commits a fixed number of small transactions, with readers always
    /// active, and returns the WAL file's size at the end. A count, not a
    /// duration: on a loaded machine both runs then append as many frames.
    async fn wal_size_after_steady_writes(signals: WalSignals) -> u64 {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wal-test.db");
        let store = Arc::new(SqliteStore::open_with(&path, signals, None).expect("open"));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, stop) = (store.clone(), stop.clone());
                tokio::spawn(async move {
                    // Reading all the time, with the gaps real readers
                    // leave: a rewind needs a moment with no reader on the
                    // old log, and readers that never pause (on a machine
                    // loaded by the rest of the suite) would leave none.
                    while !stop.load(Ordering::Relaxed) {
                        let _ = store.last_heartbeat("writer").await;
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        let now = time::OffsetDateTime::now_utc();
        for i in 0..2000i64 {
            let beat = now + time::Duration::milliseconds(i);
            store.heartbeat("writer", beat).await.expect("write");
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.await.expect("reader");
        }
        let mut wal = path.into_os_string();
        wal.push("-wal");
        std::fs::metadata(&wal).expect("wal").len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn the_log_is_rewound_under_steady_load() {
        // Every commit appends a frame; without rewinds the file only grows.
        // With them it stops at what one checkpoint interval appends (a
        // quarter of the other here; half leaves room for a slow machine).
        let every = std::time::Duration::from_millis(5);
        let never =
            wal_size_after_steady_writes(WalSignals::rewinding_past(i64::MAX).passing_every(every))
                .await;
        let rewound =
            wal_size_after_steady_writes(WalSignals::rewinding_past(16).passing_every(every)).await;
        assert!(
            rewound * 2 < never,
            "with rewinds the WAL is {rewound} bytes, without {never}"
        );
    }
}

//! The data directory's lock: one process at a time writes a SQLite data
//! directory. The running server's writer keeps the ledger sums, the daily
//! counts and the audit chain head in memory; a second writer (another
//! `serve`, or an offline admin command) would append behind its back and
//! the next entry the server chains would fork the audit chain. So `serve`
//! and every offline command that writes take an exclusive advisory lock
//! (`flock`) on `<data-dir>/upivia.lock` and hold it while they run;
//! commands that only read take none. The kernel drops the lock with the
//! process, so a `kill -9` leaves nothing to clean up.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};

pub const LOCK_FILE: &str = "upivia.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock: a server, or an admin command that
    /// writes.
    #[error("a server is running on {}{}; stop it first", dir.display(), holder(*pid))]
    Held { dir: PathBuf, pid: Option<u32> },
    #[error("could not lock {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// Held for as long as the value lives; dropping it closes the file, which
/// releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock on `dir` (which must exist), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        // No truncation before the lock is ours: the file names the holder.
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        // Called through the trait: std's inherent `File::try_lock` is
        // newer than this workspace's minimum Rust.
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DataDirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file, so a second open in this
        // very process conflicts as another process would.
        match DataDirLock::acquire(dir.path()) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        let held = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(held.starts_with("a server is running on "), "{held}");
        drop(first);
        let again = DataDirLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }
}

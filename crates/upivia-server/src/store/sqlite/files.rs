//! The database files are the organisation's whole history (hashes of
//! keys, payloads, the ledger): owner-only. SQLite creates a new database
//! 0644 less the umask, and gives its `-wal` and `-shm` files the mode of
//! the database, so creating the database 0600 first is enough for new
//! files; files left looser by an older version are tightened, with a
//! warning.

use std::path::{Path, PathBuf};

/// Creates `db` 0600 when it does not exist, and takes group and other
/// access off it and its WAL and shared-memory files when they do.
pub(super) fn secure(db: &Path) -> std::io::Result<()> {
    create_private(db)?;
    for path in [db.to_owned(), sibling(db, "-wal"), sibling(db, "-shm")] {
        restrict(&path)?;
    }
    Ok(())
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn create_private(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn create_private(_db: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Takes group and other access off a file that exists.
#[cfg(unix)]
pub fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !metadata.is_file() {
        return Ok(());
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "a data file was readable by other users; setting it to 0600"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn restrict(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

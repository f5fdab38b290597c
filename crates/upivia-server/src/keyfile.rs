//! Key files in the data directory: created 0600, never rewritten; and
//! the owner-only directories that hold them and users' files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a new 0600 file without ever clobbering one: the bytes go to a
/// temporary file first and are linked into place, so a crash leaves no
/// half-written key. `false` when another process created it first.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let mut tmp = PathBuf::from(path);
    tmp.set_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
                let _ = dir.sync_all();
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates `dir` 0700 (parents as the umask says) and takes group and
/// other access off it when an earlier run or a copy left it open, with a
/// warning naming `what` it is: no other local user walks into it.
pub fn private_dir(dir: &Path, what: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %dir.display(),
                mode = format!("{mode:o}"),
                "the {what} was open to other users; setting it to 0700"
            );
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = what;
        std::fs::create_dir_all(dir)
    }
}

//! The stored login of `upivia login`: a server URL and a personal access
//! token in `credentials.toml` under the user's config directory
//! (`$UPIVIA_CONFIG_DIR`, else `$XDG_CONFIG_HOME/upivia`, else
//! `~/.config/upivia`). Client commands fall back to it below their flags
//! and environment. Not to be confused with `config_file.rs`, the server's
//! `serve --config` file.
//!
//! The directory is created 0700 and the file is only ever written as a
//! 0600 temporary file renamed into place, so the token is never readable
//! by others, not even for a moment.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "credentials.toml";

/// A server and the PAT that signs in to it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub base_url: String,
    pub pat: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("base_url", &self.base_url)
            .field("pat", &shown(&self.pat))
            .finish()
    }
}

/// The directory the login is kept in; `None` when neither
/// `UPIVIA_CONFIG_DIR`, `XDG_CONFIG_HOME` nor `HOME` is set.
pub fn dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("UPIVIA_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = set("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("upivia"));
    }
    set("HOME").map(|home| PathBuf::from(home).join(".config").join("upivia"))
}

/// Where the login is (or would be) stored.
pub fn path() -> anyhow::Result<PathBuf> {
    dir().map(|d| d.join(FILE_NAME)).context(
        "no config directory: set UPIVIA_CONFIG_DIR (or XDG_CONFIG_HOME or HOME) for upivia login",
    )
}

/// The stored login, or `None` when there is none.
pub fn load() -> anyhow::Result<Option<Login>> {
    let Some(dir) = dir() else {
        return Ok(None);
    };
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("could not read the login {}", path.display()));
        }
    };
    if readable_by_others(&path) {
        tracing::warn!(
            "{} holds a token and others may read it; chmod 600 it",
            path.display()
        );
    }
    let login = toml::from_str(&text).with_context(|| {
        format!(
            "the login {} is not valid (upivia logout removes it, upivia login writes it again)",
            path.display()
        )
    })?;
    Ok(Some(login))
}

/// Stores `login`, replacing any other; the file's path.
pub fn save(login: &Login) -> anyhow::Result<PathBuf> {
    let path = path()?;
    let dir = path
        .parent()
        .context("the credentials file has no directory")?
        .to_owned();
    create_private_dir(&dir)
        .with_context(|| format!("could not create the config directory {}", dir.display()))?;
    let text = toml::to_string(login).context("could not write the login as TOML")?;
    // A temporary file in the same directory (0600 from its creation),
    // renamed over the old one: readers see the old file or the new one,
    // whole, and never a world-readable copy.
    let mut file = tempfile::Builder::new()
        .prefix(".credentials")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("could not create a file in {}", dir.display()))?;
    restrict(file.as_file())?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("could not write {}", file.path().display()))?;
    file.persist(&path)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}

/// Removes the stored login; its path, or `None` when there was none.
pub fn remove() -> anyhow::Result<Option<PathBuf>> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not remove {}", path.display())),
    }
}

/// Whether two base URLs name the same server (a trailing slash aside),
/// so a stored PAT is never sent to a server it was not stored for.
pub fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A token as it may be shown: its kind prefix and four more characters.
pub fn shown(token: &str) -> String {
    let kind = token.rfind('_').map_or(0, |i| i + 1);
    let rest = token.len() - kind;
    // A short token would be given away by four characters.
    let keep = if rest >= 16 { 4 } else { 0 };
    let end = token
        .char_indices()
        .map(|(i, _)| i)
        .chain([token.len()])
        .find(|i| *i >= kind + keep)
        .unwrap_or(token.len());
    format!("{}…", &token[..end])
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn restrict(file: &std::fs::File) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .context("could not make the credentials file private")
}

#[cfg(not(unix))]
fn restrict(_file: &std::fs::File) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests;

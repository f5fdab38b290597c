//! `upivia serve --config upivia.toml`: settings from a file, below the
//! environment and the flags. Each key names one of `serve`'s flags, in
//! snake_case (`smtp_url`) or as its variable (`UPIVIA_SMTP_URL`); a key
//! that names none is an error, so a typo cannot silently leave a provider
//! on the sandbox. A value fills its flag only where neither the command
//! line nor the environment gave one: the file's settings are turned into
//! flags and the command line is read again.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory};

use crate::cli::Cli;

/// The command line with the file's settings added, and what to warn
/// about once logging is up. Anything but `serve --config` comes back as
/// it was.
pub fn with_config_file(argv: Vec<OsString>) -> Result<(Vec<OsString>, Vec<String>), String> {
    let command = Cli::command();
    // Parsing problems are reported by the real parse that follows (one
    // may be a flag that needs another the file gives).
    let Ok(matches) = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&argv)
    else {
        return Ok((argv, Vec::new()));
    };
    let Some(("serve", serve)) = matches.subcommand() else {
        return Ok((argv, Vec::new()));
    };
    let Some(path) = serve.get_one::<PathBuf>("config").cloned() else {
        return Ok((argv, Vec::new()));
    };
    let Some(serve_command) = command.find_subcommand("serve") else {
        return Ok((argv, Vec::new()));
    };
    let table = read(&path)?;
    let mut added = Vec::new();
    let mut secrets = false;
    for (key, value) in &table {
        let arg = serve_command
            .get_arguments()
            .find(|a| names(a, key))
            .filter(|a| a.get_id() != "config")
            .ok_or_else(|| {
                format!(
                    "{}: {key:?} is not a setting of upivia serve (see upivia serve --help)",
                    path.display()
                )
            })?;
        secrets |= arg.is_hide_env_values_set();
        if given(serve, arg.get_id().as_str()) {
            continue;
        }
        let long = arg
            .get_long()
            .ok_or_else(|| format!("{key:?} has no flag"))?;
        let flag = matches!(arg.get_action(), ArgAction::SetTrue);
        match (value, flag) {
            (toml::Value::Boolean(true), true) => added.push(OsString::from(format!("--{long}"))),
            (toml::Value::Boolean(false), true) => {}
            (_, true) => {
                return Err(format!(
                    "{}: {key} is a switch: true or false",
                    path.display()
                ));
            }
            (value, false) => {
                let text = scalar(value).ok_or_else(|| {
                    format!(
                        "{}: {key} must be text, a number, a boolean or a list of those",
                        path.display()
                    )
                })?;
                added.push(OsString::from(format!("--{long}={text}")));
            }
        }
    }
    let mut warnings = Vec::new();
    if secrets && readable_by_others(&path) {
        warnings.push(format!(
            "{} holds secrets and others may read it; chmod 600 it",
            path.display()
        ));
    }
    let mut argv = argv;
    argv.extend(added);
    Ok((argv, warnings))
}

fn read(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the config file {}: {e}", path.display()))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("the config file {}: {e}", path.display()))
}

/// Whether `key` names `arg`: its flag in snake_case, or its variable.
fn names(arg: &clap::Arg, key: &str) -> bool {
    let by_flag = arg
        .get_long()
        .is_some_and(|long| long.replace('-', "_") == key);
    let by_env = arg.get_env().is_some_and(|env| env == key);
    by_flag || by_env
}

/// Whether the command line or the environment set `id` already.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// A value as its flag takes it; a list as the comma-separated form.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .map(|items| items.join(",")),
        _ => None,
    }
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

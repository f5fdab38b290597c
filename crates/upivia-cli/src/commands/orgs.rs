//! `upivia admin create-org`: another organisation with its owner, written
//! straight into a stopped server's data directory, or into a PostgreSQL
//! database while its nodes run. The owner's password and PAT go to stdout
//! once and nowhere else: no file, no log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use time::OffsetDateTime;
use upivia_server::audit::AuditKey;
use upivia_server::domains::identity::service::{self as identity, CreatedOrg, NewOrg};
use upivia_server::store::GovernanceStore;
use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::sqlite::SqliteStore;
use upivia_server::store::sqlite::lock::{DataDirLock, LockError};

use crate::cli::{DataDirArg, DatabaseArg};

#[derive(Args, Debug)]
pub struct CreateOrgArgs {
    /// The organisation's name.
    #[arg(long)]
    pub name: String,
    /// The owner's email, with which they sign in; no other user may have it.
    #[arg(long)]
    pub owner_email: String,
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// The audit chain's HMAC key, 64 hex digits, when the server is given
    /// it this way (prefer the variable to the flag). Not needed with
    /// `--database-url`: there the nodes chain the new entry.
    #[arg(
        long,
        env = "UPIVIA_AUDIT_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub audit_key: Option<String>,
    /// The audit key file [default: <data-dir>/audit.key].
    #[arg(long, env = "UPIVIA_AUDIT_KEY_FILE")]
    pub audit_key_file: Option<PathBuf>,
    /// Print the new owner's credentials as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn create_org(args: CreateOrgArgs) -> anyhow::Result<ExitCode> {
    let created = match &args.database.database_url {
        Some(url) => on_postgres(&args, url).await?,
        None => on_sqlite(&args).await?,
    };
    let name = args.name.trim();
    if args.json {
        let out = json!({
            "org_id": created.org_id.as_str(),
            "name": name,
            "email": created.email,
            "password": created.secrets.password,
            "pat": created.secrets.pat,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("organisation {name} created: {}", created.org_id.as_str());
        println!("owner:    {}", created.email);
        println!("password: {}", created.secrets.password);
        println!("pat:      {}", created.secrets.pat);
    }
    eprintln!(
        "the password and PAT are shown this once and stored nowhere (the database keeps only their hashes)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Into the data dir's SQLite database, which no server may hold open.
async fn on_sqlite(args: &CreateOrgArgs) -> anyhow::Result<CreatedOrg> {
    let dir = &args.data.data_dir;
    let db = dir.join("upivia.db");
    anyhow::ensure!(
        db.exists(),
        "no database at {}: start `upivia serve` on this data directory once first",
        db.display()
    );
    // A running server's writer caches the audit chain's head: an entry
    // appended beside it would fork the chain.
    let lock = DataDirLock::acquire(dir).map_err(|e| match e {
        LockError::Held { .. } => anyhow!(
            "a server is running on {}; stop it first (or use the API)",
            dir.display()
        ),
        other => other.into(),
    })?;
    let key = audit_key(args, dir)?;
    let store = SqliteStore::open_keyed(&db, key.clone())
        .with_context(|| format!("could not open {}", db.display()))?;
    let recorded = store
        .audit_chain()
        .await
        .context("could not read the audit chain's record")?
        .and_then(|chain| chain.mac_key_id);
    match recorded {
        None => bail!(
            "the audit chain has no key recorded yet: start `upivia serve` on this data directory once first"
        ),
        Some(recorded) if recorded != key.id() => bail!(
            "the audit key given ({}) is not the one the audit chain is written with ({recorded}): \
             give the server's key (--audit-key-file or UPIVIA_AUDIT_KEY)",
            key.id()
        ),
        Some(_) => {}
    }
    let created = identity::create_org(
        &store,
        NewOrg {
            name: args.name.clone(),
            owner_email: args.owner_email.clone(),
        },
        OffsetDateTime::now_utc(),
    )
    .await
    .context("could not create the organisation")?;
    // Everything is durable once the writer answered; the lock goes last.
    drop(store);
    drop(lock);
    Ok(created)
}

/// Into a PostgreSQL database, beside running nodes: the new rows are one
/// transaction like any other, and the audit entry is written unchained
/// for the nodes' chainer, so no audit key is needed here.
async fn on_postgres(args: &CreateOrgArgs, url: &SecretString) -> anyhow::Result<CreatedOrg> {
    let settings = PgSettings {
        max_connections: 2,
        ..PgSettings::default()
    };
    let store = PgStore::connect(url.expose_secret(), settings)
        .await
        .context("could not open the PostgreSQL database")?;
    // A node's first start bootstraps the first organisation (the one whose
    // admins run the platform) and records the audit key: before that, an
    // organisation made here would take its place.
    let started = store
        .audit_chain()
        .await
        .context("could not read the audit chain's record")?
        .and_then(|chain| chain.mac_key_id)
        .is_some();
    if !started {
        store.close().await;
        bail!(
            "no server has started on this database yet: start `upivia serve --database-url ...` once first"
        );
    }
    let created = identity::create_org(
        store.as_ref(),
        NewOrg {
            name: args.name.clone(),
            owner_email: args.owner_email.clone(),
        },
        OffsetDateTime::now_utc(),
    )
    .await
    .context("could not create the organisation");
    store.close().await;
    created
}

fn audit_key(args: &CreateOrgArgs, dir: &Path) -> anyhow::Result<AuditKey> {
    if let Some(hex) = &args.audit_key {
        return AuditKey::from_hex(hex).map_err(|e| anyhow!("UPIVIA_AUDIT_KEY: {e}"));
    }
    let path = args
        .audit_key_file
        .clone()
        .unwrap_or_else(|| dir.join("audit.key"));
    AuditKey::load(&path).context("create-org appends to the audit chain and needs its key")
}

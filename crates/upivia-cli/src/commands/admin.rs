//! `upivia admin check-ledger`, `upivia audit verify` and `upivia audit
//! public-key`: offline checks over a data directory or a PostgreSQL
//! database (safe while servers run on it: they only read).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Args;
use secrecy::ExposeSecret;
use serde_json::json;
use upivia_server::audit::{self, AuditKey, AuditPublicKey, AuditReport, AuditSigningKey};
use upivia_server::store::GovernanceStore;
use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::sqlite::SqliteStore;

use crate::cli::{AuditKeyArgs, DataDirArg, DatabaseArg};

/// The database a check reads.
enum Opened {
    Sqlite(SqliteStore),
    Postgres(Arc<PgStore>),
}

impl Opened {
    fn governance(&self) -> &dyn GovernanceStore {
        match self {
            Opened::Sqlite(store) => store,
            Opened::Postgres(store) => store.as_ref(),
        }
    }

    async fn close(self) {
        if let Opened::Postgres(store) = self {
            store.close().await;
        }
    }
}

/// The PostgreSQL database when a URL is given, else the data dir's SQLite
/// file. Opened without the audit key, so a check never chains entries.
async fn open(data: &DataDirArg, database: &DatabaseArg) -> anyhow::Result<Opened> {
    if let Some(url) = &database.database_url {
        let settings = PgSettings {
            max_connections: 2,
            ..PgSettings::default()
        };
        let store = PgStore::connect(url.expose_secret(), settings)
            .await
            .context("could not open the PostgreSQL database")?;
        return Ok(Opened::Postgres(store));
    }
    let path = data.data_dir.join("upivia.db");
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    let store =
        SqliteStore::open(&path).with_context(|| format!("could not open {}", path.display()))?;
    Ok(Opened::Sqlite(store))
}

/// `upivia admin check-ledger`: over the data dir's database or, with
/// `--database-url`, a PostgreSQL one.
#[derive(Args, Debug)]
pub struct CheckLedgerArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub database: DatabaseArg,
}

pub async fn check_ledger(args: CheckLedgerArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.data, &args.database).await?;
    let report = store.governance().check_ledger().await;
    store.close().await;
    let report = report.context("the ledger check failed")?;
    println!(
        "checked {} ledger entries on {} accounts",
        report.entries_checked, report.accounts_checked
    );
    if report.problems.is_empty() {
        println!(
            "ok: available = credits − settled − reserved ≥ 0 everywhere; no dangling reservations"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for problem in &report.problems {
            println!("problem: {problem}");
        }
        Ok(ExitCode::from(1))
    }
}

/// `upivia audit verify`: by default with the data directory's audit key
/// (every MAC checked) and signing key (its public half checks the
/// checkpoints); with `--public-key`, with no secret at all.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Verify this PostgreSQL database; its checkpoints are those it
    /// records (and a node's file's, given with --checkpoints).
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Verify with this public key (PEM, from `upivia audit public-key`)
    /// and no secret: signatures, the plain chain and that it reaches every
    /// signed head; MACs are not checked.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// The checkpoint file [default: <data-dir>/audit-checkpoints.jsonl,
    /// none with --database-url]; e.g. the copy written by
    /// --audit-checkpoint-copy.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    #[command(flatten)]
    pub keys: AuditKeyArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PublicKeyArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The checkpoint signing key [default: <data-dir>/audit-signing.key].
    #[arg(long, env = "UPIVIA_AUDIT_SIGNING_KEY_FILE")]
    pub audit_signing_key_file: Option<PathBuf>,
}

fn signing_key(data_dir: &Path, file: Option<&PathBuf>) -> anyhow::Result<AuditSigningKey> {
    let path = file
        .cloned()
        .unwrap_or_else(|| data_dir.join("audit-signing.key"));
    Ok(AuditSigningKey::load(&path)?)
}

pub async fn verify_audit(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.data.data_dir;
    let (key, public) = match &args.public_key {
        Some(path) => (None, AuditPublicKey::load(path)?),
        None => {
            let key = match &args.keys.audit_key {
                Some(hex) => {
                    AuditKey::from_hex(hex).map_err(|e| anyhow!("UPIVIA_AUDIT_KEY: {e}"))?
                }
                None => {
                    let path = args
                        .keys
                        .audit_key_file
                        .clone()
                        .unwrap_or_else(|| dir.join("audit.key"));
                    AuditKey::load(&path).with_context(|| {
                        "without the audit key, verify with --public-key (MACs are then not checked)"
                    })?
                }
            };
            let signing = signing_key(dir, args.keys.audit_signing_key_file.as_ref())?;
            (Some(key), signing.public())
        }
    };
    // On PostgreSQL the database records the checkpoints; a file is extra.
    let checkpoints = match (&args.checkpoints, &args.database.database_url) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(dir.join("audit-checkpoints.jsonl")),
    };
    let store = open(&args.data, &args.database).await?;
    let report = audit::verify(
        store.governance(),
        key.as_ref(),
        &public,
        checkpoints.as_deref(),
    )
    .await;
    store.close().await;
    let report = report.context("the audit verification failed")?;
    let code = if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
        return Ok(code);
    }
    match &report.first_break {
        None => {
            println!(
                "ok: {} audit entries, chain intact; {} signed checkpoints (key {})",
                report.entries_checked,
                report.checkpoints_checked,
                public.id()
            );
            if let Some(c) = &report.last_checkpoint {
                let since = if report.keyed {
                    "vouched for by their MACs only"
                } else {
                    "not covered by any signature (only the audit key can vouch for them)"
                };
                println!(
                    "the latest checkpoint signs seq {} at {}; the {} entries after it are {since}",
                    c.seq, c.time, report.unsigned_entries
                );
            }
            if !report.keyed {
                println!("MACs not checked: verified with the public key alone");
            }
        }
        Some(b) => {
            let at = if b.id.is_empty() { "missing" } else { &b.id };
            println!(
                "broken: seq {} ({at}): {} ({} entries verified before it)",
                b.seq, b.reason, report.entries_checked
            );
        }
    }
    Ok(code)
}

fn report_json(r: &AuditReport) -> serde_json::Value {
    json!({
        "ok": r.ok(),
        "entries_checked": r.entries_checked,
        "first_break": r.first_break.as_ref().map(|b| json!({"seq": b.seq, "id": b.id, "reason": b.reason})),
        "keyed": r.keyed,
        "checkpoints_checked": r.checkpoints_checked,
        "last_checkpoint": r.last_checkpoint.as_ref().map(|c| json!({"seq": c.seq, "time": c.time})),
        "unsigned_entries": r.unsigned_entries,
    })
}

/// `upivia audit public-key`: what an auditor keeps, away from the server.
pub fn public_key(args: PublicKeyArgs) -> anyhow::Result<ExitCode> {
    let signing = signing_key(&args.data.data_dir, args.audit_signing_key_file.as_ref())?;
    print!("{}", signing.public().to_pem());
    Ok(ExitCode::SUCCESS)
}

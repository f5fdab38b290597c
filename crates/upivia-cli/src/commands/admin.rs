//! `upivia admin check-ledger` and `upivia audit verify`: offline checks
//! over a data directory (safe while a server runs on it: they only read).

use std::process::ExitCode;

use anyhow::Context;
use upivia_server::store::Store;
use upivia_server::store::sqlite::SqliteStore;

use crate::cli::DataDirArg;

fn open(args: &DataDirArg) -> anyhow::Result<SqliteStore> {
    let path = args.data_dir.join("upivia.db");
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    SqliteStore::open(&path).with_context(|| format!("could not open {}", path.display()))
}

pub async fn check_ledger(args: DataDirArg) -> anyhow::Result<ExitCode> {
    let store = open(&args)?;
    let report = store
        .check_ledger()
        .await
        .context("the ledger check failed")?;
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

pub async fn verify_audit(args: DataDirArg) -> anyhow::Result<ExitCode> {
    let store = open(&args)?;
    let v = store
        .verify_audit()
        .await
        .context("the audit verification failed")?;
    match v.first_break {
        None => {
            println!("ok: {} audit entries, chain intact", v.entries_checked);
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!(
                "broken: entry seq {} ({}): {} ({} entries verified before it)",
                b.seq, b.id, b.reason, v.entries_checked
            );
            Ok(ExitCode::from(1))
        }
    }
}

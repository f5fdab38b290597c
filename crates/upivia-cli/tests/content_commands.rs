//! `upivia storage …` and `upivia knowledge …` against a real `upivia
//! serve` child process: files streamed up and back byte for byte, the
//! presigned path, soft delete and restore, ingestion waited on, and
//! retrieval as a governed request with an agent key. On SQLite, and on
//! PostgreSQL when `UPIVIA_TEST_POSTGRES_URL` is set.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use sha2::{Digest, Sha256};

mod support;
use support::{Cli, cli_on_postgres, exit, json_of, start_cli, stderr, stdout, upivia};

impl Cli {
    /// `upivia <args>` as the owner, run in `cwd`.
    fn owner_in(&self, cwd: &Path, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .current_dir(cwd)
            .env("UPIVIA_BASE_URL", &self.server.base)
            .env("UPIVIA_PAT", &self.pat)
            .output()
            .unwrap()
    }

    fn owner(&self, args: &[&str]) -> Output {
        self.owner_in(self.dir.path(), args)
    }

    fn agent(&self, key: &str, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .env("UPIVIA_BASE_URL", &self.server.base)
            .env("UPIVIA_API_KEY", key)
            .output()
            .unwrap()
    }

    fn anonymous(&self, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .args(["--base-url", &self.server.base])
            .output()
            .unwrap()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn sha256_of(path: &str) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `len` bytes of text that differ from offset to offset.
fn write_sample(path: &str, len: usize) {
    let line = "The quarterly report lists every provider invoice and its cost centre.\n";
    let text: String = line.repeat(len / line.len() + 1)[..len].to_owned();
    let numbered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{i:06} {l}\n"))
        .collect();
    std::fs::write(path, numbered).unwrap();
}

fn listed_ids(cli: &Cli) -> Vec<String> {
    let listed = json_of(&cli.owner(&["storage", "ls", "--json", "--all"]), 0);
    listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn storage_is_put_listed_fetched_deleted_and_restored(cli: &Cli) {
    let report = cli.path("report.md");
    write_sample(&report, 400_000);
    let put = json_of(&cli.owner(&["storage", "put", &report, "--json"]), 0);
    let object = &put["object"];
    assert_eq!(object["status"], "live", "{put}");
    assert_eq!(object["filename"], "report.md");
    assert_eq!(object["content_type"], "text/markdown");
    assert_eq!(object["sha256"], sha256_of(&report).as_str());
    let id = object["id"].as_str().unwrap().to_owned();

    // The presigned way seals the same bytes, under another name.
    let presigned = json_of(
        &cli.owner(&[
            "storage",
            "put",
            &report,
            "--presign",
            "--name",
            "copy.md",
            "--content-type",
            "text/plain",
            "--json",
        ]),
        0,
    );
    assert_eq!(presigned["object"]["status"], "live", "{presigned}");
    assert_eq!(presigned["object"]["filename"], "copy.md");
    assert_eq!(presigned["object"]["content_type"], "text/plain");
    assert_eq!(presigned["object"]["sha256"], object["sha256"]);
    let copy = presigned["object"]["id"].as_str().unwrap().to_owned();

    let ids = listed_ids(cli);
    assert!(ids.contains(&id) && ids.contains(&copy), "{ids:?}");
    let table = cli.owner(&["storage", "ls"]);
    exit(&table, 0);
    assert!(stdout(&table).starts_with("ID"), "{}", stdout(&table));
    assert!(stdout(&table).contains("copy.md"), "{}", stdout(&table));
    let shown = cli.owner(&["storage", "show", &id]);
    exit(&shown, 0);
    assert!(
        stdout(&shown).contains("status: live"),
        "{}",
        stdout(&shown)
    );

    // Into a named file; refused over an existing one without --force.
    let back = cli.path("back.md");
    let got = json_of(
        &cli.owner(&["storage", "get", &id, "-o", &back, "--json"]),
        0,
    );
    assert_eq!(got["bytes"], std::fs::metadata(&report).unwrap().len());
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&report).unwrap()
    );
    let again = cli.owner(&["storage", "get", &id, "-o", &back]);
    exit(&again, 2);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    exit(
        &cli.owner(&["storage", "get", &id, "-o", &back, "--force"]),
        0,
    );
    // To stdout, and under the object's own name in the current directory.
    let piped = cli.owner(&["storage", "get", &copy, "-o", "-"]);
    exit(&piped, 0);
    assert_eq!(piped.stdout, std::fs::read(&report).unwrap());
    let elsewhere = tempfile::tempdir().unwrap();
    exit(
        &cli.owner_in(elsewhere.path(), &["storage", "get", &copy]),
        0,
    );
    assert_eq!(
        std::fs::read(elsewhere.path().join("copy.md")).unwrap(),
        std::fs::read(&report).unwrap()
    );

    // A delete hides it and says how to undo it; restore brings it back.
    let removed = cli.owner(&["storage", "rm", &id]);
    exit(&removed, 0);
    assert!(
        stdout(&removed).contains("restorable until"),
        "{}",
        stdout(&removed)
    );
    assert!(!listed_ids(cli).contains(&id));
    let gone = cli.owner(&["storage", "get", &id, "-o", &cli.path("gone.md")]);
    exit(&gone, 2);
    assert!(!Path::new(&cli.path("gone.md")).exists());
    let restored = json_of(&cli.owner(&["storage", "restore", &id, "--json"]), 0);
    assert_eq!(restored["object"]["status"], "live", "{restored}");
    assert!(listed_ids(cli).contains(&id));

    // Refusals: a missing file, no credential, an unknown object.
    let missing = cli.owner(&["storage", "put", &cli.path("nope.txt")]);
    exit(&missing, 2);
    assert!(
        stderr(&missing).contains("nope.txt"),
        "{}",
        stderr(&missing)
    );
    exit(&cli.anonymous(&["storage", "ls"]), 2);
    let unknown = cli.owner(&["storage", "show", "obj_does_not_exist"]);
    exit(&unknown, 2);
}

async fn knowledge_is_ingested_and_searched_by_an_agent(cli: &Cli) {
    let created = cli.owner(&[
        "knowledge",
        "collections",
        "create",
        "Runbooks",
        "--description",
        "How we run things",
    ]);
    exit(&created, 0);
    let collection = stdout(&created).trim().to_owned();
    let listed = json_of(
        &cli.owner(&["knowledge", "collections", "list", "--json"]),
        0,
    );
    assert_eq!(
        listed["collections"][0]["id"],
        collection.as_str(),
        "{listed}"
    );

    let runbook = cli.path("failover.md");
    std::fs::write(
        &runbook,
        "# Ledger failover\n\nTo promote a replica, pick the one with the lowest \
         replication lag, fence the old primary, then point PgBouncer at the new primary.\n",
    )
    .unwrap();
    let faq = cli.path("holidays.html");
    std::fs::write(
        &faq,
        "<html><body><h1>Leave</h1><p>Holiday requests go to your manager two weeks \
         ahead through the HR portal.</p></body></html>",
    )
    .unwrap();
    let added = json_of(
        &cli.owner(&[
            "knowledge",
            "add",
            &collection,
            &runbook,
            &faq,
            "--wait",
            "--json",
        ]),
        0,
    );
    let documents = added["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 2, "{added}");
    for d in documents {
        assert_eq!(d["status"], "ready", "{d}");
        assert!(d["chunk_count"].as_u64().unwrap() >= 1, "{d}");
    }
    let runbook_doc = documents[0]["id"].as_str().unwrap().to_owned();
    let status = cli.owner(&["knowledge", "status", &collection, &runbook_doc]);
    exit(&status, 0);
    assert!(stdout(&status).contains("ready"), "{}", stdout(&status));

    let http = reqwest::Client::new();
    let (_agent, key) = support::funded_agent(
        &http,
        &cli.server.base,
        &cli.pat,
        1_000,
        "reader",
        &["knowledge"],
    )
    .await;
    let question = "how do I promote a replica after failover";
    let found = json_of(
        &cli.agent(
            &key,
            &["knowledge", "search", &collection, question, "--json"],
        ),
        0,
    );
    assert_eq!(found["semantic"], false, "{found}");
    assert_eq!(
        found["results"][0]["document_id"],
        runbook_doc.as_str(),
        "{found}"
    );
    let table = cli.agent(&key, &["knowledge", "search", &collection, question]);
    exit(&table, 0);
    assert!(
        stdout(&table).contains("promote a replica"),
        "{}",
        stdout(&table)
    );
    assert!(
        stderr(&table).contains("full-text only"),
        "{}",
        stderr(&table)
    );
    // Search needs the agent's key, not the PAT.
    exit(
        &cli.owner(&["knowledge", "search", &collection, question]),
        2,
    );

    exit(
        &cli.owner(&["knowledge", "remove", &collection, &runbook_doc]),
        0,
    );
    let after = json_of(
        &cli.agent(
            &key,
            &["knowledge", "search", &collection, question, "--json"],
        ),
        0,
    );
    let hits: Vec<&Value> = after["results"].as_array().unwrap().iter().collect();
    assert!(
        hits.iter()
            .all(|h| h["document_id"] != runbook_doc.as_str()),
        "{after}"
    );

    // A file nothing can be extracted from fails, and --wait says so.
    let broken = cli.path("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.7 this is not really a PDF").unwrap();
    let failed = json_of(
        &cli.owner(&["knowledge", "add", &collection, &broken, "--wait", "--json"]),
        1,
    );
    assert_eq!(failed["documents"][0]["status"], "failed", "{failed}");
    assert!(failed["documents"][0]["error"].is_string(), "{failed}");

    exit(
        &cli.owner(&["knowledge", "collections", "delete", &collection]),
        0,
    );
    let listed = json_of(
        &cli.owner(&["knowledge", "collections", "list", "--json"]),
        0,
    );
    assert_eq!(listed["collections"], serde_json::json!([]), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_through_the_cli_on_sqlite() {
    storage_is_put_listed_fetched_deleted_and_restored(&start_cli(None, &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_through_the_cli_on_postgres() {
    // The database outlives the server: `cli` drops first.
    let Some((_db, cli)) = cli_on_postgres(&[]).await else {
        return;
    };
    storage_is_put_listed_fetched_deleted_and_restored(&cli).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_through_the_cli_on_sqlite() {
    knowledge_is_ingested_and_searched_by_an_agent(&start_cli(None, &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_through_the_cli_on_postgres() {
    let Some((_db, cli)) = cli_on_postgres(&[]).await else {
        return;
    };
    knowledge_is_ingested_and_searched_by_an_agent(&cli).await;
}

#[test]
fn the_content_commands_are_in_the_help() {
    let help = stdout(&upivia().arg("--help").output().unwrap());
    assert!(
        help.contains("storage") && help.contains("knowledge"),
        "{help}"
    );
    let put = stdout(
        &upivia()
            .args(["storage", "put", "--help"])
            .output()
            .unwrap(),
    );
    assert!(put.contains("--presign"), "{put}");
}

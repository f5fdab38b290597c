//! `upivia knowledge collections …|add|status|remove|search`: knowledge
//! collections and their documents (PAT), and retrieval as an agent sees
//! it: a governed, priced, audited `knowledge.search` request (agent key).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use upivia::models::{CreateServiceRequest, PageQuery, ServiceRequestOutcome};
use upivia::resources::CreateDocument;

use super::client::ClientArgs;
use super::output::{self, Table};
use super::request::spinner;
use super::storage::upload_object;

/// Knowledge collections, documents and search.
#[derive(Args, Debug)]
pub struct KnowledgeArgs {
    #[command(subcommand)]
    pub command: KnowledgeCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum KnowledgeCommand {
    /// Collections: list, create, show, delete.
    #[command(subcommand)]
    Collections(CollectionsCommand),
    /// Add files to a collection; ingestion runs on the server.
    ///
    /// Exit code 1 when `--wait` sees a document fail.
    Add {
        /// The collection's id.
        collection: String,
        /// Files to ingest (plain text, Markdown, HTML, PDF).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Their content type (default: guessed from each extension).
        #[arg(long)]
        content_type: Option<String>,
        /// Wait until every document is ready or failed.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// A document's ingestion status.
    Status {
        /// The collection's id.
        collection: String,
        /// The document's id.
        document: String,
    },
    /// Remove a document and its chunks from a collection.
    Remove {
        /// The collection's id.
        collection: String,
        /// The document's id.
        document: String,
    },
    /// Search a collection as an agent does: a governed `knowledge.search`
    /// request (agent key; priced and audited).
    ///
    /// Exit code 1 when the request is blocked or fails.
    Search {
        /// The collection's id.
        collection: String,
        /// What to look for.
        query: String,
        /// Most passages to return.
        #[arg(long, default_value_t = 5)]
        top_k: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum CollectionsCommand {
    /// Live collections.
    List {
        /// Most collections to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Create a collection.
    Create {
        /// Its name.
        name: String,
        /// What it holds.
        #[arg(long)]
        description: Option<String>,
    },
    /// One collection.
    Show {
        /// The collection's id.
        id: String,
    },
    /// Delete a collection.
    Delete {
        /// The collection's id.
        id: String,
    },
}

pub async fn run(args: KnowledgeArgs) -> anyhow::Result<ExitCode> {
    let json = args.client.json;
    match args.command {
        KnowledgeCommand::Search {
            collection,
            query,
            top_k,
        } => {
            args.client.require_api_key()?;
            search(&args.client.client()?, &collection, &query, top_k, json).await
        }
        KnowledgeCommand::Collections(command) => {
            args.client.require_pat()?;
            collections(&args.client.client()?, command, json).await
        }
        command => {
            args.client.require_pat()?;
            documents(&args.client.client()?, command, json).await
        }
    }
}

async fn documents(
    client: &upivia::Client,
    command: KnowledgeCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let knowledge = client.knowledge();
    let answer = match command {
        KnowledgeCommand::Add {
            collection,
            files,
            content_type,
            wait,
            timeout_secs,
        } => {
            let mut documents = Vec::new();
            for file in &files {
                let (upload, bar) = upload_object(file, content_type.clone(), None)?;
                let created = knowledge
                    .documents()
                    .create(&collection, CreateDocument::Upload(upload))
                    .await;
                bar.finish_and_clear();
                let created =
                    created.with_context(|| format!("could not add {}", file.display()))?;
                documents.push(created["document"].clone());
            }
            if wait {
                let deadline = Instant::now() + Duration::from_secs(timeout_secs);
                documents = wait_for_ingestion(client, &collection, documents, deadline).await?;
            }
            let failed = documents.iter().any(|d| d["status"] == "failed");
            if json {
                output::print_json(&json!({ "documents": documents }))?;
            } else {
                let mut table = Table::new(["DOCUMENT", "FILE", "STATUS", "CHUNKS", "ERROR"]);
                for d in &documents {
                    table.row(vec![
                        output::text(&d["id"]),
                        output::text(&d["filename"]),
                        output::text(&d["status"]),
                        output::text(&d["chunk_count"]),
                        output::text(&d["error"]),
                    ]);
                }
                output::print(&table.render())?;
            }
            return Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        KnowledgeCommand::Status {
            collection,
            document,
        } => {
            let shown = knowledge.documents().get(&collection, &document).await?;
            if !json {
                let d = &shown["document"];
                let mut line = format!(
                    "{}: {} ({} chunks)",
                    output::text(&d["id"]),
                    output::text(&d["status"]),
                    output::text(&d["chunk_count"])
                );
                if let Some(error) = d["error"].as_str() {
                    line.push_str(&format!("\nerror: {error}"));
                }
                output::print(&line)?;
                return Ok(ExitCode::SUCCESS);
            }
            shown
        }
        KnowledgeCommand::Remove {
            collection,
            document,
        } => {
            let removed = knowledge.documents().delete(&collection, &document).await?;
            if !json {
                output::print(&format!("removed {document} from {collection}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            removed
        }
        KnowledgeCommand::Search { .. } | KnowledgeCommand::Collections(_) => {
            anyhow::bail!("not a document command")
        }
    };
    output::print_json(&answer)?;
    Ok(ExitCode::SUCCESS)
}

async fn collections(
    client: &upivia::Client,
    command: CollectionsCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let collections = client.knowledge().collections();
    let answer = match command {
        CollectionsCommand::List { limit } => {
            let page = collections
                .list(PageQuery {
                    cursor: None,
                    limit: Some(limit),
                })
                .await?;
            if !json {
                let mut table = Table::new(["ID", "NAME", "DESCRIPTION", "CREATED"]);
                for c in &page.items {
                    table.row(vec![
                        output::text(&c["id"]),
                        output::text(&c["name"]),
                        output::text(&c["description"]),
                        output::text(&c["created_at"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            json!({ "collections": page.items, "next_cursor": page.next_cursor })
        }
        CollectionsCommand::Create { name, description } => {
            let mut body = json!({ "name": name });
            if let Some(description) = description {
                body["description"] = Value::String(description);
            }
            let created = collections.create(&body).await?;
            if !json {
                output::print(&output::text(&created["collection"]["id"]))?;
                return Ok(ExitCode::SUCCESS);
            }
            created
        }
        CollectionsCommand::Show { id } => collections.get(&id).await?,
        CollectionsCommand::Delete { id } => {
            let deleted = collections.delete(&id).await?;
            if !json {
                output::print(&format!("deleted {id}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            deleted
        }
    };
    output::print_json(&answer)?;
    Ok(ExitCode::SUCCESS)
}

/// Polls each document until it is `ready` or `failed`, with a spinner.
async fn wait_for_ingestion(
    client: &upivia::Client,
    collection: &str,
    mut documents: Vec<Value>,
    deadline: Instant,
) -> anyhow::Result<Vec<Value>> {
    let settled = |d: &Value| d["status"] == "ready" || d["status"] == "failed";
    let bar = spinner(format!("ingesting {} document(s)", documents.len()));
    let mut interval = Duration::from_millis(200);
    while !documents.iter().all(settled) {
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            anyhow::bail!("documents were still being ingested when --timeout-secs ran out");
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
        for d in documents.iter_mut().filter(|d| !settled(d)) {
            let id = d["id"]
                .as_str()
                .context("a document without an id")?
                .to_owned();
            *d = client.knowledge().documents().get(collection, &id).await?["document"].take();
        }
        let ready = documents.iter().filter(|d| settled(d)).count();
        bar.set_message(format!("ingesting: {ready}/{} settled", documents.len()));
    }
    bar.finish_and_clear();
    Ok(documents)
}

async fn search(
    client: &upivia::Client,
    collection: &str,
    query: &str,
    top_k: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let request = CreateServiceRequest::new(
        "knowledge",
        "search",
        json!({ "collection_id": collection, "query": query, "top_k": top_k }),
    );
    let outcome = client
        .service_requests()
        .create(request)
        .await
        .context("knowledge.search failed")?;
    let ServiceRequestOutcome::Executed(done) = &outcome else {
        return output::report_outcome(&outcome, json);
    };
    if json {
        output::print_json(&done.result)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(["SCORE", "DOCUMENT", "TEXT"]);
    for hit in done.result["results"].as_array().into_iter().flatten() {
        table.row(vec![
            hit["score"].as_f64().map_or_else(|| "-".to_owned(), score),
            output::text(&hit["document_id"]),
            snippet(hit["text"].as_str().unwrap_or(""), 100),
        ]);
    }
    let mode = if done.result["semantic"] == true {
        "hybrid (full-text and vectors)"
    } else {
        "full-text only"
    };
    output::print(&table.render())?;
    eprintln!("retrieval: {mode}");
    Ok(ExitCode::SUCCESS)
}

/// A score readable at any scale: full-text scores can be tiny, fused
/// ones are around 1/60.
fn score(s: f64) -> String {
    if s != 0.0 && s.abs() < 0.001 {
        format!("{s:.2e}")
    } else {
        format!("{s:.3}")
    }
}

/// The first `max` characters of `text` on one line.
fn snippet(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    }
}

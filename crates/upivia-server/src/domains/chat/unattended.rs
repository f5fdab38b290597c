//! A turn that nobody watches: a room's reply or a delegated task run by
//! itself (`domains::rooms::replies`, `domains::delegation::autonomy`).
//! It runs the turn to its end on behalf of a person and gathers what the
//! caller records: the final text, the first error, the approval it
//! paused on, and every service request it made (tool calls and model
//! calls), whose settled costs say what it spent.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::turn::{self, Event, TurnRequest};
use crate::ids::RequestId;
use crate::model::UserPrincipal;
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::StoreError;

/// What became of an unattended turn.
#[derive(Debug, Default)]
pub struct Outcome {
    pub text: Option<String>,
    pub error: Option<String>,
    pub approval_id: Option<String>,
    pub request_ids: BTreeSet<String>,
}

/// Where an unattended turn's progress goes, told as `map` tells it.
pub struct Forward<'a> {
    pub to: &'a mpsc::Sender<Event>,
    pub map: &'a (dyn Fn(&Event) -> Option<Event> + Send + Sync),
}

/// Runs the turn to its end; `scope` goes into the metadata of every
/// request it makes (`turn::Prepared::scoped`).
pub async fn run(
    platform: &Platform,
    principal: &UserPrincipal,
    request: TurnRequest,
    scope: Map<String, Value>,
    forward: Option<Forward<'_>>,
) -> Outcome {
    let mut out = Outcome::default();
    let prepared = match turn::prepare(platform, principal, request).await {
        Ok(p) => p.scoped(scope),
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let (tx, mut rx) = mpsc::channel(64);
    let runner = tokio::spawn(turn::run(platform.clone(), prepared, tx));
    while let Some(event) = rx.recv().await {
        if let Some(f) = &forward
            && let Some(told) = (f.map)(&event)
        {
            // A watcher gone is no reason to stop the turn.
            let _ = f.to.send(told).await;
        }
        let data = &event.data;
        let mut note = |v: &Value| {
            if let Some(id) = v.as_str() {
                out.request_ids.insert(id.to_owned());
            }
        };
        match event.name {
            "tool_done" | "tool_pending" => note(&data["request_id"]),
            "usage" => {
                for id in data["model_request_ids"].as_array().into_iter().flatten() {
                    note(id);
                }
            }
            "error" => {
                note(&data["request_id"]);
                if out.error.is_none() {
                    out.error = data["message"].as_str().map(str::to_owned);
                }
            }
            _ => {}
        }
        match event.name {
            "tool_pending" => out.approval_id = data["approval_id"].as_str().map(str::to_owned),
            "done" if data["ok"] == json!(true) => {
                out.text = data["assistant_message"].as_str().map(str::to_owned);
            }
            _ => {}
        }
    }
    if let Err(e) = runner.await {
        tracing::error!(error = %e, "an unattended chat turn stopped");
        out.error.get_or_insert_with(|| "the turn stopped".into());
    }
    out
}

/// What the requests cost, settled (a refused or released one costs 0).
pub async fn cost(platform: &Platform, ids: &BTreeSet<String>) -> Result<Cents, StoreError> {
    let mut total = Cents::ZERO;
    for id in ids {
        if let Some(r) = platform
            .stores
            .governance
            .request(&RequestId::from(id.as_str()))
            .await?
        {
            total = total.checked_add(r.cost).unwrap_or(total);
        }
    }
    Ok(total)
}

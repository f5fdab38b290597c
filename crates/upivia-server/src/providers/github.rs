//! `github.create_issue` on the GitHub REST API (or a GitHub Enterprise
//! base URL): `POST {base}/repos/{owner}/{repo}/issues` with a token.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::rest::{Call, Rest, field, text};
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
};
use crate::catalog::OperationSpec;
use crate::money::Cents;

pub const NAME: &str = "github";
pub const WHAT: &str = "the GitHub API";

pub struct GitHubIssues {
    api: Rest,
}

impl GitHubIssues {
    pub fn new(api: Rest) -> GitHubIssues {
        GitHubIssues { api }
    }
}

#[async_trait]
impl Provider for GitHubIssues {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let p = call.payload;
        // The catalog's pattern has already checked `owner/name`.
        let repo = p["repo"]
            .as_str()
            .filter(|r| r.split('/').count() == 2)
            .ok_or_else(|| {
                ProviderError::Adapter("github.create_issue: `repo` is owner/name".into())
            })?;
        let mut body = Map::new();
        for key in ["title", "body", "labels", "assignees"] {
            if let Some(v) = p.get(key).filter(|v| !v.is_null()) {
                body.insert(key.to_owned(), v.clone());
            }
        }
        let body = Value::Object(body);
        let mut request = Call::post(format!("/repos/{repo}/issues"), &body);
        request.headers = vec![
            ("x-github-api-version", "2022-11-28"),
            ("accept", "application/vnd.github+json"),
        ];
        let issue = self.api.send(request).await?;
        let labels: Vec<Value> = issue["labels"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| l["name"].as_str().or(l.as_str()))
                    .map(|n| json!(n))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Execution::Completed {
            result: json!({
                "id": field(&issue, "id", WHAT)?,
                "number": field(&issue, "number", WHAT)?,
                "repo": repo,
                "title": text(&issue, "title", WHAT)?,
                "state": issue["state"].as_str().unwrap_or("open"),
                "labels": labels,
                "html_url": text(&issue, "html_url", WHAT)?,
                "created_at": text(&issue, "created_at", WHAT)?,
            }),
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(super::synchronous(poll))
    }
}

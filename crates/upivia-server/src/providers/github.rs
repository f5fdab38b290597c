//! `github.create_issue` on the GitHub REST API (or a GitHub Enterprise
//! base URL): `POST {base}/repos/{owner}/{repo}/issues` with a token.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::rest::{Call, Rest, RestOperation, field, text};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "github";
pub const WHAT: &str = "the GitHub API";

pub struct GitHubIssues;

#[async_trait]
impl RestOperation for GitHubIssues {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
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
        let issue = api.send(request).await?;
        let labels: Vec<Value> = issue["labels"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| l["name"].as_str().or(l.as_str()))
                    .map(|n| json!(n))
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({
            "id": field(&issue, "id", WHAT)?,
            "number": field(&issue, "number", WHAT)?,
            "repo": repo,
            "title": text(&issue, "title", WHAT)?,
            "state": issue["state"].as_str().unwrap_or("open"),
            "labels": labels,
            "html_url": text(&issue, "html_url", WHAT)?,
            "created_at": text(&issue, "created_at", WHAT)?,
        }))
    }
}

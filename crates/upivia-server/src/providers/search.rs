//! `web_search.search` on a SearXNG instance (self-hostable; its JSON
//! output must be enabled in its settings): `GET {base}/search?q=…&
//! format=json`, whose results become `{position, title, url, snippet}`.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, field};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "searxng";
pub const WHAT: &str = "the SearXNG search API";
const DEFAULT_RESULTS: u64 = 5;

pub struct SearxSearch;

#[async_trait]
impl RestOperation for SearxSearch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn has_side_effects(&self) -> bool {
        false
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let query = call.payload["query"].as_str().ok_or_else(|| {
            ProviderError::Adapter("web_search.search: `query` is required".into())
        })?;
        let wanted = call.payload["num_results"]
            .as_u64()
            .unwrap_or(DEFAULT_RESULTS);
        let mut request = Call::get("/search");
        request.query = vec![("q", query.to_owned()), ("format", "json".to_owned())];
        let answer = api.send(request).await?;
        let found = field(&answer, "results", WHAT)?.as_array().ok_or_else(|| {
            ProviderError::Adapter(format!("{WHAT} answered `results` not as a list"))
        })?;
        let results: Vec<Value> = found
            .iter()
            .filter_map(|r| {
                let url = r["url"].as_str()?;
                Some((url, r["title"].as_str().unwrap_or(url), r["content"].as_str().unwrap_or("")))
            })
            .take(usize::try_from(wanted).unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, (url, title, snippet))| {
                json!({"position": i + 1, "title": title, "url": url, "snippet": snippet})
            })
            .collect();
        Ok(json!({"query": query, "results": results}))
    }
}

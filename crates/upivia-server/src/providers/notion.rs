//! `notion.create_page` on the Notion API: `POST {base}/v1/pages` under a
//! parent page, the title as its `title` property and each paragraph of
//! `content` (blank lines separate them) as a paragraph block.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "notion";
pub const WHAT: &str = "the Notion API";
/// The API's pinned version; answers' shapes depend on it.
const NOTION_VERSION: &str = "2022-06-28";
/// Notion takes at most 100 children per request and 2000 characters per
/// rich-text item.
const MAX_PARAGRAPHS: usize = 100;
const MAX_PARAGRAPH_CHARS: usize = 2000;

pub struct NotionPage;

/// `content` as paragraph blocks, or why it cannot be sent in one request.
fn paragraphs(content: &str) -> Result<Vec<Value>, ProviderError> {
    let normalised = content.replace("\r\n", "\n");
    let texts: Vec<&str> = normalised
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if texts.len() > MAX_PARAGRAPHS {
        return Err(ProviderError::Adapter(format!(
            "notion.create_page: `content` has {} paragraphs; at most {MAX_PARAGRAPHS}",
            texts.len()
        )));
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            if text.chars().count() > MAX_PARAGRAPH_CHARS {
                return Err(ProviderError::Adapter(format!(
                    "notion.create_page: paragraph {} of `content` is over {MAX_PARAGRAPH_CHARS} characters",
                    i + 1
                )));
            }
            Ok(json!({
                "object": "block",
                "type": "paragraph",
                "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]},
            }))
        })
        .collect()
}

/// A UUID with its dashes, as Notion answers it.
fn dashed(id: &str) -> String {
    let hex: String = id
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_lowercase();
    if hex.len() != 32 {
        return id.to_owned();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[async_trait]
impl RestOperation for NotionPage {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let parent = dashed(p["parent_id"].as_str().unwrap_or_default());
        let title = p["title"].as_str().unwrap_or_default();
        let children = paragraphs(p["content"].as_str().unwrap_or_default())?;
        let blocks = children.len();
        let body = json!({
            "parent": {"page_id": parent},
            "properties": {"title": {"title": [{"type": "text", "text": {"content": title}}]}},
            "children": children,
        });
        let mut request = Call::post("/v1/pages", &body);
        request.headers = vec![("notion-version", NOTION_VERSION)];
        let page = api.send(request).await?;
        Ok(json!({
            "id": text(&page, "id", WHAT)?,
            "url": text(&page, "url", WHAT)?,
            "parent_id": parent,
            "title": title,
            "blocks_created": blocks,
            "created_time": text(&page, "created_time", WHAT)?,
        }))
    }
}

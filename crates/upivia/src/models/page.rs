//! Cursor pages (API.md §1.10).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::JsonMap;

/// One page of a cursor list: the items, the cursor for the next page, and
/// whatever else the server put beside them.
///
/// The items key differs per endpoint (`logs`, `triggers`, `objects`,
/// `collections`), and agent activity spells its cursor `nextCursor`; the SDK
/// reads the right keys for each list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` (or empty) on the last page.
    pub next_cursor: Option<String>,
    /// `hasMore`, when the endpoint reports it (agent activity does).
    pub has_more: Option<bool>,
    /// The rest of the response object.
    pub extra: JsonMap,
}

impl<T: DeserializeOwned> Page<T> {
    /// Splits a response object into a page, reading the rows under
    /// `items_key` and the cursor under `cursor_key`. A missing or `null`
    /// items key is an empty page.
    pub fn from_object(
        mut object: JsonMap,
        items_key: &str,
        cursor_key: &str,
    ) -> Result<Self, serde_json::Error> {
        let items = match object.remove(items_key) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v)?,
        };
        let next_cursor = match object.remove(cursor_key) {
            Some(serde_json::Value::String(s)) => Some(s),
            _ => None,
        };
        let has_more = object.get("hasMore").and_then(serde_json::Value::as_bool);
        Ok(Page {
            items,
            next_cursor,
            has_more,
            extra: object,
        })
    }
}

impl<T> Page<T> {
    /// The cursor to request next, or `None` when this is the last page
    /// (a missing, `null` or empty cursor all end iteration).
    pub fn next(&self) -> Option<&str> {
        self.next_cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// `limit` and `cursor` query parameters of a cursor list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    /// Page size; the server picks the default and the maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Cursor returned by the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Sets `limit`.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `cursor`.
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
}

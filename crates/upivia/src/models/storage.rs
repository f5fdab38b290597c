//! Storage objects (API.md §1.13, §2.14).

use serde::{Deserialize, Serialize};

use super::JsonMap;

/// A stored object row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredObject {
    /// Object id.
    pub id: String,
    /// Original file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// `pending` before it is sealed, then `live`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Hex SHA-256, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Body of the JSON form of `POST /api/v1/storage/objects` (presign).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignObject {
    /// File name.
    pub filename: String,
    /// MIME type (`contentType` on the wire).
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Size in bytes (`sizeBytes` on the wire).
    #[serde(rename = "sizeBytes")]
    pub size_bytes: u64,
}

impl PresignObject {
    /// A presign request for `size_bytes` bytes of `content_type`.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        size_bytes: u64,
    ) -> Self {
        PresignObject {
            filename: filename.into(),
            content_type: content_type.into(),
            size_bytes,
        }
    }
}

/// Where to download an object: the signed URL, and its lifetime when the
/// server said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownloadInfo {
    /// Signed URL; works without credentials.
    pub url: String,
    /// Lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
    /// Expiry (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

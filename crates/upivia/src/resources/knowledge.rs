//! `knowledge.collections` and `knowledge.documents` (API.md §1.14, §2.15).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{Page, PageQuery};

use super::audit_logs::fetch_page;
use super::storage::UploadObject;
use super::{ItemStream, handle};

handle!(
    /// Knowledge; see [`collections`](Knowledge::collections) and
    /// [`documents`](Knowledge::documents).
    Knowledge
);
handle!(
    /// Knowledge collections.
    KnowledgeCollections
);
handle!(
    /// Documents in a collection.
    KnowledgeDocuments
);

/// What to ingest into a collection.
#[derive(Clone, Debug)]
pub enum CreateDocument {
    /// Register an existing stored object (JSON `{stored_object_id}`).
    StoredObject(String),
    /// Upload a file (multipart: `file`, `filename`, `contentType`).
    Upload(UploadObject),
}

impl<'a> Knowledge<'a> {
    /// `knowledge.collections`.
    pub fn collections(&self) -> KnowledgeCollections<'a> {
        KnowledgeCollections::new(self.client)
    }

    /// `knowledge.documents`.
    pub fn documents(&self) -> KnowledgeDocuments<'a> {
        KnowledgeDocuments::new(self.client)
    }
}

impl KnowledgeCollections<'_> {
    /// `GET /api/v1/knowledge/collections` (auth `workspace`): one page of
    /// live `collections`.
    pub async fn list(self, query: PageQuery) -> Result<Page<Value>> {
        let spec = RequestSpec::endpoint(&ep::KNOWLEDGE_COLLECTIONS_LIST, &[]).query(&query)?;
        fetch_page(self.client, spec, "collections", "next_cursor").await
    }

    /// Every live collection, across pages (`GET
    /// /api/v1/knowledge/collections` repeatedly, auth `workspace`).
    pub fn list_all(&self, query: PageQuery) -> ItemStream<Value> {
        let client = self.client.clone();
        Box::pin(crate::pagination::paginate(move |cursor| {
            let client = client.clone();
            let query = PageQuery {
                cursor,
                limit: query.limit,
            };
            async move { client.knowledge().collections().list(query).await }
        }))
    }

    /// `POST /api/v1/knowledge/collections` (auth `workspace`).
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::KNOWLEDGE_COLLECTIONS_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/knowledge/collections/{collection_id}` (auth `workspace`).
    pub async fn get(self, collection_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::KNOWLEDGE_COLLECTIONS_GET,
                &[collection_id],
            ))
            .await
    }

    /// `DELETE /api/v1/knowledge/collections/{collection_id}` (auth
    /// `workspace`): soft delete.
    pub async fn delete(self, collection_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::KNOWLEDGE_COLLECTIONS_DELETE,
                &[collection_id],
            ))
            .await
    }
}

impl KnowledgeDocuments<'_> {
    /// `POST /api/v1/knowledge/collections/{collection_id}/documents` (auth
    /// `workspace`): 202 `{document}`; ingestion runs in the background.
    pub async fn create(self, collection_id: &str, document: CreateDocument) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::KNOWLEDGE_DOCUMENTS_CREATE, &[collection_id]);
        let spec = match document {
            CreateDocument::StoredObject(id) => spec.json(&json!({ "stored_object_id": id }))?,
            CreateDocument::Upload(file) => {
                let fields = vec![("filename".to_owned(), file.filename().to_owned())];
                spec.multipart(file.into_multipart(fields))
            }
        };
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/knowledge/collections/{collection_id}/documents/{doc_id}`
    /// (auth `workspace`): ingestion status.
    pub async fn get(self, collection_id: &str, doc_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::KNOWLEDGE_DOCUMENTS_GET,
                &[collection_id, doc_id],
            ))
            .await
    }

    /// `DELETE /api/v1/knowledge/collections/{collection_id}/documents/{doc_id}`
    /// (auth `workspace`).
    pub async fn delete(self, collection_id: &str, doc_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::KNOWLEDGE_DOCUMENTS_DELETE,
                &[collection_id, doc_id],
            ))
            .await
    }
}

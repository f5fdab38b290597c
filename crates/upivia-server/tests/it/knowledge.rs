//! Knowledge over HTTP: collections, documents from an upload or a stored
//! object, ingestion (text, Markdown, HTML; unsupported formats fail with
//! a reason), deletion dropping chunks, and `knowledge.search` as a
//! governed, priced, audited operation: lexical by default, hybrid with an
//! embeddings endpoint, never across organisations.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::fakes::FakeEmbeddings;
use crate::support::{Reply, TestAgent, TestServer, reply};

const PATH: &str = "/api/v1/knowledge/collections";

const RUNBOOK: &str = "# Billing database runbook\n\n\
Failover: when the primary billing database stops answering, promote the replica in the \
other zone with `pgctl promote`, then point the Ledger service at it.\n\n\
Disk full: when the data volume passes 90 percent, extend the volume by 50 GB and vacuum the \
audit tables.\n\n\
Certificates: the TLS certificate of the billing API renews on the first of each month.";

async fn collection(s: &TestServer, name: &str) -> String {
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"name": name, "description": "runbooks"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["collection"]["id"].as_str().unwrap().to_owned()
}

async fn upload_doc(
    s: &TestServer,
    col: &str,
    name: &str,
    body: impl AsRef<[u8]>,
    ct: &str,
) -> Reply {
    let form = Form::new().text("filename", name.to_owned()).part(
        "file",
        Part::bytes(body.as_ref().to_vec())
            .file_name(name.to_owned())
            .mime_str(ct)
            .unwrap(),
    );
    let r = s
        .http
        .post(format!("{}{PATH}/{col}/documents", s.base))
        .bearer_auth(&s.pat)
        .multipart(form)
        .send()
        .await
        .unwrap();
    reply(r).await
}

/// Ingests what waits, then the document as it is.
async fn ingested(s: &TestServer, col: &str, doc: &str) -> Value {
    for _ in 0..50 {
        upivia_server::domains::knowledge::ingest::tick(&s.platform)
            .await
            .unwrap();
        let r = s
            .get(&format!("{PATH}/{col}/documents/{doc}"), &s.pat)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let status = r.body["document"]["status"].as_str().unwrap().to_owned();
        if status == "ready" || status == "failed" {
            return r.body["document"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("document {doc} never finished ingesting");
}

async fn searcher(s: &TestServer) -> TestAgent {
    s.funded_agent("knowledge", 1_000).await
}

async fn search(s: &TestServer, agent: &TestAgent, col: &str, query: &str) -> Reply {
    s.request(
        agent,
        "knowledge",
        "search",
        json!({"collection_id": col, "query": query, "top_k": 3}),
    )
    .await
}

#[tokio::test]
async fn a_runbook_is_ingested_and_found_by_a_governed_search() {
    let s = TestServer::start().await;
    let col = collection(&s, "Runbooks").await;
    let r = upload_doc(&s, &col, "billing.md", RUNBOOK, "text/markdown").await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["document"]["status"], "pending");
    let doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &doc).await;
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(
        d["chunk_count"], 1,
        "four short paragraphs pack into one chunk: {d}"
    );
    assert_eq!(d["embedded"], false);

    // A second document, so ranking has something to choose between.
    let other = "Expense policy\n\nMeals while travelling are reimbursed up to 60 dollars a day.\
                 \n\nReceipts are filed within 30 days.";
    let r = upload_doc(&s, &col, "expenses.txt", other, "text/plain").await;
    let other_doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    ingested(&s, &col, &other_doc).await;

    let agent = searcher(&s).await;
    let before = s.balance().await;
    let r = search(&s, &agent, &col, "how do I fail over the billing database?").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let results = r.body["result"]["results"].as_array().unwrap();
    assert_eq!(results[0]["document_id"], doc.as_str(), "{r:?}");
    assert!(
        results[0]["text"]
            .as_str()
            .unwrap()
            .contains("promote the replica")
    );
    assert!(results[0]["score"].as_f64().unwrap() > 0.0);
    assert_eq!(
        r.body["result"]["semantic"], false,
        "no embeddings endpoint"
    );
    assert_eq!(r.body["cost_cents"], 1, "priced like any operation: {r:?}");
    assert_eq!(s.balance().await, before - 1);

    // Any term is enough (not all): one word of the expense policy finds it.
    let r = search(&s, &agent, &col, "receipts spaceship unicorn").await;
    let results = r.body["result"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{r:?}");
    assert_eq!(results[0]["document_id"], other_doc.as_str());
    // Stemming: "reimbursement" finds "reimbursed".
    let r = search(&s, &agent, &col, "meal reimbursement").await;
    assert_eq!(
        r.body["result"]["results"][0]["document_id"],
        other_doc.as_str(),
        "{r:?}"
    );
    // Words only: nothing a user types is query syntax.
    let r = search(&s, &agent, &col, "\"NEAR( OR * -").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert!(r.body["result"]["results"].as_array().unwrap().is_empty());

    let events = crate::teams::audit_events(&s, "service_request.executed").await;
    assert!(
        events
            .iter()
            .any(|e| e["service"] == "knowledge" || e["details"].to_string().contains("knowledge")),
        "searches are audited like any request"
    );

    // Deleting the document drops its chunks from search.
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{col}/documents/{doc}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = search(&s, &agent, &col, "billing database failover").await;
    assert!(
        r.body["result"]["results"].as_array().unwrap().is_empty(),
        "{r:?}"
    );
    let r = s
        .get(&format!("{PATH}/{col}/documents/{doc}"), &s.pat)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn documents_come_from_stored_objects_and_bad_ones_fail_with_a_reason() {
    let s = TestServer::start().await;
    let col = collection(&s, "Docs").await;
    let form = Form::new().part(
        "file",
        Part::bytes(b"<html><body><h1>Rate limits</h1><p>The API allows 600 requests per minute per key.</p></body></html>".to_vec())
            .file_name("limits.html")
            .mime_str("text/html")
            .unwrap(),
    );
    let up = reply(
        s.http
            .post(format!("{}/api/v1/storage/objects", s.base))
            .bearer_auth(&s.pat)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let object = up.body["object"]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("{PATH}/{col}/documents"),
            &s.pat,
            json!({"stored_object_id": object}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["document"]["stored_object_id"], object.as_str());
    let d = ingested(&s, &col, &doc).await;
    assert_eq!(d["status"], "ready", "{d}");
    let agent = searcher(&s).await;
    let r = search(&s, &agent, &col, "requests per minute").await;
    let text = r.body["result"]["results"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("600 requests per minute") && !text.contains("<p>"),
        "{text}"
    );

    let r = upload_doc(&s, &col, "scan.pdf", "%PDF-1.7 binary", "application/pdf").await;
    let bad = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &bad).await;
    assert_eq!(d["status"], "failed");
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("PDF could not be read"),
        "{d}"
    );
    let r = upload_doc(
        &s,
        &col,
        "sheet.xlsx",
        "PK binary",
        "application/vnd.ms-excel",
    )
    .await;
    let office = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &office).await;
    assert_eq!(d["status"], "failed");
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("application/vnd.ms-excel"),
        "{d}"
    );
    let r = upload_doc(&s, &col, "empty.txt", "   \n", "text/plain").await;
    let empty = r.body["document"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ingested(&s, &col, &empty).await["status"], "failed");

    for (body, status) in [
        (json!({}), 422),
        (json!({"stored_object_id": "obj_nosuch"}), 404),
        (json!({"stored_object_id": object, "x": 1}), 422),
    ] {
        let r = s
            .post(&format!("{PATH}/{col}/documents"), &s.pat, body.clone())
            .await;
        assert_eq!(r.status, status, "{body}: {r:?}");
    }
    let r = s
        .post(
            &format!("{PATH}/kcol_nosuch/documents"),
            &s.pat,
            json!({"stored_object_id": object}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // A pending object is not a document yet.
    let p = s
        .post(
            "/api/v1/storage/objects",
            &s.pat,
            json!({"filename": "p.txt", "sizeBytes": 3}),
        )
        .await;
    let pending = p.body["object"]["id"].as_str().unwrap();
    let r = s
        .post(
            &format!("{PATH}/{col}/documents"),
            &s.pat,
            json!({"stored_object_id": pending}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "object_not_live"),
        "{r:?}"
    );
}

/// A one-page PDF whose text layer holds `lines` (Helvetica, one per line).
fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 14 TL 72 720 Td\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({escaped}) Tj T*\n"));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[tokio::test]
async fn a_pdf_is_read_through_its_text_layer() {
    let s = TestServer::start().await;
    let col = collection(&s, "Policies").await;
    let file = pdf(&[
        "Travel policy",
        "Hotel stays are booked through the travel desk at least 14 days ahead.",
        "Economy class is the default for flights under six hours.",
    ]);
    let r = upload_doc(&s, &col, "travel.pdf", &file, "application/pdf").await;
    assert_eq!(r.status, 202, "{r:?}");
    let doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &doc).await;
    assert_eq!(d["status"], "ready", "{d}");

    let agent = searcher(&s).await;
    let r = search(&s, &agent, &col, "who books hotel stays?").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let hit = &r.body["result"]["results"][0];
    assert_eq!(hit["document_id"], doc.as_str(), "{r:?}");
    assert!(
        hit["text"].as_str().unwrap().contains("travel desk"),
        "{r:?}"
    );
}

#[tokio::test]
async fn collections_list_page_and_delete_softly() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(collection(&s, &format!("c{i}")).await);
    }
    let r = s.get(&format!("{PATH}?limit=2"), &s.pat).await;
    assert_eq!(r.body["collections"].as_array().unwrap().len(), 2);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = s
        .get(&format!("{PATH}?limit=2&cursor={cursor}"), &s.pat)
        .await;
    assert_eq!(r.body["collections"][0]["id"], ids[0].as_str());
    assert!(r.body["next_cursor"].is_null());
    let r = s.get(&format!("{PATH}/{}", ids[1]), &s.pat).await;
    assert_eq!(r.body["collection"]["name"], "c1");

    for (body, status) in [
        (json!({}), 422),
        (json!({"name": ""}), 422),
        (json!({"name": "x", "owner": "me"}), 422),
        (json!({"name": 3}), 422),
    ] {
        assert_eq!(
            s.post(PATH, &s.pat, body.clone()).await.status,
            status,
            "{body}"
        );
    }

    let member = s.user_pat(upivia_server::model::Role::Member).await;
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{}", ids[1]),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{}", ids[1]),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        s.get(&format!("{PATH}/{}", ids[1]), &s.pat).await.status,
        404
    );
    let r = s.get(PATH, &s.pat).await;
    assert_eq!(r.body["collections"].as_array().unwrap().len(), 2);
    let agent = searcher(&s).await;
    let r = search(&s, &agent, &ids[1], "anything").await;
    assert_eq!(r.status, 404, "a deleted collection is not searched: {r:?}");

    let other = s.other_org("Other").await;
    assert_eq!(
        s.get(&format!("{PATH}/{}", ids[0]), &other.pat)
            .await
            .status,
        404
    );
    assert!(
        s.get(PATH, &other.pat).await.body["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let other_agent = s
        .post("/api/v1/agents", &other.pat, json!({"name": "x"}))
        .await;
    let key = other_agent.body["api_key"].as_str().unwrap().to_owned();
    let id = other_agent.body["agent"]["id"].as_str().unwrap().to_owned();
    s.post(
        &format!("/api/v1/agents/{id}/services"),
        &other.pat,
        json!({"service_id": "knowledge"}),
    )
    .await;
    let r = s
        .post(
            "/api/v1/service-requests",
            &key,
            json!({"service": "knowledge", "operation": "search",
                   "payload": {"collection_id": ids[0], "query": "c0"}}),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "another organisation's collection does not exist: {r:?}"
    );
}

#[tokio::test]
async fn with_an_embeddings_endpoint_search_is_hybrid_and_says_so() {
    let fake = FakeEmbeddings::start().await;
    let base = fake.base_url.clone();
    let s = TestServer::start_with(move |c| {
        c.providers.embeddings = Some(
            upivia_server::providers::embeddings::EmbeddingsSettings::new(
                &base,
                Some("fake-embed"),
                None,
            )
            .unwrap(),
        );
    })
    .await;
    let col = collection(&s, "Runbooks").await;
    let r = upload_doc(&s, &col, "billing.md", RUNBOOK, "text/markdown").await;
    let doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &doc).await;
    assert_eq!(d["embedded"], true, "{d}");
    assert!(fake.requests() >= 1);
    let agent = searcher(&s).await;
    let r = search(&s, &agent, &col, "promote replica").await;
    assert_eq!(r.body["result"]["semantic"], true, "{r:?}");
    assert_eq!(r.body["result"]["results"][0]["document_id"], doc.as_str());
}

#[tokio::test]
async fn an_unreachable_embeddings_endpoint_fails_ingestion_and_leaves_search_lexical() {
    let port = crate::fakes::closed_port().await;
    let s = TestServer::start_with(move |c| {
        c.providers.embeddings = Some(
            upivia_server::providers::embeddings::EmbeddingsSettings::new(
                &format!("http://127.0.0.1:{port}/v1"),
                Some("m"),
                None,
            )
            .unwrap(),
        );
    })
    .await;
    let col = collection(&s, "R").await;
    let r = upload_doc(
        &s,
        &col,
        "a.txt",
        "restart the relay consumer",
        "text/plain",
    )
    .await;
    let doc = r.body["document"]["id"].as_str().unwrap().to_owned();
    let d = ingested(&s, &col, &doc).await;
    assert_eq!(d["status"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("embedding"), "{d}");
    let agent = searcher(&s).await;
    let r = search(&s, &agent, &col, "relay").await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["semantic"], false);
}

"""knowledge.* through the official SDK: the owner builds a collection from
an uploaded runbook and from a stored object, ingestion reaches `ready`
(or `failed` with a reason), and an agent finds the runbook's paragraph
through the governed, priced `knowledge.search` operation; deletes drop
documents from search and collections from the list."""

from __future__ import annotations

import time
from typing import Any

import pytest
from upivia import UpiviaClient, UpiviaError

from support import balance_cents

RUNBOOK = b"""# Billing database failover

When the primary stops answering, promote the replica with
`pgctl promote billing-replica-1` and point the billing service at it.

## Afterwards

Open an incident, page the database owner and rebuild a new replica
from the latest base backup before the next business day.
"""

LIMITS = (
    b"<html><body><h1>Rate limits</h1>"
    b"<p>The public API allows 600 requests per minute for each key.</p>"
    b"</body></html>"
)


def _ingested(owner: UpiviaClient, collection_id: str, doc_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = owner.knowledge.documents.get(collection_id, doc_id)["document"]
        if doc["status"] in ("ready", "failed"):
            return doc
        assert time.monotonic() < deadline, f"document still {doc['status']}: {doc}"
        time.sleep(0.1)


def _search(agent, collection_id: str, query: str, top_k: int = 5) -> dict[str, Any]:
    outcome = agent.client.service_requests.create(
        service="knowledge",
        operation="search",
        payload={"collection_id": collection_id, "query": query, "top_k": top_k},
    )
    assert outcome["status"] == "executed", outcome
    return outcome


def test_an_agent_finds_a_runbook_paragraph_through_a_governed_search(owner: UpiviaClient, make_agent) -> None:
    collection = owner.knowledge.collections.create({"name": "Runbooks", "description": "On-call procedures"})[
        "collection"
    ]
    assert collection["id"].startswith("kcol_")
    assert collection["name"] == "Runbooks"
    assert owner.knowledge.collections.get(collection["id"])["collection"]["description"] == "On-call procedures"
    assert collection["id"] in {c["id"] for c in owner.knowledge.collections.iter(limit=1)}

    created = owner.knowledge.documents.create(
        collection["id"], content=RUNBOOK, filename="failover.md", content_type="text/markdown"
    )
    doc = created["document"]
    assert doc["status"] == "pending"
    ready = _ingested(owner, collection["id"], doc["id"])
    assert ready["status"] == "ready", ready
    assert ready["chunk_count"] >= 1

    object_row = owner.storage.objects.upload(filename="limits.html", content=LIMITS, content_type="text/html")[
        "object"
    ]
    from_object = owner.knowledge.documents.create(collection["id"], stored_object_id=object_row["id"])["document"]
    assert from_object["stored_object_id"] == object_row["id"]
    assert _ingested(owner, collection["id"], from_object["id"])["status"] == "ready"

    agent = make_agent("knowledge")
    before = balance_cents(owner)
    outcome = _search(agent, collection["id"], "how do I fail over the billing database?")
    result = outcome["result"]
    assert result["semantic"] is False, "no embeddings endpoint is configured"
    top = result["results"][0]
    assert top["document_id"] == doc["id"]
    assert "promote the replica" in top["text"]
    assert top["score"] > 0 and isinstance(top["chunk_id"], str)
    assert outcome["cost_cents"] >= 1
    assert balance_cents(owner) == before - outcome["cost_cents"]

    html = _search(agent, collection["id"], "requests per minute")["result"]["results"][0]
    assert html["document_id"] == from_object["id"]
    assert "600 requests per minute" in html["text"] and "<p>" not in html["text"]

    deleted = owner.knowledge.documents.delete(collection["id"], doc["id"])
    assert deleted["deleted"] is True
    after = _search(agent, collection["id"], "promote billing replica")["result"]["results"]
    assert doc["id"] not in {r["document_id"] for r in after}
    with pytest.raises(UpiviaError) as info:
        owner.knowledge.documents.get(collection["id"], doc["id"])
    assert info.value.status == 404


def test_unreadable_documents_fail_with_a_reason(owner: UpiviaClient) -> None:
    collection = owner.knowledge.collections.create({"name": "Scans"})["collection"]
    broken = owner.knowledge.documents.create(
        collection["id"], content=b"%PDF-1.7 not really a pdf", filename="scan.pdf", content_type="application/pdf"
    )["document"]
    failed = _ingested(owner, collection["id"], broken["id"])
    assert failed["status"] == "failed"
    assert "PDF could not be read" in failed["error"]

    sheet = owner.knowledge.documents.create(
        collection["id"], content=b"PK binary", filename="sheet.xlsx", content_type="application/vnd.ms-excel"
    )["document"]
    failed = _ingested(owner, collection["id"], sheet["id"])
    assert failed["status"] == "failed"
    assert "application/vnd.ms-excel" in failed["error"]


def test_refusals_come_back_as_typed_errors(owner: UpiviaClient, make_agent) -> None:
    with pytest.raises(UpiviaError) as info:
        owner.knowledge.collections.create({})
    assert info.value.status == 422 and info.value.kind == "http"
    with pytest.raises(UpiviaError) as info:
        owner.knowledge.collections.get("kcol_nosuch")
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        owner.knowledge.documents.create("kcol_nosuch", stored_object_id="obj_nosuch")
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        owner.knowledge.documents.create("kcol_nosuch")
    assert info.value.kind == "invalid_response", "the SDK itself needs an object or content"

    collection = owner.knowledge.collections.create({"name": "Gone soon"})["collection"]
    assert owner.knowledge.collections.delete(collection["id"]) == {"deleted": True, "id": collection["id"]}
    assert collection["id"] not in {c["id"] for c in owner.knowledge.collections.iter()}
    agent = make_agent("knowledge")
    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(
            service="knowledge", operation="search", payload={"collection_id": collection["id"], "query": "anything"}
        )
    assert info.value.status == 404, "a deleted collection is not searched (nor charged)"

    # Without the knowledge binding, search is refused by policy.
    stranger = make_agent("email")
    refused = stranger.client.service_requests.create(
        service="knowledge", operation="search", payload={"collection_id": collection["id"], "query": "x"}
    )
    assert refused["status"] == "blocked"

"""Idempotency-Key handling on POST /service-requests (API.md §1.8)."""

from __future__ import annotations

import uuid

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, balance_cents


def test_same_key_twice_returns_identical_body_and_charges_once(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    key = f"interop-{uuid.uuid4()}"
    before = balance_cents(owner)

    first = agent.client.service_requests.create(service="email", operation="send", payload=EMAIL, idempotency_key=key)
    second = agent.client.service_requests.create(service="email", operation="send", payload=EMAIL, idempotency_key=key)

    assert first["status"] == "executed"
    assert second == first
    assert before - balance_cents(owner) == first["cost_cents"]
    usage = owner.usage.list(agent_id=agent.id)
    assert [r["request_id"] for r in usage["records"]] == [first["request_id"]]


def test_same_key_with_different_payload_is_a_conflict(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    key = f"interop-{uuid.uuid4()}"
    agent.client.service_requests.create(service="email", operation="send", payload=EMAIL, idempotency_key=key)
    before = balance_cents(owner)

    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(
            service="email", operation="send", payload={**EMAIL, "subject": "Different"}, idempotency_key=key
        )

    assert info.value.kind == "idempotency_conflict"
    assert info.value.status == 409
    assert info.value.code == "idempotency_key_payload_mismatch"
    assert balance_cents(owner) == before


def test_generated_keys_make_each_call_a_new_request(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    before = balance_cents(owner)
    first = agent.send_email()
    second = agent.send_email()
    assert first["request_id"] != second["request_id"]
    assert before - balance_cents(owner) == first["cost_cents"] + second["cost_cents"]


def test_keys_are_scoped_to_the_agent(make_agent) -> None:
    key = f"interop-{uuid.uuid4()}"
    one = make_agent("email").client.service_requests.create(
        service="email", operation="send", payload=EMAIL, idempotency_key=key
    )
    two = make_agent("email").client.service_requests.create(
        service="email", operation="send", payload=EMAIL, idempotency_key=key
    )
    assert one["status"] == two["status"] == "executed"
    assert one["request_id"] != two["request_id"]

"""AsyncUpiviaClient speaks the same wire protocol as the sync client."""

from __future__ import annotations

import asyncio

import pytest
from upivia import AsyncUpiviaClient, UpiviaError

from support import EMAIL, VOICE, Server


def _run(coro):
    return asyncio.run(coro)


def test_async_create_get_and_budget_check(make_agent, server: Server, catalog: dict) -> None:
    agent = make_agent("email", monthly_budget_cents=100)

    async def scenario():
        async with AsyncUpiviaClient(api_key=agent.api_key, base_url=server.base_url, timeout=15) as client:
            created = await client.service_requests.create(service="email", operation="send", payload=EMAIL)
            fetched = await client.service_requests.get(created["request_id"])
            budget = await client.budget_check.check(agent.id)
            return created, fetched, budget

    created, fetched, budget = _run(scenario())
    assert created["status"] == "executed"
    assert created["cost_cents"] == catalog["email.send"]["base_price_cents"]
    assert fetched == created
    assert budget["monthly_limit"] == pytest.approx(1.00)
    assert budget["monthly_spent"] == pytest.approx(created["cost_cents"] / 100)


def test_async_idempotency_conflict(make_agent, server: Server) -> None:
    agent = make_agent("email")

    async def scenario():
        async with AsyncUpiviaClient(api_key=agent.api_key, base_url=server.base_url, timeout=15) as client:
            create = client.service_requests.create
            first = await create(service="email", operation="send", payload=EMAIL, idempotency_key="async-k")
            again = await create(service="email", operation="send", payload=EMAIL, idempotency_key="async-k")
            try:
                other = {**EMAIL, "body": "other"}
                await create(service="email", operation="send", payload=other, idempotency_key="async-k")
            except UpiviaError as error:
                return first, again, error
            return first, again, None

    first, again, error = _run(scenario())
    assert again == first
    assert error is not None and error.kind == "idempotency_conflict"


def test_async_create_and_wait_voice_call(make_agent, server: Server) -> None:
    agent = make_agent("voice_call")

    async def scenario():
        async with AsyncUpiviaClient(api_key=agent.api_key, base_url=server.base_url, timeout=15) as client:
            return await client.service_requests.create_and_wait(
                service="voice_call", operation="create", payload=VOICE, poll_interval=0.1, timeout=30
            )

    final = _run(scenario())
    assert final["status"] == "executed"
    assert final["cost_cents"] > 0


def test_async_owner_endpoints(server: Server) -> None:
    async def scenario():
        async with AsyncUpiviaClient(pat=server.pat, base_url=server.base_url, timeout=15) as owner:
            return await owner.balance.get(), await owner.approvals.list()

    balance, approvals = _run(scenario())
    assert isinstance(balance["amount_cents"], int)
    assert isinstance(approvals["approvals"], list)

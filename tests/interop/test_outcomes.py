"""Governance outcomes come back as statuses (HTTP 200), never exceptions,
and blocked or failed requests are not charged."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from upivia import UpiviaClient

from support import MAGIC_ERROR, MAGIC_UNAVAILABLE, VOICE, Agent, Fleet, Server, balance_cents


def _assert_uncharged_outcome(
    owner: UpiviaClient, agent: Agent, call: Callable[[], dict], status: str, reason: str
) -> dict:
    before = balance_cents(owner)
    outcome = call()
    assert outcome["status"] == status, outcome
    assert outcome["reason_code"] == reason, outcome
    assert outcome["request_id"]
    assert outcome["message"]
    assert outcome.get("cost_cents", 0) == 0
    assert balance_cents(owner) == before
    seen = agent.client.service_requests.get(outcome["request_id"])
    assert (seen["status"], seen["reason_code"]) == (status, reason)
    return outcome


def test_service_not_enabled(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    _assert_uncharged_outcome(owner, agent, agent.send_sms, "blocked", "service_not_enabled")


def test_operation_not_bound(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "sms", "operation": "read"})
    _assert_uncharged_outcome(owner, agent, agent.send_sms, "blocked", "service_not_enabled")


def test_agent_monthly_budget_exceeded(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", monthly_budget_cents=1)
    assert agent.send_email()["status"] == "executed"
    _assert_uncharged_outcome(owner, agent, agent.send_email, "blocked", "budget_exceeded")


def test_binding_monthly_budget_exceeded(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "email", "monthly_budget_cents": 1})
    assert agent.send_email()["status"] == "executed"
    _assert_uncharged_outcome(owner, agent, agent.send_email, "blocked", "budget_exceeded")


def test_binding_daily_limit_exceeded(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "email", "daily_request_limit": 1})
    assert agent.send_email()["status"] == "executed"
    _assert_uncharged_outcome(owner, agent, agent.send_email, "blocked", "daily_limit_exceeded")


def test_agent_daily_limit_exceeded(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", "sms", daily_request_limit=1)
    assert agent.send_email()["status"] == "executed"
    _assert_uncharged_outcome(owner, agent, agent.send_sms, "blocked", "daily_limit_exceeded")


def test_max_cost_exceeded(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "voice_call", "max_cost_cents": 10})

    def call() -> dict:  # estimated at the longest call, 10 minutes
        return agent.client.service_requests.create(service="voice_call", operation="create", payload=VOICE)

    _assert_uncharged_outcome(owner, agent, call, "blocked", "max_cost_exceeded")


def test_paused_agent(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    owner.agents.update(agent.id, {"status": "paused"})
    _assert_uncharged_outcome(owner, agent, agent.send_email, "blocked", "agent_paused")


def test_kill_switch_blocks_everything_until_released(make_agent, server: Server, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    server.set_kill_switch(True)
    try:
        _assert_uncharged_outcome(owner, agent, agent.send_email, "blocked", "kill_switch")
    finally:
        server.set_kill_switch(False)
    assert agent.send_email()["status"] == "executed"


def test_provider_unavailable_is_a_failed_outcome(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    _assert_uncharged_outcome(
        owner, agent, lambda: agent.send_email(subject=f"x {MAGIC_UNAVAILABLE} x"), "failed", "provider_unavailable"
    )


def test_adapter_error_is_a_failed_outcome(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    _assert_uncharged_outcome(
        owner, agent, lambda: agent.send_email(body=f"{MAGIC_ERROR}"), "failed", "adapter_error"
    )


def test_failing_voice_call_refunds_its_hold(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("voice_call")
    before = balance_cents(owner)
    final = agent.client.service_requests.create_and_wait(
        service="voice_call",
        operation="create",
        payload={**VOICE, "say": "sandbox-call-fails"},
        poll_interval=0.1,
        timeout=30,
    )
    assert (final["status"], final["reason_code"]) == ("failed", "provider_unavailable")
    assert balance_cents(owner) == before


# ── an org with no money ────────────────────────────────────────────────


@pytest.fixture(scope="module")
def unfunded(start_server) -> Iterator[Fleet]:
    with start_server() as srv:
        owner = srv.client(pat=srv.pat)
        fleet = Fleet(srv, owner)
        yield fleet
        fleet.close()
        owner.close()


def test_insufficient_balance(unfunded: Fleet) -> None:
    agent = unfunded.agent("email")
    assert balance_cents(unfunded.owner) == 0
    _assert_uncharged_outcome(unfunded.owner, agent, agent.send_email, "blocked", "insufficient_balance")


def test_budget_check_reports_an_empty_org(unfunded: Fleet) -> None:
    agent = unfunded.agent()
    budget = agent.client.budget_check.check(agent.id)
    assert budget["org_balance"] == 0.0
    assert budget["remaining_dollars"] == 0.0
    assert budget["monthly_spent"] == 0.0

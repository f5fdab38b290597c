"""approvals.list / approve / reject, including expiry on a short-TTL server."""

from __future__ import annotations

from typing import Iterator

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, Agent, Fleet, balance_cents, wait_for

NEEDS_APPROVAL = {"service_id": "email", "require_approval": True}


def _pending(owner: UpiviaClient, approval_id: str) -> dict | None:
    return next((a for a in owner.approvals.list()["approvals"] if a["id"] == approval_id), None)


def _request_approval(agent: Agent) -> dict:
    outcome = agent.send_email()
    assert outcome["status"] == "approval_required", outcome
    return outcome


def test_approval_required_outcome_shape(make_agent) -> None:
    outcome = _request_approval(make_agent(NEEDS_APPROVAL))
    assert outcome["request_id"]
    assert outcome["approval_id"]
    assert outcome["estimated_cost_cents"] == 1
    assert outcome["expires_at"]


def test_list_shows_the_pending_approval(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(NEEDS_APPROVAL)
    outcome = _request_approval(agent)
    row = _pending(owner, outcome["approval_id"])
    assert row is not None, "pending approval not listed"
    assert row["status"] == "pending"
    assert row["request_id"] == outcome["request_id"]
    assert row["agent_id"] == agent.id
    assert row["agent_name"] == agent.created["agent"]["name"]
    assert (row["service"], row["operation"]) == ("email", "send")
    assert row["payload"] == EMAIL
    assert row["estimated_cost_cents"] == outcome["estimated_cost_cents"]
    assert row["expires_at"] and row["created_at"]


def test_pending_request_is_not_charged(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(NEEDS_APPROVAL)
    before = balance_cents(owner)
    outcome = _request_approval(agent)
    assert agent.client.service_requests.get(outcome["request_id"])["status"] == "approval_required"
    assert owner.usage.list(agent_id=agent.id)["records"] == []
    # A hold may be reserved, but nothing is spent until the approval.
    assert balance_cents(owner) >= before - outcome["estimated_cost_cents"]


def test_approve_executes_and_charges(make_agent, owner: UpiviaClient, catalog: dict) -> None:
    agent = make_agent(NEEDS_APPROVAL)
    before = balance_cents(owner)
    outcome = _request_approval(agent)

    approved = owner.approvals.approve(outcome["approval_id"])

    assert approved["status"] == "executed"
    assert approved["request_id"] == outcome["request_id"]
    assert approved["cost_cents"] == catalog["email.send"]["base_price_cents"]
    assert approved["result"]["to"] == EMAIL["to"]
    assert before - balance_cents(owner) == approved["cost_cents"]
    assert agent.client.service_requests.get(outcome["request_id"])["status"] == "executed"
    assert _pending(owner, outcome["approval_id"]) is None


def test_reject_blocks_the_request(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(NEEDS_APPROVAL)
    before = balance_cents(owner)
    outcome = _request_approval(agent)

    rejected = owner.approvals.reject(outcome["approval_id"])

    assert rejected["status"] == "blocked"
    assert rejected["request_id"] == outcome["request_id"]
    assert rejected["reason_code"] == "approval_rejected"
    seen = agent.client.service_requests.get(outcome["request_id"])
    assert (seen["status"], seen["reason_code"]) == ("blocked", "approval_rejected")
    assert balance_cents(owner) == before
    assert _pending(owner, outcome["approval_id"]) is None


def test_second_decision_is_a_conflict(make_agent, owner: UpiviaClient) -> None:
    outcome = _request_approval(make_agent(NEEDS_APPROVAL))
    owner.approvals.approve(outcome["approval_id"])
    before = balance_cents(owner)

    with pytest.raises(UpiviaError) as again:
        owner.approvals.approve(outcome["approval_id"])
    assert (again.value.kind, again.value.status) == ("http", 409)
    with pytest.raises(UpiviaError) as reject:
        owner.approvals.reject(outcome["approval_id"])
    assert (reject.value.kind, reject.value.status) == ("http", 409)
    assert balance_cents(owner) == before


def test_unknown_approval_is_not_found(owner: UpiviaClient) -> None:
    with pytest.raises(UpiviaError) as info:
        owner.approvals.approve("appr_doesnotexist")
    assert (info.value.kind, info.value.status) == ("http", 404)


def test_approval_threshold_gates_only_costlier_requests(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "email", "approval_threshold_cents": 1})
    assert agent.send_email()["status"] == "executed"  # costs 1, not above 1
    # enable_service upserts: the last write wins.
    owner.agents.enable_service(agent.id, {"service_id": "email", "approval_threshold_cents": 0})
    assert agent.send_email()["status"] == "approval_required"


def test_approve_rechecks_the_budget(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(NEEDS_APPROVAL, "sms", monthly_budget_cents=1)
    outcome = _request_approval(agent)
    spent = agent.send_sms()  # uses up the whole 1-cent cap meanwhile
    assert spent["status"] == "executed", spent

    decided = owner.approvals.approve(outcome["approval_id"])

    assert decided["status"] == "blocked"
    assert decided["reason_code"] == "budget_exceeded"
    assert owner.usage.list(agent_id=agent.id)["total_cents"] == 1


# ── expiry (a server whose approvals last one second) ────────────────────


@pytest.fixture(scope="module")
def short_ttl(start_server) -> Iterator[Fleet]:
    with start_server("--approval-ttl-secs", "1", "--worker-interval-ms", "100") as srv:
        srv.add_credits(1_000)
        owner = srv.client(pat=srv.pat)
        fleet = Fleet(srv, owner)
        yield fleet
        fleet.close()
        owner.close()


def test_expired_approval_blocks_the_request(short_ttl: Fleet) -> None:
    agent = short_ttl.agent(NEEDS_APPROVAL)
    outcome = _request_approval(agent)

    def expired():
        current = agent.client.service_requests.get(outcome["request_id"])
        return current if current["status"] != "approval_required" else None

    final = wait_for(expired, timeout=10)
    assert final["status"] == "blocked"
    assert final["reason_code"] == "approval_expired"
    assert _pending(short_ttl.owner, outcome["approval_id"]) is None


def test_approving_an_expired_approval_is_a_conflict(short_ttl: Fleet) -> None:
    agent = short_ttl.agent(NEEDS_APPROVAL)
    before = balance_cents(short_ttl.owner)
    outcome = _request_approval(agent)
    wait_for(lambda: _pending(short_ttl.owner, outcome["approval_id"]) is None, timeout=10)

    with pytest.raises(UpiviaError) as info:
        short_ttl.owner.approvals.approve(outcome["approval_id"])

    assert (info.value.kind, info.value.status) == ("http", 409)
    assert balance_cents(short_ttl.owner) == before
    assert agent.client.service_requests.get(outcome["request_id"])["reason_code"] == "approval_expired"

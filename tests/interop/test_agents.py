"""agents.* through the SDK: list (agent key), create, get, update,
reset_key, set_budget, enable_service, disable_service."""

from __future__ import annotations

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, Fleet


def test_list_with_agent_key_returns_itself(make_agent) -> None:
    agent = make_agent()
    make_agent()  # another agent in the same org stays invisible
    agents = agent.client.agents.list()["agents"]
    assert [a["id"] for a in agents] == [agent.id]
    row = agents[0]
    assert row["name"] == agent.created["agent"]["name"]
    assert row["status"] == "active"
    assert "description" in row and "mode" in row and "default_model_id" in row


def test_create_returns_the_agent_and_its_key_once(owner: UpiviaClient) -> None:
    created = owner.agents.create(
        {
            "name": "interop-create",
            "description": "made by the interop suite",
            "monthly_budget_cents": 1234,
            "daily_request_limit": 7,
            "rate_limit_per_minute": 30,
        }
    )
    agent = created["agent"]
    assert created["api_key"].startswith("agent_key_live_")
    assert agent["id"] and agent["status"] == "active"
    assert agent["name"] == "interop-create"
    assert agent["description"] == "made by the interop suite"
    assert agent["monthly_budget_cents"] == 1234
    assert agent["daily_request_limit"] == 7
    assert agent["rate_limit_per_minute"] == 30
    assert "api_key" not in owner.agents.get(agent["id"])["agent"]


def test_create_test_mode_agent_gets_a_test_key(owner: UpiviaClient) -> None:
    created = owner.agents.create({"name": "interop-test-key", "key_mode": "test"})
    assert created["api_key"].startswith("agent_key_test_")


def test_get_returns_the_agent_and_its_bindings(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(
        {"service_id": "email", "operation": "send", "require_approval": True, "max_cost_cents": 5},
        {"service_id": "sms", "operations": ["send", "read"], "daily_request_limit": 9},
    )
    detail = owner.agents.get(agent.id)
    assert detail["agent"]["id"] == agent.id
    bindings = {(b["service_id"], b["operation"]): b for b in detail["services"]}
    assert set(bindings) == {("email", "send"), ("sms", "send"), ("sms", "read")}
    assert bindings[("email", "send")]["require_approval"] is True
    assert bindings[("email", "send")]["max_cost_cents"] == 5
    assert bindings[("sms", "read")]["daily_request_limit"] == 9


def test_get_unknown_agent_is_not_found(owner: UpiviaClient) -> None:
    with pytest.raises(UpiviaError) as info:
        owner.agents.get("agt_doesnotexist")
    assert (info.value.kind, info.value.status) == ("http", 404)


def test_update_changes_fields_visible_to_the_agent(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    updated = owner.agents.update(
        agent.id, {"name": "renamed", "description": "new words", "defaultModelId": "openai/gpt-4o-mini"}
    )["agent"]
    assert (updated["name"], updated["description"]) == ("renamed", "new words")
    assert updated["default_model_id"] == "openai/gpt-4o-mini"
    row = agent.client.agents.list()["agents"][0]
    assert (row["name"], row["default_model_id"]) == ("renamed", "openai/gpt-4o-mini")


def test_pausing_blocks_requests_and_resuming_restores_them(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    assert owner.agents.update(agent.id, {"status": "paused"})["agent"]["status"] == "paused"
    blocked = agent.send_email()
    assert (blocked["status"], blocked["reason_code"]) == ("blocked", "agent_paused")
    owner.agents.update(agent.id, {"status": "active"})
    assert agent.send_email()["status"] == "executed"


def test_reset_key_kills_the_old_key(make_agent, fleet: Fleet) -> None:
    agent = make_agent("email")
    rotated = fleet.owner.agents.reset_key(agent.id)
    assert rotated["agent"]["id"] == agent.id
    assert rotated["api_key"].startswith("agent_key_") and rotated["api_key"] != agent.api_key

    with pytest.raises(UpiviaError) as info:
        agent.send_email()
    assert info.value.kind == "unauthorized"
    assert info.value.status == 401

    fresh = fleet.client(api_key=rotated["api_key"])
    assert fresh.agents.list()["agents"][0]["id"] == agent.id
    outcome = fresh.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert outcome["status"] == "executed"


def test_set_budget_sets_and_clears_the_monthly_cap(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    assert owner.agents.set_budget(agent.id, {"monthly_budget_cents": 500})["agent"]["monthly_budget_cents"] == 500
    assert agent.client.budget_check.check(agent.id)["monthly_limit"] == pytest.approx(5.00)
    assert owner.agents.get(agent.id)["agent"]["monthly_budget_cents"] == 500
    assert owner.agents.set_budget(agent.id, {"monthly_budget_cents": None})["agent"]["monthly_budget_cents"] is None


def test_set_budget_to_zero_blocks_spending(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    owner.agents.set_budget(agent.id, {"monthly_budget_cents": 0})
    outcome = agent.send_email()
    assert (outcome["status"], outcome["reason_code"]) == ("blocked", "budget_exceeded")


def test_enable_service_returns_the_bindings(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    enabled = owner.agents.enable_service(
        agent.id, {"service_id": "email", "approval_threshold_cents": 100, "monthly_budget_cents": 1000}
    )
    assert enabled["ok"] is True
    [binding] = [b for b in enabled["services"] if b["service_id"] == "email"]
    assert binding["approval_threshold_cents"] == 100
    assert binding["monthly_budget_cents"] == 1000
    assert agent.send_email()["status"] == "executed"


def test_disable_service_removes_the_binding(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", "sms")
    assert agent.send_email()["status"] == "executed"
    removed = owner.agents.disable_service(agent.id, "email")
    assert removed["ok"] is True
    assert {b["service_id"] for b in owner.agents.get(agent.id)["services"]} == {"sms"}
    outcome = agent.send_email()
    assert (outcome["status"], outcome["reason_code"]) == ("blocked", "service_not_enabled")
    # Idempotent: disabling again still succeeds.
    assert owner.agents.disable_service(agent.id, "email")["ok"] is True


def test_enable_unknown_service_is_rejected(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    with pytest.raises(UpiviaError) as info:
        owner.agents.enable_service(agent.id, {"service_id": "no_such_service"})
    assert info.value.kind == "http"
    assert info.value.status in (400, 404, 422)

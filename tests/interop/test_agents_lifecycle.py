"""agents.* beyond CRUD through the official SDK: the documented camelCase
update keys, delete, clone, transfer, health, fleet_health, activity
(with activity_iter and verify), skills and remove_skill."""

from __future__ import annotations

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, MAGIC_ERROR, Fleet, Server


def test_update_keeps_every_documented_key(make_agent, owner: UpiviaClient, server: Server) -> None:
    agent = make_agent()
    patch = {
        "name": "profiled",
        "description": "d",
        "icon": "robot",
        "category": "ops",
        "defaultModelId": "openai/gpt-4o-mini",
        "systemPrompt": "Be brief.",
        "personality": "dry",
        "voiceConfig": {"voice": "alloy"},
        "memoryMode": "session",
    }
    owner.agents.update(agent.id, patch)
    got = owner.agents.get(agent.id)["agent"]
    for key in ("icon", "category", "systemPrompt", "personality", "voiceConfig", "memoryMode"):
        assert got[key] == patch[key], key
    assert got["default_model_id"] == "openai/gpt-4o-mini"
    # The terminal client's read: the workspace list with a PAT (it builds
    # this request itself, outside the SDK's agents.list).
    rows = {a["id"]: a for a in server.admin("GET", "/agents")["agents"]}
    assert rows[agent.id]["default_model_id"] == "openai/gpt-4o-mini"
    with pytest.raises(UpiviaError) as info:
        owner.agents.update(agent.id, {"voiceConfig": "loud"})
    assert (info.value.kind, info.value.status) == ("http", 422)


def test_delete_kills_the_key_and_removes_the_bindings(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    assert agent.send_email()["status"] == "executed"
    deleted = owner.agents.delete(agent.id)
    assert deleted["deleted"] is True and deleted["bindings_removed"] == 1
    with pytest.raises(UpiviaError) as info:
        agent.send_email()
    assert (info.value.kind, info.value.status) == ("unauthorized", 401)
    with pytest.raises(UpiviaError) as info:
        owner.agents.get(agent.id)
    assert info.value.status == 404


def test_a_protected_agent_is_not_deleted(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent(protected=True)
    with pytest.raises(UpiviaError) as info:
        owner.agents.delete(agent.id)
    assert (info.value.kind, info.value.status, info.value.code) == ("http", 409, "conflict")
    owner.agents.update(agent.id, {"protected": False})
    assert owner.agents.delete(agent.id)["deleted"] is True


def test_clone_copies_bindings_and_limits_with_its_own_key(make_agent, fleet: Fleet) -> None:
    source = make_agent(
        {"service_id": "email", "max_cost_cents": 50},
        {"service_id": "sms", "operations": ["send"], "daily_request_limit": 3},
        monthly_budget_cents=900,
    )
    cloned = fleet.owner.agents.clone(source.id, {"name": "interop twin"})
    assert cloned["api_key"].startswith("agent_key_") and cloned["api_key"] != source.api_key
    twin = cloned["agent"]
    assert twin["id"] != source.id and twin["name"] == "interop twin"
    assert twin["monthly_budget_cents"] == 900

    def shape(agent_id: str) -> set[tuple]:
        return {
            (b["service_id"], b["operation"], b["max_cost_cents"], b["daily_request_limit"])
            for b in fleet.owner.agents.get(agent_id)["services"]
        }

    assert shape(twin["id"]) == shape(source.id) == {("email", None, 50, None), ("sms", "send", None, 3)}
    client = fleet.client(api_key=cloned["api_key"])
    outcome = client.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert outcome["status"] == "executed"
    # clone() with no body sends {}: a default name.
    assert fleet.owner.agents.clone(source.id)["agent"]["name"].endswith("(copy)")


def test_transfer_to_the_owner_rotates_the_key(make_agent, fleet: Fleet) -> None:
    # The members API is another helper's; the organisation's owner is the
    # member at hand (a member's transfer is covered by the server tests).
    agent = make_agent("email")
    owner_id = agent.created["agent"]["owner_user_id"]
    moved = fleet.owner.agents.transfer(agent.id, {"new_owner_user_id": owner_id})
    assert moved["agent"]["owner_user_id"] == owner_id
    assert moved["api_key"] != agent.api_key
    with pytest.raises(UpiviaError) as info:
        agent.send_email()
    assert info.value.status == 401
    fresh = fleet.client(api_key=moved["api_key"])
    assert fresh.service_requests.create(service="email", operation="send", payload=EMAIL)["status"] == "executed"
    with pytest.raises(UpiviaError) as info:
        fleet.owner.agents.transfer(agent.id, {"new_owner_user_id": "usr_nobody"})
    assert info.value.status == 404


def test_health_and_fleet_health(make_agent, owner: UpiviaClient) -> None:
    quiet = make_agent("email")
    busy = make_agent("email")
    broken = make_agent("email")
    assert busy.send_email()["status"] == "executed"
    assert broken.send_email(body=MAGIC_ERROR)["status"] == "failed"

    idle = owner.agents.health(quiet.id)
    assert idle["health"] == "idle" and idle["agent_id"] == quiet.id
    ok = owner.agents.health(busy.id)
    assert ok["health"] == "healthy" and ok["error_rate"] == 0
    assert isinstance(ok["p50_latency_ms"], int) and isinstance(ok["p95_latency_ms"], int)
    assert ok["last_activity_at"] and ok["window"] == "24h"
    assert owner.agents.health(broken.id)["health"] == "failing"

    fleet = owner.agents.fleet_health()
    by_id = {a["agent_id"]: a["health"] for a in fleet["agents"]}
    assert (by_id[quiet.id], by_id[busy.id], by_id[broken.id]) == ("idle", "healthy", "failing")
    counts = fleet["counts"]
    assert counts["total"] == len(fleet["agents"]) == sum(counts[k] for k in ("healthy", "degraded", "failing", "idle"))


def test_activity_pages_with_camel_case_cursor_and_verifies(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    for _ in range(3):
        assert agent.send_email()["status"] == "executed"
    page = owner.agents.activity(agent.id, limit=2)
    assert len(page["logs"]) == 2 and page["hasMore"] is True and page["nextCursor"]
    every = list(owner.agents.activity_iter(agent.id, limit=2))
    assert len(every) == 5  # agent.created, binding.enabled, three executed
    assert all(e["agent_id"] == agent.id for e in every)
    assert len({e["id"] for e in every}) == 5
    assert page["stats"]["executed"] == 3 and page["stats"]["total_spent_cents"] > 0
    assert len(page["service_requests"]) == 3
    assert page["delegations"] == []
    checked = owner.agents.activity(agent.id, verify=True)
    assert checked["verification"]["ok"] is True
    only = owner.agents.activity(agent.id, type="stats")
    assert only["logs"] == [] and "service_requests" not in only


def test_skills_and_remove_skill(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", {"service_id": "sms", "operations": ["send"]})
    skills = owner.agents.skills(agent.id)
    assert skills["workflows"] == []
    assert [s["service_id"] for s in skills["services"]] == ["email", "sms"]
    with pytest.raises(UpiviaError) as info:
        owner.agents.remove_skill(agent.id, "wf_not_granted")
    assert (info.value.kind, info.value.status) == ("http", 404)
    # Service skills go through disable_service, as the SDK documents.
    owner.agents.disable_service(agent.id, "sms")
    assert [s["service_id"] for s in owner.agents.skills(agent.id)["services"]] == ["email"]

"""spawn.*, teams.budget / teams.allocate_budget, balance.get(team_id=) and
budget_requests.* through the official SDK, against the real server: money
moved by allocation, approved budget requests and spawn carves, with the
refusals each answers."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, Server


def _team(server: Server) -> dict:
    # No official client creates a team: this server's route, for set-up.
    return server.admin("POST", "/teams", {"name": f"pool-{uuid.uuid4().hex[:8]}"})["team"]


def _remaining(agent) -> int:
    checked = agent.client.service_requests.create(
        service="platform", operation="check_budget", payload={"agent_id": agent.id}
    )
    return checked["result"]["remaining_cents"]


def test_allocation_moves_money_from_the_balance_into_the_pool(
    server: Server, owner: UpiviaClient, make_agent
) -> None:
    team = _team(server)
    before = owner.balance.get()["amount_cents"]
    moved = owner.teams.allocate_budget(team["id"], {"amount_cents": 40})
    assert moved["ok"] is True and moved["allocated_cents"] == 40
    assert owner.balance.get()["amount_cents"] == before - 40

    budget = owner.teams.budget(team["id"])["budget"]
    assert (budget["pool_cents"], budget["allocated_cents"], budget["spent_cents"]) == (40, 40, 0)

    agent = make_agent("email", team_id=team["id"])
    done = agent.client.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert done["status"] == "executed", done
    pool = owner.balance.get(team_id=team["id"])
    assert pool["amount_cents"] == 40 - done["cost_cents"]
    assert owner.balance.get()["amount_cents"] == before - 40, "team agents spend the pool"

    with pytest.raises(UpiviaError) as info:
        owner.teams.allocate_budget(team["id"], {"amount_cents": 10**12})
    assert info.value.status == 422 and info.value.code == "invalid_payload"
    with pytest.raises(UpiviaError) as info:
        owner.teams.allocate_budget(team["id"], {"amount_cents": before})
    assert info.value.status == 409 and info.value.code == "insufficient_balance"
    with pytest.raises(UpiviaError) as info:
        owner.teams.budget("team_does_not_exist")
    assert info.value.status == 404


def test_an_empty_pool_blocks_with_budget_exceeded_naming_it(
    server: Server, owner: UpiviaClient, make_agent
) -> None:
    team = _team(server)
    agent = make_agent("email", team_id=team["id"])
    blocked = agent.client.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert blocked["status"] == "blocked"
    assert blocked["reason_code"] == "budget_exceeded"
    assert f"team pool {team['id']}" in blocked["message"]


def test_budget_requests_are_created_listed_and_decided_once(
    server: Server, owner: UpiviaClient
) -> None:
    team = _team(server)
    created = owner.budget_requests.create({"team_id": team["id"], "amount_cents": 25, "reason": "interop"})
    request = created["request"]
    assert request["status"] == "pending" and request["amount_cents"] == 25
    assert any(r["id"] == request["id"] for r in owner.budget_requests.list()["requests"])

    before = owner.balance.get()["amount_cents"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(
            pool.map(
                lambda _: _try_resolve(owner, request["id"]),
                range(6),
            )
        )
    assert outcomes.count("approved") == 1, outcomes
    assert all(o in ("approved", "already_resolved") for o in outcomes), outcomes
    assert owner.balance.get()["amount_cents"] == before - 25
    assert owner.teams.budget(team["id"])["budget"]["pool_cents"] == 25

    rejected = owner.budget_requests.create({"team_id": team["id"], "amount_cents": 5})["request"]
    done = owner.budget_requests.resolve(rejected["id"], {"action": "reject", "note": "no"})
    assert done["request"]["status"] == "rejected" and done["request"]["note"] == "no"
    assert owner.teams.budget(team["id"])["budget"]["pool_cents"] == 25

    with pytest.raises(UpiviaError) as info:
        owner.budget_requests.create({"team_id": team["id"], "amount_cents": 0})
    assert info.value.status == 422
    with pytest.raises(UpiviaError) as info:
        owner.budget_requests.resolve(rejected["id"], {"action": "maybe"})
    assert info.value.status == 422


def _try_resolve(owner: UpiviaClient, request_id: str) -> str:
    try:
        return owner.budget_requests.resolve(request_id, {"action": "approve"})["request"]["status"]
    except UpiviaError as e:
        return e.code or str(e.status)


def test_spawn_carves_the_childs_budget_out_of_the_parent(
    server: Server, owner: UpiviaClient, make_agent, fleet
) -> None:
    parent = make_agent("email", monthly_budget_cents=30)
    estimate = parent.client.spawn.estimate(["email.send"])
    assert estimate["breakdown"][0]["operation"] == "email.send"
    assert estimate["estimated_budget_cents"] == estimate["breakdown"][0]["base_price_cents"]

    spawned = parent.client.spawn.create(
        name="interop-child", services=[{"service": "email.send"}], budget_dollars=0.02, icon="robot"
    )
    assert spawned["ok"] is True
    child_agent = spawned["agent"]
    assert child_agent["parent_agent_id"] == parent.id and child_agent["spawn_depth"] == 2
    assert child_agent["icon"] == "robot"
    assert _remaining(parent) == 28

    child = fleet.client(api_key=spawned["api_key"], max_retries=0)
    for _ in range(2):
        ran = child.service_requests.create(service="email", operation="send", payload=EMAIL)
        assert ran["status"] == "executed", ran
    past = child.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert past["status"] == "blocked" and past["reason_code"] == "budget_exceeded"

    with pytest.raises(UpiviaError) as info:
        parent.client.spawn.create(name="greedy", services=["sms.send"])
    assert info.value.status == 403 and info.value.code == "spawn_services_not_subset"
    with pytest.raises(UpiviaError) as info:
        parent.client.spawn.create(name="big", services=["email.send"], budget_cents=29)
    assert info.value.status == 403 and info.value.code == "insufficient_budget"

    grandchild = child.spawn.create(name="grandchild", services=["email.send"])
    great = fleet.client(api_key=grandchild["api_key"], max_retries=0)
    with pytest.raises(UpiviaError) as info:
        great.spawn.create(name="too-deep", services=["email.send"])
    assert info.value.status == 403 and info.value.code == "spawn_depth_exceeded"

    # Pausing the parent stops its descendants too.
    owner.agents.update(parent.id, {"status": "paused"})
    stopped = child.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert stopped["status"] == "blocked" and stopped["reason_code"] == "agent_paused"
    owner.agents.update(parent.id, {"status": "active"})


def test_concurrent_spawns_never_carve_more_than_the_parent_has(make_agent) -> None:
    parent = make_agent("email", monthly_budget_cents=50)

    def one(i: int) -> str:
        try:
            parent.client.spawn.create(name=f"c{i}", services=["email.send"], budget_cents=10)
            return "ok"
        except UpiviaError as e:
            return e.code or str(e.status)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one, range(12)))
    assert outcomes.count("ok") == 5, outcomes
    assert outcomes.count("insufficient_budget") == 7, outcomes
    assert _remaining(parent) == 0

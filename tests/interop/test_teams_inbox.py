"""teams.* and agent_requests.* through the official SDK (and the terminal
client's raw resolve call), against the real server."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from upivia import UpiviaClient, UpiviaError

from support import CLIENT_TIMEOUT_SECONDS, Server


def _team(server: Server) -> dict:
    # No official client creates a team: this server's route, for set-up.
    return server.admin("POST", "/teams", {"name": f"interop-{uuid.uuid4().hex[:8]}"})["team"]


def _agent_get(server: Server, key: str, path: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/api/v1{path}",
        headers={"authorization": f"Bearer {key}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def test_teams_list_members_update_and_switch(server: Server, owner: UpiviaClient) -> None:
    team = _team(server)
    listed = owner.teams.list()
    row = next(t for t in listed["teams"] if t["id"] == team["id"])
    assert row["name"] == team["name"]
    assert row["role"] == "manager"

    members = owner.teams.members.list(team["id"])["members"]
    assert len(members) == 1
    me = members[0]
    assert me["role"] == "manager" and me["email"] == server.email

    updated = owner.teams.members.update(team["id"], me["id"], {"role": "worker"})
    assert updated["member"]["role"] == "worker"
    updated = owner.teams.members.update(team["id"], me["id"], {"role_id": "team_role_manager"})
    assert updated["member"]["role"] == "manager"
    with pytest.raises(UpiviaError) as info:
        owner.teams.members.update(team["id"], me["id"], {"role": "owner"})
    assert info.value.status == 422 and info.value.code == "invalid_payload"
    with pytest.raises(UpiviaError) as info:
        owner.teams.members.list("team_does_not_exist")
    assert info.value.status == 404 and info.value.kind == "http"

    switched = owner.teams.switch(team["id"])
    assert switched["ok"] is True and switched["team_id"] == team["id"]
    assert owner.teams.list()["active_team_id"] == team["id"]
    cleared = owner.teams.switch(None)
    assert cleared["team_id"] is None
    assert owner.teams.list()["active_team_id"] is None


def test_agents_created_in_a_team_are_listed_by_team(server: Server, owner: UpiviaClient) -> None:
    team = _team(server)
    created = owner.agents.create({"name": "team agent", "team_id": team["id"]})
    assert created["agent"]["team_id"] == team["id"]
    with pytest.raises(UpiviaError) as info:
        owner.agents.create({"name": "nowhere", "team_id": "team_nope"})
    assert info.value.status == 404


def test_agent_requests_create_list_resolve_and_the_agent_reads_it(
    make_agent, server: Server, owner: UpiviaClient
) -> None:
    agent = make_agent()
    created = owner.agent_requests.create(
        request_type="clarification",
        body="Which region should I deploy to?",
        agent_id=agent.id,
        title="Region",
        link="https://example.com/deploy",
    )
    request = created["request"]
    assert request["status"] == "pending" and request["id"]
    pending = owner.agent_requests.list()["requests"]
    row = next(r for r in pending if r["id"] == request["id"])
    # The fields the terminal client reads.
    assert row["title"] == "Region"
    assert row["request_type"] == "clarification"
    assert row["status"] == "pending"
    assert row["agent_name"] == agent.created["agent"]["name"]
    only = owner.agent_requests.list(status="pending", type="clarification")["requests"]
    assert request["id"] in [r["id"] for r in only]

    resolved = owner.agent_requests.resolve(request["id"], "eu-west-1")
    assert resolved["ok"] is True
    assert resolved["request"]["status"] == "resolved"
    assert request["id"] not in [r["id"] for r in owner.agent_requests.list()["requests"]]
    decided = owner.agent_requests.list(status="resolved")["requests"]
    assert request["id"] in [r["id"] for r in decided]
    with pytest.raises(UpiviaError) as info:
        owner.agent_requests.resolve(request["id"], "again")
    assert info.value.status == 409 and info.value.code == "request_already_resolved"

    # The agent reads the response with its own key.
    read = _agent_get(server, agent.api_key, f"/agent-requests/{request['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["request"]["response"] == "eu-west-1"
    listed = _agent_get(server, agent.api_key, "/agent-requests?status=all")
    assert [r["id"] for r in listed.json()["requests"]] == [request["id"]]


def test_the_terminal_clients_reject_call(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    request = owner.agent_requests.create(
        request_type="approval", body="May I spend $5?", agent_id=agent.id
    )["request"]
    # As upivia-tui sends it: request_id only, action "reject", null response.
    owner._transport.request(
        "PATCH",
        "/api/v1/agent-requests",
        auth="workspace",
        body={"request_id": request["id"], "action": "reject", "response": None},
    )
    rejected = owner.agent_requests.list(status="all")["requests"]
    row = next(r for r in rejected if r["id"] == request["id"])
    assert row["status"] == "rejected" and row["response"] is None


def test_concurrent_resolves_decide_once(make_agent, server: Server) -> None:
    agent = make_agent()
    clients = [server.client(pat=server.pat, max_retries=0) for _ in range(6)]
    try:
        request = clients[0].agent_requests.create(
            request_type="blocked", body="stuck", agent_id=agent.id
        )["request"]

        def attempt(i: int) -> int:
            try:
                clients[i].agent_requests.resolve(request["id"], f"answer {i}")
                return 200
            except UpiviaError as e:
                assert e.code == "request_already_resolved", e
                return e.status

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(attempt, range(6)))
        assert sorted(statuses) == [200, 409, 409, 409, 409, 409], statuses
    finally:
        for c in clients:
            c.close()


def test_bad_agent_request_input_is_refused(owner: UpiviaClient) -> None:
    with pytest.raises(UpiviaError) as info:
        owner.agent_requests.create(request_type="gossip", body="x")
    assert info.value.status == 422 and info.value.code == "invalid_payload"
    with pytest.raises(UpiviaError) as info:
        owner.agent_requests.list(status="open")
    assert info.value.status == 400 and info.value.code == "invalid_request"
    with pytest.raises(UpiviaError) as info:
        owner.agent_requests.resolve("areq_missing")
    assert info.value.status == 404


def test_the_terminal_clients_own_inbox_calls(make_agent, server: Server) -> None:
    """upivia-tui 0.3.0's client (`list_pending_requests`, `resolve_request`)
    against the server: the fields it reads and both of its actions."""
    tui_client = pytest.importorskip("upivia_tui.client")
    from upivia_tui.config import Config

    import asyncio

    agent = make_agent()
    owner = server.client(pat=server.pat)
    try:
        ids = [
            owner.agent_requests.create(
                request_type=kind, body="from the TUI test", agent_id=agent.id, title=title
            )["request"]["id"]
            for kind, title in [("plan_change", "Approve me"), ("blocked", "Reject me")]
        ]
    finally:
        owner.close()

    async def run() -> tuple[list, list]:
        tui = tui_client.UpiviaClient(Config(base_url=server.base_url, pat=server.pat))
        try:
            before = await tui.list_pending_requests()
            await tui.resolve_request(ids[0], "resolve", "go ahead")
            await tui.resolve_request(ids[1], "reject")
            with pytest.raises(tui_client.ApiError) as info:
                await tui.resolve_request(ids[1], "resolve")
            assert info.value.status == 409
            after = await tui.list_pending_requests()
            return before, after
        finally:
            await tui.aclose()

    before, after = asyncio.run(run())
    mine = {r.id: r for r in before if r.id in ids}
    assert set(mine) == set(ids)
    assert mine[ids[0]].title == "Approve me"
    assert mine[ids[0]].request_type == "plan_change"
    assert mine[ids[0]].status == "pending"
    assert mine[ids[0]].agent_name == agent.created["agent"]["name"]
    assert not {r.id for r in after} & set(ids)
    read = _agent_get(server, agent.api_key, f"/agent-requests/{ids[0]}").json()["request"]
    assert read["status"] == "resolved" and read["response"] == "go ahead"
    read = _agent_get(server, agent.api_key, f"/agent-requests/{ids[1]}").json()["request"]
    assert read["status"] == "rejected" and read["response"] is None

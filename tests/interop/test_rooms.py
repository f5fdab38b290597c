"""The terminal client's rooms and swarms (upivia_tui.client 0.3.0:
`create_room`, `post_room_message`, `get_room`, `list_rooms`,
`start_swarm`) against the server: the agents asked in a room reply in the
background through governed chat turns (the sandbox model), each reply's
cost in its metadata as the client prints it and the room's spend their
sum; a swarm runs its rounds and its summary, then is completed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support import Server, wait_for


def _client(server: Server) -> Any:
    tui_client = pytest.importorskip("upivia_tui.client")
    from upivia_tui.config import Config

    return tui_client.UpiviaClient(Config(base_url=server.base_url, pat=server.pat))


def _call(server: Server, method: str, *args: Any, **kwargs: Any) -> Any:
    async def go() -> Any:
        client = _client(server)
        try:
            return await getattr(client, method)(*args, **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_asked_agents_reply_in_a_room_with_their_cost(make_agent, server: Server) -> None:
    ada = make_agent("email")
    bo = make_agent("email")
    created = _call(
        server, "create_room", title="Interop room", objective="Tell the team",
        agent_ids=[ada.id, bo.id], budget_cap_cents=None,
    )
    room_id = created["room"]["id"]
    posted = _call(
        server, "post_room_message", room_id,
        'please send an email {"to": "team@example.com", "subject": "Hi", "body": "From the room."}',
    )
    assert posted["queued_replies"] == 2, posted

    def replied() -> Any:
        data = _call(server, "get_room", room_id)
        replies = [m for m in data["messages"] if m["author_kind"] == "agent"]
        return data if len(replies) == 2 else None

    data = wait_for(replied, timeout=30)
    room = data["room"]
    costs = [m["metadata"]["cost_cents"] for m in data["messages"] if m["author_kind"] == "agent"]
    assert all(isinstance(c, int) and c > 0 for c in costs), data["messages"]
    assert room["spent_cents"] == sum(costs)
    assert room["budget_cap_cents"] is None and room["objective"] == "Tell the team"
    listed = [r for r in _call(server, "list_rooms") if r["id"] == room_id]
    assert len(listed) == 1
    agents = [p for p in listed[0]["participants"] if p["kind"] == "agent" and p["status"] == "active"]
    assert len(agents) == 2
    assert listed[0]["spent_cents"] == sum(costs)


def test_a_swarm_runs_its_rounds_and_completes(make_agent, server: Server) -> None:
    ada = make_agent("email")
    bo = make_agent("email")
    started = _call(
        server, "start_swarm", objective="Choose a name", agent_ids=[ada.id, bo.id], rounds=1,
    )
    room_id = started["room"]["id"]

    def completed() -> Any:
        data = _call(server, "get_room", room_id)
        return data if data["room"]["status"] == "completed" else None

    data = wait_for(completed, timeout=30)
    replies = [m for m in data["messages"] if m["author_kind"] == "agent"]
    # One round of both, then the first speaker sums up (no moderator).
    assert len(replies) == 3, data["messages"]
    assert replies[-1]["metadata"]["kind"] == "summary"
    assert room_id in [r["id"] for r in _call(server, "list_rooms", status="completed")]

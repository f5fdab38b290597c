"""chat.* through the official SDK, sync and async: sessions opened,
listed, read and closed; a turn streamed as parsed events ending in
`done`; a tool call that is a governed, charged request; an approval
pause resolved inline and resumed with `continue_from`; local tools handed
to the client and resumed with their results. The server answers with its
sandbox model (no language model is configured in these tests)."""

from __future__ import annotations

import asyncio
import json

import pytest
from upivia import AsyncUpiviaClient, UpiviaClient, UpiviaError

from support import EMAIL, Server, balance_cents


def _events(stream) -> list:
    return [(e.event, e.data) for e in stream]


def _first(events: list, name: str) -> dict:
    for event, data in events:
        if event == name:
            return data
    raise AssertionError(f"no {name} event in {[e for e, _ in events]}")


def _send_email_message() -> str:
    return "please send an email " + json.dumps(EMAIL)


def test_sessions_are_opened_listed_read_and_closed(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    session = owner.chat.sessions.create(agent_id=agent.id, title="Upivia TUI · interop")
    assert session["id"].startswith("chs_")
    assert session["agent_id"] == agent.id
    assert session["closed_at"] is None
    # An open, empty session is handed back rather than a second one.
    assert owner.chat.sessions.create(agent_id=agent.id, title="again")["id"] == session["id"]
    assert session["id"] not in [s["id"] for s in owner.chat.sessions.list()["sessions"]]
    assert session["id"] in [s["id"] for s in owner.chat.sessions.list(include_empty=True)["sessions"]]

    events = _events(owner.chat.turn(session_id=session["id"], message="hello"))
    assert events[0][0] == "model"
    assert events[-1][0] == "done"
    text = _first(events, "message")["content"]
    assert "".join(d["delta"] for e, d in events if e == "message_delta") == text

    shown = owner.chat.sessions.get(session["id"])
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"]
    assert shown["messages"][1]["content"] == text
    listed = owner.chat.sessions.list(agent_id=agent.id)["sessions"]
    assert [s["id"] for s in listed] == [session["id"]]

    assert owner.chat.sessions.delete(session["id"])["closed"] is True
    assert owner.chat.sessions.list(agent_id=agent.id)["sessions"] == []
    assert owner.chat.sessions.list(agent_id=agent.id, include_closed=True)["sessions"][0]["closed_at"]
    closed = owner.chat.sessions.delete_all()
    assert closed["closed"] is True and isinstance(closed["count"], int)


def test_a_tool_call_is_governed_and_charged(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    session = owner.chat.sessions.create(agent_id=agent.id)
    before = balance_cents(owner)
    events = _events(owner.chat.turn(session_id=session["id"], message=_send_email_message()))
    names = [e for e, _ in events]
    assert names.index("tool_planned") < names.index("tool_executing") < names.index("tool_done")
    done_tool = _first(events, "tool_done")
    assert done_tool["tool_name"] == "email_send"
    assert done_tool["status"] == "executed"
    request = agent.client.service_requests.get(done_tool["request_id"])
    assert request["status"] == "executed"
    after = balance_cents(owner)
    assert after == before - request["cost_cents"] and request["cost_cents"] > 0
    assert _first(events, "done")["balance_cents"] == after


def test_an_approval_pauses_the_turn_and_resumes_after_the_inline_decision(
    make_agent, owner: UpiviaClient
) -> None:
    agent = make_agent({"service_id": "email", "require_approval": True})
    session = owner.chat.sessions.create(agent_id=agent.id)
    events = _events(owner.chat.turn(session_id=session["id"], message=_send_email_message()))
    pending = _first(events, "tool_pending")
    assert events[-1][0] == "done"
    assert pending["approval_id"].startswith("appr_")
    decided = owner.chat.resolve_approval(pending["approval_id"], "approve")
    assert decided["status"] == "executed"
    resumed = _events(
        owner.chat.turn(
            session_id=session["id"],
            continue_from={"request_id": pending["request_id"], "action": "approve"},
        )
    )
    assert _first(resumed, "message")["content"] == "Tool results — email_send: executed."
    with pytest.raises(UpiviaError) as again:
        list(
            owner.chat.turn(
                session_id=session["id"],
                continue_from={"request_id": pending["request_id"], "action": "approve"},
            )
        )
    assert again.value.status == 409


def test_local_tools_are_handed_to_the_client_and_resumed(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    session = owner.chat.sessions.create(agent_id=agent.id)
    local = [{"name": "local_list_dir", "description": "List a directory", "parameters": {"type": "object"}}]
    events = _events(
        owner.chat.turn(session_id=session["id"], message='list the dir {"path": "."}', local_tools=local)
    )
    call = _first(events, "local_tools_pending")["tools"][0]
    assert call["tool_name"] == "local_list_dir" and call["args"] == {"path": "."}
    resumed = _events(
        owner.chat.turn(
            session_id=session["id"],
            message="",
            continue_from={
                "action": "local_results",
                "results": [{"tool_call_id": call["tool_call_id"], "tool_name": "local_list_dir", "result": {"entries": ["a.txt"]}}],
            },
            local_tools=local,
        )
    )
    assert _first(resumed, "message")["content"] == "Tool results — local_list_dir: done."


def test_refusals_are_typed_errors_before_any_event(make_agent, owner: UpiviaClient, server: Server) -> None:
    with pytest.raises(UpiviaError) as missing:
        list(owner.chat.turn(session_id="chs_missing", message="hi"))
    assert missing.value.status == 404
    agent = make_agent()
    with pytest.raises(UpiviaError) as keyed:
        agent.client.chat.sessions.list()
    assert keyed.value.kind == "unauthorized"
    with pytest.raises(UpiviaError) as bad:
        owner.chat.sessions.create(agent_id="agt_missing")
    assert bad.value.status == 404


def test_the_async_client_streams_a_turn(make_agent, server: Server) -> None:
    agent = make_agent("email")

    async def scenario() -> tuple[list, dict]:
        async with AsyncUpiviaClient(pat=server.pat, base_url=server.base_url, timeout=15) as client:
            session = await client.chat.sessions.create(agent_id=agent.id)
            events = []
            async for event in client.chat.turn(session_id=session["id"], message=_send_email_message()):
                events.append((event.event, event.data))
            shown = await client.chat.sessions.get(session["id"])
            return events, shown

    events, shown = asyncio.run(scenario())
    assert events[-1][0] == "done"
    assert _first(events, "tool_done")["status"] == "executed"
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "tool", "assistant"]

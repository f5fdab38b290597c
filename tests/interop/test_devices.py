"""devices.* through the official SDK: a heartbeat makes a chat session
live and hands over the commands queued for it once; the live list with
its feed; pause, resume, rename (of the chat session itself) and attach;
cwd refused (409) without a live device and queued with one; command
status; the hard delete. Also the terminal client's own rename call."""

from __future__ import annotations

import asyncio
import json

import pytest
from upivia import UpiviaClient, UpiviaError

from support import Server


def _session(owner: UpiviaClient, agent_id: str, model: str) -> str:
    return owner.chat.sessions.create(agent_id=agent_id, model_id=model, title="interop device")["id"]


def _live(owner: UpiviaClient, session_id: str) -> dict | None:
    for row in owner.devices.sessions.list()["sessions"]:
        if row["id"] == session_id:
            return row
    return None


def test_heartbeat_list_commands_and_their_status(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    sid = _session(owner, agent.id, "devices-1")
    assert _live(owner, sid) is None
    beat = owner.devices.heartbeat(sid)
    assert beat["ok"] is True and beat["commands"] == []
    row = _live(owner, sid)
    assert row is not None
    assert row["online"] is True and row["paused"] is False
    assert row["agent_id"] == agent.id and row["title"] == "interop device"
    assert row["recent_messages"] == [] and row["last_heartbeat_at"]

    queued = owner.devices.sessions.command(sid, content='{"message": "hi"}')["command"]
    assert queued["status"] == "queued" and queued["id"].startswith("dcmd_")
    delivered = owner.devices.heartbeat(sid)["commands"]
    assert [(c["id"], c["content"]) for c in delivered] == [(queued["id"], '{"message": "hi"}')]
    assert owner.devices.heartbeat(sid)["commands"] == []

    done = owner.devices.commands.update(queued["id"], "done")["command"]
    assert done["status"] == "done"
    assert owner.devices.commands_update(queued["id"], "failed")["command"]["status"] == "failed"
    with pytest.raises(UpiviaError) as bad:
        owner.devices.commands.update(queued["id"], "exploded")
    assert bad.value.status == 422
    with pytest.raises(UpiviaError) as missing:
        owner.devices.commands.update("dcmd_missing", "done")
    assert missing.value.status == 404


def test_update_pause_rename_attach(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    sid = _session(owner, agent.id, "devices-2")
    target = _session(owner, agent.id, "devices-3")
    assert owner.devices.sessions.update(sid, {"action": "pause"})["session"]["paused"] is True
    owner.devices.sessions.command(sid, content="held")
    held = owner.devices.heartbeat(sid)
    assert held["commands"] == [] and held["paused"] is True
    assert owner.devices.sessions.update(sid, {"action": "resume"})["session"]["paused"] is False
    assert [c["content"] for c in owner.devices.heartbeat(sid)["commands"]] == ["held"]

    renamed = owner.devices.sessions.update(sid, {"action": "rename", "title": "Renamed"})
    assert renamed["session"]["title"] == "Renamed"
    assert owner.chat.sessions.get(sid)["session"]["title"] == "Renamed"

    attached = owner.devices.sessions.update(sid, {"action": "attach", "target_session_id": target})
    assert json.loads(attached["command"]["content"]) == {
        "type": "attach_session",
        "target_session_id": target,
    }
    with pytest.raises(UpiviaError) as unknown:
        owner.devices.sessions.update(sid, {"action": "explode"})
    assert unknown.value.status == 422
    assert "explode" in (unknown.value.server_message or str(unknown.value))


def test_cwd_needs_a_live_device(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    sid = _session(owner, agent.id, "devices-4")
    with pytest.raises(UpiviaError) as offline:
        owner.devices.sessions.cwd(sid, {"action": "get"})
    assert offline.value.status == 409
    owner.devices.heartbeat(sid)
    asked = owner.devices.sessions.cwd(sid, {"action": "set", "path": "/tmp"})
    assert asked["status"] == "queued"
    content = json.loads(asked["command"]["content"])
    assert content["type"] == "local_tools_pending"
    assert content["tools"][0]["tool_name"] == "local_set_cwd"
    assert content["tools"][0]["args"] == {"path": "/tmp"}
    delivered = owner.devices.heartbeat(sid)["commands"]
    assert [c["id"] for c in delivered] == [asked["command"]["id"]]


def test_delete_removes_the_session_and_its_messages(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    sid = _session(owner, agent.id, "devices-5")
    list(owner.chat.turn(session_id=sid, message="hello"))
    owner.devices.heartbeat(sid)
    feed = _live(owner, sid)["recent_messages"]
    assert [m["role"] for m in feed] == ["user", "assistant"] and feed[0]["content"] == "hello"
    owner.devices.sessions.command(sid, content="never delivered")
    assert owner.devices.sessions.delete(sid)["deleted"] is True
    with pytest.raises(UpiviaError) as gone:
        owner.chat.sessions.get(sid)
    assert gone.value.status == 404
    with pytest.raises(UpiviaError) as again:
        owner.devices.sessions.delete(sid)
    assert again.value.status == 404
    assert _live(owner, sid) is None


def test_the_terminal_clients_rename(make_agent, owner: UpiviaClient, server: Server) -> None:
    """upivia-tui 0.3.0 renames its chat session with PATCH
    /devices/sessions/{id} {action: rename}."""
    tui_client = pytest.importorskip("upivia_tui.client")
    from upivia_tui.config import Config

    agent = make_agent()
    sid = _session(owner, agent.id, "devices-6")

    async def run() -> None:
        tui = tui_client.UpiviaClient(Config(base_url=server.base_url, pat=server.pat))
        try:
            await tui.rename_session(sid, "From the TUI")
        finally:
            await tui.aclose()

    asyncio.run(run())
    assert owner.chat.sessions.get(sid)["session"]["title"] == "From the TUI"

"""The terminal client's own socket transport (upivia_tui.wsclient 0.3.0)
against /ws: it connects with its PAT in band, runs a turn whose events
arrive as chat_events and end with chat_turn_done, answers a
local_tools_pending batch with tool_result (the server resumes the turn by
itself), and takes a command queued over REST, acknowledging it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from upivia import UpiviaClient

from support import Server


def test_the_terminal_clients_socket(make_agent, owner: UpiviaClient, server: Server) -> None:
    wsclient = pytest.importorskip("upivia_tui.wsclient")
    from upivia_tui.config import Config
    from upivia_tui.localtools import LOCAL_TOOL_DEFS

    agent = make_agent()
    sid = owner.chat.sessions.create(agent_id=agent.id, model_id="ws-1", title="interop ws")["id"]

    async def run() -> None:
        events: list[tuple[str, dict[str, Any]]] = []
        ended: list[bool] = []
        turn_over = asyncio.Event()
        commands: list[tuple[str, dict[str, Any]]] = []
        got_command = asyncio.Event()
        ws = wsclient.WsTransport(Config(base_url=server.base_url, pat=server.pat), sid, is_device=True)

        async def on_event(name: str, data: dict[str, Any]) -> None:
            events.append((name, data))

        async def on_done(cancelled: bool) -> None:
            ended.append(cancelled)
            turn_over.set()

        async def on_command(command_id: str, content: dict[str, Any]) -> None:
            commands.append((command_id, content))
            await ws.send_command_done(command_id)
            got_command.set()

        ws.on_chat_event = on_event
        ws.on_turn_done = on_done
        ws.on_device_command = on_command
        ws.start()
        try:
            for _ in range(100):
                if ws.connected:
                    break
                await asyncio.sleep(0.05)
            assert ws.connected

            async def one_segment(send) -> list[tuple[str, dict[str, Any]]]:
                events.clear()
                turn_over.clear()
                assert await send()
                await asyncio.wait_for(turn_over.wait(), 15)
                assert ended[-1] is False
                return list(events)

            said = await one_segment(lambda: ws.send_chat_turn("hello from the terminal", local_tools=LOCAL_TOOL_DEFS))
            names = [n for n, _ in said]
            assert names[0] == "model" and names[-1] == "done", names
            assert "message_delta" in names and "error" not in names, said

            paused = await one_segment(
                lambda: ws.send_chat_turn('read the file {"path": "notes.txt"}', local_tools=LOCAL_TOOL_DEFS)
            )
            pending = [d for n, d in paused if n == "local_tools_pending"]
            assert pending, paused
            call = pending[0]["tools"][0]
            assert call["tool_name"] == "local_read_file" and call["args"] == {"path": "notes.txt"}

            resumed = await one_segment(
                lambda: ws.send_tool_result(
                    [{"tool_call_id": call["tool_call_id"], "tool_name": "local_read_file",
                      "result": {"content": "buy milk"}}]
                )
            )
            final = [d for n, d in resumed if n == "message"]
            assert final and "local_read_file" in final[0]["content"], resumed

            queued = await asyncio.to_thread(owner.devices.sessions.command, sid, content='{"message": "hi"}')
            await asyncio.wait_for(got_command.wait(), 10)
            assert commands == [(queued["command"]["id"], {"message": "hi"})]
        finally:
            await ws.stop()

    asyncio.run(run())
    history = owner.chat.sessions.get(sid)["messages"]
    assert [m["role"] for m in history][:2] == ["user", "assistant"]
    assert any(m["role"] == "tool" and "buy milk" in m["content"] for m in history)
    live = [row for row in owner.devices.sessions.list()["sessions"] if row["id"] == sid]
    assert live and live[0]["online"] is True

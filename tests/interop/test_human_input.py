"""The terminal client's human-input calls (upivia_tui.client 0.3.0,
`list_human_input` and `answer_human_input`) against the server: a
workflow's human_input step pauses its run, the request shows with the
fields the client reads, the client's answer resumes the run (a later step
reads the text), and a second answer is refused with 409."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from upivia import UpiviaClient

from support import Server, wait_for


def test_the_terminal_client_answers_a_workflows_human_input(make_agent, owner: UpiviaClient, server: Server) -> None:
    tui_client = pytest.importorskip("upivia_tui.client")
    from upivia_tui.config import Config

    agent = make_agent("email")
    steps = [
        {"id": "ask", "type": "human_input", "title": "Release notes", "prompt": "Notes for {{input.who}}?"},
        {"id": "mail", "type": "service_request", "service": "email", "operation": "send",
         "payload": {"to": "team@example.com", "subject": "Notes", "body": "{{steps.ask.output.text}}"}},
        {"id": "check", "type": "condition", "if": {"path": "steps.ask.output.text", "equals": "ship it"}},
    ]
    wf = owner.workflows.create({"name": "Interop human input", "agent_id": agent.id})["workflow"]
    version = owner.workflows.create_version(
        wf["id"], {"steps": steps, "edges": [{"from": "ask", "to": "mail"}, {"from": "ask", "to": "check"}]},
    )["version"]

    def tui() -> Any:
        return tui_client.UpiviaClient(Config(base_url=server.base_url, pat=server.pat))

    async def pending() -> list[dict[str, Any]]:
        client = tui()
        try:
            return [r for r in await client.list_human_input() if r.get("workflow_name") == "Interop human input"]
        finally:
            await client.aclose()

    seen: list[dict[str, Any]] = []
    answered: list[dict[str, Any]] = []
    refused: list[int] = []

    def answer_when_asked() -> None:
        rows = wait_for(lambda: asyncio.run(pending()), timeout=15)
        seen.extend(rows)

        async def answer() -> None:
            client = tui()
            try:
                answered.append(await client.answer_human_input(rows[0]["id"], "ship it"))
                with pytest.raises(tui_client.ApiError) as info:
                    await client.answer_human_input(rows[0]["id"], "again")
                refused.append(info.value.status)
            finally:
                await client.aclose()

        asyncio.run(answer())

    answerer = threading.Thread(target=answer_when_asked)
    answerer.start()
    run = owner.workflows.run_and_wait(
        wf["id"], {"who": "1.2"}, workflow_version_id=version["id"], test_run=True, poll_interval=0.1, timeout=30,
    )
    answerer.join()
    assert run["status"] == "completed", run
    assert len(seen) == 1, seen
    row = seen[0]
    assert row["id"].startswith("hin_")
    assert row["title"] == "Release notes"
    assert row["source"] == "workflow"
    assert row["workflow_name"] == "Interop human input"
    assert row["room_id"] is None and row["assignee_email"] is None
    assert row["prompt_text"] == "Notes for 1.2?"
    assert answered[0]["request"]["id"] == row["id"]
    assert answered[0]["request"]["status"] == "answered"
    assert refused == [409]
    by_id = {s["step_id"]: s for s in run["steps"]}
    assert by_id["ask"]["result"]["text"] == "ship it"
    assert by_id["mail"]["status"] == "completed"
    assert by_id["check"]["result"] == {"value": True}
    assert asyncio.run(pending()) == []

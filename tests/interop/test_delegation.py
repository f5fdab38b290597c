"""delegate.* through the official SDK against the real server: a parent
spawns its child (spawn.create), then create and
list with the parent's and child's keys, get_task, update_task and
reattach with the owner's PAT (the SDK sends them in `workspace` mode),
the task's budget cap on service requests made under it, the refusals."""

from __future__ import annotations

import pytest
from upivia import UpiviaError

from support import EMAIL, Agent, Fleet, Server, wait_for


def _family(fleet: Fleet, make_agent) -> tuple[Agent, Agent]:
    parent = make_agent("email", "sms")
    spawned = parent.client.spawn.create(name="child", services=["email", "sms"], budget_cents=500)
    child_id = spawned["agent"]["id"]
    client = fleet.client(api_key=spawned["api_key"], max_retries=0)
    return parent, Agent(id=child_id, api_key=spawned["api_key"], client=client, created=spawned)


def _ids(listed: dict) -> list[str]:
    return [t["id"] for t in listed["tasks"]]


def test_every_delegate_method_drives_a_task(server: Server, owner, fleet, make_agent) -> None:
    parent, child = _family(fleet, make_agent)
    created = parent.client.delegate.create(
        agent_id=parent.id,
        objective="Email the weekly digest",
        child_agent_id=child.id,
        budget_dollars=0.02,
        permissions=["email.send"],
        model_id="interop-model",
    )["task"]
    task = created["id"]
    assert task.startswith("dtk_")
    assert created["status"] == "pending"
    assert created["budget_cap_cents"] == 2
    assert created["permissions"] == ["email.send"]
    assert created["parent_agent_id"] == parent.id and created["child_agent_id"] == child.id
    assert created["spent_cents"] == 0

    assert _ids(parent.client.delegate.list(parent.id)) == [task]
    assert _ids(parent.client.delegate.list(parent.id, direction="outgoing")) == [task]
    assert _ids(child.client.delegate.list(child.id, direction="incoming")) == [task]
    assert _ids(child.client.delegate.list(child.id, direction="received", status="accepted")) == []
    assert _ids(parent.client.delegate.list(parent.id, direction="incoming")) == []

    got = owner.delegate.get_task(parent.id, task)["task"]
    assert got["objective"] == "Email the weekly digest" and got["model_id"] == "interop-model"

    moved = owner.delegate.update_task(
        child.id, task, {"status": "accepted", "file_writes": [{"path": "draft.md", "bytes": 12}]}
    )["task"]
    assert moved["status"] == "accepted"
    first = owner.delegate.reattach(task)
    assert [w["path"] for w in first["file_writes"]] == ["draft.md"]
    assert first["file_writes"][0]["bytes"] == 12
    seen = first["last_seq"]
    assert first["task"]["status"] == "accepted"

    # Two cents of cap: two emails, then the task's cap blocks.
    under = {"delegated_task_id": task}
    for _ in range(2):
        sent = child.client.service_requests.create(
            service="email", operation="send", payload=EMAIL, metadata=under
        )
        assert sent["status"] == "executed", sent
    capped = child.client.service_requests.create(
        service="email", operation="send", payload=EMAIL, metadata=under
    )
    assert capped["status"] == "blocked" and capped["reason_code"] == "budget_exceeded", capped
    assert task in capped["message"]
    sms = child.client.service_requests.create(
        service="sms", operation="send", payload={"to": "+15555550123", "from": "+15555550100", "body": "x"},
        metadata=under,
    )
    assert sms["reason_code"] == "operation_not_delegated", sms

    owner.delegate.update_task(child.id, task, {"status": "in_progress"})
    done = owner.delegate.update_task(
        child.id,
        task,
        {"status": "completed", "result": {"sent": 2}, "file_write": {"path": "digest.txt"}},
    )["task"]
    assert done["status"] == "completed" and done["result"] == {"sent": 2}
    assert done["spent_cents"] == 2

    later = owner.delegate.reattach(task, since=seen)
    assert [w["path"] for w in later["file_writes"]] == ["digest.txt"]
    assert later["last_seq"] > seen
    assert all(w["seq"] > seen for w in later["file_writes"])


def test_refusals_have_their_status_and_code(server: Server, owner, fleet, make_agent) -> None:
    parent, child = _family(fleet, make_agent)
    stranger = make_agent()

    with pytest.raises(UpiviaError) as info:
        parent.client.delegate.create(agent_id=parent.id, objective="No child given")
    assert info.value.status == 422 and "child_agent_id is required" in info.value.server_message

    assert _ids(parent.client.delegate.list(parent.id)) == []

    with pytest.raises(UpiviaError) as info:
        parent.client.delegate.create(agent_id=parent.id, objective="x", child_agent_id=stranger.id)
    assert info.value.status == 403 and info.value.code == "not_a_child_agent"
    assert info.value.kind == "unauthorized"

    with pytest.raises(UpiviaError) as info:
        parent.client.delegate.create(
            agent_id=parent.id, objective="x", child_agent_id=child.id, permissions=["voice_call.create"]
        )
    assert info.value.status == 422 and info.value.code == "permission_not_enabled"

    with pytest.raises(UpiviaError) as info:
        stranger.client.delegate.create(agent_id=parent.id, objective="x", child_agent_id=child.id)
    assert info.value.status == 403

    task = parent.client.delegate.create(
        agent_id=parent.id, objective="Refusals", child_agent_id=child.id
    )["task"]["id"]
    with pytest.raises(UpiviaError) as info:
        owner.delegate.update_task(child.id, task, {"status": "cancelled"})
    assert info.value.status == 403 and info.value.code == "wrong_side"
    with pytest.raises(UpiviaError) as info:
        owner.delegate.update_task(child.id, task, {"status": "completed"})
    assert info.value.status == 409 and info.value.code == "invalid_transition"
    assert "from pending to completed" in info.value.server_message
    with pytest.raises(UpiviaError) as info:
        owner.delegate.get_task(stranger.id, task)
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        stranger.client.delegate.list(parent.id)
    assert info.value.status == 403
    with pytest.raises(UpiviaError) as info:
        child.client.delegate.list(child.id, direction="sideways")
    assert info.value.status == 422

    cancelled = owner.delegate.update_task(parent.id, task, {"status": "cancelled"})["task"]
    assert cancelled["status"] == "cancelled"
    blocked = child.client.service_requests.create(
        service="email", operation="send", payload=EMAIL, metadata={"delegated_task_id": task}
    )
    assert blocked["reason_code"] == "delegated_task_not_open", blocked


def test_execute_now_runs_the_child_on_the_objective(server: Server, owner, fleet, make_agent) -> None:
    parent, child = _family(fleet, make_agent)
    objective = 'please send an email {"to": "ops@example.com", "subject": "Weekly", "body": "Report."}'
    task = parent.client.delegate.create(
        agent_id=parent.id, objective=objective, child_agent_id=child.id,
        budget_cap_cents=50, permissions=["email.send"], execute_now=True,
    )["task"]

    def finished() -> dict | None:
        got = owner.delegate.get_task(parent.id, task["id"])["task"]
        return got if got["status"] in ("completed", "failed") else None

    done = wait_for(finished, timeout=20)
    assert done["status"] == "completed", done
    assert done["result"]["cost_cents"] > 0
    assert done["spent_cents"] == done["result"]["cost_cents"]
    request = child.client.service_requests.get(done["result"]["request_ids"][0])
    assert request["status"] == "executed"

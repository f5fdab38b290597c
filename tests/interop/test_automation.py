"""triggers.* and scheduled_tasks.* through the official SDK: webhook and
cron triggers (the one-time secret, paging, the update rules, the soft
delete and the gated purge), signed fires dispatched as the agent's
governed requests, and one-time and recurring scheduled tasks, one of
which the server's worker really runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, Server, balance_cents, wait_for

# A template the fire payload fills: `{{to}}` and `{{ref}}` come from the
# fire, the rest is fixed.
TEMPLATE = {"to": "{{to}}", "subject": "Alert {{ref}}", "body": "Raised by a webhook."}
DAILY = "0 9 * * *"


def _webhook(owner: UpiviaClient, agent_id: str, **extra: Any) -> dict[str, Any]:
    body = {"agent_id": agent_id, "kind": "webhook", "operation": "email.send", "payload_template": TEMPLATE}
    return owner.triggers.create({**body, **extra})


def _cron(owner: UpiviaClient, agent_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "agent_id": agent_id,
        "kind": "cron",
        "operation": "email.send",
        "schedule_expr": DAILY,
        "timezone": "Europe/Paris",
        "payload_template": EMAIL,
    }
    return owner.triggers.create({**body, **extra})


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ── triggers ─────────────────────────────────────────────────────────────


def test_webhook_create_shows_the_secret_once_and_get_never_again(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    created = _webhook(owner, agent.id)
    trigger = created["trigger"]
    assert trigger["id"].startswith("trg_")
    assert isinstance(created["secret"], str) and len(created["secret"]) >= 32
    assert trigger["kind"] == "webhook"
    assert trigger["agent_id"] == agent.id
    assert trigger["operation"] == "email.send"
    assert trigger["payload_template"] == TEMPLATE
    assert trigger["disabled"] is False
    assert trigger["schedule_expr"] is None
    assert created["fire_url"].endswith(f"/api/v1/triggers/{trigger['id']}/fire")
    assert trigger["fire_url"] == created["fire_url"]

    fetched = owner.triggers.get(trigger["id"])["trigger"]
    assert fetched["id"] == trigger["id"]
    assert fetched["payload_template"] == TEMPLATE
    assert created["secret"] not in str(fetched)
    listed = next(t for t in owner.triggers.iter() if t["id"] == trigger["id"])
    assert created["secret"] not in str(listed)


def test_cron_trigger_has_a_next_run_and_no_fire_url(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    created = _cron(owner, agent.id)
    trigger = created["trigger"]
    assert trigger["kind"] == "cron"
    assert trigger["schedule_expr"] == DAILY
    assert trigger["timezone"] == "Europe/Paris"
    assert trigger["next_run_at"], trigger
    assert trigger["fire_url"] is None
    assert created["fire_url"] is None

    updated = owner.triggers.update(trigger["id"], {"schedule_expr": "30 7 * * 1"})["trigger"]
    assert updated["schedule_expr"] == "30 7 * * 1"
    assert updated["next_run_at"] != trigger["next_run_at"]

    # A cron trigger is not fired from outside, even with its own secret.
    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire(trigger["id"], {}, secret=created["secret"])
    assert (info.value.status, info.value.code) == (400, "not_a_webhook")


def test_create_refuses_a_bad_kind_and_an_unknown_agent(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    with pytest.raises(UpiviaError) as info:
        _webhook(owner, agent.id, kind="hourly")
    assert (info.value.status, info.value.code) == (422, "invalid_payload")
    with pytest.raises(UpiviaError) as info:
        _webhook(owner, "agt_does_not_exist")
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        _cron(owner, agent.id, schedule_expr="not a cron line")
    assert (info.value.status, info.value.code) == (422, "invalid_payload")
    with pytest.raises(UpiviaError) as info:
        _webhook(owner, agent.id, schedule_expr=DAILY)
    assert info.value.status == 422
    with pytest.raises(UpiviaError) as info:
        _webhook(owner, agent.id, operation="nosuch.service")
    assert info.value.status == 422


def test_list_pages_with_a_cursor_and_iter_walks_every_page(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    mine = {_webhook(owner, agent.id)["trigger"]["id"] for _ in range(3)}

    first = owner.triggers.list(limit=2)
    assert len(first["triggers"]) == 2
    assert first["next_cursor"], first
    second = owner.triggers.list(limit=2, cursor=first["next_cursor"])
    assert {t["id"] for t in first["triggers"]}.isdisjoint(t["id"] for t in second["triggers"])

    seen = [t["id"] for t in owner.triggers.iter(limit=2)]
    assert len(seen) == len(set(seen)), "a trigger was listed twice"
    assert mine <= set(seen)
    assert len(seen) == len(list(owner.triggers.iter(limit=200)))

    with pytest.raises(UpiviaError) as info:
        owner.triggers.list(cursor="not-a-cursor")
    assert info.value.status == 400
    with pytest.raises(UpiviaError) as info:
        owner.triggers.list(limit=0)
    assert info.value.status == 400


def test_update_changes_only_the_mutable_fields(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    trigger = _webhook(owner, agent.id)["trigger"]
    template = {**TEMPLATE, "subject": "Changed {{ref}}"}

    updated = owner.triggers.update(trigger["id"], {"payload_template": template})["trigger"]
    assert updated["payload_template"] == template
    disabled = owner.triggers.update(trigger["id"], {"disabled": True})["trigger"]
    assert disabled["disabled"] is True
    enabled = owner.triggers.update(trigger["id"], {"disabled": False})["trigger"]
    assert enabled["disabled"] is False

    for immutable in ({"kind": "cron"}, {"agent_id": agent.id}, {"operation": "sms.send"}, {"secret": "x"}):
        with pytest.raises(UpiviaError) as info:
            owner.triggers.update(trigger["id"], immutable)
        assert (info.value.status, info.value.kind) == (400, "http"), immutable
    assert owner.triggers.get(trigger["id"])["trigger"]["kind"] == "webhook"

    with pytest.raises(UpiviaError) as info:
        owner.triggers.update(trigger["id"], {"disabled": "yes"})
    assert info.value.status == 422
    with pytest.raises(UpiviaError) as info:
        owner.triggers.update("trg_does_not_exist", {"disabled": True})
    assert info.value.status == 404


def test_a_signed_fire_runs_the_operation_as_the_agent_and_is_charged(
    make_agent, server: Server, owner: UpiviaClient
) -> None:
    agent = make_agent("email")
    created = _webhook(owner, agent.id)
    trigger_id, secret = created["trigger"]["id"], created["secret"]
    before = balance_cents(owner)

    # No credential but the signature: a client without a PAT or key.
    with server.client() as anonymous:
        fired = anonymous.triggers.fire(trigger_id, {"to": "oncall@example.com", "ref": 7}, secret=secret)
    assert fired["accepted"] is True
    assert fired["dispatch_status"] == "executed", fired
    assert fired["reason_code"] is None
    assert fired["request_id"].startswith("req_")
    assert balance_cents(owner) < before, "the fire was charged"

    # The request is the agent's own, with the template filled in.
    request = agent.client.service_requests.get(fired["request_id"])
    assert request["status"] == "executed"
    assert request["result"]["to"] == "oncall@example.com"

    row = owner.triggers.get(trigger_id)["trigger"]
    assert row["fire_count"] == 1
    assert row["last_request_id"] == fired["request_id"]
    assert row["last_dispatch_status"] == "executed"


def test_a_fire_the_agent_may_not_make_is_accepted_and_refused(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()  # no email binding
    created = _webhook(owner, agent.id)
    fired = owner.triggers.fire(created["trigger"]["id"], {"to": "a@example.com", "ref": 1}, secret=created["secret"])
    assert fired["accepted"] is True
    assert fired["dispatch_status"] == "blocked", fired
    assert fired["reason_code"], fired


def test_a_redelivered_webhook_dispatches_once(make_agent, server: Server, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    created = _webhook(owner, agent.id)
    trigger_id, secret = created["trigger"]["id"], created["secret"]
    payload = {"to": "oncall@example.com", "ref": "dup"}
    delivery = {"webhook-id": f"msg_{uuid.uuid4().hex}"}
    with server.client(default_headers=delivery) as sender:
        first = sender.triggers.fire(trigger_id, payload, secret=secret)
        after_first = balance_cents(owner)
        again = sender.triggers.fire(trigger_id, payload, secret=secret)
    assert first["dispatch_status"] == "executed", first
    assert again["request_id"] == first["request_id"]
    assert balance_cents(owner) == after_first, "the redelivery was charged"
    other = owner.triggers.fire(trigger_id, payload, secret=secret)
    assert other["request_id"] != first["request_id"]


def test_fire_refusals_carry_their_status_and_code(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    created = _webhook(owner, agent.id)
    trigger_id, secret = created["trigger"]["id"], created["secret"]

    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire(trigger_id, {"to": "a@example.com"}, secret=secret + "x")
    assert info.value.status == 401
    assert info.value.kind == "unauthorized"
    assert info.value.code == "invalid_signature"
    other = _webhook(owner, agent.id)
    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire(trigger_id, {"to": "a@example.com"}, secret=other["secret"])
    assert info.value.status == 401

    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire("trg_does_not_exist", {}, secret=secret)
    assert info.value.status == 404

    owner.triggers.update(trigger_id, {"disabled": True})
    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire(trigger_id, {"to": "a@example.com"}, secret=secret)
    assert (info.value.status, info.value.code) == (409, "trigger_disabled")
    assert owner.triggers.get(trigger_id)["trigger"]["fire_count"] == 0


def test_delete_disables_and_a_purge_needs_the_server_switch(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    created = _webhook(owner, agent.id)
    trigger_id = created["trigger"]["id"]

    deleted = owner.triggers.delete(trigger_id)
    assert deleted["deleted"] is False
    assert deleted["trigger"]["id"] == trigger_id
    assert deleted["trigger"]["disabled"] is True
    # Still there, disabled, and it no longer fires.
    assert owner.triggers.get(trigger_id)["trigger"]["disabled"] is True
    with pytest.raises(UpiviaError) as info:
        owner.triggers.fire(trigger_id, {}, secret=created["secret"])
    assert info.value.status == 409

    with pytest.raises(UpiviaError) as info:
        owner.triggers.delete(trigger_id, purge=True)
    assert (info.value.status, info.value.code) == (403, "purge_not_allowed")
    assert owner.triggers.get(trigger_id)["trigger"]["id"] == trigger_id
    with pytest.raises(UpiviaError) as info:
        owner.triggers.delete("trg_does_not_exist")
    assert info.value.status == 404


def test_purge_deletes_for_good_where_the_server_allows_it(start_server) -> None:
    with start_server("--allow-trigger-purge") as srv:
        with srv.client(pat=srv.pat) as owner:
            agent_id = owner.agents.create({"name": "purge target"})["agent"]["id"]
            trigger_id = _webhook(owner, agent_id)["trigger"]["id"]
            purged = owner.triggers.delete(trigger_id, purge=True)
            assert purged["deleted"] is True
            with pytest.raises(UpiviaError) as info:
                owner.triggers.get(trigger_id)
            assert info.value.status == 404
            assert all(t["id"] != trigger_id for t in owner.triggers.iter())


# ── scheduled tasks ──────────────────────────────────────────────────────


def test_a_one_time_task_runs_once_and_its_run_shows_the_request(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    run_at = _rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
    task = owner.scheduled_tasks.create(
        {
            "agent_id": agent.id,
            "name": "interop one-shot",
            "category": "interop-once",
            "description": "Sends one email.",
            "service": "email",
            "operation": "send",
            "payload": EMAIL,
            "run_at": run_at,
        }
    )["task"]
    assert task["id"]
    assert task["status"] == "active"
    assert task["recurring"] is False
    assert task["run_at"] and task["next_run_at"]
    assert (task["service"], task["operation"]) == ("email", "send")
    assert task["payload"] == EMAIL

    def finished() -> dict[str, Any] | None:
        detail = owner.scheduled_tasks.get(task["id"])
        runs = detail["runs"]
        return detail if runs and runs[0]["service_request_status"] == "executed" else None

    detail = wait_for(finished, timeout=20, interval=0.2)
    assert detail["runs_total"] == 1
    assert detail["task"]["status"] == "completed"
    assert detail["task"]["run_count"] == 1
    assert detail["task"]["next_run_at"] is None

    history = owner.scheduled_tasks.runs(task["id"])
    assert history["total"] == 1
    (run,) = history["runs"]
    assert run["status"] == "completed"
    assert run["service_request_status"] == "executed"
    assert run["started_at"]
    request = agent.client.service_requests.get(run["service_request_id"])
    assert request["status"] == "executed"
    assert request["result"]["to"] == EMAIL["to"]
    assert owner.scheduled_tasks.runs(task["id"], limit=1, offset=1)["runs"] == []


def test_tasks_list_by_filter_update_and_delete(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    other = make_agent("email")
    category = f"interop-{uuid.uuid4().hex[:8]}"
    later = _rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))

    daily = owner.scheduled_tasks.create(
        {
            "agent_id": agent.id,
            "name": "daily digest",
            "category": category,
            "operation": "email.send",
            "payload": EMAIL,
            "schedule": DAILY,
            "timezone": "America/New_York",
        }
    )["task"]
    assert daily["recurring"] is True
    assert daily["schedule"] == DAILY
    assert daily["timezone"] == "America/New_York"
    assert (daily["service"], daily["operation"]) == ("email", "send")
    once = owner.scheduled_tasks.create(
        {"agent_id": agent.id, "name": "later", "category": category, "operation": "email.send",
         "payload": EMAIL, "run_at": later}
    )["task"]
    owner.scheduled_tasks.create(
        {"agent_id": other.id, "name": "elsewhere", "category": category, "operation": "email.send",
         "payload": EMAIL, "run_at": later}
    )

    by_category = owner.scheduled_tasks.list(category=category)
    assert by_category["total"] == 3
    by_agent = owner.scheduled_tasks.list(category=category, agent_id=agent.id)
    assert by_agent["total"] == 2
    assert {t["id"] for t in by_agent["tasks"]} == {daily["id"], once["id"]}
    page = owner.scheduled_tasks.list(category=category, limit=1, offset=1)
    assert page["total"] == 3 and len(page["tasks"]) == 1

    paused = owner.scheduled_tasks.update(daily["id"], {"status": "paused", "name": "paused digest"})["task"]
    assert paused["status"] == "paused"
    assert paused["name"] == "paused digest"
    only_paused = owner.scheduled_tasks.list(category=category, status="paused")
    assert [t["id"] for t in only_paused["tasks"]] == [daily["id"]]
    assert owner.scheduled_tasks.list(category=category, status="active")["total"] == 2
    resumed = owner.scheduled_tasks.update(daily["id"], {"status": "active", "schedule": "15 8 * * *"})["task"]
    assert resumed["status"] == "active" and resumed["schedule"] == "15 8 * * *"
    assert resumed["next_run_at"]

    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.update(daily["id"], {"status": "sleeping"})
    assert info.value.status == 422
    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.update(daily["id"], {"agent_id": other.id})
    assert info.value.status == 400

    assert owner.scheduled_tasks.delete(once["id"]) is None
    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.get(once["id"])
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.delete(once["id"])
    assert info.value.status == 404
    assert owner.scheduled_tasks.list(category=category)["total"] == 2
    detail = owner.scheduled_tasks.get(daily["id"])
    assert detail["runs"] == [] and detail["runs_total"] == 0


def test_task_create_refuses_ambiguous_or_missing_timing(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    base = {"agent_id": agent.id, "operation": "email.send", "payload": EMAIL}
    later = _rfc3339(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    for body in (
        base,
        {**base, "run_at": later, "schedule": DAILY},
        {**base, "schedule": "every day"},
        {**base, "run_at": "tomorrow"},
        {**base, "schedule": DAILY, "timezone": "Mars/Olympus"},
        {**base, "run_at": "2001-01-01T00:00:00Z"},
    ):
        with pytest.raises(UpiviaError) as info:
            owner.scheduled_tasks.create(body)
        assert (info.value.status, info.value.code) == (422, "invalid_payload"), body
    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.create({**base, "agent_id": "agt_does_not_exist", "run_at": later})
    assert info.value.status == 404
    with pytest.raises(UpiviaError) as info:
        owner.scheduled_tasks.list(status="sleeping")
    assert info.value.status == 400

"""audit_logs.list and the audit_logs.iter cursor walk."""

from __future__ import annotations

from datetime import datetime

from upivia import UpiviaClient

from support import Agent


def _busy_agent(make_agent) -> tuple[Agent, list[dict]]:
    """An agent with a mix of outcomes: 3 executed, 1 blocked, 1 failed."""
    agent = make_agent("email")
    outcomes = [agent.send_email() for _ in range(3)]
    outcomes.append(agent.send_sms())  # sms not enabled: blocked
    outcomes.append(agent.send_email(subject="sandbox-error"))  # failed
    return agent, outcomes


def test_list_rows_have_id_event_type_and_created_at(make_agent, owner: UpiviaClient) -> None:
    _busy_agent(make_agent)
    page = owner.audit_logs.list(limit=5)
    assert "next_cursor" in page
    assert len(page["logs"]) == 5
    for row in page["logs"]:
        assert isinstance(row["id"], str) and row["id"]
        assert isinstance(row["event_type"], str) and row["event_type"]
        datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    assert isinstance(page["next_cursor"], str) and page["next_cursor"]


def test_every_service_request_is_logged_with_its_outcome(make_agent, owner: UpiviaClient) -> None:
    agent, outcomes = _busy_agent(make_agent)
    logs = owner.audit_logs.list(agent_id=agent.id, limit=500)["logs"]
    by_request = {row["request_id"]: row for row in logs if row.get("request_id")}
    for outcome in outcomes:
        row = by_request[outcome["request_id"]]
        assert row["status"] == outcome["status"]
        assert row["agent_id"] == agent.id
        assert row["cost_cents"] == outcome["cost_cents"]


def test_filters_by_agent_service_and_status(make_agent, owner: UpiviaClient) -> None:
    agent, outcomes = _busy_agent(make_agent)
    executed = owner.audit_logs.list(agent_id=agent.id, status="executed", limit=500)["logs"]
    assert sorted(r["request_id"] for r in executed) == sorted(
        o["request_id"] for o in outcomes if o["status"] == "executed"
    )
    sms = owner.audit_logs.list(agent_id=agent.id, service="sms", limit=500)["logs"]
    assert [r["request_id"] for r in sms] == [outcomes[3]["request_id"]]
    assert all(r["agent_id"] == agent.id for r in owner.audit_logs.list(agent_id=agent.id, limit=500)["logs"])


def test_iter_walks_every_entry_exactly_once(make_agent, owner: UpiviaClient) -> None:
    agent, _ = _busy_agent(make_agent)
    full = owner.audit_logs.list(agent_id=agent.id, limit=500)
    assert full["next_cursor"] is None
    assert len(full["logs"]) >= 5

    walked = [row["id"] for row in owner.audit_logs.iter(agent_id=agent.id, limit=2)]

    assert len(walked) == len(set(walked)), "iter yielded a row twice"
    assert walked == [row["id"] for row in full["logs"]]


def test_pages_chain_by_cursor_and_end_with_null(make_agent, owner: UpiviaClient) -> None:
    agent, _ = _busy_agent(make_agent)
    cursors, ids, cursor = [], [], None
    while True:
        page = owner.audit_logs.list(agent_id=agent.id, limit=2, cursor=cursor)
        ids += [row["id"] for row in page["logs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor not in cursors, "server repeated a cursor"
        cursors.append(cursor)
    assert len(ids) == len(set(ids))
    assert len(ids) == len(owner.audit_logs.list(agent_id=agent.id, limit=500)["logs"])


def test_unfiltered_iter_matches_one_large_page(owner: UpiviaClient) -> None:
    full = owner.audit_logs.list(limit=500)
    walked = [row["id"] for row in owner.audit_logs.iter(limit=50)]
    if full["next_cursor"] is None:
        assert walked == [row["id"] for row in full["logs"]]
    else:
        assert len(walked) > len(full["logs"])
    assert len(walked) == len(set(walked))

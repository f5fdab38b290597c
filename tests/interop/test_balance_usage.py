"""balance.get and usage.list."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from upivia import UpiviaClient

from support import Server, balance_cents


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_balance_is_integer_cents_in_a_currency(owner: UpiviaClient) -> None:
    balance = owner.balance.get()
    assert isinstance(balance["amount_cents"], int)
    assert balance["amount_cents"] > 0
    assert balance["currency"] == "USD"


def test_credits_raise_the_balance_by_exactly_the_amount(server: Server, owner: UpiviaClient) -> None:
    before = balance_cents(owner)
    server.add_credits(250)
    assert balance_cents(owner) - before == 250


def test_balance_drops_by_exactly_the_charged_cents(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", "sms")
    before = balance_cents(owner)
    charged = agent.send_email()["cost_cents"] + agent.send_sms()["cost_cents"]
    assert charged > 0
    assert before - balance_cents(owner) == charged


def test_usage_total_is_the_sum_of_its_records(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", "sms")
    agent.send_email()
    agent.send_sms()
    usage = owner.usage.list(limit=500)
    assert 2 <= len(usage["records"]) < 500, "the org-wide sum needs every record on one page"
    assert isinstance(usage["total_cents"], int)
    assert usage["total_cents"] == sum(r["cost_cents"] for r in usage["records"])


def test_usage_filters_by_agent(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", "sms")
    other = make_agent("email")
    outcomes = [agent.send_email(), agent.send_sms()]
    other.send_email()

    usage = owner.usage.list(agent_id=agent.id)

    assert {r["agent_id"] for r in usage["records"]} == {agent.id}
    assert sorted(r["request_id"] for r in usage["records"]) == sorted(o["request_id"] for o in outcomes)
    assert usage["total_cents"] == sum(o["cost_cents"] for o in outcomes)
    by_request = {r["request_id"]: r for r in usage["records"]}
    for outcome in outcomes:
        record = by_request[outcome["request_id"]]
        assert record["cost_cents"] == outcome["cost_cents"]
        assert (record["service"], record["operation"]) == (outcome["service"], outcome["operation"])


def test_usage_time_window_and_limit(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    for _ in range(3):
        agent.send_email()
    now = datetime.now(timezone.utc)

    assert len(owner.usage.list(agent_id=agent.id)["records"]) == 3
    assert len(owner.usage.list(agent_id=agent.id, limit=2)["records"]) == 2
    hour = timedelta(hours=1)
    window = owner.usage.list(agent_id=agent.id, from_=_iso(now - hour), to=_iso(now + hour))
    assert len(window["records"]) == 3
    future = owner.usage.list(agent_id=agent.id, from_=_iso(now + hour))
    assert future["records"] == [] and future["total_cents"] == 0
    past = owner.usage.list(agent_id=agent.id, to=_iso(now - hour))
    assert past["records"] == [] and past["total_cents"] == 0


def test_usage_with_chart_keeps_the_same_totals(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    agent.send_email()
    plain = owner.usage.list(agent_id=agent.id)
    charted = owner.usage.list(agent_id=agent.id, include_chart=True)
    assert charted["total_cents"] == plain["total_cents"]
    assert charted["records"] == plain["records"]
    assert charted["per_agent"] == [
        {"agent_id": agent.id, "requests": len(plain["records"]), "total_cents": plain["total_cents"]}
    ]
    days = charted["chart"]["days"]
    assert len(days) == 14
    assert sum(d["total_cents"] for d in days) == plain["total_cents"]
    assert days[-1]["total_cents"] == plain["total_cents"]  # all of it today

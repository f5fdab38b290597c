"""service_requests.create / get / create_and_wait and budget_check.check."""

from __future__ import annotations

import math

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, SMS, VOICE, Fleet, RecordingTransport, balance_cents, wait_for


def test_create_executes_and_charges_the_catalog_price(make_agent, catalog: dict) -> None:
    agent = make_agent("email")
    outcome = agent.send_email()
    assert outcome["status"] == "executed"
    assert outcome["request_id"]
    assert outcome["cost_cents"] == catalog["email.send"]["base_price_cents"]
    assert outcome["result"]["to"] == EMAIL["to"]
    assert outcome["result"]["id"]


def test_sms_send_executes_with_its_own_result(make_agent, catalog: dict) -> None:
    agent = make_agent("sms")
    outcome = agent.send_sms()
    assert outcome["status"] == "executed"
    assert outcome["cost_cents"] == catalog["sms.send"]["base_price_cents"]
    assert outcome["result"]["to"] == SMS["to"]


def test_get_returns_the_same_outcome(make_agent) -> None:
    agent = make_agent("email")
    created = agent.send_email()
    fetched = agent.client.service_requests.get(created["request_id"])
    assert fetched == created


def test_get_of_another_agents_request_is_not_found(make_agent) -> None:
    mine = make_agent("email")
    other = make_agent("email")
    created = mine.send_email()
    with pytest.raises(UpiviaError) as info:
        other.client.service_requests.get(created["request_id"])
    assert info.value.kind == "http"
    assert info.value.status == 404


def test_metadata_is_accepted(make_agent) -> None:
    agent = make_agent("email")
    outcome = agent.client.service_requests.create(
        service="email", operation="send", payload=EMAIL, metadata={"ticket": "T-1", "attempt": 1}
    )
    assert outcome["status"] == "executed"


def test_voice_call_runs_then_reconciles_to_executed(fleet: Fleet, owner: UpiviaClient, catalog: dict) -> None:
    recorder = RecordingTransport()
    agent = fleet.agent("voice_call")
    client = fleet.client(api_key=agent.api_key, transport=recorder)
    before = balance_cents(owner)

    final = client.service_requests.create_and_wait(
        service="voice_call", operation="create", payload=VOICE, poll_interval=0.1, timeout=30
    )

    first = recorder.exchanges[0]
    assert (first.method, first.status) == ("POST", 202)
    assert first.body["status"] == "running"
    assert first.body["initial_cost_cents"] == catalog["voice_call.create"]["base_price_cents"]
    assert first.body["provider"]
    assert first.body["external_id"]
    polls = recorder.exchanges[1:]
    assert polls and all(e.method == "GET" and e.status == 200 for e in polls)
    assert polls[0].body["status"] == "running"  # first poll is 0.1 s in; the call takes 0.3 s
    assert polls[-1].body == final

    assert final["status"] == "executed"
    assert final["request_id"] == first.body["request_id"]
    minutes = max(1, math.ceil(final["result"]["duration_seconds"] / 60))
    assert final["cost_cents"] == catalog["voice_call.create"]["base_price_cents"] * minutes
    assert before - balance_cents(owner) == final["cost_cents"]


def test_get_reports_running_until_reconciled(make_agent) -> None:
    agent = make_agent("voice_call")
    created = agent.client.service_requests.create(service="voice_call", operation="create", payload=VOICE)
    assert created["status"] == "running"
    # The session server completes sandbox calls 300 ms after they start.
    seen = agent.client.service_requests.get(created["request_id"])
    assert seen["status"] == "running"
    assert seen["external_id"] == created["external_id"]
    assert seen["initial_cost_cents"] == created["initial_cost_cents"]
    assert seen["provider"] == created["provider"]

    def settled():
        current = agent.client.service_requests.get(created["request_id"])
        return current if current["status"] != "running" else None

    assert wait_for(settled)["status"] == "executed"


def test_create_and_wait_returns_synchronous_outcomes_immediately(make_agent) -> None:
    agent = make_agent("email")
    outcome = agent.client.service_requests.create_and_wait(service="email", operation="send", payload=EMAIL)
    assert outcome["status"] == "executed"


def test_budget_check_of_uncapped_agent_matches_org_balance(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    spent = agent.send_email()["cost_cents"]
    budget = agent.client.budget_check.check(agent.id)
    org_cents = balance_cents(owner)
    assert budget["org_balance"] == pytest.approx(org_cents / 100)
    assert budget["remaining_dollars"] == pytest.approx(org_cents / 100)
    assert budget["monthly_spent"] == pytest.approx(spent / 100)


def test_budget_check_of_capped_agent_reports_cap_and_spend(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email", monthly_budget_cents=300)
    spent = agent.send_email()["cost_cents"] + agent.send_email()["cost_cents"]
    budget = agent.client.budget_check.check(agent.id)
    for key in ("remaining_dollars", "monthly_spent", "monthly_limit", "org_balance"):
        assert isinstance(budget[key], float), (key, budget[key])
    assert budget["monthly_limit"] == pytest.approx(3.00)
    assert budget["monthly_spent"] == pytest.approx(spent / 100)
    assert budget["remaining_dollars"] == pytest.approx((300 - spent) / 100)
    assert budget["org_balance"] == pytest.approx(balance_cents(owner) / 100)


def test_budget_check_is_free(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    before = balance_cents(owner)
    agent.client.budget_check.check(agent.id)
    agent.client.budget_check.check(agent.id)
    assert balance_cents(owner) == before


def test_budget_check_through_create_has_the_same_figures(make_agent) -> None:
    agent = make_agent("email", monthly_budget_cents=200)
    agent.send_email()
    direct = agent.client.budget_check.check(agent.id)
    via_create = agent.client.service_requests.create(
        service="platform", operation="check_budget", payload={"agent_id": agent.id}
    )
    assert via_create["status"] == "executed"
    assert via_create["cost_cents"] == 0
    for key in ("remaining_dollars", "monthly_spent", "monthly_limit", "org_balance"):
        assert via_create["result"][key] == pytest.approx(direct[key]), key

"""workflows.* through the official SDK: the workflow and its versions,
publishing decided in the approvals inbox, `run_and_wait` on the published
version and on a draft test run, an approval step approved from the inbox
while the run waits, a failed step retried through `retry_step` without the
completed one running again, agent grants, share, export and templates."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from upivia import UpiviaClient, UpiviaError

from support import wait_for


def _email(step_id: str, to: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "label": f"Email {to}",
        "type": "service_request",
        "service": "email",
        "operation": "send",
        "payload": {"to": to, "subject": "Run for {{input.who}}", "body": "From a workflow."},
    }


def _workflow(owner: UpiviaClient, agent_id: str, steps: list, edges: list) -> tuple[str, str]:
    wf = owner.workflows.create({"name": "Interop flow", "agent_id": agent_id, "category": "interop"})["workflow"]
    version = owner.workflows.create_version(wf["id"], {"steps": steps, "edges": edges})["version"]
    assert version["status"] == "draft"
    return wf["id"], version["id"]


def _executed_requests(owner: UpiviaClient, run: dict) -> list[str]:
    return [s["service_request_id"] for s in run["steps"] if s["status"] == "completed" and s["service_request_id"]]


def test_publish_is_approved_in_the_inbox_then_run_and_wait_runs_it(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    wf_id, version_id = _workflow(
        owner, agent.id, [_email("first", "a@example.com"), _email("second", "b@example.com")],
        [{"from": "first", "to": "second"}],
    )
    with pytest.raises(UpiviaError):
        owner.workflows.run_and_wait(wf_id, {"who": "interop"}, poll_interval=0.1, timeout=10)

    request = owner.workflows.publish_version(wf_id, version_id)["publish_request"]
    assert request["status"] == "pending" and request["version_id"] == version_id
    assert owner.workflows.get(wf_id)["versions"][0]["status"] == "draft"
    row = next(a for a in owner.approvals.list()["approvals"] if a["id"] == request["id"])
    assert row["kind"] == "workflow_publish"
    assert row["publish_request_id"] == request["id"]
    owner.approvals.approve(request["id"])
    assert owner.workflows.get(wf_id)["versions"][0]["status"] == "published"

    run = owner.workflows.run_and_wait(wf_id, {"who": "interop"}, poll_interval=0.1, timeout=20)
    assert run["status"] == "completed", run
    assert [s["step_id"] for s in run["steps"]] == ["first", "second"]
    assert all(s["status"] == "completed" and s["step_type"] == "service_request" for s in run["steps"])
    assert len(set(_executed_requests(owner, run))) == 2
    runs = owner.workflows.runs.list(wf_id)["runs"]
    assert runs[0]["id"] == run["id"]

    owner.workflows.unpublish_version(wf_id, version_id)
    assert owner.workflows.get(wf_id)["versions"][0]["status"] == "draft"


def test_a_draft_runs_as_a_test_run_and_waits_at_its_approval_step(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    wf_id, version_id = _workflow(
        owner, agent.id,
        [{"id": "gate", "type": "approval", "message": "Send it?"}, _email("after", "c@example.com")],
        [{"from": "gate", "to": "after"}],
    )

    def approve_when_waiting() -> None:
        gate = wait_for(lambda: next(
            (a for a in owner.approvals.list()["approvals"]
             if a.get("kind") == "workflow_approval" and a.get("workflow_id") == wf_id), None), timeout=15)
        owner.approvals.approve(gate["id"])

    approver = threading.Thread(target=approve_when_waiting)
    approver.start()
    run = owner.workflows.run_and_wait(
        wf_id, {"who": "interop"}, workflow_version_id=version_id, test_run=True, poll_interval=0.1, timeout=20,
    )
    approver.join()
    assert run["status"] == "completed", run
    gate, after = run["steps"]
    assert (gate["step_type"], gate["status"]) == ("approval", "completed")
    assert after["status"] == "completed"


def test_a_failed_step_is_retried_without_running_the_completed_one_again(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    search = {"id": "search", "type": "service_request", "service": "web_search", "operation": "search",
              "payload": {"query": "news about {{input.who}}"}}
    wf_id, version_id = _workflow(owner, agent.id, [_email("first", "a@example.com"), search],
                                  [{"from": "first", "to": "search"}])
    run = owner.workflows.run_and_wait(
        wf_id, {"who": "interop"}, workflow_version_id=version_id, test_run=True, poll_interval=0.1, timeout=20,
    )
    assert run["status"] == "failed", run
    assert "step search failed" in run["error"]
    first_request = run["steps"][0]["service_request_id"]

    owner.agents.enable_service(agent.id, {"service_id": "web_search"})
    owner.workflows.runs.retry_step(wf_id, run["id"], "search")
    done = wait_for(lambda: (r := owner.workflows.runs.get(wf_id, run["id"])["run"])["status"] == "completed" and r,
                    timeout=15)
    assert done["steps"][0]["service_request_id"] == first_request
    assert done["steps"][0]["attempt"] == 1 and done["steps"][1]["attempt"] == 2

    # rerun-failed and cancel on runs that cannot take them are refused.
    with pytest.raises(UpiviaError) as refused:
        owner.workflows.runs.rerun_failed(wf_id, run["id"])
    assert refused.value.status == 409
    with pytest.raises(UpiviaError) as finished:
        owner.workflows.runs.cancel(wf_id, run["id"])
    assert finished.value.status == 409


def test_grants_share_export_and_templates(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    helper = make_agent("email")
    wf_id, _ = _workflow(owner, agent.id, [_email("only", "{{input.to}}")], [])
    owner.workflows.agents.grant(wf_id, helper.id)
    assert [g["agent_id"] for g in owner.workflows.agents.list(wf_id)["agents"]] == [helper.id]
    assert owner.workflows.agents.revoke(wf_id, helper.id) is None
    assert owner.workflows.agents.list(wf_id)["agents"] == []

    shared = owner.workflows.share(wf_id, scope="org")
    assert shared["workflow"]["share_scope"] == "org"
    manifest = owner.workflows.export(wf_id)
    assert manifest["kind"] == "upivia.skill"
    assert manifest["input_schema"]["required"] == ["to", "who"]

    catalogue = owner.workflows.from_template.list()["templates"]
    assert len(catalogue) >= 5
    made = owner.workflows.from_template.create({"template_id": catalogue[0]["id"], "agent_id": agent.id})
    assert made["workflow"]["name"] == catalogue[0]["name"]
    assert [g["agent_id"] for g in owner.workflows.agents.list(made["workflow"]["id"])["agents"]] == [agent.id]

    assert owner.workflows.update(wf_id, {"name": "Renamed"})["workflow"]["name"] == "Renamed"
    assert any(w["id"] == wf_id for w in owner.workflows.list(category="interop")["workflows"])
    assert owner.workflows.delete(wf_id) is None
    with pytest.raises(UpiviaError) as gone:
        owner.workflows.get(wf_id)
    assert gone.value.status == 404


def test_bad_versions_are_refused_naming_the_step(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    wf = owner.workflows.create({"name": "Bad", "agent_id": agent.id})["workflow"]
    with pytest.raises(UpiviaError) as bad:
        owner.workflows.create_version(wf["id"], {"steps": [{"id": "odd", "type": "teleport"}]})
    assert bad.value.status == 422
    assert "odd" in str(bad.value)

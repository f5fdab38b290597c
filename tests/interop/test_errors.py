"""How the SDK maps server errors: kinds, statuses, codes, Retry-After."""

from __future__ import annotations

import pytest
from upivia import UpiviaClient, UpiviaError

from support import EMAIL, Fleet, Server, balance_cents


def test_missing_api_key_fails_locally_without_a_request(server: Server) -> None:
    with server.client() as keyless:
        with pytest.raises(UpiviaError) as info:
            keyless.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert info.value.kind == "unauthorized"
    assert info.value.status is None  # never reached the server


def test_pat_on_an_agent_endpoint_is_forbidden(server: Server) -> None:
    # Passing the PAT as api_key makes the SDK send it on agent endpoints.
    with server.client(api_key=server.pat) as misconfigured:
        with pytest.raises(UpiviaError) as info:
            misconfigured.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert info.value.kind == "unauthorized"
    assert info.value.status == 403


def test_agent_key_on_a_workspace_endpoint_is_forbidden(make_agent, server: Server) -> None:
    agent = make_agent()
    with server.client(pat=agent.api_key) as misconfigured:
        with pytest.raises(UpiviaError) as info:
            misconfigured.balance.get()
    assert (info.value.kind, info.value.status) == ("unauthorized", 403)


def test_unknown_agent_key_is_unauthorized(server: Server) -> None:
    with server.client(api_key="agent_key_live_not_a_real_key") as stranger:
        with pytest.raises(UpiviaError) as info:
            stranger.service_requests.create(service="email", operation="send", payload=EMAIL)
    assert (info.value.kind, info.value.status) == ("unauthorized", 401)


def test_unknown_pat_is_unauthorized(server: Server) -> None:
    with server.client(pat="upivia_pat_live_not_a_real_token") as stranger:
        with pytest.raises(UpiviaError) as info:
            stranger.balance.get()
    assert (info.value.kind, info.value.status) == ("unauthorized", 401)


def test_workspace_endpoint_without_credentials_is_unauthorized(server: Server) -> None:
    with server.client() as anonymous:
        with pytest.raises(UpiviaError) as info:
            anonymous.balance.get()
    assert (info.value.kind, info.value.status) == ("unauthorized", 401)


def test_unknown_service_is_a_404(make_agent) -> None:
    agent = make_agent("email")
    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(service="no_such_service", operation="send", payload={})
    assert (info.value.kind, info.value.status, info.value.code) == ("http", 404, "unknown_service")


def test_unknown_operation_is_a_404(make_agent) -> None:
    agent = make_agent("email")
    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(service="email", operation="no_such_op", payload={})
    assert (info.value.kind, info.value.status) == ("http", 404)


def test_invalid_payload_is_a_422(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent("email")
    before = balance_cents(owner)
    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(service="email", operation="send", payload={"to": 5})
    assert (info.value.kind, info.value.status, info.value.code) == ("http", 422, "invalid_payload")
    assert balance_cents(owner) == before


def test_errors_carry_the_envelope_and_a_request_id(make_agent) -> None:
    agent = make_agent("email")
    with pytest.raises(UpiviaError) as info:
        agent.client.service_requests.create(service="no_such_service", operation="x", payload={})
    error = info.value
    assert error.body["error"]["code"] == error.code
    assert error.server_message == error.body["error"]["message"] and error.server_message
    assert error.request_id


def test_rate_limit_raises_rate_limited_with_retry_after(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent({"service_id": "email", "rate_limit_per_minute": 1}, max_retries=0)
    assert agent.send_email()["status"] == "executed"
    before = balance_cents(owner)

    with pytest.raises(UpiviaError) as info:
        agent.send_email()

    assert info.value.kind == "rate_limited"
    assert info.value.status == 429
    assert info.value.retry_after is not None and info.value.retry_after > 0
    assert balance_cents(owner) == before


def test_agent_level_rate_limit(fleet: Fleet) -> None:
    agent = fleet.agent("email", rate_limit_per_minute=1, max_retries=0)
    assert agent.send_email()["status"] == "executed"
    with pytest.raises(UpiviaError) as info:
        agent.send_email()
    assert info.value.kind == "rate_limited"
    assert info.value.retry_after and info.value.retry_after > 0

"""The MCP endpoint through the official `mcp` Python SDK: over streamable
HTTP (both the `initialize` handshake era and the 2026-07-28 per-request
era the SDK negotiates by default), through the `upivia mcp` stdio bridge,
and across two nodes on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation

from support import EMAIL, SMS, UPIVIA_BIN, VOICE, Server, _free_port, _log_tail, _stop, balance_cents

MODES = ["legacy", "auto"]


def http_client(server_url: str, key: str, *, mode: str = "legacy", transport: Any = None) -> Client:
    headers = {"Authorization": f"Bearer {key}"}
    if transport is None:
        http = create_mcp_http_client(headers=headers)
    else:
        http = httpx2.AsyncClient(headers=headers, transport=transport, timeout=httpx2.Timeout(30, read=300))
    return Client(
        streamable_http_client(f"{server_url}/mcp", http_client=http),
        mode=mode,
        client_info=Implementation(name="pytest-mcp", version="1.0"),
    )


def stdio_client(server_url: str, key: str) -> Client:
    params = StdioServerParameters(
        command=UPIVIA_BIN,
        args=["mcp"],
        env={"UPIVIA_BASE_URL": server_url, "UPIVIA_API_KEY": key, "UPIVIA_LOG": "warn"},
    )
    return Client(params, client_info=Implementation(name="pytest-stdio", version="1.0"))


def outcome(result: Any) -> tuple[str, dict[str, Any]]:
    """The STATUS line's word and the JSON after it."""
    text = result.content[0].text
    first, _, rest = text.partition("\n")
    assert first.startswith("STATUS: "), text
    return first.removeprefix("STATUS: "), json.loads(rest)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ── over HTTP ────────────────────────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
def test_the_tool_list_follows_the_bindings(server: Server, owner: Any, make_agent: Any, mode: str) -> None:
    agent = make_agent("email")

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key, mode=mode) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"email_send", "platform_check_budget", "request_status"} <= names, names
            assert not any(n.startswith("sms_") for n in names), names
            send = next(t for t in (await c.list_tools()).tools if t.name == "email_send")
            assert send.input_schema["type"] == "object"
            assert "to" in send.input_schema["properties"]

            owner.agents.enable_service(agent.id, {"service_id": "sms"})
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"sms_send", "sms_read"} <= names, names

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_a_call_is_executed_and_charged(server: Server, owner: Any, make_agent: Any, mode: str) -> None:
    agent = make_agent("email")
    before = balance_cents(owner)

    async def main() -> dict[str, Any]:
        async with http_client(server.base_url, agent.api_key, mode=mode) as c:
            result = await c.call_tool("email_send", EMAIL)
            assert result.is_error is False
            status, body = outcome(result)
            assert status == "executed", body
            return body

    body = run(main())
    assert body["cost_cents"] > 0
    assert balance_cents(owner) == before - body["cost_cents"]
    logs = server.admin("GET", f"/audit-logs?agent_id={agent.id}")["logs"]
    executed = [e for e in logs if e["event_type"] == "service_request.executed"]
    assert executed and executed[0]["details"]["mcp_client"] == "pytest-mcp", executed


def test_a_tool_not_enabled_is_refused_at_call_time(server: Server, owner: Any, make_agent: Any) -> None:
    agent = make_agent("email")
    before = balance_cents(owner)

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key) as c:
            result = await c.call_tool("sms_send", SMS)
            assert result.is_error is False, "a governance refusal is an answer"
            status, body = outcome(result)
            assert status == "blocked", body
            assert body["reason_code"] == "service_not_enabled"
            with pytest.raises(MCPError):
                await c.call_tool("no_such_tool", {})

    run(main())
    assert balance_cents(owner) == before


def test_malformed_arguments_are_a_tool_error_naming_the_field(server: Server, make_agent: Any) -> None:
    agent = make_agent("email")

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key) as c:
            result = await c.call_tool("email_send", {**EMAIL, "to": 5})
            assert result.is_error is True
            text = result.content[0].text
            assert text.startswith("ERROR: invalid_payload"), text
            assert "to" in text

    run(main())


@pytest.mark.parametrize("mode", MODES)
def test_an_approval_is_surfaced_then_decided(server: Server, owner: Any, make_agent: Any, mode: str) -> None:
    agent = make_agent({"service_id": "email", "require_approval": True})

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key, mode=mode) as c:
            status, body = outcome(await c.call_tool("email_send", EMAIL))
            assert status == "approval_required", body
            assert body["approval_id"].startswith("appr_")
            assert body["expires_at"]
            owner.approvals.approve(body["approval_id"])
            status, polled = outcome(await c.call_tool("request_status", {"request_id": body["request_id"]}))
            assert status == "executed", polled

    run(main())


def test_a_running_request_is_polled(server: Server, make_agent: Any) -> None:
    agent = make_agent("voice_call")

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key) as c:
            status, body = outcome(
                await c.call_tool("voice_call_create", VOICE)
            )
            assert status == "running", body
            deadline = time.monotonic() + 20
            while status == "running" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                status, _ = outcome(await c.call_tool("request_status", {"request_id": body["request_id"]}))
            assert status == "executed"

    run(main())


def test_the_budget_check_takes_no_arguments(server: Server, make_agent: Any) -> None:
    agent = make_agent("email", monthly_budget_cents=500)

    async def main() -> None:
        async with http_client(server.base_url, agent.api_key) as c:
            status, body = outcome(await c.call_tool("platform_check_budget", {}))
            assert status == "executed", body
            assert body["cost_cents"] == 0

    run(main())


def test_a_bad_key_is_refused_with_401(server: Server) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}},
    }
    for headers in ({}, {"authorization": "Bearer agent_key_live_0000000000000000"}):
        r = httpx.post(
            f"{server.base_url}/mcp",
            json=init,
            headers={"accept": "application/json, text/event-stream", **headers},
        )
        assert r.status_code == 401, r.text

    async def main() -> None:
        with pytest.raises(Exception):
            async with http_client(server.base_url, "agent_key_live_0000000000000000") as c:
                await c.list_tools()

    run(main())


# ── through the stdio bridge ─────────────────────────────────────────────


def test_the_stdio_bridge(server: Server, owner: Any, make_agent: Any) -> None:
    agent = make_agent("email", {"service_id": "sms", "require_approval": True})
    before = balance_cents(owner)

    async def main() -> dict[str, Any]:
        async with stdio_client(server.base_url, agent.api_key) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"email_send", "sms_send"} <= names, names
            assert "voice_call_create" not in names
            status, sent = outcome(await c.call_tool("email_send", EMAIL))
            assert status == "executed", sent
            status, refused = outcome(await c.call_tool("voice_call_create", VOICE))
            assert status == "blocked" and refused["reason_code"] == "service_not_enabled", refused
            status, parked = outcome(await c.call_tool("sms_send", SMS))
            assert status == "approval_required", parked
            owner.approvals.approve(parked["approval_id"])
            status, polled = outcome(await c.call_tool("request_status", {"request_id": parked["request_id"]}))
            assert status == "executed", polled
            return sent["cost_cents"] + polled["cost_cents"]

    charged = run(main())
    assert balance_cents(owner) == before - charged


def test_the_stdio_bridge_with_a_bad_key(server: Server) -> None:
    async def main() -> None:
        with pytest.raises(Exception) as raised:
            async with stdio_client(server.base_url, "agent_key_live_0000000000000000") as c:
                await c.list_tools()
        assert "401" in str(raised.value) or raised.value is not None

    run(main())


# ── two nodes, one database ──────────────────────────────────────────────


class Alternating(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next node,
    its Host header left as the public URL's."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.sent: list[int] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.sent) % len(self.ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.contextmanager
def two_nodes(workdir: Path, database_url: str, public_url: str) -> Iterator[tuple[list[int], str]]:
    """Two `upivia serve` on one database, both told the same public URL;
    their ports and the owner's PAT."""
    audit_key = os.urandom(32).hex()
    signing = workdir / "audit-signing.key"
    procs: list[subprocess.Popen] = []
    ports: list[int] = []
    try:
        for i in range(2):
            port = _free_port()
            log = workdir / f"node{i}.log"
            proc = subprocess.Popen(
                [UPIVIA_BIN, "serve", "--data-dir", str(workdir / f"data{i}"), "--listen", f"127.0.0.1:{port}",
                 "--database-url", database_url, "--public-url", public_url,
                 "--audit-signing-key-file", str(signing), "--worker-interval-ms", "100"],
                stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "UPIVIA_AUDIT_KEY": audit_key},
            )
            procs.append(proc)
            ports.append(port)
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, _log_tail(log)
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, _log_tail(log)
                time.sleep(0.05)
        creds = json.loads((workdir / "data0" / "initial-credentials.json").read_text())
        yield ports, creds["pat"]
    finally:
        for proc in procs:
            _stop(proc)


def test_two_nodes_answer_one_session_alternately(tmp_path: Path) -> None:
    pg = os.environ.get("UPIVIA_INTEROP_POSTGRES_URL") or os.environ.get("UPIVIA_TEST_POSTGRES_URL")
    if not pg:
        pytest.skip("UPIVIA_INTEROP_POSTGRES_URL is not set")
    name = f"upivia_interop_mcp_{os.getpid()}_{time.monotonic_ns()}"
    subprocess.run(["psql", pg, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        public_port = _free_port()
        public_url = f"http://127.0.0.1:{public_port}"
        with two_nodes(tmp_path, pg.rsplit("/", 1)[0] + "/" + name, public_url) as (ports, pat):
            node = lambda i: f"http://127.0.0.1:{ports[i]}/api/v1"  # noqa: E731
            auth = {"authorization": f"Bearer {pat}"}
            assert httpx.post(f"{node(0)}/balance/credits", json={"amount_cents": 1000}, headers=auth).is_success
            created = httpx.post(f"{node(1)}/agents", json={"name": "two-nodes"}, headers=auth).json()
            agent_id, key = created["agent"]["id"], created["api_key"]
            bound = httpx.post(
                f"{node(0)}/agents/{agent_id}/services",
                json={"service_id": "email", "require_approval": True},
                headers=auth,
            )
            assert bound.is_success, bound.text
            lb = Alternating(ports)

            async def main() -> None:
                for mode in MODES:
                    async with http_client(public_url, key, mode=mode, transport=lb) as c:
                        names = {t.name for t in (await c.list_tools()).tools}
                        assert "email_send" in names
                        status, parked = outcome(await c.call_tool("email_send", EMAIL))
                        assert status == "approval_required", parked
                        decided = httpx.post(f"{node(1)}/approvals/{parked['approval_id']}/approve", json={}, headers=auth)
                        assert decided.is_success, decided.text
                        for _ in range(2):
                            status, polled = outcome(
                                await c.call_tool("request_status", {"request_id": parked["request_id"]})
                            )
                            assert status == "executed", polled

            run(main())
            assert set(lb.sent) == set(ports), lb.sent
            ledger = httpx.get(f"{node(1)}/admin/ledger/check", headers=auth).json()
            assert ledger["ok"] is True, ledger
    finally:
        subprocess.run(["psql", pg, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)

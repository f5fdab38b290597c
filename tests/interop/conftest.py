"""Fixtures for the Python SDK interop suite.

The session server runs with a short voice-call delay (so `running` requests
reconcile quickly) and the default 24 h approval TTL (so approvals stay open
for the approve/reject tests). Tests that need a different server (short
approval TTL, an unfunded org) start their own with `start_server`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator

import pytest
from upivia import UpiviaClient

from support import Fleet, Server, running_server

# The SDK falls back to these variables; a developer's shell must not leak in
# (the "missing api key" test relies on none being set).
for _name in ("UPIVIA_API_KEY", "AGENTWALLET_API_KEY", "UPIVIA_PAT", "UPIVIA_BASE_URL", "AGENTWALLET_BASE_URL"):
    os.environ.pop(_name, None)

FUNDING_CENTS = 100_000
MAIN_SERVER_ARGS = ("--voice-call-delay-ms", "300", "--worker-interval-ms", "100")


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """`with start_server("--approval-ttl-secs", "1") as srv:` starts an extra
    server; on exit its ledger and audit chain must verify, then it stops."""

    @contextlib.contextmanager
    def start(*args: str) -> Iterator[Server]:
        with running_server(tmp_path_factory.mktemp("upivia"), *args) as srv:
            yield srv
            srv.assert_books_balance()

    return start


@pytest.fixture(scope="session")
def server(start_server: Callable[..., Any]) -> Iterator[Server]:
    """The shared, funded server. At session end (teardown) its ledger must
    check out and its audit chain must verify."""
    with start_server(*MAIN_SERVER_ARGS) as srv:
        srv.add_credits(FUNDING_CENTS)
        yield srv


@pytest.fixture(scope="session")
def owner(server: Server) -> Iterator[UpiviaClient]:
    """The org owner's client, authenticated with the initial PAT."""
    client = server.client(pat=server.pat)
    yield client
    client.close()


@pytest.fixture(scope="session")
def catalog(owner: UpiviaClient) -> dict[str, dict[str, Any]]:
    """Catalog operations by full name (`email.send`), from services.list()."""
    return {
        f"{svc['id']}.{op['name']}": op
        for svc in owner.services.list()["services"]
        for op in svc["operations"]
    }


@pytest.fixture
def fleet(server: Server, owner: UpiviaClient) -> Iterator[Fleet]:
    f = Fleet(server, owner)
    yield f
    f.close()


@pytest.fixture
def make_agent(fleet: Fleet) -> Callable[..., Any]:
    """make_agent("email", {"service_id": "sms", "require_approval": True},
    monthly_budget_cents=500) -> Agent (id, api_key, client, created)."""
    return fleet.agent

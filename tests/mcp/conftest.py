"""Fixtures for the MCP suite: one funded server for the whole session (its
ledger and audit chain checked at the end), agents made through the
official `upivia` SDK, and MCP clients from the official `mcp` SDK.

The server lifecycle and agent helpers are the interop suite's
(tests/interop/support.py), imported from there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from upivia import UpiviaClient  # noqa: E402

from support import Fleet, Server, running_server  # noqa: E402

for _name in ("UPIVIA_API_KEY", "UPIVIA_PAT", "UPIVIA_BASE_URL"):
    os.environ.pop(_name, None)

FUNDING_CENTS = 100_000


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("upivia"), "--worker-interval-ms", "100") as srv:
        srv.add_credits(FUNDING_CENTS)
        yield srv
        srv.assert_books_balance()


@pytest.fixture(scope="session")
def owner(server: Server) -> Iterator[UpiviaClient]:
    client = server.client(pat=server.pat)
    yield client
    client.close()


@pytest.fixture
def fleet(server: Server, owner: UpiviaClient) -> Iterator[Fleet]:
    f = Fleet(server, owner)
    yield f
    f.close()


@pytest.fixture
def make_agent(fleet: Fleet) -> Callable[..., Any]:
    return fleet.agent

"""Cookie sessions: the SDK's workspace mode sends no Authorization header
without a PAT, so a session cookie injected via default_headers carries it."""

from __future__ import annotations

import pytest
from upivia import UpiviaClient, UpiviaError

from support import Server


def test_session_cookie_works_for_workspace_endpoints(server: Server, owner: UpiviaClient) -> None:
    session = server.login()
    try:
        with server.client(default_headers={"cookie": f"upivia_session={session}"}) as browser:
            assert browser.balance.get() == owner.balance.get()
            assert browser.approvals.list() == owner.approvals.list()
            created = browser.agents.create({"name": "made-with-a-cookie"})
            assert browser.agents.get(created["agent"]["id"])["agent"]["name"] == "made-with-a-cookie"
    finally:
        server.logout(session)


def test_logged_out_session_is_rejected(server: Server) -> None:
    session = server.login()
    server.logout(session)
    with server.client(default_headers={"cookie": f"upivia_session={session}"}) as browser:
        with pytest.raises(UpiviaError) as info:
            browser.balance.get()
    assert (info.value.kind, info.value.status) == ("unauthorized", 401)

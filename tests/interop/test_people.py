"""People, tokens, workspaces and whoami through the official clients: the
SDK's `workspaces` resource (PAT and cookie session) and the terminal
client's own `init` command (GET /workspaces, POST /workspaces/switch with
`workspace_id`, GET /whoami), run unmodified. Members and tokens have no SDK
method (API.md §4 leaves them to the server); they are set up over raw HTTP
and then used through the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from upivia import UpiviaClient, UpiviaError

from support import CLIENT_TIMEOUT_SECONDS, Server


def _login(server: Server, email: str, password: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/v1/auth/login",
        json={"email": email, "password": password},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    return response.cookies["upivia_session"]


def _raw(server: Server, method: str, path: str, token: str, body=None) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.base_url}/api/v1{path}",
        json=body,
        headers={"authorization": f"Bearer {token}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def test_workspaces_list_and_switch_with_a_pat(server: Server, owner: UpiviaClient) -> None:
    listed = owner.workspaces.list()
    workspaces = listed["workspaces"]
    assert [w["id"] for w in workspaces] == [server.org_id]
    assert workspaces[0]["active"] is True
    assert workspaces[0]["role"] == "owner"
    assert workspaces[0]["name"]
    switched = owner.workspaces.switch(server.org_id)
    assert switched["ok"] is True
    assert switched["workspace"]["id"] == server.org_id
    with pytest.raises(UpiviaError) as info:
        owner.workspaces.switch("org_not_mine")
    assert info.value.status == 404


def test_a_member_added_by_the_owner_uses_the_sdk_with_a_session_and_a_token(
    server: Server,
) -> None:
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    added = server.admin("POST", "/members", {"email": email, "role": "member"})
    password = added["password"]
    assert added["member"]["email"] == email and added["member"]["role"] == "member"
    session = _login(server, email, password)
    with UpiviaClient(
        base_url=server.base_url,
        default_headers={"cookie": f"upivia_session={session}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    ) as browser:
        workspaces = browser.workspaces.list()["workspaces"]
        assert [(w["id"], w["role"]) for w in workspaces] == [(server.org_id, "member")]
        assert browser.workspaces.switch(server.org_id)["ok"] is True
        # A member may not approve: the role is checked (403).
        with pytest.raises(UpiviaError) as info:
            browser.approvals.approve("apr_nope")
        assert info.value.status in (403, 404)

    # The member's own token, shown once; the SDK works with it until revoked.
    created = httpx.post(
        f"{server.base_url}/api/v1/tokens",
        json={"name": "interop"},
        cookies={"upivia_session": session},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )
    assert created.status_code == 200, created.text
    secret = created.json()["secret"]
    token_id = created.json()["token"]["id"]
    assert secret.startswith("upivia_pat_")
    with UpiviaClient(base_url=server.base_url, pat=secret, timeout=CLIENT_TIMEOUT_SECONDS) as cli:
        assert cli.workspaces.list()["workspaces"][0]["id"] == server.org_id
        listed = _raw(server, "GET", "/tokens", secret).json()
        assert token_id in [t["id"] for t in listed["tokens"]]
        assert secret not in json.dumps(listed)
        assert _raw(server, "DELETE", f"/tokens/{token_id}", secret).status_code == 200
        with pytest.raises(UpiviaError) as info:
            cli.workspaces.list()
        assert (info.value.kind, info.value.status) == ("unauthorized", 401)

    # Removed, the member's session dies at once.
    user_id = added["member"]["id"]
    removed = server.admin("DELETE", f"/members/{user_id}")
    assert removed["ok"] is True
    with UpiviaClient(
        base_url=server.base_url,
        default_headers={"cookie": f"upivia_session={session}"},
        timeout=CLIENT_TIMEOUT_SECONDS,
    ) as browser:
        with pytest.raises(UpiviaError) as info:
            browser.workspaces.list()
        assert info.value.status == 401


def test_the_terminal_clients_init_reads_workspace_and_email(
    server: Server, tmp_path: Path
) -> None:
    pytest.importorskip("upivia_tui.commands")
    env = {**os.environ, "HOME": str(tmp_path)}
    code = (
        "import sys; from upivia_tui.commands import init_command; "
        "sys.exit(init_command(sys.argv[1], sys.argv[2], force=True))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, server.base_url, server.pat],
        env=env,
        input="1\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    config = json.loads((tmp_path / ".upivia" / "config.json").read_text())
    assert config["workspaceId"] == server.org_id
    assert config["workspaceName"]
    assert config["userEmail"] == server.email

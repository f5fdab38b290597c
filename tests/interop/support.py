"""Helpers shared by the interop tests: server lifecycle, agent creation,
example payloads, and the few raw HTTP calls the SDK has no method for.

Everything the tests assert goes through the official `upivia` SDK; raw
`httpx` is used only for set-up and admin checks (credits, kill switch,
login/logout, ledger check, audit verification).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
from upivia import UpiviaClient

REPO = Path(__file__).resolve().parents[2]
UPIVIA_BIN = os.environ.get("UPIVIA_BIN") or str(REPO / "target" / "debug" / "upivia")

# A per-request ceiling so a wedged server fails a test instead of hanging it.
CLIENT_TIMEOUT_SECONDS = 15.0
STARTUP_TIMEOUT_SECONDS = 30.0

# Valid payloads for the operations the suite uses (see GET /services).
EMAIL = {"to": "ada@example.com", "subject": "Interop", "body": "Hello from the Python SDK."}
SMS = {"to": "+15555550123", "from": "+15555550100", "body": "Interop"}
VOICE = {"to": "+15555550123", "from": "+15555550100", "say": "This is an interop test call."}

# Sandbox magic values (any payload string containing them).
MAGIC_UNAVAILABLE = "sandbox-unavailable"
MAGIC_ERROR = "sandbox-error"


# ── server lifecycle ─────────────────────────────────────────────────────


@dataclass
class Server:
    """One running `upivia serve` and its owner's credentials."""

    base_url: str
    pat: str
    email: str
    password: str
    org_id: str
    log_path: Path

    def client(self, **kwargs: Any) -> UpiviaClient:
        kwargs.setdefault("timeout", CLIENT_TIMEOUT_SECONDS)
        return UpiviaClient(base_url=self.base_url, **kwargs)

    # Raw calls for endpoints the SDK has no method for. PAT-authenticated.
    def admin(self, method: str, path: str, json_body: Any = None) -> dict[str, Any]:
        response = httpx.request(
            method,
            f"{self.base_url}/api/v1{path}",
            json=json_body,
            headers={"authorization": f"Bearer {self.pat}"},
            timeout=CLIENT_TIMEOUT_SECONDS,
        )
        assert response.is_success, f"{method} {path} -> {response.status_code} {response.text}"
        return response.json()

    def add_credits(self, cents: int) -> dict[str, Any]:
        return self.admin("POST", "/balance/credits", {"amount_cents": cents, "note": "interop"})

    def set_kill_switch(self, on: bool) -> dict[str, Any]:
        return self.admin("PATCH", "/org", {"kill_switch": on})

    def ledger_check(self) -> dict[str, Any]:
        return self.admin("GET", "/admin/ledger/check")

    def audit_verify(self) -> dict[str, Any]:
        return self.admin("GET", "/admin/audit/verify")

    def login(self) -> str:
        """Logs the owner in; returns the session cookie's value."""
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/login",
            json={"email": self.email, "password": self.password},
            timeout=CLIENT_TIMEOUT_SECONDS,
        )
        assert response.status_code == 200, response.text
        session = response.cookies.get("upivia_session")
        assert session, f"no upivia_session cookie in {response.headers}"
        return session

    def logout(self, session: str) -> None:
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/logout",
            cookies={"upivia_session": session},
            timeout=CLIENT_TIMEOUT_SECONDS,
        )
        assert response.is_success, response.text

    def assert_books_balance(self) -> None:
        ledger = self.ledger_check()
        assert ledger["ok"] is True, f"ledger check failed: {ledger}"
        audit = self.audit_verify()
        assert audit["ok"] is True, f"audit chain broken: {audit}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def _wait_until_ready(proc: subprocess.Popen, data_dir: Path, base_url: str, log: Path) -> dict:
    creds_path = data_dir / "initial-credentials.json"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"upivia exited with {proc.returncode}:\n{_log_tail(log)}")
        try:
            healthy = httpx.get(f"{base_url}/api/v1/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            healthy = False
        if healthy and creds_path.exists():
            return json.loads(creds_path.read_text())
        time.sleep(0.05)
    raise RuntimeError(f"upivia did not become healthy in {STARTUP_TIMEOUT_SECONDS}s:\n{_log_tail(log)}")


# `UPIVIA_INTEROP_POSTGRES_URL` (a server URL such as
# postgres://postgres@127.0.0.1:5432/postgres) runs every server of the suite
# on a fresh PostgreSQL database of its own, created and dropped with psql.
POSTGRES_URL = os.environ.get("UPIVIA_INTEROP_POSTGRES_URL", "")


@contextlib.contextmanager
def _fresh_database() -> Iterator[str | None]:
    if not POSTGRES_URL:
        yield None
        return
    name = f"upivia_interop_{os.getpid()}_{time.monotonic_ns()}"
    subprocess.run(["psql", POSTGRES_URL, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        subprocess.run(
            ["psql", POSTGRES_URL, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def running_server(workdir: Path, *extra_args: str) -> Iterator[Server]:
    """Starts `upivia serve` on a free loopback port with a fresh data dir
    under `workdir`; stops it (terminate, then kill) on exit."""
    if not Path(UPIVIA_BIN).is_file():
        raise RuntimeError(f"server binary not found at {UPIVIA_BIN}; build it or set UPIVIA_BIN")
    data_dir = workdir / "data"
    log_path = workdir / "server.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with _fresh_database() as database_url, open(log_path, "wb") as log:
        backend = ["--database-url", database_url] if database_url else []
        proc = subprocess.Popen(
            [UPIVIA_BIN, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *backend, *extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            creds = _wait_until_ready(proc, data_dir, base_url, log_path)
            assert creds["pat"].startswith("upivia_pat_"), creds["pat"]
            yield Server(
                base_url=creds.get("base_url") or base_url,
                pat=creds["pat"],
                email=creds["email"],
                password=creds["password"],
                org_id=creds["org_id"],
                log_path=log_path,
            )
        finally:
            _stop(proc)


# ── agents ───────────────────────────────────────────────────────────────


@dataclass
class Agent:
    id: str
    api_key: str
    client: UpiviaClient
    created: dict[str, Any]

    def send_email(self, **overrides: Any) -> dict[str, Any]:
        return self.client.service_requests.create(
            service="email", operation="send", payload={**EMAIL, **overrides}
        )

    def send_sms(self, **overrides: Any) -> dict[str, Any]:
        return self.client.service_requests.create(
            service="sms", operation="send", payload={**SMS, **overrides}
        )


@dataclass
class Fleet:
    """Creates agents on one server through the SDK (`agents.create` +
    `agents.enable_service`) and closes every client it handed out."""

    server: Server
    owner: UpiviaClient
    _clients: list[UpiviaClient] = field(default_factory=list)
    _count: int = 0

    def client(self, **kwargs: Any) -> UpiviaClient:
        client = self.server.client(**kwargs)
        self._clients.append(client)
        return client

    def agent(
        self,
        *services: str | dict[str, Any],
        max_retries: int = 2,
        **agent_fields: Any,
    ) -> Agent:
        """`services` items are a service id (`"email"`) or a full
        enable_service body (`{"service_id": "email", "require_approval": True}`)."""
        self._count += 1
        agent_fields.setdefault("name", f"interop-agent-{self._count}")
        created = self.owner.agents.create(agent_fields)
        agent_id = created["agent"]["id"]
        for service in services:
            body = {"service_id": service} if isinstance(service, str) else service
            enabled = self.owner.agents.enable_service(agent_id, body)
            assert enabled["ok"] is True, enabled
        client = self.client(api_key=created["api_key"], max_retries=max_retries)
        return Agent(id=agent_id, api_key=created["api_key"], client=client, created=created)

    def close(self) -> None:
        for client in self._clients:
            client.close()


# ── small assertions and utilities ───────────────────────────────────────


def balance_cents(owner: UpiviaClient) -> int:
    amount = owner.balance.get()["amount_cents"]
    assert isinstance(amount, int), amount
    return amount


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Polls until `predicate()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: Any


class RecordingTransport(httpx.HTTPTransport):
    """An httpx transport (the SDK's public `transport=` hook) that records
    every response the SDK received, so tests can see intermediate states
    that helpers like `create_and_wait` hide."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        content = response.read()
        body = json.loads(content) if content else None
        self.exchanges.append(Exchange(request.method, request.url.path, response.status_code, body))
        # The body is already decoded: drop headers that describe the raw bytes.
        raw_only = ("content-encoding", "content-length", "transfer-encoding")
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in raw_only]
        return httpx.Response(response.status_code, headers=headers, content=content, request=request)

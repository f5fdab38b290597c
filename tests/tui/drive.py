"""End-to-end test of the official terminal client, upivia-tui 0.3.0, driven
in tmux against this server, the way a person uses it: `upivia-tui init`
with the owner's PAT, the agent list (Ctrl+T), one chat turn, the
pending-requests view (Ctrl+P → "Pending requests"), and Ctrl+Q.

Each step types into a detached tmux session (`send-keys`) and polls
`capture-pane` until the screen shows what it should. The server, the
tmux server (a socket of its own) and the temp dir are removed however the
run ends. Standard library only; run by tests/tui/run.sh with the venv that
holds the client on PATH.

Environment: UPIVIA_BIN (the server binary), TUI_VENV (the client's venv),
TUI_STEP_TIMEOUT (seconds per step, default 20), TUI_TIMEOUT (seconds for the
whole run, default 240), TUI_KEEP=1 (keep the temp dir).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UPIVIA_BIN = os.environ.get("UPIVIA_BIN") or str(REPO / "target" / "debug" / "upivia")
VENV = Path(os.environ.get("TUI_VENV") or REPO / "target" / "tui-venv")
STEP_TIMEOUT = float(os.environ.get("TUI_STEP_TIMEOUT", "20"))
OVERALL_TIMEOUT = int(os.environ.get("TUI_TIMEOUT", "240"))
WIDTH, HEIGHT = 160, 48

# What the server's sandbox chat model answers to a message that names no tool.
SANDBOX_REPLY = "I am the sandbox model"
CHAT_AGENT = "tui-e2e-agent"
INBOX_TITLE = "Approve the gated email"
MESSAGE = "hello from tmux"
SECOND_MESSAGE = "and once more over the socket"


class Failure(Exception):
    pass


class Run:
    """The processes and files of one run; `close()` removes all of them."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="upivia-tui-e2e-"))
        self.home = self.tmp / "home"
        self.project = self.tmp / "project"
        self.data = self.tmp / "data"
        for path in (self.home, self.project):
            path.mkdir()
        self.log_path = self.tmp / "server.log"
        self.server: subprocess.Popen | None = None
        self.socket = f"upivia-tui-e2e-{os.getpid()}"
        self.tmux_started = False
        self.base_url = ""
        self.pat = ""
        self.last_screen = ""

    # ── server ────────────────────────────────────────────────────────────

    def start_server(self) -> None:
        if not Path(UPIVIA_BIN).is_file():
            raise Failure(f"server binary not found at {UPIVIA_BIN}")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = dict(os.environ)
        # tower_http at debug logs one line per request with its status: on
        # failure that line says which call of the client went wrong.
        env["UPIVIA_LOG"] = "info,tower_http=debug"
        env.pop("UPIVIA_DATABASE_URL", None)
        with open(self.log_path, "wb") as log:
            self.server = subprocess.Popen(
                [UPIVIA_BIN, "serve", "--dev", "--data-dir", str(self.data), "--listen", f"127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )
        creds_path = self.data / "initial-credentials.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise Failure(f"the server exited with {self.server.returncode}")
            if creds_path.exists():
                try:
                    creds = json.loads(creds_path.read_text())
                    self.base_url = f"http://127.0.0.1:{port}"
                    self.pat = creds["pat"]
                    self.api("GET", "/healthz", auth=False)
                    return
                except (ValueError, KeyError, OSError, Failure):
                    pass
            time.sleep(0.1)
        raise Failure("the server did not become ready in 30 s")

    def api(self, method: str, path: str, body: object = None, *, key: str | None = None,
            auth: bool = True, headers: dict[str, str] | None = None) -> dict:
        """One REST call; the owner's PAT unless `key` is given."""
        request = urllib.request.Request(f"{self.base_url}/api/v1{path}", method=method)
        if auth:
            request.add_header("authorization", f"Bearer {key or self.pat}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, data, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise Failure(f"{method} {path} -> {err.code} {err.read()[:300]!r}") from err
        except OSError as err:
            raise Failure(f"{method} {path}: {err}") from err
        return json.loads(raw) if raw else {}

    def stop_server(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=10)

    def server_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "<no server log>"

    def server_log_tail(self, lines: int = 150) -> str:
        """The log's last lines, less each request's "started" line (its
        "finished" line follows with the status)."""
        kept = [l for l in self.server_log().splitlines() if "started processing request" not in l]
        return "\n".join(kept[-lines:])

    def requests_seen(self) -> list[tuple[str, str, str]]:
        """(method, path, status) of every request the server answered."""
        seen = []
        pattern = re.compile(r"http\{method=(\S+) path=(\S+).*?finished processing request.*?status=(\d+)")
        for line in self.server_log().splitlines():
            match = pattern.search(line)
            if match:
                seen.append(match.groups())
        return seen

    def count_requests(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests_seen() if (m, p) == (method, path))

    # ── tmux ──────────────────────────────────────────────────────────────

    def tmux(self, *args: str, check: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        env["LANG"] = env["LC_ALL"] = "C.UTF-8"
        result = subprocess.run(
            ["tmux", "-u", "-L", self.socket, "-f", "/dev/null", *args],
            env=env, capture_output=True, text=True, timeout=10,
        )
        if check and result.returncode != 0:
            raise Failure(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def start_terminal(self) -> None:
        """A detached 160x48 terminal running a plain bash: a fresh HOME, the
        client's venv first on PATH, nothing else from this environment."""
        shell_env = [
            f"HOME={self.home}",
            f"PATH={VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "TERM=xterm-256color",
            "LANG=C.UTF-8",
            "PS1=$ ",
        ]
        self.tmux("new-session", "-d", "-s", "tui", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(self.project),
                  "env", "-i", *shell_env, "bash", "--norc", "--noprofile")
        self.tmux_started = True

    def keys(self, *keys: str) -> None:
        """Key names (`Enter`, `C-t`, `Escape`)."""
        self.tmux("send-keys", "-t", "tui", *keys)

    def type(self, text: str) -> None:
        """Literal text, as typed."""
        self.tmux("send-keys", "-t", "tui", "-l", text)

    def submit(self, message: str) -> None:
        """Types a chat message and Enter until it shows as the user's card.
        The client clears the composer and drops a message sent while a turn
        still streams, and nothing on screen says when a turn has ended."""
        card = rf"(?m)^ │ {re.escape(message)}\s"  # the composer's line starts at column 0
        for _ in range(10):
            self.type(message)
            self.keys("Enter")
            try:
                self.wait_for("the message shows", card, timeout=1.5)
                return
            except Failure:
                continue
        raise Failure(f"the client did not take the message {message!r}")

    def screen(self) -> str:
        self.last_screen = self.tmux("capture-pane", "-p", "-t", "tui")
        return self.last_screen

    def wait_for(self, step: str, *expected: str, absent: tuple[str, ...] = (),
                 timeout: float | None = None) -> str:
        """Polls the screen until every `expected` regex matches and no
        `absent` one does; returns that screen."""
        deadline = time.monotonic() + (timeout or STEP_TIMEOUT)
        while True:
            text = self.screen()
            missing = [p for p in expected if not re.search(p, text)]
            present = [p for p in absent if re.search(p, text)]
            if not missing and not present:
                return text
            if time.monotonic() >= deadline:
                why = []
                if missing:
                    why.append(f"not on screen: {missing}")
                if present:
                    why.append(f"still on screen: {present}")
                raise Failure(f"{step}: after {timeout or STEP_TIMEOUT:.0f} s, " + "; ".join(why))
            time.sleep(0.2)

    def close(self) -> None:
        if self.tmux_started:
            self.tmux("kill-server", check=False)
            self.tmux_started = False
        self.stop_server()
        if os.environ.get("TUI_KEEP") == "1":
            print(f"tui: kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def dollars(cents: int) -> str:
    return f"${cents / 100:.2f}"


def scenario(run: Run, step) -> None:
    with step("server: --dev on a free loopback port"):
        run.start_server()

    with step("REST set-up with the owner's PAT: an agent, a pending approval, an inbox request"):
        created = run.api("POST", "/agents", {"name": CHAT_AGENT, "description": "driven by tests/tui"})
        agent_id, agent_key = created["agent"]["id"], created["api_key"]
        run.api("POST", f"/agents/{agent_id}/services", {"service_id": "email", "require_approval": True})
        outcome = run.api(
            "POST", "/service-requests",
            {"service": "email", "operation": "send",
             "payload": {"to": "ada@example.com", "subject": "Gated", "body": "Needs a human."}},
            key=agent_key, headers={"idempotency-key": "tui-e2e-gated-1"},
        )
        if outcome.get("status") != "approval_required":
            raise Failure(f"expected approval_required, got {outcome}")
        approval_id = outcome["approval_id"]
        # The client's pending-requests view lists the agent-requests inbox
        # (GET /agent-requests?status=pending), where approvals of service
        # requests do not appear; this request is the entry it shows.
        inbox = run.api("POST", "/agent-requests", {
            "request_type": "approval", "title": INBOX_TITLE, "agent_id": agent_id,
            "body": f"Please approve {approval_id} (email to ada@example.com).",
        })["request"]
        workspace = run.api("GET", "/workspaces")["workspaces"][0]["name"]
        balance = dollars(run.api("GET", "/balance")["amount_cents"])

    with step(f"terminal: a detached {WIDTH}x{HEIGHT} tmux session running bash"):
        run.start_terminal()
        run.wait_for("the shell prompt", r"(?m)^\$")

    with step("setup: `upivia-tui init` with the URL and the PAT"):
        run.type("upivia-tui init; echo \"init exited: $?\"")
        run.keys("Enter")
        run.wait_for("init asks for the URL", r"Upivia TUI — setup", r"Upivia platform URL \[https://www\.upivia\.com\]:")
        run.type(run.base_url)
        run.keys("Enter")
        run.wait_for("init asks for the PAT", r"Personal Access Token:")
        run.type(run.pat)
        run.keys("Enter")
        shown = run.wait_for("init completes", r"Setup complete\.", rf"Workspace: {re.escape(workspace)}",
                             r"init exited: 0")
        if run.pat in shown:
            raise Failure("the PAT was echoed on screen")
        config = json.loads((run.home / ".upivia" / "config.json").read_text())
        if config.get("baseUrl") != run.base_url or config.get("pat") != run.pat:
            raise Failure(f"~/.upivia/config.json holds {config}")

    with step("launch: the top bar shows the workspace, the balance and the live socket"):
        run.type("clear; upivia-tui; echo \"tui exited: $?\"")
        run.keys("Enter")
        run.wait_for(
            "the client starts", r"UPIVIA v0\.3\.0", re.escape(f"·  {workspace}  ·"), re.escape(balance),
            r"● live", r"How can I help you build today\?",
        )

    with step(f"agent list (Ctrl+T) shows {CHAT_AGENT}; pick it"):
        run.keys("C-t")
        run.wait_for("the agent picker opens", r"Switch agent", rf"{CHAT_AGENT}\s+active", r"demo-agent\s+active")
        run.type(CHAT_AGENT)
        run.wait_for("the picker filters", rf"{CHAT_AGENT}\s+active", absent=(r"demo-agent\s+active",))
        run.keys("Enter")
        run.wait_for("the agent is switched", rf"Switched to {CHAT_AGENT}\.", rf"◆ {CHAT_AGENT}  ·",
                     absent=(r"Switch agent",))

    with step("chat: one turn, answered by the sandbox model"):
        run.submit(MESSAGE)
        run.wait_for("the reply appears", r"│ You ", rf"│ {CHAT_AGENT} ", SANDBOX_REPLY)

    with step("chat: a second turn, over the socket once it is live"):
        # The first turn of a new session goes over SSE (the client opens the
        # session's socket only as the turn starts); with "● live" shown the
        # client sends the next one as a socket `chat_turn`.
        run.wait_for("the socket is live", r"● live")
        turns_over_sse = run.count_requests("POST", "/api/v1/chat/turn")
        run.submit(SECOND_MESSAGE)
        run.wait_for("the second reply appears", rf"(?s)({SANDBOX_REPLY}.*){{2}}")
        if run.count_requests("POST", "/api/v1/chat/turn") != turns_over_sse:
            raise Failure("the second turn went over POST /chat/turn, not the socket")

    with step("pending requests (Ctrl+P → Pending requests) lists the inbox request"):
        run.keys("C-p")
        run.wait_for("the command palette opens", r"Pending requests\s+Approve/reject agent requests")
        run.type("pending")
        run.wait_for("the palette filters", r"Pending requests", absent=(r"Switch model",))
        run.keys("Enter")
        shown = run.wait_for(
            "the pending-requests view opens", r"Pending Requests \(\d+\)",
            rf"approval · {re.escape(INBOX_TITLE)}\s+{CHAT_AGENT} · {re.escape(inbox['id'][:10])}",
            r"Approve first", r"Reject first",
        )
        count = int(re.search(r"Pending Requests \((\d+)\)", shown).group(1))
        listed = approval_id[:10] in shown
        print(f"tui: the view lists {count} request(s); the service request's approval {approval_id} is "
              f"{'listed' if listed else 'not listed (only the agent-requests inbox is)'}", file=sys.stderr)
        run.keys("Escape")
        run.wait_for("the view closes", absent=(r"Pending Requests \(",))

    with step("quit (Ctrl+Q)"):
        run.keys("C-q")
        run.wait_for("the client exits", r"tui exited: 0")


def main() -> int:
    run = Run()
    started = time.monotonic()
    current = ["start"]

    def on_signal(signum, _frame):
        raise Failure(f"stopped by signal {signum}" if signum != signal.SIGALRM
                      else f"the whole run took longer than {OVERALL_TIMEOUT} s")

    for signum in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    signal.alarm(OVERALL_TIMEOUT)

    class step:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self):
            current[0] = self.name
            self.t0 = time.monotonic()

        def __exit__(self, kind, _value, _tb):
            if kind is None:
                print(f"tui: ok   {self.name} ({time.monotonic() - self.t0:.1f} s)", file=sys.stderr)
            return False

    try:
        scenario(run, step)
        signal.alarm(0)
        refused = sorted({r for r in run.requests_seen() if int(r[2]) >= 400})
        for method, path, status in refused:
            print(f"tui: note: the server answered {method} {path} with {status}", file=sys.stderr)
        print(f"tui: passed in {time.monotonic() - started:.1f} s", file=sys.stderr)
        return 0
    except Exception as exc:  # noqa: BLE001 — every failure gets the same report
        signal.alarm(0)
        print(f"\ntui: FAILED at step: {current[0]}\n  {type(exc).__name__}: {exc}", file=sys.stderr)
        if run.tmux_started:
            try:
                run.screen()
            except Exception:  # noqa: BLE001 — keep the last screen we have
                pass
        print(f"\n---- last screen ({WIDTH}x{HEIGHT}) ----\n{run.last_screen}\n---- end of screen ----", file=sys.stderr)
        for method, path, status in run.requests_seen():
            if int(status) >= 400:
                print(f"tui: the server answered {method} {path} with {status}", file=sys.stderr)
        print(f"\n---- server log ({run.log_path}) ----\n{run.server_log_tail()}\n---- end of server log ----",
              file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        run.close()


if __name__ == "__main__":
    sys.exit(main())

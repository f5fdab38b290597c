#!/usr/bin/env bash
# End-to-end test of the official terminal client `upivia-tui==0.3.0`, driven
# in tmux against this server (tests/tui/drive.py: setup with the PAT, the
# agent list, chat turns, the pending-requests view, quit).
#
#   bash tests/tui/run.sh                  # build the server, run the test
#   UPIVIA_BIN=/path/to/upivia bash tests/tui/run.sh
#
# Environment: TUI_VENV (default $REPO/target/tui-venv), UPIVIA_BIN (skip the
# cargo build and use this binary), PYTHON (default python3), and those
# drive.py reads (TUI_STEP_TIMEOUT, TUI_TIMEOUT, TUI_KEEP). Needs tmux.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${TUI_VENV:-$REPO/target/tui-venv}"
PYTHON="${PYTHON:-python3}"

command -v tmux >/dev/null || { echo "tui: tmux is not installed" >&2; exit 1; }
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "tui: creating virtualenv at $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
# With its dependencies (textual, httpx, websockets, playwright, upivia);
# playwright's browsers are not downloaded: no step uses a browser tool.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "upivia-tui==0.3.0"

if [[ -z "${UPIVIA_BIN:-}" ]]; then
  echo "tui: building upivia-cli" >&2
  (cd "$REPO" && cargo build --quiet --workspace --all-features --bins)
  UPIVIA_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/upivia"
fi
if [[ ! -x "$UPIVIA_BIN" ]]; then
  echo "tui: server binary not found at $UPIVIA_BIN" >&2
  exit 1
fi
export UPIVIA_BIN TUI_VENV="$VENV"

exec "$VENV/bin/python" "$REPO/tests/tui/drive.py"

#!/usr/bin/env bash
# MCP suite: drives the server's /mcp endpoint, and the `upivia mcp` stdio
# bridge, with the official `mcp` Python SDK from PyPI (an off-the-shelf
# MCP client). The tests start their own servers (see conftest.py).
#
#   bash tests/mcp/run.sh                  # build the server, run everything
#   UPIVIA_BIN=/path/to/upivia bash tests/mcp/run.sh -k stdio
#
# Environment: MCP_VENV (default $REPO/target/venv-mcp), UPIVIA_BIN (skip the
# cargo build and use this binary), PYTHON (default python3),
# UPIVIA_INTEROP_POSTGRES_URL (run the servers on PostgreSQL; the two-node
# test needs it and is skipped without it). Extra arguments go to pytest.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MCP_VENV:-$REPO/target/venv-mcp}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "mcp: creating virtualenv at $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==2.3.0" "upivia==0.2.0" "pytest>=7"

if [[ -z "${UPIVIA_BIN:-}" ]]; then
  echo "mcp: building upivia-cli" >&2
  (cd "$REPO" && cargo build --quiet --workspace --all-features --bins)
  UPIVIA_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/upivia"
fi
if [[ ! -x "$UPIVIA_BIN" ]]; then
  echo "mcp: server binary not found at $UPIVIA_BIN" >&2
  exit 1
fi
export UPIVIA_BIN

cd "$REPO"
exec "$VENV/bin/python" -m pytest tests/mcp -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Python SDK interop suite: drives this server with the official, unmodified
# `upivia==0.2.0` SDK from PyPI. The tests start their own servers.
#
#   bash tests/interop/run.sh              # build the server, run everything
#   UPIVIA_BIN=/path/to/upivia bash tests/interop/run.sh -k approvals
#
# Environment: INTEROP_VENV (default $REPO/.venv-interop), UPIVIA_BIN (skip the
# cargo build and use this binary), PYTHON (default python3). Extra arguments
# go to pytest.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${INTEROP_VENV:-$REPO/.venv-interop}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "interop: creating virtualenv at $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "upivia==0.2.0" "pytest>=7" "aiosmtpd>=1.4" "websockets>=12,<16"
# The terminal client's REST adapter, its `init` and its socket transport
# (upivia_tui.client, .commands and .wsclient need only httpx, the SDK and
# websockets); its UI dependencies are not needed for the calls tested here.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "upivia-tui==0.3.0"

if [[ -z "${UPIVIA_BIN:-}" ]]; then
  echo "interop: building upivia-cli" >&2
  (cd "$REPO" && cargo build --quiet --workspace --all-features --bins)
  UPIVIA_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/upivia"
fi
if [[ ! -x "$UPIVIA_BIN" ]]; then
  echo "interop: server binary not found at $UPIVIA_BIN" >&2
  exit 1
fi
export UPIVIA_BIN

cd "$REPO"
exec "$VENV/bin/python" -m pytest tests/interop -q "$@"

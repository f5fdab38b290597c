#!/usr/bin/env bash
# Browser tests of the web console: headless Debian Chromium driven by
# playwright-core (pinned in package.json) against a real `upivia serve --dev`
# that the test script starts on a free loopback port with a temp data dir.
#
#   bash tests/console/run.sh                 # build the server, run the tests
#   UPIVIA_BIN=/path/to/upivia bash tests/console/run.sh
#
# Screenshots go to docs/console/*.png.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "console: installing chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
(cd "$HERE" && { npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; })

if [[ -z "${UPIVIA_BIN:-}" ]]; then
  echo "console: building the server" >&2
  (cd "$REPO" && cargo build --quiet --workspace --all-features --bins)
  UPIVIA_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/upivia"
fi
export UPIVIA_BIN
export CONSOLE_SHOTS="$REPO/docs/console"
mkdir -p "$CONSOLE_SHOTS"
cd "$HERE"
exec node --test --test-concurrency=1 console.test.mjs

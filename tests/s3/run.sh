#!/usr/bin/env bash
# The storage integration tests on S3: starts moto (an S3 fake) on a free
# loopback port, creates a bucket, and runs the `it` suite's storage and
# knowledge tests with UPIVIA_TEST_S3_URL set, so that every test server
# keeps its objects in that bucket, under a prefix of its own.
#
#   bash tests/s3/run.sh                         # storage and knowledge tests
#   bash tests/s3/run.sh storage::listing        # other test filters
#   bash tests/s3/run.sh ''                      # the whole suite (an empty
#                                                # filter matches every test)
#
# Arguments replace the default filters and go to the test binary (after
# `--`). Environment: S3_VENV (default ${TMPDIR:-/tmp}/upivia-s3-venv,
# reused when present), MOTO_VERSION (default 5.2.5), PYTHON (default
# python3). The exit code is cargo's (or 1 when the default tests passed
# but left nothing in the bucket: then they did not run on S3).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${S3_VENV:-${TMPDIR:-/tmp}/upivia-s3-venv}"
PYTHON="${PYTHON:-python3}"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
BUCKET=upivia-test
REGION=us-east-1

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "s3: creating virtualenv at $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
# moto[server] brings boto3 along.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"

# Dummy credentials: moto takes any; object_store and boto3 need some.
export AWS_ACCESS_KEY_ID=upivia-test AWS_SECRET_ACCESS_KEY=upivia-test
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"
export AWS_EC2_METADATA_DISABLED=true
# Loopback never goes through a proxy the machine may name.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

LOG="$(mktemp "${TMPDIR:-/tmp}/upivia-moto.XXXXXX.log")"
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ENDPOINT="http://127.0.0.1:$PORT"

"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
# shellcheck disable=SC2317  # run by the traps
stop_moto() {
  kill "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
  rm -f "$LOG"
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Up when it answers anything over HTTP (for up to 30 s).
ready=false
for _ in $(seq 1 60); do
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "s3: moto_server exited; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  if "$VENV/bin/python" - "$ENDPOINT" 2>/dev/null <<'PY'; then ready=true; break; fi
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/", timeout=1)
except urllib.error.HTTPError:
    pass
PY
  sleep 0.5
done
if [[ $ready != true ]]; then
  echo "s3: moto_server did not answer at $ENDPOINT within 30 s; its log:" >&2
  cat "$LOG" >&2
  exit 1
fi

"$VENV/bin/python" - "$ENDPOINT" "$BUCKET" <<'PY'
import sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
PY
echo "s3: moto $MOTO_VERSION at $ENDPOINT, bucket $BUCKET" >&2

export UPIVIA_TEST_S3_URL="s3://$BUCKET?endpoint=$ENDPOINT&region=$REGION&allow_http=true"

DEFAULT_FILTERS=false
if [[ $# -eq 0 ]]; then
  set -- storage knowledge
  DEFAULT_FILTERS=true
fi
cd "$REPO"
set +e
cargo test --workspace --all-features --test it -- "$@"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "s3: cargo test failed; the last requests moto saw:" >&2
  tail -n 40 "$LOG" >&2
fi

# The default tests leave objects behind (moto forgets them on exit): none
# in the bucket means the servers wrote elsewhere, and S3 went untested.
if [[ $rc -eq 0 && $DEFAULT_FILTERS == true ]]; then
  left="$("$VENV/bin/python" - "$ENDPOINT" "$BUCKET" <<'PY'
import sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
pages = boto3.client("s3", endpoint_url=endpoint).get_paginator("list_objects_v2")
print(sum(page.get("KeyCount", 0) for page in pages.paginate(Bucket=bucket)))
PY
)"
  echo "s3: the tests left $left objects in the bucket" >&2
  if [[ $left -eq 0 ]]; then
    echo "s3: no object reached the bucket: the test servers did not use S3" >&2
    rc=1
  fi
fi

# The 100 MB upload with bounded memory, and ingestion through a kill -9,
# on real `upivia serve` processes (they inherit UPIVIA_STORAGE_URL): the
# only tests whose bodies span several S3 multipart parts.
if [[ $rc -eq 0 && $DEFAULT_FILTERS == true ]]; then
  set +e
  UPIVIA_STORAGE_URL="s3://$BUCKET/process?endpoint=$ENDPOINT&region=$REGION&allow_http=true" \
    cargo test --workspace --all-features --test content_process
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    echo "s3: content_process failed; the last requests moto saw:" >&2
    tail -n 40 "$LOG" >&2
  fi
fi
exit "$rc"

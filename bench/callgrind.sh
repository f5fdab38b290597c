#!/usr/bin/env bash
# Instructions per request under callgrind: a count that does not depend on
# how fast or how busy the machine is.
#
# Method. Each target's server runs under `valgrind --tool=callgrind` twice,
# the same way both times: start, the load generator's setup (credit,
# agents), WARMUP requests, the final balance read, SIGTERM, a clean exit
# (callgrind writes its counts then). Run B makes REQUESTS more requests
# than run A, and
#
#     instructions per request = (Ir(B) − Ir(A)) / REQUESTS
#
# Everything but those requests is in both runs and cancels: startup
# (migrations, the owner's Argon2 hash, recovery), setup, the warm-up (first
# connections, lazily built caches, the first pages of each B-tree) and the
# clean stop. What is left is REQUESTS requests after warm-up, their share
# of group commits, WAL checkpoints and the syncer included. The background
# workers and audit checkpoints run on timers, so their count would grow
# with the run's wall-clock time (and callgrind slows the server ~50×): they
# are put an hour apart here (CALLGRIND_SERVE_ARGS), after their first pass
# at start, which both runs make. The load generator runs natively, outside
# valgrind; only the server is counted. The ledger check is skipped (it
# reads the whole ledger: its cost grows with the run).
#
#   bench/callgrind.sh
#
# env: REQUESTS (2000), WARMUP (200), CONCURRENCY (4), AGENTS (4),
#      TARGETS ("echo sqlite"; governed targets as in bench/lib.sh),
#      REPEAT (1: pairs of runs per target), UPIVIA_BIN / LOAD_BIN,
#      CALLGRIND_SERVE_ARGS, KEEP=DIR (keep the callgrind.out files there,
#      for callgrind_annotate), NO_BUILD=1.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

requests=${REQUESTS:-2000}
warmup=${WARMUP:-200}
concurrency=${CONCURRENCY:-4}
agents=${AGENTS:-4}
repeat=${REPEAT:-1}
read -r -a targets <<<"${TARGETS:-echo sqlite}"
export EXTRA_SERVE_ARGS=${CALLGRIND_SERVE_ARGS:---worker-interval-ms 3600000 --audit-checkpoint-interval-secs 3600}

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p upivia-cli
fi

work=$(mktemp -d)
trap 'stop_target 2>/dev/null; rm -rf "$work"' EXIT
PIDS=()
echo "server: $UPIVIA_BIN ($(sha256sum "$UPIVIA_BIN" | cut -c1-12)); load: $LOAD_BIN"
echo "machine: $(machine_load) at start"
echo "requests: $warmup warm-up, then $requests counted, at concurrency $concurrency"

# count NAME N LABEL: one server under callgrind, N requests; prints the
# total Ir of its processes.
count() {
    local name=$1 n=$2 label=$3 dir extra=() out
    dir=$(mktemp -d -p "$work")
    start_target "$name" "$dir" valgrind --tool=callgrind \
        --callgrind-out-file="$dir/callgrind.out.%p"
    if [ "$name" = echo ]; then
        extra=(--echo)
    else
        extra=(--data-dir "$CRED_DIR" --agents "$agents" --no-ledger-check)
    fi
    out=$("$LOAD_BIN" bench --base-url "$BASES" --concurrency "$concurrency" \
        --requests "$n" --json "${extra[@]}") || {
        echo "$name: the load generator reported a problem:" >&2
        echo "$out" >&2
        exit 1
    }
    stop_target
    PIDS=()
    if [ "$(echo "$out" | jq .requests)" != "$n" ]; then
        echo "$name: $n requests asked, $(echo "$out" | jq .requests) made" >&2
        exit 1
    fi
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP"
        for f in "$dir"/callgrind.out.*; do
            cp "$f" "$KEEP/$name.$label.$(basename "$f")"
        done
    fi
    awk '/^totals:/ {s += $2} END {print s}' "$dir"/callgrind.out.*
    rm -rf "$dir"
}

echo
echo "| target | Ir, $warmup requests | Ir, $((warmup + requests)) requests | instructions/request |"
echo "|---|---:|---:|---:|"
for name in "${targets[@]}"; do
    for r in $(seq "$repeat"); do
        a=$(count "$name" "$warmup" "a$r")
        b=$(count "$name" "$((warmup + requests))" "b$r")
        printf '| %s | %d | %d | %d |\n' "$name" "$a" "$b" $(((b - a) / requests))
    done
done
echo "machine: $(machine_load) at end"

#!/usr/bin/env bash
# Compares two builds of `upivia` on the governed-request load, alternating
# them so that both see the same machine noise. Each run starts a fresh
# server on a temp data dir, drives it from a second process with
# `upivia bench`, and reports requests/s, latency and the server's own CPU
# time per request (utime + stime from /proc, which noise disturbs far less
# than throughput).
#
#   bench/server_ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#   env: DURATION (s, default 10), CONCURRENCY (default 64), PORT (default 3802)
set -euo pipefail

old=$1
new=$2
rounds=${3:-3}
duration=${DURATION:-10}
concurrency=${CONCURRENCY:-64}
port=${PORT:-3802}
ticks=$(getconf CLK_TCK)

run() {
    local bin=$1 label=$2 dir
    dir=$(mktemp -d)
    "$bin" serve --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
    local server=$!
    for _ in $(seq 50); do
        [ -f "$dir/data/initial-credentials.json" ] && break
        sleep 0.1
    done
    local before after out requests
    before=$(awk '{print $14 + $15}' "/proc/$server/stat")
    out=$("$bin" bench --base-url "http://127.0.0.1:$port" --data-dir "$dir/data" \
        --concurrency "$concurrency" --duration-secs "$duration" --agents 8 2>&1)
    after=$(awk '{print $14 + $15}' "/proc/$server/stat")
    kill "$server"
    wait "$server" 2>/dev/null || true
    requests=$(echo "$out" | awk '/^requests/ {print $2}')
    printf '%-4s %s  server CPU %d us/request  %s\n' "$label" \
        "$(echo "$out" | grep -E '^(throughput|latency)' | tr -s ' ' | tr '\n' ' ')" \
        $(( (after - before) * 1000000 / ticks / requests )) \
        "$(echo "$out" | grep -E '^(money|ledger check)' | tr -s ' ' | tr '\n' ' ')"
    rm -rf "$dir"
}

for _ in $(seq "$rounds"); do
    run "$old" old
    run "$new" new
done

#!/usr/bin/env bash
# The governed request against the machine's HTTP ceiling, in one run.
# Each round measures the bare axum JSON echo (`upivia bench echo-server`,
# same binary, same accept loop) and then each governed target with the
# same load generator, concurrency, duration and request body, each on a
# fresh server (governed: fresh data dir); the ratio governed / echo of a
# round is taken from those two back-to-back measurements, so both saw the
# same machine. The summary is the median over rounds.
#
#   bench/ratio.sh [ROUNDS]          (default 3)
#
# env: DURATION (s, default 10), CONCURRENCY (64), AGENTS (8), PORT (3900:
#      echo there, governed nodes on PORT+1…), TARGETS (governed targets,
#      default "sqlite"; see bench/lib.sh for SERVE_ARGS_<NAME>, NODES_<NAME>,
#      SETUP_<NAME>), UPIVIA_BIN / LOAD_BIN, NO_BUILD=1 (skip the build).
#
# SQLite beside PostgreSQL over three nodes, in one run: the command is in
# docs/benchmarks.md, "PostgreSQL".
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

rounds=${1:-3}
duration=${DURATION:-10}
concurrency=${CONCURRENCY:-64}
agents=${AGENTS:-8}
read -r -a governed <<<"${TARGETS:-sqlite}"
ticks=$(getconf CLK_TCK)

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p upivia-cli
fi

work=$(mktemp -d)
trap 'stop_target 2>/dev/null; rm -rf "$work"' EXIT
PIDS=()
echo "machine: $(machine_load) at start"
echo "load: concurrency $concurrency, $duration s per measurement, $agents agents, $rounds rounds"

# measure ROUND NAME: one fresh server, one load; appends a result line
# "round name rps p50 p99 cpu_us_per_request db_cpu_us_per_request outcomes"
# to $work/results.
measure() {
    local round=$1 name=$2 dir out before after extra=()
    dir=$(mktemp -d -p "$work")
    start_target "$name" "$dir"
    if [ "$name" = echo ]; then
        extra=(--echo)
    else
        extra=(--data-dir "$CRED_DIR" --agents "$agents")
    fi
    before=$(cpu_ticks)
    db_before=$(db_ticks)
    out=$("$LOAD_BIN" bench --base-url "$BASES" --concurrency "$concurrency" \
        --duration-secs "$duration" --json "${extra[@]}") || {
        echo "$name: the load generator reported a problem:" >&2
        echo "$out" >&2
        exit 1
    }
    after=$(cpu_ticks)
    db_after=$(db_ticks)
    stop_target
    PIDS=()
    echo "$out" | jq -r --arg round "$round" --arg name "$name" \
        --argjson cpu "$(((after - before) * 1000000 / ticks))" \
        --argjson db "$(((db_after - db_before) * 1000000 / ticks))" '
        [$round, $name, (.requests_per_s | floor), .latency_ms.p50, .latency_ms.p99,
         ($cpu / .requests | floor), ($db / .requests | floor),
         (.outcomes | to_entries | map("\(.key)=\(.value)") | join(","))
         + (if .mode == "governed" then
              ",charged_once=\(.charged_once),ledger_ok=\(.ledger_ok)" else "" end)]
        | join(" ")' >>"$work/results"
    tail -n 1 "$work/results"
    rm -rf "$dir"
}

echo "round target requests/s p50_ms p99_ms server_cpu_us/request postgres_cpu_us/request outcomes"
for round in $(seq "$rounds"); do
    measure "$round" echo
    for name in "${governed[@]}"; do
        measure "$round" "$name"
    done
done
echo "machine: $(machine_load) at end"

# Per round, each target over that round's echo; then medians.
echo
echo "| target | requests/s | p50 ms | p99 ms | server CPU µs/request | PostgreSQL CPU µs/request | throughput ÷ echo | CPU/request ÷ echo |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { r = $1; t = $2; rps[r, t] = $3; p50[t] = p50[t] " " $4; p99[t] = p99[t] " " $5
      cpu[r, t] = $6; tput[t] = tput[t] " " $3; c[t] = c[t] " " $6; d[t] = d[t] " " $7
      if (!(t in seen)) { seen[t] = 1; order[++n] = t } }
    END {
        for (k = 1; k <= n; k++) {
            t = order[k]; rr = ""; cr = ""
            for (r = 1; (r, t) in rps; r++) {
                rr = rr " " rps[r, t] / rps[r, "echo"]
                cr = cr " " (cpu[r, "echo"] > 0 ? cpu[r, t] / cpu[r, "echo"] : 0)
            }
            printf "| %s | %d | %.2f | %.2f | %d | %d | %.3f | %.2f |\n", t, median(tput[t]),
                median(p50[t]), median(p99[t]), median(c[t]), median(d[t]), median(rr), median(cr)
        }
    }' "$work/results"
echo "(medians over $rounds rounds; each ratio is taken within a round, then the median)"

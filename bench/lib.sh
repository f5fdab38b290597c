# Sourced by ratio.sh and callgrind.sh: starting and stopping what they
# measure. A target is `echo` (the bare axum JSON echo, `upivia bench
# echo-server`, the machine's HTTP ceiling) or the name of a governed
# configuration, read from the environment (NAME as written in TARGETS):
#
#   SERVE_ARGS_<NAME>  more `upivia serve` arguments (default none: SQLite in
#                      the node's own data dir), e.g. --database-url postgres://…
#   NODES_<NAME>       how many `upivia serve` processes (default 1), on ports
#                      PORT+1, PORT+2, …, each with a data dir of its own; the
#                      load is spread over them
#   SETUP_<NAME>       a shell command run before they start (e.g. drop and
#                      create the database)
#
# EXTRA_SERVE_ARGS go to every `upivia serve` of every target. UPIVIA_BIN is
# the server binary (default target/release/upivia); LOAD_BIN
# the load generator (default UPIVIA_BIN), so an older server build can be
# driven by the current `upivia bench`. Loopback only.

UPIVIA_BIN=${UPIVIA_BIN:-target/release/upivia}
LOAD_BIN=${LOAD_BIN:-$UPIVIA_BIN}
PORT=${PORT:-3900}

# The governed configuration NAME's variable VAR (e.g. NODES), or DEFAULT.
target_var() {
    local var="${2}_$1"
    echo "${!var:-$3}"
}

# start_target NAME DIR [WRAPPER…]: starts NAME's processes (under WRAPPER,
# e.g. valgrind, when given), logs in DIR, and waits until each answers.
# Sets PIDS (their process ids), BASES (their base URLs, comma-separated)
# and CRED_DIR (the data dir holding initial-credentials.json).
start_target() {
    local name=$1 dir=$2
    shift 2
    PIDS=()
    BASES=""
    CRED_DIR=""
    local ports=()
    if [ "$name" = echo ]; then
        "$@" "$UPIVIA_BIN" bench echo-server --listen "127.0.0.1:$PORT" >"$dir/echo.log" 2>&1 &
        PIDS=($!)
        ports=("$PORT")
    else
        local nodes setup args i
        nodes=$(target_var "$name" NODES 1)
        setup=$(target_var "$name" SETUP "")
        args="$(target_var "$name" SERVE_ARGS "") ${EXTRA_SERVE_ARGS:-}"
        if [ -n "$setup" ]; then
            bash -c "$setup" >&2
        fi
        # The first node alone, then the others: it bootstraps the
        # organisation and creates any key file the nodes share.
        for i in $(seq "$nodes"); do
            # shellcheck disable=SC2086 # SERVE_ARGS_* are words on purpose
            "$@" "$UPIVIA_BIN" serve --data-dir "$dir/node$i" --listen "127.0.0.1:$((PORT + i))" \
                $args >"$dir/node$i.log" 2>&1 &
            PIDS+=($!)
            ports+=("$((PORT + i))")
            if [ "$i" = 1 ]; then
                wait_serving "$((PORT + 1))" "$dir/node1.log"
            fi
        done
    fi
    local k
    for k in "${!ports[@]}"; do
        BASES+="${BASES:+,}http://127.0.0.1:${ports[$k]}"
        if [ "$name" = echo ]; then
            wait_serving "${ports[$k]}" "$dir/echo.log"
        elif [ "$k" != 0 ]; then
            wait_serving "${ports[$k]}" "$dir/node$((k + 1)).log"
        fi
    done
    if [ "$name" != echo ]; then
        for i in $(seq "${#ports[@]}"); do
            if [ -f "$dir/node$i/initial-credentials.json" ]; then
                CRED_DIR=$dir/node$i
                break
            fi
        done
        if [ -z "$CRED_DIR" ]; then
            echo "no node of $name wrote initial-credentials.json (see $dir/node*.log)" >&2
            return 1
        fi
    fi
}

# Waits (up to 10 minutes: callgrind starts slowly) for LOG to say the
# server is serving, then for PORT to answer HTTP. (Polling the port alone
# would leave connections queued while the server prepares, which it then
# accepts: a varying amount of work in the counts.)
wait_serving() {
    local port=$1 log=$2 _
    for _ in $(seq 1200); do
        if grep -q "is serving" "$log" 2>/dev/null \
            && curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/"; then
            return 0
        fi
        sleep 0.5
    done
    echo "nothing serves on port $port (see $log)" >&2
    return 1
}

# Stops PIDS with SIGTERM (a clean stop: callgrind writes its counts then),
# and kills what is still running after 10 minutes.
stop_target() {
    local pid _
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 6000); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "process $pid did not stop on SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# utime + stime of PIDS, in clock ticks.
cpu_ticks() {
    local pid total=0 t
    for pid in "${PIDS[@]}"; do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        total=$((total + t))
    done
    echo "$total"
}

# CPU time of every PostgreSQL process, in clock ticks: the database's
# share of a governed request on PostgreSQL. utime + stime of each, plus
# the reaped children's (cutime + cstime: the postmaster's ended
# backends), so a connection closing mid-run loses nothing. Counts any
# other database on the server too; on SQLite it shows that.
db_ticks() {
    local pid total=0 t
    for pid in $(pgrep -u postgres 2>/dev/null); do
        t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

machine_load() {
    echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

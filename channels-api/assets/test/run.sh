#!/usr/bin/env bash
# Runs the JavaScript client's tests and the debugger page's browser tests against real
# polls servers.
#
#   channels-api/assets/test/run.sh [node --test options...]
#
# Installs the test dependencies, builds the polls example and starts it twice on free
# loopback ports with in-memory SQLite databases: once as is, once with --debug (serving
# the debugger page). Waits for both, runs `node --test client.test.mjs browser.test.mjs`
# with CHANNELS_API_TEST_WS_URL and CHANNELS_API_TEST_HTTP_URL_NODEBUG pointing at the
# first and CHANNELS_API_TEST_HTTP_URL at the second, and always stops both servers.
# Extra arguments go to `node --test` (e.g. --test-reporter=spec). Cargo honours
# CARGO_TARGET_DIR as usual.
#
# The browser tests run Chromium from CHROMIUM (default /usr/bin/chromium, Debian's
# `chromium` package) and are skipped without it, unless CI=true, where that fails.
# Screenshots go to CHANNELS_API_TEST_ARTIFACTS (default <repo>/target/browser-artifacts/);
# UPDATE_SCREENSHOT=1 also refreshes docs/debugger.png.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
log="$(mktemp "${TMPDIR:-/tmp}/polls-server.XXXXXX.log")"
debug_log="$(mktemp "${TMPDIR:-/tmp}/polls-server-debug.XXXXXX.log")"
server_pid=""
debug_server_pid=""

# Stops a server started by start_server: its whole process group (it runs in its own).
stop_server() {
    local pid="$1"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
}

cleanup() {
    local status=$?
    stop_server "$server_pid"
    stop_server "$debug_server_pid"
    if [ "$status" -ne 0 ]; then
        for file in "$log" "$debug_log"; do
            if [ -s "$file" ]; then
                echo "--- polls server log ($file) ---" >&2
                tail -n 40 "$file" >&2
            fi
        done
    fi
    [ "$status" -ne 0 ] || rm -f "$log" "$debug_log"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> installing test dependencies"
cd "$here"
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi

echo "==> building the polls example"
cd "$root"
cargo build --example polls

# Two distinct free ports: both listeners are open at once when the ports are picked.
port="" debug_port=""
read -r port debug_port < <(node -e '
const net = require("node:net");
const a = net.createServer(), b = net.createServer();
a.listen(0, "127.0.0.1", () => b.listen(0, "127.0.0.1", () => {
  console.log(a.address().port, b.address().port);
  a.close(); b.close();
}));
') || true
if [ -z "$port" ] || [ -z "$debug_port" ]; then
    echo "error: could not pick free ports" >&2
    exit 1
fi

# start_server PORT LOG [polls options...]: starts the polls example in its own process
# group with an in-memory database; sets started_pid.
start_server() {
    local port="$1" log="$2"
    shift 2
    DATABASE_URL="sqlite::memory:" setsid cargo run --example polls -- \
        --addr "127.0.0.1:$port" "$@" >"$log" 2>&1 </dev/null &
    started_pid=$!
}

# wait_for_server PID PORT WHAT: waits (at most 60 s) until the server accepts connections.
wait_for_server() {
    local pid="$1" port="$2" what="$3"
    local deadline=$((SECONDS + 60))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: the $what exited before accepting connections" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: the $what did not accept connections on port $port within 60 s" >&2
            exit 1
        fi
        sleep 0.2
    done
}

echo "==> starting the polls example on 127.0.0.1:$port (log: $log)"
start_server "$port" "$log"
server_pid=$started_pid

echo "==> starting the polls example with --debug on 127.0.0.1:$debug_port (log: $debug_log)"
start_server "$debug_port" "$debug_log" --debug
debug_server_pid=$started_pid

wait_for_server "$server_pid" "$port" "polls server"
wait_for_server "$debug_server_pid" "$debug_port" "polls server with --debug"

url="ws://127.0.0.1:$port/"
echo "==> running the tests against $url and http://127.0.0.1:$debug_port/channels-api/"
cd "$here"
CHANNELS_API_TEST_WS_URL="$url" \
CHANNELS_API_TEST_HTTP_URL="http://127.0.0.1:$debug_port" \
CHANNELS_API_TEST_HTTP_URL_NODEBUG="http://127.0.0.1:$port" \
    node --test "$@" client.test.mjs browser.test.mjs

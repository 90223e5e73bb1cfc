#!/usr/bin/env bash
# Runs the JavaScript client's tests against a real polls server.
#
#   channels-api/assets/test/run.sh [node --test options...]
#
# Installs the test dependencies, builds and starts the polls example on a free loopback
# port with an in-memory SQLite database, waits for it, runs `node --test` with
# CHANNELS_API_TEST_WS_URL pointing at it, and always stops the server. Extra arguments go
# to `node --test` (e.g. --test-reporter=spec). Cargo honours CARGO_TARGET_DIR as usual.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
log="$(mktemp "${TMPDIR:-/tmp}/polls-server.XXXXXX.log")"
server_pid=""

cleanup() {
    local status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        # The server runs in its own process group: stop the whole group.
        kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$server_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -s "$log" ]; then
        echo "--- polls server log ($log) ---" >&2
        tail -n 40 "$log" >&2
    fi
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

port="$(node -e '
const server = require("node:net").createServer();
server.listen(0, "127.0.0.1", () => { console.log(server.address().port); server.close(); });
')"
url="ws://127.0.0.1:$port/"

echo "==> starting the polls example on 127.0.0.1:$port (log: $log)"
DATABASE_URL="sqlite::memory:" setsid cargo run --example polls -- --addr "127.0.0.1:$port" \
    >"$log" 2>&1 </dev/null &
server_pid=$!

deadline=$((SECONDS + 60))
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the polls server exited before accepting connections" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "error: the polls server did not accept connections on port $port within 60 s" >&2
        exit 1
    fi
    sleep 0.2
done

echo "==> running the tests against $url"
cd "$here"
CHANNELS_API_TEST_WS_URL="$url" node --test "$@" client.test.mjs

#!/usr/bin/env bash
# Context switches, futex calls and SQLite page reads (`pread` calls: pages missing from a
# connection's page cache) per request of the framework and the baseline server, counted
# by `perf stat` on the server process during one closed-loop run of a workload. Counts,
# unlike times, barely move with other load on the machine.
#
#   bench/perfstat.sh                 # retrieve, 10 s, on a temporary SQLite file
#   bench/perfstat.sh mixed 5         # another workload and duration
#
# Needs `perf` (Debian's linux-perf) and the syscalls tracepoints.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=${1:-retrieve}
seconds=${2:-10}
command -v perf >/dev/null || { echo "perfstat: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release -q -p channels-api-bench
bench=target/release/channels-api-bench
work=$(mktemp -d)
trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT

for kind in framework baseline; do
    db="sqlite://$work/$kind.sqlite3"
    fifo="$work/$kind.in"
    mkfifo "$fifo"
    # The server exits when its standard input closes.
    taskset -c 0 "$bench" serve --kind "$kind" --db "$db" --exit-on-stdin-eof <"$fifo" >"$work/$kind.out" &
    server=$!
    exec {hold}>"$fifo"
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/$kind.out" && break
        sleep 0.1
    done
    addr=$(sed -n 's/^listening on //p' "$work/$kind.out")
    # Seed and warm up, then count during a run of its own.
    taskset -c 1 "$bench" load --addr "$addr" --db "$db" --workload "$workload" --duration 1 >/dev/null
    perf stat -x, -e context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_pread64 -p "$server" -o "$work/$kind.perf" &
    perf=$!
    result=$(taskset -c 1 "$bench" load --addr "$addr" --db "$db" --workload "$workload" --duration "$seconds")
    kill -INT "$perf"
    wait "$perf" || true
    exec {hold}>&-
    wait "$server" || true
    rate=$(echo "$result" | sed -n "s/.*[^0-9,]\([0-9][0-9,]*\) req\/s.*/\1/p" | tr -d ,)
    switches=$(awk -F, '/context-switches/ {print $1}' "$work/$kind.perf")
    futex=$(awk -F, '/sys_enter_futex/ {print $1}' "$work/$kind.perf")
    reads=$(awk -F, '/sys_enter_pread64/ {print $1}' "$work/$kind.perf")
    requests=$(( rate * seconds ))
    awk -v k="$kind" -v w="$workload" -v r="$rate" -v s="$switches" -v f="$futex" -v p="$reads" -v n="$requests" \
        'BEGIN { printf "%-9s %s: %s req/s, %.2f context switches, %.2f futex calls and %.2f page reads per request\n", k, w, r, s / n, f / n, p / n }'
done

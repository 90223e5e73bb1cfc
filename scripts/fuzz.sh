#!/usr/bin/env bash
# Runs each fuzz target of fuzz/ for SECONDS (default 30), one after the other, on one
# core, starting from the seed corpus in fuzz/corpus/<target>/. New inputs go to a scratch
# corpus under fuzz/target/, so the committed seeds stay as they are; a crash stops the
# script with its input saved in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh          # 30 s per target
#   scripts/fuzz.sh 600      # 10 minutes per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`, installed here when missing). The toolchain
# is stable, so the targets build without a sanitizer (`--sanitizer none`): libFuzzer's
# coverage guidance works, and Rust's own checks (bounds, overflow, debug assertions)
# catch what a sanitizer would in safe code.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(request handshake frames)

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

cd fuzz
cargo fuzz build --sanitizer none
for target in "${targets[@]}"; do
    printf '\n==> fuzz %s for %s s\n' "$target" "$seconds"
    scratch=target/corpus/$target
    log=target/$target.log
    mkdir -p "$scratch"
    # In-process, one thread: one core. The full output is in fuzz/target/<target>.log.
    status=0
    cargo fuzz run --sanitizer none "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        echo "error: $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done

#!/usr/bin/env bash
# Runs every cargo-fuzz target for a few seconds each (default 20), seeded from the
# committed corpora. Needs the nightly toolchain; installs cargo-fuzz when missing.
# Fails when any target crashes, leaks or times out.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz build -O
log=$(mktemp)
status=0
for t in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$t"
    echo "==> fuzz $t for ${secs}s"
    if ! cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" \
        -print_final_stats=1 >"$log" 2>&1; then
        echo "FAILED: $t"; tail -n 40 "$log"; status=1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
done
rm -f "$log"
exit $status

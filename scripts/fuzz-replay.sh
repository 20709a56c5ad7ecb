#!/usr/bin/env bash
# Build the fuzz targets (stable toolchain; libFuzzer's driver without coverage
# instrumentation) and run each once over its saved inputs. Exploring needs cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
cargo build --locked --bins
for target in parse_message endpoint parse_sdp; do
    files=(seeds/$target/*)
    [ -d "corpus/$target" ] && files+=(corpus/$target/*)
    ./target/debug/$target -runs=0 "${files[@]}" 2>&1 | tail -n 2
    echo "fuzz replay $target: ${#files[@]} inputs ok"
done

#!/usr/bin/env bash
# Runs every test of svar. Installs the real SIP peers the interop tests need (SIPp and
# baresip, from Debian's packages) when they are missing, builds the release binary the
# interop tests run against, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} from Debian's packages"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# the store story runs against PostgreSQL too (SQLite always)
if [ -z "${SVAR_TEST_POSTGRES_URL:-}" ]; then
    if url=$(bash scripts/postgres-for-tests.sh); then
        export SVAR_TEST_POSTGRES_URL="$url"
        echo "PostgreSQL for the store tests: $url"
    else
        echo "no PostgreSQL could be started: the PostgreSQL store story will be skipped"
    fi
fi

cargo build --release --locked -p server --bin svar
export SVAR_BIN="$PWD/target/release/svar"
cargo test --workspace --locked

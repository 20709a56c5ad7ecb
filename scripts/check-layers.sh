#!/usr/bin/env bash
# The layer rule (ARCHITECTURE.md): crates in layers 0-2 are pure. They must not pull in
# an async runtime, a database driver or a web framework, not even indirectly.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for crate in sip-msg sdp rtp media sip calendar policy acd ivr pbx store; do
    deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)
    bad=$(echo "$deps" | grep -E '^(tokio|sqlx|sqlx-core|rusqlite|axum|hyper|mio|async-std|reqwest)$' || true)
    if [ -n "$bad" ]; then
        echo "layer violation: $crate depends on: $bad"
        status=1
    fi
done
[ $status -eq 0 ] && echo "layers ok: sip-msg, sdp, rtp, media, sip, calendar, policy, acd, ivr, pbx, store are free of runtimes, databases and web frameworks"
exit $status

#!/usr/bin/env bash
# Install the application suite of `ddclab reproduce ddc-requirements`:
# memcached and Redis from the distribution, the C helpers (memkernel, ycsbgen)
# compiled into ~/.cache/ddclab/apps; Spark: Java 17 (apt) and pyspark (pip,
# into the project's .venv, not a core dependency) plus the generated tiny and
# small datasets; timely-pagerank: `cargo build --release` of apps/timely-pagerank
# (needs crates.io once). Idempotent: installed apps are skipped.
# Usage: scripts/setup-apps.sh [APP,APP...]   (default: every app)
#        e.g. scripts/setup-apps.sh spark-wordcount,timely-pagerank
set -euo pipefail
cd "$(dirname "$0")/.."
DDCLAB=${DDCLAB:-.venv/bin/ddclab}
if [ ! -x "$DDCLAB" ]; then
    echo "error: $DDCLAB not found: run 'make build' first" >&2
    exit 2
fi
if [ $# -gt 0 ]; then
    exec "$DDCLAB" reproduce ddc-requirements --setup --apps "$1"
fi
exec "$DDCLAB" reproduce ddc-requirements --setup

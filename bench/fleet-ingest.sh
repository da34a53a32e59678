#!/usr/bin/env bash
# The fleet store at scale (issue 13): INGEST_VEHICLES simulated vehicles × INGEST_RECORDS records
# (default 100,000 × 100 = 10 million) upload through nginx (mutual TLS) to `ota-fleet serve` on
# PostgreSQL, then compliance queries and one streamed JSON Lines export of every entry, with the
# service's RSS before and after it (flat memory: the export is streamed from a cursor).
# bench/fleet.sh does the work; results in bench/results/fleet-ingest.json.
# Smaller runs: INGEST_VEHICLES=20000 INGEST_RECORDS=100 bench/fleet-ingest.sh (docs/PERFORMANCE.md).
# Usage: bench/fleet-ingest.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
FLEET_STORES=postgres FLEET_VEHICLES=${INGEST_VEHICLES:-100000} FLEET_RECORDS=${INGEST_RECORDS:-100} \
    FLEET_CONCURRENCY=${INGEST_CONCURRENCY:-32} FLEET_REPEATS=${INGEST_REPEATS:-3} \
    FLEET_RESULTS=bench/results/fleet-ingest.json exec bench/fleet.sh "$@"

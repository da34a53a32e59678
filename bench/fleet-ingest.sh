#!/usr/bin/env bash
# The fleet store at scale (issue 13): INGEST_VEHICLES simulated vehicles × INGEST_RECORDS records
# (default 100,000 × 100 = 10 million) upload through nginx (mutual TLS) to `ota-fleet serve` on
# PostgreSQL (durable: fsync on), then one streamed JSON Lines export of every entry, with the
# service's RSS before, after and at its highest during it (flat memory: the export is streamed
# from a cursor), then the compliance queries. The period queries ask for one hour of the third
# day: each simulated vehicle records once an hour from 2026-01-01 plus its index in seconds, so at
# the defaults every vehicle has one entry in it. bench/fleet.sh does the work and prints a
# progress line every FLEET_SAMPLE seconds; FLEET_KEEP=1 keeps its work directory;
# results in bench/results/fleet-ingest.json.
# Smaller runs: INGEST_VEHICLES=20000 INGEST_RECORDS=100 bench/fleet-ingest.sh (docs/PERFORMANCE.md).
# Usage: bench/fleet-ingest.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
FLEET_STORES=postgres FLEET_VEHICLES=${INGEST_VEHICLES:-100000} FLEET_RECORDS=${INGEST_RECORDS:-100} \
    FLEET_CONCURRENCY=${INGEST_CONCURRENCY:-32} FLEET_REPEATS=${INGEST_REPEATS:-3} \
    FLEET_FROM=${FLEET_FROM:-2026-01-03T00:00:00Z} FLEET_TO=${FLEET_TO:-2026-01-03T01:00:00Z} \
    FLEET_SAMPLE=${FLEET_SAMPLE:-60} FLEET_RESULTS=bench/results/fleet-ingest.json exec bench/fleet.sh "$@"

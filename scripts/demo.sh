#!/usr/bin/env bash
# The main job on the embedded defaults (local vault, in-process jobs; no Redis, no
# S3): set up a custody home, dock a simulated recorder, ingest it, verify the vault.
# Re-runnable: each run docks a new simulated recorder into the same home.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${CUSTODY_HOME:-demo}"
custody() { node dist/cli/main.js "$@"; }
rec="$home/recorders/$(date +%Y%m%d-%H%M%S)"
custody init --home "$home"
custody simulate recorder --out "$rec" --home "$home"
custody ingest "$rec" --home "$home"
custody verify --deep --home "$home"

#!/usr/bin/env bash
# The README's first command: set up, then run Porte-voix all-in-one on http://127.0.0.1:8000
# (embedded SQLite database, embedded Redis, worker in the process, demo personas and team).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/portevoix run "$@"

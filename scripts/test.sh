#!/usr/bin/env bash
# The README's second command: set up, make sure Chromium is there for the browser tests, run
# the whole suite. Tests use PostgreSQL and a Redis server on 127.0.0.1 when they answer, and
# the embedded defaults always.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the browser tests…"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
            || echo "warning: chromium could not be installed; browser tests will be skipped" >&2
    else
        echo "warning: chromium is missing (apt-get install chromium); browser tests will be skipped" >&2
    fi
fi
exec .venv/bin/pytest "$@"

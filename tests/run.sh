#!/usr/bin/env bash
# Runs the whole suite. Browser tests need a loopback-only network namespace (see TESTING.md),
# so pytest runs inside one when this machine lets us make it.
set -euo pipefail
cd "$(dirname "$0")/.."
pytest=(.venv/bin/python -m pytest "$@")
if unshare -n true 2>/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${pytest[@]}"
elif unshare -rn true 2>/dev/null; then
    exec unshare -rn sh -c 'ip link set lo up && exec "$@"' sh "${pytest[@]}"
else
    echo "tests/run.sh: cannot make a network namespace; browser tests run on this machine's network" >&2
    exec "${pytest[@]}"
fi

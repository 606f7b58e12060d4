#!/usr/bin/env bash
# Rewrite upper-constraints.txt: the exact versions of every package the
# service, its extras and its tests were tested with.
#
# Resolves the newest releases that setup.cfg allows in a throwaway
# virtualenv (no constraints applied), then freezes it. Run it, run
# tools/run-tests.sh, and commit upper-constraints.txt when the suite
# passes. Usage: tools/refresh-constraints.sh [PYTHON]
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet \
    -e '.[test,bench,postgresql,redis,storage,profiler]'
{
    echo "# Tested versions of every dependency, for pip's -c option."
    echo "# Written by tools/refresh-constraints.sh; do not edit by hand."
    "$work/venv/bin/python" -m pip freeze --exclude-editable --all \
        | grep -v -i -E '^(pip|setuptools|wheel)=='  | LC_ALL=C sort -f
} > upper-constraints.txt.new
mv upper-constraints.txt.new upper-constraints.txt
echo "upper-constraints.txt: $(grep -c '==' upper-constraints.txt) pins"

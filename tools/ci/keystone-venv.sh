#!/usr/bin/env bash
# Create (once) a separate virtualenv holding OpenStack Keystone for the
# functional tests. Keystone pins its own dependency versions, so it never
# goes into the service's environment.
#
# Usage: tools/ci/keystone-venv.sh [VENV_DIR]
# VENV_DIR defaults to $GLANCE_IMPORT_KEYSTONE_VENV, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/glance_import/keystone-venv.
# The interpreter is $PYTHON (default python3). Prints the venv path.
# Fast when the venv is already complete: a stamp file records what was
# installed and the script exits at once when it matches.
set -euo pipefail

KEYSTONE_REQUIREMENT=${KEYSTONE_REQUIREMENT:-"keystone>=26"}
# Keystone's own server choice; cheroot serves the WSGI app in tests.
EXTRA_REQUIREMENTS="cheroot>=10.0"

cache_home=${XDG_CACHE_HOME:-$HOME/.cache}
venv=${1:-${GLANCE_IMPORT_KEYSTONE_VENV:-$cache_home/glance_import/keystone-venv}}
python=${PYTHON:-python3}
stamp="$venv/.glance-import-stamp"
wanted="$KEYSTONE_REQUIREMENT $EXTRA_REQUIREMENTS $("$python" -c 'import sys; print(sys.version.split()[0])')"

if [ -x "$venv/bin/keystone-manage" ] && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "$venv"
    exit 0
fi

# Another test run may be building the same venv: take a lock.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -x "$venv/bin/keystone-manage" ] && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "$venv"
    exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet "$KEYSTONE_REQUIREMENT" \
    $EXTRA_REQUIREMENTS >&2
"$venv/bin/keystone-manage" --version >/dev/null
echo "$wanted" > "$stamp"
echo "$venv"

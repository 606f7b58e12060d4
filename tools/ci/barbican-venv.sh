#!/usr/bin/env bash
# Create (once) a separate virtualenv holding OpenStack Barbican (the key
# manager) for the functional tests of image signatures. Barbican pins its
# own dependency versions, so it never goes into the service's environment.
#
# Usage: tools/ci/barbican-venv.sh [VENV_DIR]
# VENV_DIR defaults to $GLANCE_IMPORT_BARBICAN_VENV, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/glance_import/barbican-venv.
# The interpreter is $PYTHON (default python3). Prints the venv path.
# Fast when the venv is already complete: a stamp file records what was
# installed and the script exits at once when it matches.
set -euo pipefail

# A known-good release on Python 3.11; newer ones may change the API the
# fixture relies on (paste factories, config options, default policy).
BARBICAN_REQUIREMENT=${BARBICAN_REQUIREMENT:-"barbican==23.0.0"}
# Barbican ships no server of its own for tests; cheroot serves the app.
EXTRA_REQUIREMENTS="cheroot>=10.0"

cache_home=${XDG_CACHE_HOME:-$HOME/.cache}
venv=${1:-${GLANCE_IMPORT_BARBICAN_VENV:-$cache_home/glance_import/barbican-venv}}
python=${PYTHON:-python3}
stamp="$venv/.glance-import-stamp"
wanted="$BARBICAN_REQUIREMENT $EXTRA_REQUIREMENTS $("$python" -c 'import sys; print(sys.version.split()[0])')"

complete() {
    [ -x "$venv/bin/barbican-manage" ] && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$wanted" ]
}

if complete; then
    echo "$venv"
    exit 0
fi

# Another test run (or pytest-xdist worker) may be building the same venv.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if complete; then
    echo "$venv"
    exit 0
fi

rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet "$BARBICAN_REQUIREMENT" \
    $EXTRA_REQUIREMENTS >&2
# Fail here, not in a test, when the install cannot load the app.
"$venv/bin/python" -c 'import barbican.api.app, cheroot.wsgi' >/dev/null
echo "$wanted" > "$stamp"
echo "$venv"

#!/usr/bin/env bash
# Install the test dependencies and run the whole suite:
#   1. ruff over the tree, and lint-imports (the layering contracts in
#      pyproject.toml);
#   2. every test on SQLite;
#   3. the functional tests again on PostgreSQL and on MySQL/MariaDB
#      (the tests with daemons of their own run in one pass; see below).
# The service's Python environment is $VENV (default .venv in the
# checkout), created with $PYTHON (default python3) when missing.
# Extra arguments go to every pytest run (e.g. -k versions).
#
# PostgreSQL (127.0.0.1:5432, user postgres, trust) and MySQL
# (127.0.0.1:3306, root, no password) must be running: an unreachable
# database fails the run. Set GLANCE_IMPORT_TEST_DBS to a subset of
# "sqlite postgresql mysql" to run fewer passes locally.
set -uo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
DBS=${GLANCE_IMPORT_TEST_DBS:-sqlite postgresql mysql}
# Two cores on the CI machines; each pytest-xdist worker has its own
# in-process service, database and ports.
WORKERS=${GLANCE_IMPORT_TEST_WORKERS:-2}

set -e
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The tested versions (upper-constraints.txt), so that a new release
# upstream cannot change what the suite runs against.
"$VENV/bin/python" -m pip install --quiet -c upper-constraints.txt \
    -e '.[test]'
set +e

failed=()
step() {
    local name=$1
    shift
    local started=$SECONDS
    echo "=== $name"
    "$@"
    local rc=$?
    # pytest exits 5 when it collected no test: that is a failure here.
    if [ "$rc" -ne 0 ]; then
        echo "=== $name FAILED (exit $rc)"
        failed+=("$name")
    fi
    echo "=== $name took $((SECONDS - started))s"
}

run_pytest() {
    local db=$1
    shift
    GLANCE_IMPORT_TEST_DB=$db "$VENV/bin/python" -m pytest -p no:cacheprovider \
        -n "$WORKERS" "$@"
}

# Tests that bring their own daemons run in one pass only, where their
# database matters: Keystone and the uwsgi/Apache deployments on SQLite;
# the real Ceph, S3 and Swift stores on PostgreSQL (their several-node
# test shares one PostgreSQL database between API nodes).
IDENTITY_TESTS="test_keystone_auth.py test_policy_matrix.py
    test_openstackclient.py test_deploy_uwsgi.py test_deploy_apache.py"
STORAGE_TESTS="test_storage_backends.py test_cache_storage.py
    test_location_storage.py test_delayed_delete_storage.py"
ignore() {
    local name
    for name in "$@"; do
        printf -- '--ignore=tests/functional/%s ' "$name"
    done
}

step ruff "$VENV/bin/ruff" check .
# No cache: the analysis takes a second and leaves nothing in the tree.
step lint-imports "$VENV/bin/lint-imports" --no-cache --no-logo
for db in $DBS; do
    case $db in
    sqlite)
        # shellcheck disable=SC2046
        step "pytest sqlite (all tests)" run_pytest sqlite tests \
            $(ignore $STORAGE_TESTS) "$@" ;;
    postgresql)
        # shellcheck disable=SC2046
        step "pytest postgresql (functional tests)" run_pytest postgresql \
            tests/functional $(ignore $IDENTITY_TESTS) "$@" ;;
    *)
        # shellcheck disable=SC2046
        step "pytest $db (functional tests)" run_pytest "$db" \
            tests/functional $(ignore $IDENTITY_TESTS $STORAGE_TESTS) \
            "$@" ;;
    esac
done

if [ ${#failed[@]} -ne 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all test passes succeeded"

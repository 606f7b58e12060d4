#!/usr/bin/env bash
# Prove README.rst's first command on a brand-new virtualenv: run it as
# written (only the venv moved to a temporary directory, $HOME pointed at
# an empty one so state_path starts empty, and the port taken from the
# environment), then drive the quick start over HTTP: create, stage,
# import (glance-direct), active, download, same bytes.
#
# No test extras are installed: a runtime dependency missing from
# setup.cfg fails here. Usage: tools/ci/quickstart-check.sh [PORT]
set -euo pipefail

cd "$(dirname "$0")/../.."
PORT=${1:-19292}
work=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then
        kill -TERM -- "-$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The literal block after "this installs the service into ``.venv``".
command=$(sed -n '/^    python3 -m venv \.venv /{p;q}' README.rst | sed 's/^ *//')
if [ -z "$command" ]; then
    echo "quickstart-check: no install command found in README.rst" >&2
    exit 1
fi
command=${command//.venv/$work/venv}
echo "=== quick start: $command"

mkdir "$work/home"
# The job runs in its own process group so that cleanup stops the service
# and anything it forked.
set -m
HOME=$work/home OS_DEFAULT__BIND_PORT=$PORT \
    bash -c "$command" > "$work/quickstart.log" 2>&1 &
server=$!
set +m

status=0
python3 - "$PORT" "$server" <<'PY' || status=$?
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

port, server_pid = int(sys.argv[1]), int(sys.argv[2])
base = 'http://127.0.0.1:%d' % port


def call(method, path, body=None, content_type='application/json'):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header('Content-Type', content_type)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


def alive():
    try:
        os.kill(server_pid, 0)
        return True
    except ProcessLookupError:
        return False


# Installing takes minutes on a cold pip cache.
deadline = time.monotonic() + 1200
while True:
    try:
        status, body = call('GET', '/versions')
        break
    except (urllib.error.URLError, ConnectionError):
        if not alive() or time.monotonic() > deadline:
            sys.exit('the service did not start')
        time.sleep(1)
print('versions:', [v['id'] for v in json.loads(body)['versions']][:3])

status, body = call('POST', '/v2/images', {
    'name': 'quickstart', 'disk_format': 'raw',
    'container_format': 'bare'})
assert status == 201, (status, body)
image_id = json.loads(body)['id']
payload = os.urandom(3 << 20)
status, _ = call('PUT', '/v2/images/%s/stage' % image_id, payload,
                 'application/octet-stream')
assert status == 204, status
status, body = call('POST', '/v2/images/%s/import' % image_id,
                    {'method': {'name': 'glance-direct'}})
assert status == 202, (status, body)
deadline = time.monotonic() + 120
while True:
    image = json.loads(call('GET', '/v2/images/%s' % image_id)[1])
    if image['status'] == 'active':
        break
    assert image['status'] in ('queued', 'importing'), image
    assert time.monotonic() < deadline, image
    time.sleep(0.5)
status, data = call('GET', '/v2/images/%s/file' % image_id)
assert status == 200, status
assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
assert image['size'] == len(payload), image
print('quick start: image %s active, %d bytes downloaded intact'
      % (image_id, len(data)))
PY
if [ "$status" -ne 0 ]; then
    echo "=== quick start FAILED; the command's output:" >&2
    tail -n 60 "$work/quickstart.log" >&2
    exit 1
fi
echo "=== quick start passed"

#!/bin/bash
# Stop the storage daemons that tools/ci/storage-up.sh started, by pid.
#
# Usage: storage-down.sh [--purge] [STATE_DIR]
#   --purge   also remove the state directory (data, keys, logs)
# Each daemon gets SIGTERM, then SIGKILL after 15 s; the exit status is
# non-zero only when a process survives both.
set -uo pipefail

STATE=${GLANCE_IMPORT_STORAGE_DIR:-/tmp/glance-import-storage}
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) STATE=$1; shift ;;
    esac
done
if [ ! -d "$STATE/pids" ]; then
    echo "storage-down: nothing started under $STATE"
    [ $PURGE = 1 ] && rm -rf "$STATE"
    exit 0
fi

# Gateways and proxies first, so nothing writes while the OSD stops.
ORDER="radosgw swift-proxy keystone swift-object swift-container
swift-account ceph-osd ceph-mgr ceph-mon memcached"
pids=()
for name in $ORDER; do
    f=$STATE/pids/$name.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
done
for f in "$STATE"/pids/*.pid; do   # anything not in ORDER
    name=$(basename "$f" .pid)
    case " $ORDER " in *" $name "*) continue ;; esac
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
done

status=0
deadline=$(( $(date +%s) + 15 ))
for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt $deadline ]; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        sleep 0.5
        kill -0 "$pid" 2>/dev/null && { echo "storage-down: $pid survives" >&2; status=1; }
    fi
done
rm -rf "$STATE/pids" "$STATE/storage.env"
[ $PURGE = 1 ] && rm -rf "$STATE"
echo "storage-down: stopped ${#pids[@]} processes under $STATE"
exit $status

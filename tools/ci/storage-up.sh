#!/bin/bash
# Start real storage daemons on 127.0.0.1 for the storage functional tests
# and for operators trying the rbd, s3 and swift stores on one machine:
#
#   * Ceph: 1 mon, 1 mgr, 1 OSD (bluestore on a sparse file, or memstore),
#     cephx, pool "images" (rbd application), key client.glance;
#   * radosgw on the same cluster: an S3 user and a bucket (path-style);
#   * Swift: one node (proxy, account, container, object), 1-replica rings,
#     data in a plain directory, memcached, a Keystone v3 (glance_store's
#     single-tenant Swift store authenticates with Keystone v3 only) and
#     tempauth beside it (reseller prefix TEMPAUTH_) for quick manual use.
#
# Everything lives under one state directory; no systemd, no containers.
# Daemons are detached (setsid) and recorded in STATE/pids/*.pid;
# tools/ci/storage-down.sh stops them by pid.
#
# Usage: storage-up.sh [--venv VENV] [--no-install] [STATE_DIR]
#   STATE_DIR        default $GLANCE_IMPORT_STORAGE_DIR or
#                    /tmp/glance-import-storage
#   --venv VENV      expose Debian's rados/rbd modules to that Python 3.11
#                    virtualenv through a .pth file
#   --no-install     do not run apt-get (fail if a package is missing)
#   CEPH_OBJECTSTORE=memstore   keep OSD data in RAM instead of bluestore
#
# Output: STATE/storage.env (shell-sourceable), STATE/storage.json and
# STATE/glance-stores.conf (multi-store sections for glance-api.conf).
# Exit status is non-zero, with the failing daemon's log tail, when any
# backend does not become ready.
set -euo pipefail

STATE=${GLANCE_IMPORT_STORAGE_DIR:-/tmp/glance-import-storage}
VENV=
INSTALL=1
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) VENV=$2; shift 2 ;;
        --venv=*) VENV=${1#--venv=}; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) STATE=$1; shift ;;
    esac
done
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s.%N)

# Ports (all on 127.0.0.1); override through the environment.
MON_V2_PORT=${MON_V2_PORT:-13300}
MON_V1_PORT=${MON_V1_PORT:-16789}
RGW_PORT=${RGW_PORT:-17480}
SWIFT_PROXY_PORT=${SWIFT_PROXY_PORT:-18080}
SWIFT_OBJECT_PORT=${SWIFT_OBJECT_PORT:-16200}
SWIFT_CONTAINER_PORT=${SWIFT_CONTAINER_PORT:-16201}
SWIFT_ACCOUNT_PORT=${SWIFT_ACCOUNT_PORT:-16202}
KEYSTONE_PORT=${KEYSTONE_PORT:-15000}
MEMCACHED_PORT=${MEMCACHED_PORT:-11311}
OBJECTSTORE=${CEPH_OBJECTSTORE:-bluestore}

PY=/usr/bin/python3   # Debian's interpreter: swift, keystone, boto3 live there
PACKAGES="ceph-mon ceph-mgr ceph-osd ceph-common radosgw python3-rados
python3-rbd swift swift-proxy swift-object swift-container swift-account
memcached python3-keystone python3-keystonemiddleware python3-cheroot
python3-boto3 python3-swiftclient uuid-runtime curl"

log() { printf '[storage-up %5.1fs] %s\n' "$(elapsed)" "$*" >&2; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }
die() {
    echo "storage-up: $1" >&2
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        echo "---- last lines of $2" >&2
        tail -n 40 "$2" >&2
    fi
    exit 1
}

install_packages() {
    local missing=()
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$INSTALL" = 1 ] || die "missing packages: ${missing[*]}"
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start the distribution's own services.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; created=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}" \
        > "$STATE/apt.log" 2>&1 \
        || { apt-get update -q >> "$STATE/apt.log" 2>&1 &&
             apt-get install -y -q --no-install-recommends "${missing[@]}" \
                 >> "$STATE/apt.log" 2>&1; } \
        || { [ $created = 1 ] && rm -f $policy; die "apt-get failed" "$STATE/apt.log"; }
    [ $created = 1 ] && rm -f $policy
    return 0
}

expose_bindings() {
    # rados/rbd are not on PyPI: link Debian's extension modules into a
    # private directory of the venv and list it in a .pth file.
    local venv pyver site dir
    # A .pth line is read relative to site-packages: store it absolute.
    venv=$(cd "$1" && pwd)
    pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$pyver" = 3.11 ] || die "$venv is Python $pyver; Debian's rados/rbd need 3.11"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
    dir=$venv/lib/ceph-bindings
    mkdir -p "$dir"
    for so in /usr/lib/python3/dist-packages/rados.cpython-311-*.so \
              /usr/lib/python3/dist-packages/rbd.cpython-311-*.so; do
        ln -sf "$so" "$dir/"
    done
    echo "$dir" > "$site/glance-import-ceph-bindings.pth"
    "$venv/bin/python" -c 'import rados, rbd' \
        || die "rados/rbd still not importable from $venv"
    log "rados/rbd exposed to $venv"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

all_running() {
    [ -f "$STATE/storage.env" ] || return 1
    local f
    for f in "$STATE"/pids/*.pid; do
        pid_alive "$f" || return 1
    done
}

# spawn NAME LOG CMD...: start a detached daemon, remember its pid.
spawn() {
    local name=$1 logf=$2; shift 2
    setsid "$@" >> "$logf" 2>&1 < /dev/null &
    echo $! > "$STATE/pids/$name.pid"
    echo "$logf" > "$STATE/pids/$name.log"
    printf '%q ' "$@" > "$STATE/pids/$name.cmd"   # for restarts in tests
}

# A daemon that exited while we wait is a failure: show its output.
check_alive() {
    local f name
    for f in "$STATE"/pids/*.pid; do
        pid_alive "$f" && continue
        name=$(basename "$f" .pid)
        die "$name exited during startup" "$(cat "$STATE/pids/$name.log")"
    done
}

# wait_for WHAT SECONDS LOG CMD...: retry CMD until it succeeds.
wait_for() {
    local what=$1 limit=$2 logf=$3; shift 3
    local deadline=$(( $(date +%s) + limit ))
    until "$@" > /dev/null 2>&1; do
        [ "$(date +%s)" -lt $deadline ] || die "$what not ready in ${limit}s" "$logf"
        check_alive
        sleep 0.3
    done
}

rand() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# ---------------------------------------------------------------- start --
install_packages
[ -n "$VENV" ] && expose_bindings "$VENV"

if all_running; then
    log "already running under $STATE"
    cat "$STATE/storage.env"
    exit 0
fi
# Leftovers of an earlier, partial run: stop and start afresh.
if [ -d "$STATE/pids" ]; then
    "$HERE/storage-down.sh" "$STATE" > /dev/null 2>&1 || true
fi
rm -rf "$STATE/ceph" "$STATE/swift" "$STATE/keystone" "$STATE/memcached" \
       "$STATE/pids" "$STATE/storage.env" "$STATE/storage.json"
mkdir -p "$STATE/pids"

# ------------------------------------------------------------- memcached --
mkdir -p "$STATE/memcached"
spawn memcached "$STATE/memcached/memcached.log" \
    memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -u root -m 64

# ------------------------------------------------------------ keystone --
K=$STATE/keystone
mkdir -p "$K"
KS_ADMIN_PW=$(rand)
SWIFT_SVC_PW=$(rand)
GLANCE_SWIFT_PW=$(rand)
cat > "$K/keystone.conf" <<EOF
[DEFAULT]
log_file = $K/keystone.log
[database]
connection = sqlite:///$K/keystone.db
[token]
provider = fernet
expiration = 43200
[fernet_tokens]
key_repository = $K/fernet-keys
[fernet_receipts]
key_repository = $K/fernet-receipts
[credential]
key_repository = $K/credential-keys
EOF
cat > "$K/serve.py" <<'EOF'
"""Serve Keystone's public WSGI application with cheroot."""
import sys

from cheroot import wsgi
from keystone.server.flask import core

config_file, port = sys.argv[1:3]
del sys.argv[1:]  # keystone parses the command line itself
# One thread: SQLite allows one writer and this Keystone serves only the
# service users of the local Swift.
app = core.initialize_application('public', config_files=[config_file])
wsgi.Server(('127.0.0.1', int(port)), app, numthreads=1).start()
EOF
log "keystone: db_sync, bootstrap"
KM="keystone-manage --config-file $K/keystone.conf"
# The database setup takes seconds: run it while Ceph starts.
(
    $KM db_sync &&
    $KM fernet_setup --keystone-user root --keystone-group root &&
    $KM credential_setup --keystone-user root --keystone-group root &&
    $KM bootstrap --bootstrap-password "$KS_ADMIN_PW" \
        --bootstrap-admin-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-public-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-internal-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
        --bootstrap-region-id RegionOne
) > "$K/manage.log" 2>&1 &
KS_SETUP=$!
# ------------------------------------------------------------------ ceph --
C=$STATE/ceph
mkdir -p "$C/run" "$C/log" "$C/mon/ceph-a" "$C/mgr/ceph-x" "$C/osd/ceph-0" \
         "$C/rgw/ceph-rgw.gw"
FSID=$(uuidgen)
cat > "$C/ceph.conf" <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
public_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $C/\$cluster.\$name.keyring
run_dir = $C/run
admin_socket = $C/run/\$cluster-\$name.asok
pid_file = $C/run/\$name.pid
log_file = $C/log/\$name.log
crash_dir = $C/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
auth_allow_insecure_global_id_reclaim = false
mon_max_pg_per_osd = 1000

[mon]
mon_data = $C/mon/\$cluster-\$id
keyring = $C/mon/\$cluster-\$id/keyring

[mgr]
mgr_data = $C/mgr/\$cluster-\$id
keyring = $C/mgr/\$cluster-\$id/keyring

[osd]
osd_data = $C/osd/\$cluster-\$id
keyring = $C/osd/\$cluster-\$id/keyring
osd_objectstore = $OBJECTSTORE
bluestore_block_path = $C/osd/\$cluster-\$id.block
bluestore_block_create = true
bluestore_block_size = 64424509440
bluestore_fsck_on_mount = false
bluestore_cache_size = 268435456
memstore_device_bytes = 8589934592
osd_memory_target = 939524096

[client.rgw.gw]
rgw_data = $C/rgw/\$cluster-rgw.gw
keyring = $C/rgw/\$cluster-rgw.gw/keyring
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_dns_name =
EOF
export CEPH_CONF=$C/ceph.conf
CEPH="ceph -c $C/ceph.conf --connect-timeout 20"

log "ceph: mon"
ceph-authtool --create-keyring "$C/mon.keyring" --gen-key -n mon. \
    --cap mon 'allow *' > /dev/null
ceph-authtool --create-keyring "$C/ceph.client.admin.keyring" --gen-key \
    -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mds 'allow *' --cap mgr 'allow *' > /dev/null
ceph-authtool "$C/mon.keyring" --import-keyring \
    "$C/ceph.client.admin.keyring" > /dev/null
monmaptool --create --fsid "$FSID" \
    --addv a "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" \
    "$C/monmap" > /dev/null
ceph-mon -c "$C/ceph.conf" --mkfs -i a --monmap "$C/monmap" \
    --keyring "$C/mon.keyring" > "$C/log/mkfs-mon.log" 2>&1 \
    || die "ceph-mon --mkfs failed" "$C/log/mkfs-mon.log"
spawn ceph-mon "$C/log/mon.a.out" ceph-mon -f -c "$C/ceph.conf" -i a
wait_for "ceph mon" 30 "$C/log/mon.a.log" $CEPH mon stat

log "ceph: mgr"
$CEPH auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
    mds 'allow *' -o "$C/mgr/ceph-x/keyring"
spawn ceph-mgr "$C/log/mgr.x.out" ceph-mgr -f -c "$C/ceph.conf" -i x

log "ceph: osd ($OBJECTSTORE)"
OSD_UUID=$(uuidgen)
OSD_ID=$($CEPH osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || die "unexpected OSD id $OSD_ID"
ceph-authtool --create-keyring "$C/osd/ceph-0/keyring" --gen-key -n osd.0 \
    > /dev/null
$CEPH auth add osd.0 osd 'allow *' mon 'allow profile osd' \
    mgr 'allow profile osd' -i "$C/osd/ceph-0/keyring" 2> /dev/null
ceph-osd -c "$C/ceph.conf" -i 0 --mkfs --osd-uuid "$OSD_UUID" \
    > "$C/log/mkfs-osd.log" 2>&1 \
    || die "ceph-osd --mkfs failed" "$C/log/mkfs-osd.log"
spawn ceph-osd "$C/log/osd.0.out" ceph-osd -f -c "$C/ceph.conf" -i 0

osd_up() { $CEPH osd stat --format json | grep -q '"num_up_osds":1'; }
wait_for "ceph osd" 60 "$C/log/osd.0.log" osd_up

log "ceph: pool images, client.glance"
$CEPH osd pool create images 16 16 > /dev/null 2>&1
$CEPH osd pool application enable images rbd > /dev/null 2>&1
rbd -c "$C/ceph.conf" pool init images
$CEPH auth get-or-create client.glance mon 'profile rbd' \
    osd 'profile rbd pool=images' mgr 'profile rbd pool=images' \
    -o "$C/ceph.client.glance.keyring"

log "ceph: radosgw"
$CEPH auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' \
    mgr 'allow rw' -o "$C/rgw/ceph-rgw.gw/keyring"
spawn radosgw "$C/log/rgw.gw.out" radosgw -f -c "$C/ceph.conf" -n client.rgw.gw
S3_ACCESS=$(rand | head -c 20)
S3_SECRET=$(rand)
S3_BUCKET=glance-images
# Keystone serves once its database is ready.
wait $KS_SETUP || die "keystone-manage failed" "$K/manage.log"
spawn keystone "$K/serve.log" $PY "$K/serve.py" "$K/keystone.conf" \
    "$KEYSTONE_PORT"

# ---------------------------------------------------------------- swift --
W=$STATE/swift
SWIFT_HASH=$(rand)
mkdir -p "$W/etc" "$W/data/d1" "$W/run" "$W/log"
cat > "$W/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = $SWIFT_HASH
swift_hash_path_prefix = glance-import
[storage-policy:0]
name = Policy-0
default = yes
EOF
log "swift: rings"
for ring in object:$SWIFT_OBJECT_PORT container:$SWIFT_CONTAINER_PORT \
            account:$SWIFT_ACCOUNT_PORT; do
    kind=${ring%%:*}; port=${ring##*:}
    (cd "$W/etc" &&
     swift-ring-builder $kind.builder create 6 1 1 &&
     swift-ring-builder $kind.builder add r1z1-127.0.0.1:$port/d1 100 &&
     swift-ring-builder $kind.builder rebalance) > "$W/log/ring-$kind.log" 2>&1 \
        || die "swift-ring-builder $kind failed" "$W/log/ring-$kind.log"
done
for srv in object:$SWIFT_OBJECT_PORT container:$SWIFT_CONTAINER_PORT \
           account:$SWIFT_ACCOUNT_PORT; do
    kind=${srv%%:*}; port=${srv##*:}
    cat > "$W/etc/$kind-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = root
swift_dir = $W/etc
devices = $W/data
mount_check = false
log_name = swift-$kind
log_udp_host =
[pipeline:main]
pipeline = healthcheck recon $kind-server
[app:$kind-server]
use = egg:swift#$kind
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:recon]
use = egg:swift#recon
recon_cache_path = $W/run
EOF
done
cat > "$W/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SWIFT_PROXY_PORT
workers = 0
user = root
swift_dir = $W/etc
log_name = swift-proxy

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats authtoken keystoneauth tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
# A client that stops sending fails after 20 s instead of 60 s.
client_timeout = 20
# One node only: retry a failed node soon instead of after 60 s.
error_suppression_interval = 2
account_autocreate = true
allow_account_management = true

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_url = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = swift
password = $SWIFT_SVC_PW
delay_auth_decision = true
memcached_servers = 127.0.0.1:$MEMCACHED_PORT
service_token_roles_required = true

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_prefix = AUTH_

[filter:tempauth]
use = egg:swift#tempauth
reseller_prefix = TEMPAUTH
user_test_tester = testing .admin
EOF

# Keystone must answer before the proxy (authtoken) and the users exist.
wait_for keystone 60 "$K/serve.log" \
    curl -sf "http://127.0.0.1:$KEYSTONE_PORT/v3"
log "keystone: service users and the object-store endpoint"
KS_ADMIN_PW=$KS_ADMIN_PW SWIFT_SVC_PW=$SWIFT_SVC_PW \
GLANCE_SWIFT_PW=$GLANCE_SWIFT_PW KEYSTONE_PORT=$KEYSTONE_PORT \
SWIFT_PROXY_PORT=$SWIFT_PROXY_PORT $PY - > "$K/setup.log" 2>&1 <<'EOF' \
    || die "keystone setup failed" "$K/setup.log"
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

url = 'http://127.0.0.1:%s/v3' % os.environ['KEYSTONE_PORT']
auth = v3.Password(auth_url=url, username='admin',
                   password=os.environ['KS_ADMIN_PW'], project_name='admin',
                   user_domain_id='default', project_domain_id='default')
ks = client.Client(session=session.Session(auth=auth))
roles = {r.name: r for r in ks.roles.list()}
member = roles.get('member') or ks.roles.create('member')
admin = roles['admin']
service = ks.projects.create('service', 'default')
swift = ks.users.create('swift', domain='default',
                        password=os.environ['SWIFT_SVC_PW'])
ks.roles.grant(admin, user=swift, project=service)
glance = ks.users.create('glance', domain='default',
                         password=os.environ['GLANCE_SWIFT_PW'])
ks.roles.grant(member, user=glance, project=service)
svc = ks.services.create('swift', 'object-store')
ks.endpoints.create(svc, 'http://127.0.0.1:%s/v1/AUTH_%%(project_id)s'
                    % os.environ['SWIFT_PROXY_PORT'], 'public',
                    region='RegionOne')
EOF

log "swift: servers"
for kind in object container account proxy; do
    spawn swift-$kind "$W/log/$kind.log" swift-$kind-server \
        "$W/etc/$kind-server.conf"
done

# -------------------------------------------------------------- readiness --
ceph_clean() {
    local out
    out=$($CEPH pg stat --format json 2>/dev/null) || return 1
    $PY -c '
import json, sys
d = json.loads(sys.argv[1])
d = d.get("pg_summary", d)
states = {s["name"]: s["num"] for s in d.get("num_pg_by_state", [])}
total = d.get("num_pgs", 0)
sys.exit(0 if total and states.get("active+clean") == total else 1)
' "$out"
}
log "waiting for ceph pgs active+clean"
wait_for "ceph pgs active+clean (needs mgr)" 90 "$C/log/mgr.x.log" ceph_clean

log "radosgw: S3 user and bucket"
wait_for radosgw 60 "$C/log/rgw.gw.log" curl -sf "http://127.0.0.1:$RGW_PORT/"
radosgw-admin -c "$C/ceph.conf" -n client.admin user create --uid=glance \
    --display-name="glance images" --access-key="$S3_ACCESS" \
    --secret-key="$S3_SECRET" > "$C/log/rgw-user.log" 2>&1 \
    || die "radosgw-admin user create failed" "$C/log/rgw-user.log"
s3_bucket() {
    S3_ACCESS=$S3_ACCESS S3_SECRET=$S3_SECRET S3_BUCKET=$S3_BUCKET \
    RGW_PORT=$RGW_PORT $PY - <<'EOF'
import os

import boto3
from botocore import config
from botocore import exceptions

s3 = boto3.client(
    's3', endpoint_url='http://127.0.0.1:%s' % os.environ['RGW_PORT'],
    aws_access_key_id=os.environ['S3_ACCESS'],
    aws_secret_access_key=os.environ['S3_SECRET'], region_name='us-east-1',
    config=config.Config(s3={'addressing_style': 'path'}))
try:
    s3.head_bucket(Bucket=os.environ['S3_BUCKET'])
except exceptions.ClientError:
    s3.create_bucket(Bucket=os.environ['S3_BUCKET'])
    s3.head_bucket(Bucket=os.environ['S3_BUCKET'])
EOF
}
wait_for "S3 bucket $S3_BUCKET" 60 "$C/log/rgw.gw.log" s3_bucket

log "waiting for swift"
wait_for "swift proxy" 60 "$W/log/proxy.log" \
    curl -sf "http://127.0.0.1:$SWIFT_PROXY_PORT/healthcheck"
swift_auth() {
    GLANCE_SWIFT_PW=$GLANCE_SWIFT_PW KEYSTONE_PORT=$KEYSTONE_PORT $PY - <<'EOF'
import os

import swiftclient

conn = swiftclient.Connection(
    authurl='http://127.0.0.1:%s/v3' % os.environ['KEYSTONE_PORT'],
    user='glance', key=os.environ['GLANCE_SWIFT_PW'], auth_version='3',
    os_options={'project_name': 'service', 'user_domain_id': 'default',
                'project_domain_id': 'default'})
conn.head_account()
EOF
}
wait_for "swift account through keystone" 60 "$W/log/proxy.log" swift_auth

# --------------------------------------------------------------- output --
STARTUP=$(printf '%.1f' "$(elapsed)")
cat > "$STATE/storage.env" <<EOF
# Connection settings of the storage daemons under $STATE
GI_STORAGE_DIR=$STATE
GI_STORAGE_STARTUP_SECONDS=$STARTUP
GI_CEPH_CONF=$C/ceph.conf
GI_CEPH_ADMIN_KEYRING=$C/ceph.client.admin.keyring
GI_RBD_USER=glance
GI_RBD_KEYRING=$C/ceph.client.glance.keyring
GI_RBD_POOL=images
GI_S3_URL=http://127.0.0.1:$RGW_PORT
GI_S3_ACCESS_KEY=$S3_ACCESS
GI_S3_SECRET_KEY=$S3_SECRET
GI_S3_BUCKET=$S3_BUCKET
GI_SWIFT_URL=http://127.0.0.1:$SWIFT_PROXY_PORT
GI_SWIFT_AUTH_URL=http://127.0.0.1:$KEYSTONE_PORT/v3
GI_SWIFT_USER=service:glance
GI_SWIFT_KEY=$GLANCE_SWIFT_PW
GI_SWIFT_AUTH_VERSION=3
GI_SWIFT_CONTAINER=glance
GI_SWIFT_STORE_CONFIG=$W/glance-swift-store.conf
GI_KEYSTONE_ADMIN_PASSWORD=$KS_ADMIN_PW
GI_SWIFT_TEMPAUTH_URL=http://127.0.0.1:$SWIFT_PROXY_PORT/auth/v1.0
GI_SWIFT_TEMPAUTH_USER=test:tester
GI_SWIFT_TEMPAUTH_KEY=testing
EOF
$PY - "$STATE/storage.env" "$STATE/storage.json" <<'EOF'
import json
import sys

values = {}
with open(sys.argv[1]) as f:
    for line in f:
        if '=' in line and not line.startswith('#'):
            key, _, value = line.rstrip('\n').partition('=')
            values[key] = value
pids = {}
import glob
import os
for path in glob.glob(os.path.join(values['GI_STORAGE_DIR'], 'pids', '*.pid')):
    with open(path) as f:
        pids[os.path.basename(path)[:-4]] = int(f.read())
values['pids'] = pids
with open(sys.argv[2], 'w') as f:
    json.dump(values, f, indent=2, sort_keys=True)
EOF
cat > "$STATE/glance-stores.conf" <<EOF
# Multi-store sections for glance-api.conf (see doc/storage-*.rst).
[DEFAULT]
enabled_backends = ceph:rbd, objects:s3, swift:swift, local:file

[glance_store]
default_backend = ceph

[ceph]
store_description = Ceph RBD pool images
rbd_store_ceph_conf = $C/ceph.conf
rbd_store_user = glance
rbd_store_pool = images
rbd_store_chunk_size = 8
rados_connect_timeout = 30

[objects]
store_description = S3 (radosgw)
s3_store_host = http://127.0.0.1:$RGW_PORT
s3_store_access_key = $S3_ACCESS
s3_store_secret_key = $S3_SECRET
s3_store_bucket = $S3_BUCKET
s3_store_bucket_url_format = path
s3_store_create_bucket_on_put = false

[swift]
store_description = Swift
default_swift_reference = ref1
swift_store_config_file = $W/glance-swift-store.conf
swift_store_container = glance
swift_store_create_container_on_put = true
swift_store_auth_insecure = true

[local]
store_description = Local file system
filesystem_store_datadir = $STATE/file-store
EOF
cat > "$W/glance-swift-store.conf" <<EOF
[ref1]
auth_address = http://127.0.0.1:$KEYSTONE_PORT/v3
auth_version = 3
user = service:glance
key = $GLANCE_SWIFT_PW
user_domain_id = default
project_domain_id = default
EOF
log "all storage daemons ready in ${STARTUP}s"
cat "$STATE/storage.env"

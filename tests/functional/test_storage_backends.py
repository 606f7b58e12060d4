"""Image data on real Ceph RBD, S3 (radosgw) and Swift, over HTTP.

The daemons come from tools/ci/storage-up.sh (started once per run, see
storageutil); each service here is configured as a Glance operator
would: ``enabled_backends = ceph:rbd, objects:s3, swift:swift,
local:file`` with per-store sections.
"""

import configparser
import hashlib
import io
import os
import threading
import time
import uuid

import pytest
from glance_store import multi_backend
from oslo_config import cfg

from glance_import import exception
from glance_import.store import swift_fix
from tests import fixtures
from tests.functional import importutil as iu
from tests.functional import storageutil as su

OCTET = {'Content-Type': 'application/octet-stream'}
# Crosses the 4 MiB rbd chunk and several S3/Swift reads.
DATA = os.urandom(5 * 1024 * 1024 + 123)
# Tests that kill a daemon: no other storage test runs meanwhile.
STOPS_DAEMON = {'test_store_dying_mid_upload_leaves_nothing'}


@pytest.fixture(scope='session')
def storage():
    settings = su.storage()
    yield settings
    su.release()


@pytest.fixture(autouse=True)
def storage_in_use(storage, request):
    """Tests that stop a daemon run alone (see storageutil.in_use)."""
    with su.in_use(request.node.originalname in STOPS_DAEMON):
        yield


@pytest.fixture
def stores_dir(tmp_path):
    path = tmp_path / 'stores'
    path.mkdir()
    return str(path)


@pytest.fixture
def multi(service_factory, storage, stores_dir):
    return service_factory(su.store_overrides(storage, stores_dir))


@pytest.fixture
def admin(multi):
    return fixtures.Client(multi.url)


def _upload(client, image_id, data, store=None):
    headers = dict(OCTET)
    if store:
        headers['X-Image-Meta-Store'] = store
    return client.put('/v2/images/%s/file' % image_id, data=data,
                      headers=headers)


def _stores_of(image):
    return sorted(image.get('stores', '').split(',')) \
        if image.get('stores') else []


def _check_data(client, image_id, data):
    md5, sha512 = iu.digests(data)
    shown = iu.image(client, image_id)
    assert (shown['status'], shown['size'], shown['checksum'],
            shown['os_hash_algo'], shown['os_hash_value']) == \
        ('active', len(data), md5, 'sha512', sha512)
    resp = client.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 200, resp.text
    assert resp.headers['Content-MD5'] == md5
    assert hashlib.sha512(resp.content).hexdigest() == sha512
    assert resp.content == data
    return shown


# Discovery -----------------------------------------------------------------

def test_info_stores_lists_every_backend(admin, storage):
    resp = admin.get('/v2/info/stores')
    assert resp.status_code == 200, resp.text
    assert resp.json()['stores'] == [
        {'id': 'ceph', 'description': 'Ceph RBD pool images',
         'default': 'true'},
        {'id': 'objects', 'description': 'S3 on radosgw'},
        {'id': 'swift', 'description': 'Swift'},
        {'id': 'local', 'description': 'Local disk'},
    ]


def test_info_stores_detail_types_weights_properties(admin, storage,
                                                     stores_dir):
    resp = admin.get('/v2/info/stores/detail')
    assert resp.status_code == 200, resp.text
    stores = {s['id']: s for s in resp.json()['stores']}
    assert {k: (v['type'], v['weight']) for k, v in stores.items()} == {
        'ceph': ('rbd', 30), 'objects': ('s3', 20), 'swift': ('swift', 10),
        'local': ('file', 0)}
    ceph_conf = configparser.ConfigParser(strict=False)
    ceph_conf.read(storage['GI_CEPH_CONF'])
    rbd_props = stores['ceph']['properties']
    assert rbd_props['pool'] == 'images'
    assert rbd_props['chunk_size'] == 4
    assert rbd_props['fsid'] == ceph_conf['global']['fsid']
    assert stores['swift']['properties']['container'] == 'glance'
    assert stores['local']['properties']['data_dir'] == \
        os.path.join(stores_dir, 'local')
    assert 's3_store_large_object_size' in stores['objects']['properties']


# Writing to each store -----------------------------------------------------

@pytest.mark.parametrize('store', su.STORES)
def test_upload_download_each_store(admin, storage, stores_dir, store):
    image = iu.create(admin, name='upload-%s' % store)
    resp = _upload(admin, image['id'], DATA, store)
    assert resp.status_code == 204, resp.text
    shown = _check_data(admin, image['id'], DATA)
    assert _stores_of(shown) == [store]
    assert su.objects_of(storage, store, image['id'], stores_dir)
    # Deleting the image removes the data from the backend.
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204
    assert su.objects_of(storage, store, image['id'], stores_dir) == []


@pytest.mark.parametrize('store', su.REMOTE)
def test_glance_direct_import_each_store(admin, storage, store):
    image = iu.create(admin, name='direct-%s' % store)
    iu.stage(admin, image['id'], DATA)
    resp = iu.start_import(admin, image['id'], stores=[store])
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(admin, image['id'], timeout=120)
    assert task['status'] == 'success', task['message']
    shown = _check_data(admin, image['id'], DATA)
    assert _stores_of(shown) == [store]
    assert su.objects_of(storage, store, image['id'])


@pytest.mark.parametrize('store', su.REMOTE)
def test_web_download_import_each_store(service_factory, storage,
                                        stores_dir, store):
    with iu.http_source({'/image.raw': DATA}) as source:
        svc = service_factory(su.store_overrides(
            storage, stores_dir,
            **{'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
               'import_filtering_opts.allowed_ports': [source.port]}))
        admin = fixtures.Client(svc.url)
        image = iu.create(admin, name='web-%s' % store)
        resp = iu.start_import(
            admin, image['id'],
            {'name': 'web-download', 'uri': source.url + '/image.raw'},
            stores=[store])
        assert resp.status_code == 202, resp.text
        task = iu.wait_task(admin, image['id'], timeout=120)
    assert task['status'] == 'success', task['message']
    shown = _check_data(admin, image['id'], DATA)
    assert _stores_of(shown) == [store]
    assert su.objects_of(storage, store, image['id'])


@pytest.mark.parametrize('source', su.STORES)
def test_copy_image_to_every_other_store(admin, storage, stores_dir,
                                         source):
    """copy-image from *source* to the three others (all pairs over the
    parametrization), then DELETE /v2/stores one store at a time: every
    remaining store serves identical data."""
    image = iu.create(admin, name='copy-from-%s' % source)
    assert _upload(admin, image['id'], DATA, source).status_code == 204
    targets = [s for s in su.STORES if s != source]
    resp = iu.start_import(admin, image['id'], 'copy-image', stores=targets)
    assert resp.status_code == 202, resp.text
    task = iu.wait_task(admin, image['id'], timeout=180)
    assert task['status'] == 'success', task['message']
    shown = _check_data(admin, image['id'], DATA)
    assert _stores_of(shown) == sorted(su.STORES)
    for store in su.STORES:
        assert su.objects_of(storage, store, image['id'], stores_dir), store

    # Remove the source, then the heaviest remaining store each time, so
    # each target in turn is the one that serves the download.
    weights = {'ceph': 30, 'objects': 20, 'swift': 10, 'local': 0}
    order = [source] + sorted(targets, key=weights.get, reverse=True)
    for store in order[:-1]:
        resp = admin.delete('/v2/stores/%s/%s' % (store, image['id']))
        assert resp.status_code == 204, resp.text
        assert su.objects_of(storage, store, image['id'], stores_dir) == []
        remaining = order[order.index(store) + 1:]
        shown = _check_data(admin, image['id'], DATA)
        assert _stores_of(shown) == sorted(remaining)
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204
    assert su.objects_of(storage, order[-1], image['id'], stores_dir) == []


def test_rbd_data_a_clone_depends_on_is_kept(admin, storage, stores_dir):
    """RBD data with a clone (a server's or a volume's disk) is in use:
    deleting that copy or the image is a 409 and nothing is lost; once
    the clone is gone both work."""
    image = iu.create(admin, name='cloned')
    assert _upload(admin, image['id'], DATA, 'ceph').status_code == 204
    resp = iu.start_import(admin, image['id'], 'copy-image',
                           stores=['local'])
    assert resp.status_code == 202, resp.text
    assert iu.wait_task(admin, image['id'])['status'] == 'success'
    with su.rbd_clone(storage, image['id']) as clone:
        resp = admin.delete('/v2/stores/ceph/%s' % image['id'])
        assert resp.status_code == 409, resp.text
        assert 'in use' in resp.text
        resp = admin.delete('/v2/images/%s' % image['id'])
        assert resp.status_code == 409, resp.text
        assert _stores_of(_check_data(admin, image['id'], DATA)) == \
            ['ceph', 'local']
        assert {image['id'], clone} <= su.rbd_images(storage)
    resp = admin.delete('/v2/stores/ceph/%s' % image['id'])
    assert resp.status_code == 204, resp.text
    assert image['id'] not in su.rbd_images(storage)
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204
    assert su.objects_of(storage, 'local', image['id'], stores_dir) == []


# Single-store deployments ---------------------------------------------------

def _single_store(settings, kind):
    """[glance_store] stores/default_store with the driver options in
    [glance_store], as a single-store Glance is configured."""
    multi = su.store_overrides(settings, '/nonexistent')
    section = {'rbd': 'ceph', 's3': 'objects', 'swift': 'swift'}[kind]
    overrides = {'glance_store.stores': '%s,http' % kind,
                 'glance_store.default_store': kind}
    for key, value in multi.items():
        group, _, name = key.partition('.')
        if group == section and name not in ('store_description', 'weight'):
            overrides['glance_store.' + name] = value
    return overrides


@pytest.mark.parametrize('kind,store', [('rbd', 'ceph'), ('s3', 'objects'),
                                        ('swift', 'swift')])
def test_single_store_upload_import_download(service_factory, storage,
                                             kind, store):
    svc = service_factory(_single_store(storage, kind))
    admin = fixtures.Client(svc.url)
    assert admin.get('/v2/info/stores').status_code == 404
    image = iu.create(admin, name='single-%s' % kind)
    assert _upload(admin, image['id'], DATA).status_code == 204
    _check_data(admin, image['id'], DATA)
    assert su.objects_of(storage, store, image['id'])
    direct = iu.create(admin, name='single-direct-%s' % kind)
    iu.stage(admin, direct['id'], DATA)
    assert iu.start_import(admin, direct['id']).status_code == 202
    task = iu.wait_task(admin, direct['id'], timeout=120)
    assert task['status'] == 'success', task['message']
    _check_data(admin, direct['id'], DATA)
    for image_id in (image['id'], direct['id']):
        assert admin.delete('/v2/images/%s' % image_id).status_code == 204
        assert su.objects_of(storage, store, image_id) == []


# Failures ------------------------------------------------------------------

class _StallingFile:
    """A request body of known length that pauses after its first MiB
    (signalling *started*) until *resume* is set."""

    def __init__(self, data, started, resume):
        self._data = io.BytesIO(data)
        self.len = len(data)
        self._started, self._resume = started, resume

    def read(self, size=-1):
        if self._data.tell() >= 1024 * 1024 and not self._resume.is_set():
            self._started.set()
            self._resume.wait(60)
        return self._data.read(size)


@pytest.mark.parametrize('store,daemon', [
    ('swift', 'swift-object'),
    ('objects', 'radosgw'),
])
def test_store_dying_mid_upload_leaves_nothing(admin, storage, store,
                                               daemon):
    data = os.urandom(8 * 1024 * 1024)
    image = iu.create(admin, name='dies-%s' % store)
    started, resume = threading.Event(), threading.Event()
    result = {}

    def upload():
        result['resp'] = admin.put(
            '/v2/images/%s/file' % image['id'],
            data=_StallingFile(data, started, resume),
            headers=dict(OCTET, **{'X-Image-Meta-Store': store}))

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert started.wait(60)
        su.kill(storage, daemon)
    finally:
        resume.set()
        thread.join(120)
    try:
        resp = result['resp']
        assert resp.status_code == 503, resp.text
        assert 'Image storage failed' in iu.message(resp)
        shown = iu.image(admin, image['id'])
        assert (shown['status'], shown['size'], shown['checksum']) == \
            ('queued', None, None)
    finally:
        _restart(storage, daemon)
    assert su.objects_of(storage, store, image['id']) == []
    # The store works again and the same image can be uploaded.
    assert _upload(admin, image['id'], data, store).status_code == 204
    _check_data(admin, image['id'], data)


def _restart(settings, daemon):
    if daemon == 'radosgw':
        ready = lambda: su.s3_client(settings).head_bucket(  # noqa: E731
            Bucket=settings['GI_S3_BUCKET'])
    else:
        def ready():
            conn = su.swift_connection(settings)
            conn.put_object(settings['GI_SWIFT_CONTAINER'], 'probe', b'ok')
            conn.delete_object(settings['GI_SWIFT_CONTAINER'], 'probe')
            return True
    su.restart(settings, daemon, ready)


def _closed_port():
    return fixtures.free_port()


def test_unreachable_stores_fail_per_request_quickly(service_factory,
                                                     storage, stores_dir,
                                                     tmp_path):
    """Stores that cannot be reached do not stop the service; each write
    to them is a clear 503 within the configured timeouts."""
    port = _closed_port()
    ceph_conf = tmp_path / 'ceph.conf'
    ceph_conf.write_text(
        '[global]\nmon_host = 127.0.0.1:%d\nauth_client_required = cephx\n'
        'keyring = %s\n' % (port, storage['GI_RBD_KEYRING']))
    swift_conf = tmp_path / 'swift-store.conf'
    swift_conf.write_text(
        '[ref1]\nauth_address = http://127.0.0.1:%d/v3\nauth_version = 3\n'
        'user = service:glance\nkey = secret\nuser_domain_id = default\n'
        'project_domain_id = default\n' % port)
    svc = service_factory(su.store_overrides(
        storage, stores_dir,
        **{'ceph.rbd_store_ceph_conf': str(ceph_conf),
           'ceph.rados_connect_timeout': 3,
           'objects.s3_store_host': 'http://127.0.0.1:%d' % port,
           'swift.swift_store_config_file': str(swift_conf)}))
    admin = fixtures.Client(svc.url)
    for store in su.REMOTE:
        image = iu.create(admin, name='unreachable-%s' % store)
        started = time.monotonic()
        resp = _upload(admin, image['id'], b'x' * 4096, store)
        assert time.monotonic() - started < 45, store
        assert resp.status_code == 503, (store, resp.text)
        assert 'Image storage failed' in iu.message(resp), store
        assert iu.image(admin, image['id'])['status'] == 'queued'
    # The reachable local store still works.
    image = iu.create(admin, name='unreachable-local')
    assert _upload(admin, image['id'], DATA, 'local').status_code == 204


@pytest.mark.parametrize('overrides,text', [
    ({'glance_store.default_backend': 'nowhere'},
     'default_backend'),
    ({'enabled_backends': 'ceph:rbd, objects:s4'}, "unknown type 's4'"),
    ({'enabled_backends': 'os_glance_ceph:rbd'}, 'reserved'),
])
def test_misconfigured_stores_refuse_to_start(tmp_path, storage, overrides,
                                              text):
    directory = tmp_path / 'svc'
    directory.mkdir()
    config = dict(su.store_overrides(storage, str(tmp_path / 'stores')))
    config.update(overrides)
    proc = fixtures.ServiceProcess(str(directory), None, config)
    with pytest.raises(RuntimeError) as err:
        proc.start(timeout=60)
    proc.stop()
    assert text in str(err.value)


# glance_store's Swift segmented upload -------------------------------------

def test_swift_short_last_segment_bug_and_fix(service_factory, storage,
                                              stores_dir):
    """glance_store sends the full segment length for a short last
    segment (Swift answers 499); swift_fix sends segments chunked."""
    svc = service_factory(su.store_overrides(
        storage, stores_dir,
        **{'swift.swift_store_large_object_size': 1,
           'swift.swift_store_large_object_chunk_size': 1}))
    conf = cfg.CONF
    size = 2 * 1024 * 1000 + 4321       # glance_store's MB is 1024000
    data = os.urandom(size)

    bug_id = str(uuid.uuid4())
    with pytest.raises(Exception) as err:
        multi_backend.add_with_multihash(
            conf, bug_id, io.BytesIO(data), size, 'swift', 'sha512')
    assert 'put_object' in str(err.value)
    assert su.objects_of(storage, 'swift', bug_id) == []

    fixed_id = str(uuid.uuid4())
    announced = swift_fix.store_size('swift', size)
    assert announced == 0
    url, written, checksum, _h, _m = multi_backend.add_with_multihash(
        conf, fixed_id, io.BytesIO(data), announced, 'swift', 'sha512')
    swift_fix.check_written(size, written)
    assert checksum == hashlib.md5(data).hexdigest()
    assert len(su.objects_of(storage, 'swift', fixed_id)) == 4  # 3 + DLO
    chunks, got_size = multi_backend.get(url, 'swift')
    assert (b''.join(chunks), got_size) == (data, size)
    multi_backend.delete(url, 'swift')
    # Exact multiples and small images keep their size.
    assert swift_fix.store_size('swift', 3 * 1024 * 1000) == 3 * 1024 * 1000
    assert swift_fix.store_size('swift', 1000) == 1000
    assert swift_fix.store_size('ceph', size) == size
    with pytest.raises(exception.StoreError):
        swift_fix.check_written(size, size - 1)

    # Through the API the adapter applies the fix.
    admin = fixtures.Client(svc.url)
    image = iu.create(admin, name='segmented')
    assert _upload(admin, image['id'], data, 'swift').status_code == 204
    _check_data(admin, image['id'], data)
    assert len(su.objects_of(storage, 'swift', image['id'])) == 4


# Several API nodes, no shared filesystem -----------------------------------

def test_two_nodes_stage_on_one_import_through_other(tmp_path, storage,
                                                     test_db_url):
    """Per-node staging, common Ceph and S3 stores, common database:
    stage on node a, import through node b (forwarded to a), download
    from both."""
    db_url = test_db_url or 'sqlite:///%s/shared.sqlite' % tmp_path
    if test_db_url:
        fixtures.empty_database_if_migrated(test_db_url)
        fixtures.migrate(test_db_url)
    nodes = []
    try:
        for name in ('a', 'b'):
            directory = tmp_path / name
            directory.mkdir()
            port = fixtures.free_port()
            overrides = su.store_overrides(
                storage, str(directory),
                enabled_backends='ceph:rbd, objects:s3',
                worker_self_reference_url='http://127.0.0.1:%d' % port)
            overrides = {k: v for k, v in overrides.items()
                         if not k.startswith(('swift.', 'local.'))}
            node = fixtures.ServiceProcess(str(directory), db_url,
                                           overrides, port=port)
            nodes.append(node)
            node.start(timeout=90)
        a, b = nodes
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        image = iu.create(ca, name='two-nodes')
        iu.stage(ca, image['id'], DATA)
        staging_a = os.path.join(a.directory, 'staging')
        assert iu.files_in(staging_a) == [image['id']]
        assert iu.files_in(os.path.join(b.directory, 'staging')) == []
        resp = iu.start_import(cb, image['id'], stores=['ceph', 'objects'])
        assert resp.status_code == 202, resp.text
        task = iu.wait_task(cb, image['id'], timeout=120)
        assert task['status'] == 'success', task['message']
        for client in (ca, cb):
            shown = _check_data(client, image['id'], DATA)
            assert _stores_of(shown) == ['ceph', 'objects']
        assert iu.files_in(staging_a) == []
        for store in ('ceph', 'objects'):
            assert su.objects_of(storage, store, image['id'])
        # Each node serves each store: remove ceph through node b.
        resp = cb.delete('/v2/stores/ceph/%s' % image['id'])
        assert resp.status_code == 204, resp.text
        for client in (ca, cb):
            _check_data(client, image['id'], DATA)
        assert cb.delete('/v2/images/%s' % image['id']).status_code == 204
        assert su.objects_of(storage, 'objects', image['id']) == []
    finally:
        for node in nodes:
            node.stop()


# Memory stays flat in the image size ---------------------------------------

BIG = 512 * 1024 * 1024


@pytest.mark.parametrize('store', su.REMOTE)
def test_memory_flat_moving_512_mib(process_factory, storage, tmp_path,
                                    store):
    proc = process_factory(su.store_overrides(storage, str(tmp_path)))
    admin = fixtures.Client(proc.url)
    image = iu.create(admin, name='big-%s' % store)
    baseline = su.PeakRss(proc.proc.pid).rss()
    with su.PeakRss(proc.proc.pid) as upload:
        resp = admin.put('/v2/images/%s/file' % image['id'],
                         data=su.PatternBody(BIG),
                         headers=dict(OCTET, **{'X-Image-Meta-Store': store}),
                         timeout=600)
    assert resp.status_code == 204, resp.text
    md5, sha512 = su.pattern_digests(BIG)
    shown = iu.image(admin, image['id'])
    assert (shown['size'], shown['checksum'], shown['os_hash_value']) == \
        (BIG, md5, sha512)
    with su.PeakRss(proc.proc.pid) as download:
        got_md5, size = hashlib.md5(), 0
        with admin.get('/v2/images/%s/file' % image['id'], stream=True,
                       timeout=600) as resp:
            assert resp.status_code == 200
            for chunk in resp.iter_content(1 << 20):
                got_md5.update(chunk)
                size += len(chunk)
    assert (size, got_md5.hexdigest()) == (BIG, md5)
    # A whole-image buffer would add 512 MiB; streaming stays far below.
    # (S3 multipart keeps up to s3_store_thread_pools parts of 10 MB.)
    limit = 200 * 1024 * 1024
    assert upload.peak - baseline < limit, (upload.peak, baseline)
    assert download.peak - baseline < limit, (download.peak, baseline)
    assert admin.delete('/v2/images/%s' % image['id']).status_code == 204

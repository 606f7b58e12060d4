"""Two API processes sharing a database and a store.

Per-node staging: each node has its own staging directory and names
itself with worker_self_reference_url; a glance-direct import or a
DELETE reaching the node that did not stage the data is forwarded to
the one that did. Shared staging: any node imports, nothing is
forwarded.
"""

import contextlib
import os

from tests import fixtures
from tests.functional import importutil

DATA = os.urandom(3 * (1 << 20) + 17)


@contextlib.contextmanager
def two_nodes(tmp_path, test_db_url, *, self_urls=True, shared_staging=False,
              extra_overrides=None):
    """Start nodes 'a' and 'b'; yields them, stops them at the end.

    *extra_overrides(directory)*: more options for the node rooted at
    *directory*. Each node's ``db_url`` is the shared database's.
    """
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
            overrides = {'glance_store.filesystem_store_datadir':
                         str(tmp_path / 'store')}
            if self_urls:
                overrides['worker_self_reference_url'] = \
                    'http://127.0.0.1:%d' % port
            if shared_staging:
                overrides['node_staging_uri'] = \
                    'file://%s' % (tmp_path / 'staging')
            if extra_overrides:
                overrides.update(extra_overrides(directory))
            node = fixtures.ServiceProcess(str(directory), db_url,
                                           overrides, port=port)
            node.db_url = db_url
            nodes.append(node)
            node.start()
        yield nodes
    except BaseException:
        # Shown by pytest with the failure: what each node logged.
        for node in nodes:
            with open(node.log_path, errors='replace') as f:
                print('--- node %s log\n%s' % (
                    os.path.basename(node.directory), f.read()[-20000:]))
        raise
    finally:
        for node in nodes:
            node.stop()


def _staging(node):
    return importutil.files_in(os.path.join(node.directory, 'staging'))


def test_import_through_other_node_is_forwarded(tmp_path, test_db_url):
    with two_nodes(tmp_path, test_db_url) as (a, b):
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        image = importutil.create(ca, name='multi')
        importutil.stage(ca, image['id'], DATA)
        assert _staging(a) == [image['id']] and _staging(b) == []

        resp = importutil.start_import(cb, image['id'],
                                       headers={'X-Openstack-Request-ID':
                                                'req-from-client'})
        assert resp.status_code == 202, resp.text
        active = importutil.wait_status(cb, image['id'], 'active')
        assert active['checksum'] == importutil.digests(DATA)[0]
        assert importutil.download(cb, image['id']) == DATA
        # Node a ran the task, under its own request id, which node b
        # returned to the client.
        task = importutil.wait_task(ca, image['id'])
        assert task['status'] == 'success', task
        assert resp.headers['X-Openstack-Request-ID'] == task['request_id']
        assert task['request_id'] != 'req-from-client'
        assert _staging(a) == [] and _staging(b) == []


def test_remote_refusal_is_passed_through(tmp_path, test_db_url):
    with two_nodes(tmp_path, test_db_url) as (a, b):
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        image = importutil.create(ca, name='refused')
        importutil.stage(ca, image['id'], DATA)
        # A body node a rejects (the checks on the image run there).
        resp = importutil.start_import(cb, image['id'],
                                       all_stores_must_succeed='no')
        assert resp.status_code == 400, resp.text
        assert 'must be boolean' in importutil.message(resp)
        assert importutil.image(ca, image['id'])['status'] == 'uploading'


def test_delete_through_other_node_is_forwarded(tmp_path, test_db_url):
    with two_nodes(tmp_path, test_db_url) as (a, b):
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        image = importutil.create(ca, name='gone')
        importutil.stage(ca, image['id'], DATA)
        resp = cb.delete('/v2/images/%s' % image['id'])
        assert resp.status_code == 204, resp.text
        assert ca.get('/v2/images/%s' % image['id']).status_code == 404
        # Node a removed its staged data at once.
        assert _staging(a) == []


def test_stage_host_down(tmp_path, test_db_url):
    with two_nodes(tmp_path, test_db_url) as (a, b):
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        kept = importutil.create(ca, name='kept')
        importutil.stage(ca, kept['id'], DATA)
        dropped = importutil.create(ca, name='dropped')
        importutil.stage(ca, dropped['id'], DATA)
        a.kill()

        resp = importutil.start_import(cb, kept['id'])
        assert resp.status_code == 504, resp.text
        assert 'Stage host is unavailable' in importutil.message(resp)
        assert importutil.image(cb, kept['id'])['status'] == 'uploading'

        # A delete still works, locally; node a's residue stays ...
        resp = cb.delete('/v2/images/%s' % dropped['id'])
        assert resp.status_code == 204, resp.text
        assert cb.get('/v2/images/%s' % dropped['id']).status_code == 404
        assert dropped['id'] in _staging(a)
        # ... until node a starts again and sweeps its staging area.
        a.start()
        assert _staging(a) == [kept['id']]
        resp = importutil.start_import(cb, kept['id'])
        assert resp.status_code == 202, resp.text
        importutil.wait_status(cb, kept['id'], 'active')
        assert importutil.wait_task(cb, kept['id'])['status'] == 'success'
        assert _staging(a) == []


def test_shared_staging_imports_anywhere(tmp_path, test_db_url):
    with two_nodes(tmp_path, test_db_url, self_urls=False,
                   shared_staging=True) as (a, b):
        ca, cb = fixtures.Client(a.url), fixtures.Client(b.url)
        image = importutil.create(ca, name='shared')
        importutil.stage(ca, image['id'], DATA)
        resp = importutil.start_import(cb, image['id'])
        assert resp.status_code == 202, resp.text
        importutil.wait_status(cb, image['id'], 'active')
        # Node b ran it: its request id is on the task.
        task = importutil.wait_task(cb, image['id'])
        assert task['request_id'] == resp.headers['X-Openstack-Request-ID']
        assert importutil.download(ca, image['id']) == DATA
        assert importutil.files_in(str(tmp_path / 'staging')) == []

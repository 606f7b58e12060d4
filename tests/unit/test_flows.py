"""Import flows: composition without side effects, and each step's revert.

Steps run directly (no engine, no HTTP) against the configured test
database, a staging directory and a file store, so every revert is seen
undoing exactly what its execute did.
"""

import os
import uuid

import pytest
from oslo_config import cfg
from taskflow.types import failure as tf_failure

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import steps
from glance_import.importer.plugins import inject_image_metadata
from glance_import.store import staging
from tests import fixtures

DATA = os.urandom(64 * 1024)


@pytest.fixture
def env(tmp_path, test_db_url):
    """Global configuration, database and stores for a multi-store site."""
    from glance_import import startup
    from glance_import.api import app
    from glance_import.db import migration
    if test_db_url:
        fixtures.empty_database_if_migrated(test_db_url)
    path = fixtures.write_config(str(tmp_path), test_db_url, {
        'enabled_backends': 'fast:file,slow:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
        'inject_metadata_properties.inject': 'k1:v1',
        'inject_metadata_properties.ignore_user_roles': 'admin',
    })
    conf = startup.load_config(['--config-file', path], 'glance-api')
    app.init_service(conf, auto_migrate=True)
    if migration.current_version() != migration.head_version():
        migration.upgrade()
    yield tmp_path
    db_engine.dispose()


@pytest.fixture
def ctx():
    return context.admin_context()


def new_import(ctx, status=images.IMPORTING, stores=('fast', 'slow'),
               data=DATA, **values):
    """An image locked by a fresh processing task, with staged data."""
    values.setdefault('disk_format', 'raw')
    values.setdefault('container_format', 'bare')
    image = db_images.image_create(ctx, dict(values, owner='p1',
                                             visibility='private'))
    task = db_tasks.task_create(ctx, {'type': 'api_image_import',
                                      'owner': 'p1', 'status': 'processing',
                                      'image_id': image.id})
    db_locks.acquire_import_lock(ctx, image.id, task['id'])
    db_images.image_update(ctx, image.id, {'status': status},
                           set_properties={images.IMPORTING_TO_STORES:
                                           ','.join(stores)})
    if data is not None:
        staging.write(cfg.CONF, image.id, [data], len(data) + 1)
    return image.id, task['id']


def get(ctx, image_id):
    return db_images.image_get(ctx, image_id, check_visible=False)


def staged(image_id):
    return os.path.exists(staging.path(cfg.CONF, image_id))


# Flow composition --------------------------------------------------------

def test_building_a_flow_touches_nothing(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError('flow building must not touch the database')
    for module, name in ((db_images, 'image_get'),
                         (db_images, 'image_update'),
                         (db_tasks, 'task_update'),
                         (db_images, 'image_add_location')):
        monkeypatch.setattr(module, name, forbidden)
    flow = flows.get_flow(image_id=str(uuid.uuid4()),
                          task_id=str(uuid.uuid4()), method='glance-direct',
                          stores=['fast', 'slow'], plugin_names=['no_op'])
    names = [atom.name for atom in flow]
    assert names == ['ImportLock', 'UseStagedData', 'plugin-no_op',
                     'InspectFormat', 'WriteToStore-fast',
                     'WriteToStore-slow', 'DeleteStaging', 'Complete']


@pytest.mark.parametrize('method, data_steps', [
    ('web-download', ['WebDownload']),
    ('copy-image', ['CopyFromStore']),
    ('glance-download', ['RemoteMetadata', 'RemoteDownload']),
])
def test_flow_per_method(method, data_steps):
    flow = flows.get_flow(
        image_id='i', task_id='t', method=method, stores=[None],
        uri='http://example.com/x', plugin_names=['no_op'],
        remote={'image_id': 'r', 'region': 'R', 'interface': 'public'})
    names = [atom.name for atom in flow]
    assert names[1:1 + len(data_steps)] == data_steps
    # Plugins and inspection never run for copy-image.
    assert ('plugin-no_op' in names) == (method != 'copy-image')
    assert names[-3:] == ['WriteToStore-default', 'DeleteStaging',
                          'Complete']


def test_unknown_method_refused():
    with pytest.raises(ValueError):
        flows.get_flow(image_id='i', task_id='t', method='nope',
                       stores=[None])


def test_set_active_flags():
    assert flows.set_active_flags(['a', 'b'], 'glance-direct', True) == \
        [False, True]
    assert flows.set_active_flags(['a', 'b'], 'glance-direct', False) == \
        [True, True]
    assert flows.set_active_flags(['a', 'b'], 'copy-image', False) == \
        [False, False]


def test_flow_args_from_task_row():
    task = {'id': 't', 'image_id': 'i', 'input': {
        'image_id': 'i', 'backend': ['fast'],
        'import_req': {'method': {'name': 'glance-download',
                                  'glance_image_id': 'r',
                                  'glance_region': 'R'},
                       'all_stores_must_succeed': False}}}

    class Conf:
        class image_import_opts:
            image_import_plugins = ['no_op']
    args = flows.flow_args_from_task(task, Conf)
    assert args == {'image_id': 'i', 'task_id': 't',
                    'method': 'glance-download', 'stores': ['fast'],
                    'all_stores_must_succeed': False, 'uri': None,
                    'remote': {'image_id': 'r', 'region': 'R',
                               'interface': 'public'},
                    'plugin_names': ['no_op']}


# Reverts -------------------------------------------------------------------

def test_import_lock_revert_restores_image(env, ctx):
    image_id, task_id = new_import(ctx)
    step = steps.ImportLock(image_id, task_id, 'glance-direct',
                            ['fast', 'slow'])
    step.execute(cfg.CONF)
    step.revert(cfg.CONF, None)
    image = get(ctx, image_id)
    assert image.status == images.QUEUED
    assert image.import_lock is None
    assert image.properties[images.IMPORTING_TO_STORES] == ''
    assert image.properties[images.FAILED_IMPORT] == 'fast,slow'
    assert not staged(image_id)


def test_import_lock_revert_leaves_a_taken_over_image_alone(env, ctx):
    image_id, task_id = new_import(ctx)
    other = str(uuid.uuid4())
    db_locks.release_import_lock(ctx, image_id, task_id)
    db_locks.acquire_import_lock(ctx, image_id, other)
    with pytest.raises(steps.ImportAborted):
        steps.ImportLock(image_id, task_id, 'glance-direct',
                         ['fast']).execute(cfg.CONF)
    steps.ImportLock(image_id, task_id, 'glance-direct', ['fast']).revert(
        cfg.CONF, None)
    image = get(ctx, image_id)
    assert image.status == images.IMPORTING
    assert image.import_lock == other
    assert staged(image_id)


def test_copy_image_revert_keeps_image_active(env, ctx):
    image_id, task_id = new_import(ctx, status=images.IMPORTING,
                                   stores=['slow'])
    db_images.image_update(ctx, image_id, {'status': images.ACTIVE})
    steps.ImportLock(image_id, task_id, 'copy-image', ['slow']).revert(
        cfg.CONF, None)
    image = get(ctx, image_id)
    assert image.status == images.ACTIVE
    assert image.properties[images.FAILED_IMPORT] == 'slow'


def test_staging_step_revert_removes_staged_data(env, ctx):
    image_id, task_id = new_import(ctx)
    step = steps.UseStagedData(image_id, task_id)
    step.execute(cfg.CONF)
    step.revert(cfg.CONF, None)
    assert not staged(image_id)


def test_staged_data_must_exist(env, ctx):
    image_id, task_id = new_import(ctx, data=None)
    with pytest.raises(exception.ImportTaskError):
        steps.UseStagedData(image_id, task_id).execute(cfg.CONF)


def test_inspect_revert_clears_virtual_size(env, ctx):
    image_id, task_id = new_import(ctx)
    step = steps.InspectFormat(image_id, task_id)
    step.execute(cfg.CONF)
    assert get(ctx, image_id).virtual_size == len(DATA)
    step.revert(cfg.CONF, None)
    assert get(ctx, image_id).virtual_size is None


def test_inspect_refuses_mismatch(env, ctx):
    image_id, task_id = new_import(ctx, data=b'QFI\xfb' + b'\0' * 4096,
                                   disk_format='vmdk')
    with pytest.raises(exception.ImportTaskError) as info:
        steps.InspectFormat(image_id, task_id).execute(cfg.CONF)
    assert 'Image' in info.value.msg


@pytest.mark.parametrize('as_failure', [False, True])
def test_write_to_store_revert_removes_its_copy(env, ctx, as_failure):
    image_id, task_id = new_import(ctx)
    step = steps.WriteToStore(image_id, task_id, 'fast', set_active=True,
                              must_succeed=True)
    result = step.execute(cfg.CONF)
    image = get(ctx, image_id)
    assert image.status == images.ACTIVE
    assert image.stores == ['fast']
    assert os.listdir(env / 'fast') == [image_id]
    assert image.properties[images.IMPORTING_TO_STORES] == 'slow'
    if as_failure:
        # As if the step had failed right after recording its copy.
        try:
            raise RuntimeError('late failure')
        except RuntimeError:
            result = tf_failure.Failure()
    step.revert(cfg.CONF, result)
    image = get(ctx, image_id)
    assert image.locations == []
    assert os.listdir(env / 'fast') == []
    failed = image.properties.get(images.FAILED_IMPORT, '')
    assert failed == ('fast' if as_failure else '')


def test_write_to_store_tolerated_failure(env, ctx, monkeypatch):
    from glance_import.store import backends
    image_id, task_id = new_import(ctx)

    def broken(*args, **kwargs):
        raise OSError('store down')
    monkeypatch.setattr(backends, 'add_from_staged_file', broken)
    step = steps.WriteToStore(image_id, task_id, 'slow', set_active=True,
                              must_succeed=False)
    assert step.execute(cfg.CONF) is None
    image = get(ctx, image_id)
    assert image.status == images.IMPORTING
    assert image.properties[images.FAILED_IMPORT] == 'slow'
    assert image.properties[images.IMPORTING_TO_STORES] == 'fast'
    step = steps.WriteToStore(image_id, task_id, 'slow', set_active=True,
                              must_succeed=True)
    with pytest.raises(OSError):
        step.execute(cfg.CONF)


def test_second_store_must_match_the_first(env, ctx):
    image_id, task_id = new_import(ctx)
    steps.WriteToStore(image_id, task_id, 'fast', False, True).execute(
        cfg.CONF)
    staging.delete(cfg.CONF, image_id)
    staging.write(cfg.CONF, image_id, [DATA[::-1]], len(DATA) + 1)
    with pytest.raises(exception.ImportTaskError) as info:
        steps.WriteToStore(image_id, task_id, 'slow', True, True).execute(
            cfg.CONF)
    assert 'does not match' in info.value.msg
    assert os.listdir(env / 'slow') == []


def test_complete_needs_active_image_and_drops_lock(env, ctx):
    image_id, task_id = new_import(ctx)
    with pytest.raises(exception.ImportTaskError) as info:
        steps.Complete(image_id, task_id, 'glance-direct').execute(cfg.CONF)
    assert info.value.msg == 'None of the uploads finished!'
    db_images.image_update(ctx, image_id, {'status': images.ACTIVE})
    steps.Complete(image_id, task_id, 'glance-direct').execute(cfg.CONF)
    assert get(ctx, image_id).import_lock is None


def test_inject_metadata_revert_restores_properties(env, ctx):
    image_id, task_id = new_import(ctx, data=None)
    db_images.image_update(ctx, image_id, set_properties={'k1': 'old'})
    step = inject_image_metadata.get_flow(image_id, task_id)
    result = step.execute(cfg.CONF, {'roles': ['member']})
    assert get(ctx, image_id).properties['k1'] == 'v1'
    step.revert(cfg.CONF, result)
    assert get(ctx, image_id).properties['k1'] == 'old'
    # Users with an ignored role get nothing injected.
    db_images.image_update(ctx, image_id, remove_properties=['k1'])
    assert step.execute(cfg.CONF, {'roles': ['admin']}) is None
    assert 'k1' not in get(ctx, image_id).properties


def test_remote_metadata_revert_restores_formats(env, ctx, monkeypatch):
    from glance_import.importer import remote
    image_id, task_id = new_import(ctx, data=None, disk_format='qcow2')
    monkeypatch.setattr(remote, 'image_info', lambda *a: {
        'disk_format': 'raw', 'container_format': 'bare', 'size': 10,
        'hw_disk_bus': 'scsi', 'status': 'active'})
    step = steps.RemoteMetadata(image_id, task_id, 'r', 'R', 'public')
    result = step.execute(cfg.CONF, {})
    image = get(ctx, image_id)
    assert image.disk_format == 'raw'
    assert image.properties['hw_disk_bus'] == 'scsi'
    assert result['size'] == 10
    step.revert(cfg.CONF, result)
    image = get(ctx, image_id)
    assert image.disk_format == 'qcow2'
    assert 'hw_disk_bus' not in image.properties


# Persisted flow state -----------------------------------------------------

def test_saving_flow_state_compiles_each_statement_once(env):
    import contextlib

    import taskflow.engines
    from taskflow import task
    from taskflow.patterns import linear_flow
    from taskflow.utils import persistence_utils

    from glance_import.importer import persistence

    class Step(task.Task):
        def execute(self):
            return self.name

    backend = persistence.backend()

    def run_flow():
        flow = linear_flow.Flow('f').add(*(Step('s%d' % i) for i in range(3)))
        book, detail = persistence_utils.temporary_flow_detail(backend)
        taskflow.engines.run(flow, book=book, flow_detail=detail,
                             backend=backend)
        with contextlib.closing(backend.get_connection()) as conn:
            saved = conn.get_flow_details(detail.uuid)
            conn.destroy_logbook(book.uuid)
        assert saved.state == 'SUCCESS'
        assert sorted(a.results for a in saved) == ['s0', 's1', 's2']
        return len(backend.engine._compiled_cache)

    after_first = run_flow()
    # taskflow used to build new tables per save: new cache keys each time.
    assert [run_flow() for _ in range(3)] == [after_first] * 3

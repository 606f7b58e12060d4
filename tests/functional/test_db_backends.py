"""The database on the backend named by GLANCE_IMPORT_TEST_DB.

Each run of the suite (SQLite, PostgreSQL, MySQL) runs these: schema
commands, a real server on the migrated database, models matching the
migrations, and compare-and-swap updates racing from two connections.
"""

import os
import subprocess
import sys
import threading
import types
import uuid

import pytest
import sqlalchemy as sa
from alembic import autogenerate
from alembic import migration as alembic_migration

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import migration
from glance_import.db import models
from glance_import.db import tasks as db_tasks
from tests import fixtures

BIN = os.path.dirname(sys.executable)
RACES = 10


def _manage(tmp_path, url, *args):
    conf = tmp_path / 'manage.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                    'connection = %s\n' % (tmp_path, url))
    return subprocess.run(
        [os.path.join(BIN, 'glance-import-manage'), '--config-file',
         str(conf), *args],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)


def test_db_sync_and_version_then_serve(tmp_path, fresh_db):
    result = _manage(tmp_path, fresh_db, 'db', 'version')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'None (run db sync)'

    result = _manage(tmp_path, fresh_db, 'db', 'sync')
    assert result.returncode == 0, result.stderr
    head = migration.head_version()
    assert result.stdout.strip() == 'Database is at version %s' % head

    # Idempotent.
    assert _manage(tmp_path, fresh_db, 'db', 'sync').returncode == 0
    result = _manage(tmp_path, fresh_db, 'db', 'version')
    assert result.stdout.strip() == head

    # A real server process on the migrated database.
    directory = tmp_path / 'api'
    directory.mkdir()
    proc = fixtures.ServiceProcess(str(directory), fresh_db)
    proc.start(timeout=60)
    try:
        client = fixtures.Client(proc.url)
        assert client.get('/versions').status_code == 200
        name = 'smoke-%s' % uuid.uuid4().hex
        resp = client.post('/v2/images', json={
            'name': name, 'disk_format': 'raw', 'container_format': 'bare'})
        assert resp.status_code == 201, resp.text
        resp = client.get('/v2/images', params={'name': name})
        assert resp.status_code == 200
        assert [i['name'] for i in resp.json()['images']] == [name]
    finally:
        proc.stop()


def test_unmigrated_database_at_startup(tmp_path, fresh_db):
    """SQLite is migrated by the server; shared databases must be synced
    first, so that nodes starting together never race on the schema."""
    if fixtures.db_kind() == 'sqlite':
        directory = tmp_path / 'api'
        directory.mkdir()
        proc = fixtures.ServiceProcess(str(directory), fresh_db).start()
        proc.stop()
        result = _manage(tmp_path, fresh_db, 'db', 'version')
        assert result.stdout.strip() == migration.head_version()
        return
    conf = fixtures.write_config(str(tmp_path), fresh_db,
                                 port=fixtures.free_port())
    result = subprocess.run(
        [os.path.join(BIN, 'glance-import-api'), '--config-file', conf],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'glance-import-api: error: The database schema is not current; run '
        '"glance-import-manage db sync"')


@pytest.fixture(scope='module')
def migrated_db(tmp_path_factory):
    """One freshly migrated database for the tests below (migrating is
    slow on MySQL); each test works on rows of its own."""
    for url in fixtures.fresh_database(tmp_path_factory.mktemp('db')):
        _connect(url)
        migration.upgrade()
        db_engine.dispose()
        yield url


def _connect(url):
    db_engine.configure(types.SimpleNamespace(database=types.SimpleNamespace(
        connection=url, max_retries=3)))


@pytest.fixture
def db(migrated_db):
    """The db modules connected to the migrated database."""
    _connect(migrated_db)
    yield migrated_db
    db_engine.dispose()


# Created by taskflow's own migrations (persisted import flows), not
# described by our models.
TASKFLOW_TABLES = frozenset(('logbooks', 'flowdetails', 'atomdetails',
                             'taskflow_alembic_version'))


def _ours(obj, name, type_, reflected, compare_to):
    table = name if type_ == 'table' else getattr(
        getattr(obj, 'table', None), 'name', None)
    return table not in TASKFLOW_TABLES


def test_models_match_migrations(db):
    with db_engine.get_engine().connect() as conn:
        ctx = alembic_migration.MigrationContext.configure(
            conn, opts={'compare_type': True, 'include_object': _ours})
        diffs = autogenerate.compare_metadata(ctx, models.Base.metadata)
    assert diffs == []
    tables = set(sa.inspect(db_engine.get_engine()).get_table_names())
    assert tables >= TASKFLOW_TABLES


def test_schema_has_every_table(db):
    tables = set(sa.inspect(db_engine.get_engine()).get_table_names())
    assert {'images', 'image_properties', 'image_locations', 'image_tags',
            'image_members', 'tasks', 'alembic_version'} <= tables


def _race(fn, count=2):
    """Run *fn(i)* in *count* threads released together; return results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        try:
            results[i] = ('ok', fn(i))
        except exception.GlanceImportError as e:
            results[i] = ('error', e)
        except Exception as e:  # reported, not swallowed
            results[i] = ('unexpected', e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _new_image(ctx):
    return db_images.image_create(ctx, {
        'name': 'race', 'owner': ctx.project_id, 'visibility': 'private',
        'disk_format': 'raw', 'container_format': 'bare',
        'min_disk': 0, 'min_ram': 0, 'protected': False,
        'os_hidden': False})


def test_concurrent_status_updates_exactly_one_wins(db):
    ctx = context.admin_context('race-project')
    for _ in range(RACES):
        image = _new_image(ctx)
        targets = [images.SAVING, images.IMPORTING]
        results = _race(lambda i, image=image, targets=targets:
                        db_images.image_update(
                            context.admin_context('race-project'), image.id,
                            {'status': targets[i]},
                            from_status=images.QUEUED))
        outcomes = sorted(r[0] for r in results)
        assert outcomes == ['error', 'ok'], results
        loser = next(r[1] for r in results if r[0] == 'error')
        assert isinstance(loser, exception.Conflict)
        winner = next(r[1] for r in results if r[0] == 'ok')
        assert db_images.image_get(ctx, image.id).status == winner.status


def test_import_lock_insert_race_exactly_one_wins(db):
    ctx = context.admin_context('race-project')
    for _ in range(RACES):
        image = _new_image(ctx)
        tasks = [str(uuid.uuid4()), str(uuid.uuid4())]
        results = _race(lambda i, image=image, tasks=tasks:
                        db_locks.acquire_import_lock(
                            context.admin_context('race-project'), image.id,
                            tasks[i]))
        assert sorted(r[0] for r in results) == ['error', 'ok'], results
        winner = tasks[[r[0] for r in results].index('ok')]
        loser = tasks[[r[0] for r in results].index('error')]
        assert isinstance(
            next(r[1] for r in results if r[0] == 'error'),
            exception.Conflict)
        assert db_images.image_get(ctx, image.id).properties[
            images.IMPORT_LOCK] == winner
        # Only the holder can drop it.
        assert db_locks.release_import_lock(ctx, image.id, loser) is False
        assert db_locks.release_import_lock(ctx, image.id, winner) is True
        assert images.IMPORT_LOCK not in db_images.image_get(
            ctx, image.id).properties


def test_concurrent_task_status_updates_exactly_one_wins(db):
    ctx = context.admin_context('race-project')
    for _ in range(RACES):
        task = db_tasks.task_create(ctx, {
            'type': 'api_image_import', 'owner': 'race-project',
            'input': {}})
        results = _race(lambda i, task=task: db_tasks.task_update(
            context.admin_context('race-project'), task['id'],
            {'status': tasks.PROCESSING},
            from_status=tasks.PENDING))
        assert sorted(r[0] for r in results) == ['error', 'ok'], results
        assert db_tasks.task_get(ctx, task['id'])['status'] == \
            tasks.PROCESSING

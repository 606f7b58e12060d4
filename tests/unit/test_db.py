"""db semantics on an SQLite file: CAS updates, the lock, tasks."""

import types
import uuid

import pytest

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import migration
from glance_import.db import tasks as db_tasks


@pytest.fixture
def ctx(tmp_path):
    conf = types.SimpleNamespace(database=types.SimpleNamespace(
        connection='sqlite:///%s/db.sqlite' % tmp_path, max_retries=3))
    db_engine.configure(conf)
    assert migration.current_version() is None
    migration.upgrade()
    assert migration.current_version() == migration.head_version()
    yield context.admin_context('project-a')
    db_engine.dispose()


def _image(ctx, **values):
    base = {'name': 'img', 'owner': ctx.project_id, 'visibility': 'private',
            'disk_format': 'raw', 'container_format': 'bare',
            'min_disk': 0, 'min_ram': 0, 'protected': False,
            'os_hidden': False}
    base.update(values)
    return db_images.image_create(ctx, base, properties={'k': 'v'},
                                  tags=['b', 'a', 'a'])


def test_create_and_get(ctx):
    image = _image(ctx)
    assert image.status == images.QUEUED
    assert image.properties == {'k': 'v'}
    assert image.tags == ['a', 'b']
    assert db_images.image_get(ctx, image.id).id == image.id


def test_duplicate_id_is_409_even_after_delete(ctx):
    image = _image(ctx)
    with pytest.raises(exception.DuplicateImage) as info:
        _image(ctx, id=image.id)
    assert info.value.status == 409
    db_images.image_delete(ctx, image.id)
    with pytest.raises(exception.DuplicateImage):
        _image(ctx, id=image.id)


def test_get_missing_or_malformed(ctx):
    for image_id in (str(uuid.uuid4()), 'x' * 100, 42):
        with pytest.raises(exception.ImageNotFound):
            db_images.image_get(ctx, image_id)


def test_invisible_image_is_not_found(ctx):
    image = _image(ctx)
    other = context.RequestContext(project_id='project-b', roles=['member'],
                                   overwrite=False)
    with pytest.raises(exception.ImageNotFound):
        db_images.image_get(other, image.id)
    assert db_images.image_get(other, image.id, check_visible=False)


def test_cas_update(ctx):
    image = _image(ctx)
    updated = db_images.image_update(ctx, image.id, {'status': images.SAVING},
                                     from_status=images.QUEUED)
    assert updated.status == images.SAVING
    with pytest.raises(exception.InvalidImageStatusTransition) as info:
        db_images.image_update(ctx, image.id, {'status': images.IMPORTING},
                               from_status=images.QUEUED)
    assert info.value.status == 409
    assert db_images.image_get(ctx, image.id).status == images.SAVING


def test_update_of_deleted_image(ctx):
    image = _image(ctx)
    db_images.image_delete(ctx, image.id)
    with pytest.raises(exception.ImageNotFound):
        db_images.image_update(ctx, image.id, {'name': 'x'})


def test_back_to_queued_clears_size(ctx):
    image = _image(ctx)
    db_images.image_update(ctx, image.id, {'status': images.SAVING,
                                           'size': 10, 'virtual_size': 20})
    image = db_images.image_update(ctx, image.id, {'status': images.QUEUED},
                                   from_status=images.SAVING)
    assert (image.size, image.virtual_size) == (None, None)


def test_properties_and_tags_in_one_update(ctx):
    image = _image(ctx)
    image = db_images.image_update(ctx, image.id, {'name': 'renamed'},
                                   set_properties={'k': 'v2', 'n': '1'},
                                   remove_properties=['missing'],
                                   tags=['t'])
    assert image.name == 'renamed'
    assert image.properties == {'k': 'v2', 'n': '1'}
    assert image.tags == ['t']


def test_location_with_cas_activation(ctx):
    image = _image(ctx)
    db_images.image_update(ctx, image.id, {'status': images.SAVING})
    db_images.image_add_location(ctx, image.id, 'file:///x', {'store': 'f'},
                                 values={'status': images.ACTIVE, 'size': 3},
                                 from_status=images.SAVING)
    image = db_images.image_get(ctx, image.id)
    assert image.status == images.ACTIVE
    assert [loc['url'] for loc in image.locations] == ['file:///x']
    # A second activation from saving loses and adds no location.
    with pytest.raises(exception.InvalidImageStatusTransition):
        db_images.image_add_location(ctx, image.id, 'file:///y', {},
                                     values={'status': images.ACTIVE},
                                     from_status=images.SAVING)
    assert len(db_images.image_get(ctx, image.id).locations) == 1
    locations = db_images.image_delete(ctx, image.id)
    assert [loc['url'] for loc in locations] == ['file:///x']


def test_import_lock(ctx):
    image = _image(ctx)
    db_locks.acquire_import_lock(ctx, image.id, 'task-1')
    with pytest.raises(exception.Conflict):
        db_locks.acquire_import_lock(ctx, image.id, 'task-2')
    # Taking over only works while the stale holder still has it.
    with pytest.raises(exception.ImportLockHeld):
        db_locks.acquire_import_lock(ctx, image.id, 'task-3',
                                     stale_task_id='task-9')
    db_locks.acquire_import_lock(ctx, image.id, 'task-3',
                                 stale_task_id='task-1')
    assert db_locks.release_import_lock(ctx, image.id, 'task-1') is False
    assert db_locks.release_import_lock(ctx, image.id, 'task-3') is True
    db_locks.acquire_import_lock(ctx, image.id, 'task-4')


def test_task_status_cas(ctx):
    task = db_tasks.task_create(ctx, {'type': 'api_image_import',
                                      'owner': 'project-a', 'input': {'a': 1}})
    assert task['status'] == tasks.PENDING
    assert task['input'] == {'a': 1}
    db_tasks.task_update(ctx, task['id'], {'status': tasks.PROCESSING},
                         from_status=tasks.PENDING)
    with pytest.raises(exception.Conflict):
        db_tasks.task_update(ctx, task['id'],
                             {'status': tasks.PROCESSING},
                             from_status=tasks.PENDING)
    with pytest.raises(exception.Conflict):
        db_tasks.task_update(ctx, task['id'], {'status': tasks.PENDING},
                             from_status=tasks.PROCESSING)
    db_tasks.task_update(ctx, task['id'], {'status': tasks.SUCCESS,
                                           'result': {'image_id': 'x'}},
                         from_status=tasks.PROCESSING)
    task = db_tasks.task_get(ctx, task['id'])
    assert (task['status'], task['result']) == (tasks.SUCCESS,
                                                {'image_id': 'x'})


def test_task_owner_filter(ctx):
    task = db_tasks.task_create(ctx, {'type': 'api_image_import',
                                      'owner': 'project-a', 'input': {}})
    with pytest.raises(exception.TaskNotFound):
        db_tasks.task_get(ctx, task['id'], owner='project-b')


def test_sqlite_connections_are_pooled_and_tuned(ctx):
    import sqlalchemy as sa
    engine = db_engine.get_engine()
    opened = []

    def connected(dbapi_connection, record):
        opened.append(dbapi_connection)
    sa.event.listen(engine, 'connect', connected)
    try:
        image = _image(ctx)
        for _ in range(20):
            db_images.image_get(ctx, image.id)
    finally:
        sa.event.remove(engine, 'connect', connected)
    # One transaction at a time: one connection, kept open.
    assert len(opened) <= 1
    with engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        assert driver.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        assert driver.execute('PRAGMA busy_timeout').fetchone()[0] == 30000
        assert driver.execute('PRAGMA foreign_keys').fetchone()[0] == 1

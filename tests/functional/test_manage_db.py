"""glance-import-manage against the backend named by GLANCE_IMPORT_TEST_DB:
db check, the expand/migrate/contract phases, and db purge."""

import datetime
import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest
import sqlalchemy as sa

from glance_import import images
from glance_import.db import migration
from glance_import.db import models
from glance_import.db import purge
from tests import fixtures

BIN = os.path.dirname(sys.executable)
PROG = 'glance-import-manage'
UP_TO_DATE = 'Database is up to date. No migrations needed.'

# Runs the command on another migration directory: a stand-in release.
WITH_SCRIPTS = textwrap.dedent('''\
    import sys
    from glance_import.db import migration
    migration._SCRIPT_DIR = sys.argv.pop(1)
    from glance_import.cmd import manage
    sys.exit(manage.main(sys.argv[1:]))
''')


def manage(directory, url, *args, scripts=None):
    conf = directory / 'manage.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                    'connection = %s\n' % (directory, url))
    if scripts is None:
        command = [os.path.join(BIN, PROG)]
    else:
        command = [sys.executable, '-c', WITH_SCRIPTS, str(scripts)]
    return subprocess.run(
        [*command, '--config-file', str(conf), *args],
        capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL)


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _error(result):
    assert result.returncode == 1, result.stdout
    return result.stderr.splitlines()[-1]


# db check and the phases on the shipped revisions ----------------------

def test_check_fresh_then_synced(tmp_path, fresh_db):
    result = manage(tmp_path, fresh_db, 'db', 'check')
    assert result.returncode == 3
    assert result.stdout.splitlines() == [
        'Your database is not up to date. Your first step is to run '
        '`glance-import-manage db expand`.']

    assert _ok(manage(tmp_path, fresh_db, 'db', 'sync')) == [
        'Database is at version %s' % migration.head_version()]
    assert _ok(manage(tmp_path, fresh_db, 'db', 'check')) == [
        'Database is up to date. No upgrades needed.']
    for step in ('expand', 'migrate', 'contract'):
        assert _ok(manage(tmp_path, fresh_db, 'db', step)) == [UP_TO_DATE]


def test_phases_on_a_fresh_database(tmp_path, fresh_db):
    head = migration.head_version()
    assert _error(manage(tmp_path, fresh_db, 'db', 'contract')) == (
        'glance-import-manage: error: Database contraction did not run. '
        'Database contraction cannot be run before database expansion. Run '
        'database expansion first using "glance-import-manage db expand"')
    assert _error(manage(tmp_path, fresh_db, 'db', 'migrate')) == (
        'glance-import-manage: error: Data migration did not run. Data '
        'migration cannot be run before database expansion. Run database '
        'expansion first using "glance-import-manage db expand"')
    # Every shipped revision is additive: expand reaches head.
    assert _ok(manage(tmp_path, fresh_db, 'db', 'expand')) == [
        'Upgraded database to: %s, current revision(s): %s' % (head, head)]
    assert manage(tmp_path, fresh_db, 'db', 'check').returncode == 0
    assert _ok(manage(tmp_path, fresh_db, 'db', 'version')) == [head]


# The phases on a stand-in release with a data and a contract migration -

REVISIONS = {
    'w1': '''
        phase = 'expand'

        def upgrade():
            op.create_table(
                'widgets',
                sa.Column('id', sa.Integer, primary_key=True),
                sa.Column('old_name', sa.String(50)),
                mysql_engine='InnoDB')
    ''',
    # Release 2: a new column the new code writes, filled from the old one
    # while old nodes still write only the old one ...
    'w2': '''
        phase = 'expand'

        def upgrade():
            op.add_column('widgets', sa.Column('name', sa.String(50)))

        def data_pending(connection):
            return connection.execute(sa.text(
                'SELECT COUNT(*) FROM widgets WHERE name IS NULL'
            )).scalar() > 0

        def migrate_data(connection):
            return connection.execute(sa.text(
                'UPDATE widgets SET name = old_name WHERE name IS NULL'
            )).rowcount
    ''',
    # ... and the old column dropped once no old node is left.
    'w3': '''
        phase = 'contract'

        def upgrade():
            with op.batch_alter_table('widgets') as batch:
                batch.drop_column('old_name')
    ''',
}


def _release(directory, names):
    """A migration directory holding the revisions *names*, in order."""
    shipped = migration._SCRIPT_DIR
    directory.mkdir()
    for name in ('env.py', 'script.py.mako'):
        shutil.copy(os.path.join(shipped, name), directory / name)
    versions = directory / 'versions'
    versions.mkdir()
    down = None
    for name in names:
        header = ('import sqlalchemy as sa\nfrom alembic import op\n\n'
                  'revision = %r\ndown_revision = %r\nbranch_labels = None\n'
                  'depends_on = None\n' % (name, down))
        (versions / ('%s.py' % name)).write_text(
            header + textwrap.dedent(REVISIONS[name]))
        down = name
    return directory


def _insert_old_style(url, *names):
    """Rows as the previous release writes them: old_name only."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name in names:
            conn.execute(sa.text('INSERT INTO widgets (old_name) VALUES '
                                 '(:n)'), {'n': name})
    engine.dispose()


def _widgets(url):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        columns = {c['name'] for c in sa.inspect(conn).get_columns('widgets')}
        rows = sorted(conn.execute(sa.text('SELECT name FROM widgets'))
                      .scalars())
    engine.dispose()
    return columns, rows


def _check(tmp_path, url, scripts):
    return manage(tmp_path, url, 'db', 'check', scripts=scripts).returncode


def test_rolling_upgrade_phases(tmp_path, fresh_db):
    old = _release(tmp_path / 'release1', ['w1'])
    new = _release(tmp_path / 'release2', ['w1', 'w2', 'w3'])
    _ok(manage(tmp_path, fresh_db, 'db', 'sync', scripts=old))
    assert _check(tmp_path, fresh_db, old) == 0
    _insert_old_style(fresh_db, 'a', 'b')

    def run(step):
        return manage(tmp_path, fresh_db, 'db', step, scripts=new)

    assert _check(tmp_path, fresh_db, new) == 3
    assert 'before database expansion' in _error(run('migrate'))
    assert 'before database expansion' in _error(run('contract'))

    assert _ok(run('expand')) == [
        'Upgraded database to: w2, current revision(s): w2']
    assert _ok(run('expand')) == [
        'Database expansion is up to date. No expansion needed.']
    assert _check(tmp_path, fresh_db, new) == 4
    assert _error(run('contract')) == (
        'glance-import-manage: error: Database contraction did not run. '
        'Database contraction cannot be run before data migration is '
        'complete. Run data migration using "glance-import-manage db '
        'migrate".')

    assert _ok(run('migrate')) == ['Migrated 2 rows']
    assert _check(tmp_path, fresh_db, new) == 5
    # An old node still writing: the data migration is due again.
    _insert_old_style(fresh_db, 'c')
    assert _check(tmp_path, fresh_db, new) == 4
    assert 'before data migration' in _error(run('contract'))
    assert _ok(run('migrate')) == ['Migrated 1 rows']
    assert _ok(run('migrate')) == [
        'Database migration is up to date. No migration needed.']

    assert _ok(run('contract')) == [
        'Upgraded database to: w3, current revision(s): w3']
    assert _check(tmp_path, fresh_db, new) == 0
    assert _ok(run('contract')) == [UP_TO_DATE]
    assert _widgets(fresh_db) == ({'id', 'name'}, ['a', 'b', 'c'])


def test_sync_runs_data_migrations_before_contract(tmp_path, fresh_db):
    old = _release(tmp_path / 'release1', ['w1'])
    new = _release(tmp_path / 'release2', ['w1', 'w2', 'w3'])
    _ok(manage(tmp_path, fresh_db, 'db', 'sync', scripts=old))
    _insert_old_style(fresh_db, 'x', 'y')
    assert _ok(manage(tmp_path, fresh_db, 'db', 'sync', scripts=new)) == [
        'Database is at version w3']
    assert _check(tmp_path, fresh_db, new) == 0
    assert _widgets(fresh_db) == ({'id', 'name'}, ['x', 'y'])


# db purge ----------------------------------------------------------------

@pytest.fixture(scope='module')
def migrated_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp('purge')
    for url in fixtures.fresh_database(directory):
        _ok(manage(directory, url, 'db', 'sync'))
        yield url


@pytest.fixture
def db(migrated_db):
    """(url, engine) of an empty migrated database."""
    fixtures.empty_database_if_migrated(migrated_db)
    engine = sa.create_engine(migrated_db)
    yield migrated_db, engine
    engine.dispose()


NOW = models.utcnow()
LONG_AGO = NOW - datetime.timedelta(days=400)
CHILD_TABLES = ('image_tags', 'image_members', 'image_properties',
                'image_locations')


def _ago(days):
    return None if days is None else NOW - datetime.timedelta(days=days)


def _add_image(conn, deleted_days=None, lock=None):
    """An image (deleted *deleted_days* ago, or live) with one row in each
    child table; *lock* names a task in its import lock."""
    image_id = str(uuid.uuid4())
    deleted = deleted_days is not None
    conn.execute(sa.insert(models.Image).values(
        id=image_id, name='img', status='deleted' if deleted else 'active',
        visibility='private', min_disk=0, min_ram=0, protected=False,
        os_hidden=False, created_at=LONG_AGO, updated_at=LONG_AGO,
        deleted=deleted, deleted_at=_ago(deleted_days)))
    conn.execute(sa.insert(models.ImageTag).values(
        image_id=image_id, value='t', created_at=LONG_AGO))
    conn.execute(sa.insert(models.ImageMember).values(
        image_id=image_id, member='p', can_share=False, status='pending',
        created_at=LONG_AGO))
    conn.execute(sa.insert(models.ImageProperty).values(
        image_id=image_id, name='k', value='v', created_at=LONG_AGO))
    if lock:
        conn.execute(sa.insert(models.ImageProperty).values(
            image_id=image_id, name=images.IMPORT_LOCK, value=lock,
            created_at=LONG_AGO))
    conn.execute(sa.insert(models.ImageLocation).values(
        image_id=image_id, value='file:///x', meta_data={},
        status='active', created_at=LONG_AGO))
    return image_id


def _task_values(deleted_days=None, task_id=None):
    return {'id': task_id or str(uuid.uuid4()), 'type': 'import',
            'status': 'success', 'owner': 'p', 'message': '', 'progress': 0,
            'created_at': LONG_AGO, 'updated_at': LONG_AGO,
            'deleted': deleted_days is not None,
            'deleted_at': _ago(deleted_days)}


def _add_task(conn, deleted_days=None, task_id=None):
    values = _task_values(deleted_days, task_id)
    conn.execute(sa.insert(models.Task).values(**values))
    return values['id']


def _ids(engine, model):
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(model.id)))


def _image_ids_with_children(engine):
    """{table: image ids having rows there}"""
    found = {}
    with engine.connect() as conn:
        for table in CHILD_TABLES:
            t = models.Base.metadata.tables[table]
            found[table] = set(conn.scalars(sa.select(t.c.image_id)))
    return found


def _report(counts):
    return ['Deleted %d row(s) from table %s' % (rows, table)
            for table, rows in counts]


def test_purge_removes_exactly_the_old_deleted_rows(tmp_path, db):
    url, engine = db
    locked, old_locked = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        # Children of deleted images are normally removed with the image;
        # these are leftovers purge must clear (old) or keep (young).
        old_image = _add_image(conn, deleted_days=31, lock=old_locked)
        young_image = _add_image(conn, deleted_days=29)
        live_image = _add_image(conn, lock=locked)
        old_task = _add_task(conn, deleted_days=31)
        young_task = _add_task(conn, deleted_days=29)
        live_task = _add_task(conn)
        # Deleted long ago, but the live image's import lock names it.
        _add_task(conn, deleted_days=90, task_id=locked)
        # Named only by a deleted image: nothing live refers to it.
        _add_task(conn, deleted_days=90, task_id=old_locked)

    # Glance's defaults: 30 days, 100 rows per table.
    assert _ok(manage(tmp_path, url, 'db', 'purge')) == _report([
        ('image_tags', 1), ('image_members', 1), ('image_properties', 2),
        ('image_locations', 1), ('tasks', 2)])

    assert _ids(engine, models.Task) == {young_task, live_task, locked}
    # Image rows stay: only purge_images_table removes them.
    assert _ids(engine, models.Image) == {old_image, young_image,
                                          live_image}
    children = _image_ids_with_children(engine)
    assert children == {t: {young_image, live_image} for t in CHILD_TABLES}
    assert old_task not in _ids(engine, models.Task)

    # Nothing left to do.
    assert _ok(manage(tmp_path, url, 'db', 'purge')) == _report(
        [(t, 0) for t in CHILD_TABLES] + [('tasks', 0)])
    # A shorter age takes the young ones, never the live ones.
    assert _ok(manage(tmp_path, url, 'db', 'purge', '--age_in_days',
                      '28')) == _report([
        ('image_tags', 1), ('image_members', 1), ('image_properties', 1),
        ('image_locations', 1), ('tasks', 1)])
    assert _ids(engine, models.Task) == {live_task, locked}
    assert _image_ids_with_children(engine) == {
        t: {live_image} for t in CHILD_TABLES}


def test_purge_images_table(tmp_path, db):
    url, engine = db
    with engine.begin() as conn:
        old_image = _add_image(conn, deleted_days=181)
        young_image = _add_image(conn, deleted_days=179)
        live_image = _add_image(conn)

    # Glance's default age here is 180 days; children go first.
    assert _ok(manage(tmp_path, url, 'db', 'purge_images_table')) == \
        _report([('image_tags', 1), ('image_members', 1),
                 ('image_properties', 1), ('image_locations', 1),
                 ('images', 1)])
    assert _ids(engine, models.Image) == {young_image, live_image}
    assert old_image not in _image_ids_with_children(engine)['image_tags']

    assert _ok(manage(tmp_path, url, 'db', 'purge_images_table',
                      '--age_in_days', '0', '--max_rows', '-1')) == \
        _report([(t, 1) for t in CHILD_TABLES] + [('images', 1)])
    assert _ids(engine, models.Image) == {live_image}
    assert _image_ids_with_children(engine) == {
        t: {live_image} for t in CHILD_TABLES}


def test_purge_max_rows_takes_the_oldest_first(tmp_path, db):
    url, engine = db
    # More than a batch, so the limit is kept across batches.
    count = purge.BATCH * 2 + 7
    with engine.begin() as conn:
        conn.execute(sa.insert(models.Task), [
            _task_values(deleted_days=40 + i % 400) for i in range(count)])
    with engine.connect() as conn:
        oldest_first = list(conn.scalars(
            sa.select(models.Task.id).order_by(models.Task.deleted_at,
                                               models.Task.id)))

    assert _ok(manage(tmp_path, url, 'db', 'purge', '--max_rows', '2'))[-1] \
        == 'Deleted 2 row(s) from table tasks'
    assert _ids(engine, models.Task) == set(oldest_first[2:])

    limit = purge.BATCH + 10
    assert _ok(manage(tmp_path, url, 'db', 'purge', '--max_rows',
                      str(limit)))[-1] == \
        'Deleted %d row(s) from table tasks' % limit
    assert _ids(engine, models.Task) == set(oldest_first[2 + limit:])

    assert _ok(manage(tmp_path, url, 'db', 'purge', '--max_rows',
                      '-1'))[-1] == \
        'Deleted %d row(s) from table tasks' % (count - 2 - limit)
    assert _ids(engine, models.Task) == set()

    with engine.begin() as conn:
        images_by_age = [_add_image(conn, deleted_days=days)
                         for days in (52, 51, 50)]
    assert _ok(manage(tmp_path, url, 'db', 'purge_images_table',
                      '--age_in_days', '30', '--max_rows', '2')) == \
        _report([(t, 2) for t in CHILD_TABLES] + [('images', 2)])
    assert _ids(engine, models.Image) == {images_by_age[2]}
    assert _image_ids_with_children(engine) == {
        t: {images_by_age[2]} for t in CHILD_TABLES}


# Start-up during a rolling upgrade ---------------------------------------

def _stamp(url, revision):
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                'UPDATE alembic_version SET version_num = :rev'),
                {'rev': revision})
    finally:
        engine.dispose()


def test_node_serves_on_a_schema_expanded_by_a_later_release(tmp_path,
                                                             fresh_db):
    _ok(manage(tmp_path, fresh_db, 'db', 'sync'))
    # What "db expand" of the next release leaves: a revision unknown here.
    _stamp(fresh_db, 'next_release_expand')
    os.makedirs(tmp_path / 'node')
    service = fixtures.ServiceProcess(str(tmp_path / 'node'), fresh_db)
    service.start(timeout=60)
    try:
        resp = fixtures.Client(service.url).get('/v2/images')
        assert resp.status_code == 200, resp.text
    finally:
        service.stop()
    with open(service.log_path) as f:
        assert 'is newer than this release' in f.read()


def test_node_refuses_a_schema_behind_its_release(tmp_path, fresh_db):
    _ok(manage(tmp_path, fresh_db, 'db', 'sync'))
    _stamp(fresh_db, migration._history()[0].revision)
    assert _check(tmp_path, fresh_db, None) == 3
    if fixtures.db_kind() == 'sqlite':
        return   # the API migrates an embedded SQLite database itself
    directory = tmp_path / 'node'
    directory.mkdir()
    path = fixtures.write_config(str(directory), fresh_db,
                                 port=fixtures.free_port())
    result = subprocess.run(
        [os.path.join(BIN, 'glance-import-api'), '--config-file', path],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'glance-import-api: error: The database schema is not current; '
        'run "glance-import-manage db sync"')

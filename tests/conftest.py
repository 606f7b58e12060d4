"""Fixtures shared by unit and functional tests."""

import re

import pytest

from tests import fixtures

_UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                   r'[0-9a-f]{12}')


_STORAGE_USER = pytest.StashKey[bool]()


def pytest_make_parametrize_id(config, val, argname):
    """Random UUIDs in parameters must not reach test ids: pytest-xdist
    workers collect separately and refuse differing ids."""
    if isinstance(val, str) and _UUID.search(val):
        return _UUID.sub('UUID', val)
    return None


@pytest.fixture(scope='session')
def test_db_url():
    """The configured test database (None means per-service SQLite)."""
    url = fixtures.create_test_database()
    if url:
        # In-process services refuse an unmigrated shared database.
        fixtures.migrate(url)
    yield url
    fixtures.drop_test_database(url)


@pytest.fixture
def fresh_db(tmp_path):
    """URL of a new, empty database on the configured backend."""
    yield from fixtures.fresh_database(tmp_path)


@pytest.fixture
def service_factory(tmp_path, test_db_url):
    """Start in-process services: ``service_factory(overrides)``.

    Only one in-process service runs at a time (they share the process's
    configuration object); starting another stops the previous one.
    """
    running = []

    def start(overrides=None, name='api'):
        while running:
            running.pop().stop()
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        if test_db_url:
            fixtures.empty_database_if_migrated(test_db_url)
        svc = fixtures.InProcessService(str(directory), test_db_url,
                                        overrides)
        running.append(svc)
        return svc.start()

    yield start
    while running:
        running.pop().stop()


@pytest.fixture
def service(service_factory):
    return service_factory()


@pytest.fixture
def client(service):
    """A client without identity headers: the no-auth admin caller."""
    return fixtures.Client(service.url)


@pytest.fixture
def process_factory(tmp_path, test_db_url):
    """Start real ``glance-import-api`` processes.

    ``process_factory(overrides)`` returns a started ``ServiceProcess``.
    """
    procs = []

    def start(overrides=None, name=None):
        directory = tmp_path / (name or 'proc%d' % len(procs))
        directory.mkdir(exist_ok=True)
        proc = fixtures.ServiceProcess(str(directory), test_db_url, overrides)
        procs.append(proc)
        if test_db_url:
            fixtures.migrate(test_db_url)
        return proc.start()

    yield start
    for proc in procs:
        proc.stop()


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """One real Keystone for the whole session (see tests/keystone.py).

    Creates the Keystone virtualenv on first use, so the tests never skip.
    """
    from tests import keystone as keystone_fixture
    venv = keystone_fixture.keystone_venv()
    server = keystone_fixture.Keystone(
        str(tmp_path_factory.mktemp('keystone')), venv)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope='session')
def barbican(keystone, tmp_path_factory):
    """One real Barbican for the whole session (see tests/barbican.py).

    Creates the Barbican virtualenv on first use, so the tests never skip.
    """
    from tests import barbican as barbican_fixture
    venv = barbican_fixture.barbican_venv()
    server = barbican_fixture.Barbican(
        str(tmp_path_factory.mktemp('barbican')), venv, keystone)
    try:
        yield server.start()
    finally:
        server.stop()


def pytest_collection_modifyitems(session, config, items):
    # Under pytest-xdist each worker collects every test (see
    # storageutil.register_user).
    if any('storage' in item.fixturenames for item in items):
        from tests.functional import storageutil
        storageutil.register_user()
        config.stash[_STORAGE_USER] = True


def pytest_sessionfinish(session):
    if session.config.stash.get(_STORAGE_USER, False):
        from tests.functional import storageutil
        storageutil.release()

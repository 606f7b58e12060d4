"""store.registry: every store id resolved once to its implementation."""

import uuid

import pytest

from glance_import import exception
from glance_import import startup
from glance_import.store import backends
from glance_import.store import base
from glance_import.store import glance_store_driver
from glance_import.store import native_file
from glance_import.store import registry
from tests import fixtures


def _configure(tmp_path, overrides=None):
    directory = tmp_path / 'conf'
    directory.mkdir(exist_ok=True)
    path = fixtures.write_config(str(directory), None, overrides)
    conf = startup.load_config(['--config-file', path], 'test')
    registry.configure(conf)
    return conf


def _multi(tmp_path):
    return _configure(tmp_path, {
        'enabled_backends': 'fast:file,thin:file,web:http',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'thin.filesystem_store_datadir': str(tmp_path / 'thin'),
        'thin.filesystem_thin_provisioning': True,
    })


def test_multi_store_ids_resolve_to_their_implementation(tmp_path):
    conf = _multi(tmp_path)
    layout = registry.layout(conf)
    assert set(layout.stores) == {'fast', 'thin', 'web',
                                  registry.STAGING_STORE,
                                  registry.TASKS_STORE}
    kinds = {store_id: type(store) for store_id, store in
             layout.stores.items()}
    assert kinds == {
        'fast': native_file.NativeFileStore,
        'thin': glance_store_driver.GlanceStoreDriver,
        'web': glance_store_driver.GlanceStoreDriver,
        registry.STAGING_STORE: native_file.NativeFileStore,
        registry.TASKS_STORE: native_file.NativeFileStore,
    }
    for store_id, store in layout.stores.items():
        assert isinstance(store, base.Store)
        assert store.store_id == store_id
    assert layout.store('fast').datadir == str(tmp_path / 'fast')


def test_stores_are_resolved_once_at_configure(tmp_path, monkeypatch):
    conf = _multi(tmp_path)
    layout = registry.layout(conf)
    fast = layout.store('fast')

    def resolved_again(*args, **kwargs):
        raise AssertionError('store resolved after configure')

    monkeypatch.setattr(native_file, 'open_store', resolved_again)
    monkeypatch.setattr(glance_store_driver, 'GlanceStoreDriver',
                        resolved_again)
    image_id = str(uuid.uuid4())
    stored = backends.add(conf, image_id, [b'data'], store_id='fast')
    assert b''.join(backends.read(stored.location)) == b'data'
    assert backends.local_path(stored.location) == \
        str(tmp_path / 'fast' / image_id)
    backends.delete(stored.location)
    assert registry.layout(conf) is layout
    assert layout.store('fast') is fast


def test_location_of_an_unconfigured_store_goes_to_glance_store(tmp_path):
    conf = _multi(tmp_path)
    layout = registry.layout(conf)
    location = {'url': 'file://%s/x' % (tmp_path / 'fast'),
                'metadata': {'store': 'gone'}}
    store = layout.store_of(location)
    assert type(store) is glance_store_driver.GlanceStoreDriver
    assert store.store_id == 'gone'
    assert layout.store_of({'url': 'file:///x',
                            'metadata': {'store': 'fast'}}) is \
        layout.store('fast')


def test_single_store_is_one_unnamed_store(tmp_path):
    conf = _configure(tmp_path)
    layout = registry.layout(conf)
    assert not layout.multi
    assert list(layout.stores) == [None]
    assert registry.resolve_store(conf, 'fast') is None
    store = layout.store(None)
    assert type(store) is native_file.NativeFileStore
    assert store.store_id is None
    # The store key of a location means nothing with one store.
    assert layout.store_of({'url': 'file:///x',
                            'metadata': {'store': 'fast'}}) is store


def test_single_store_without_native_path(tmp_path):
    conf = _configure(tmp_path, {
        'glance_store.filesystem_thin_provisioning': True})
    store = registry.layout(conf).store(None)
    assert type(store) is glance_store_driver.GlanceStoreDriver
    assert store.store_id is None
    assert backends.native_location(conf, str(uuid.uuid4())) is None


@pytest.mark.parametrize('store_id,reason', [
    ('fast', None),
    ('thin', None),
    ('web', registry.Unwritable.READ_ONLY),
    ('nowhere', registry.Unwritable.UNKNOWN),
    (registry.STAGING_STORE, registry.Unwritable.RESERVED),
    ('os_glance_other', registry.Unwritable.RESERVED),
])
def test_unwritable_reasons(tmp_path, store_id, reason):
    conf = _multi(tmp_path)
    assert registry.unwritable(conf, store_id) is reason


@pytest.mark.parametrize('store_id,message', [
    ('web', 'Store web is read-only.'),
    ('nowhere', 'Store for identifier nowhere not found'),
    (registry.TASKS_STORE, 'Store os_glance_tasks_store is reserved for '
                           'the service and cannot be used.'),
])
def test_upload_refusals_keep_their_wording(tmp_path, store_id, message):
    conf = _multi(tmp_path)
    with pytest.raises(exception.BadRequest) as err:
        registry.resolve_store(conf, store_id)
    assert err.value.msg == message

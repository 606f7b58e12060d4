"""The location_import flow: its shape for each configuration, its
arguments from a task row, and its steps run directly against the test
database (the store answers are replaced at the store layer's edge).
"""

import hashlib

import pytest
from oslo_config import cfg

from glance_import import exception
from glance_import import images
from glance_import.db import images as db_images
from glance_import.db import locks as db_locks
from glance_import.db import tasks as db_tasks
from glance_import.importer import flows
from glance_import.importer import location_steps
from glance_import.importer import steps
from glance_import.store import external
from tests.unit.test_flows import ctx  # noqa: F401 (fixture)
from tests.unit.test_flows import env  # noqa: F401 (fixture)
from tests.unit.test_flows import get

URL = 'http://example.com/disk.raw'
DATA = b'registered' * 1000
SHA512 = hashlib.sha512(DATA).hexdigest()


def _names(validation_data, secure_hash):
    flow = flows.location_flow('i', 't', url=URL,
                               validation_data=validation_data,
                               secure_hash=secure_hash, algo='sha512')
    return [atom.name for atom in flow]


def test_flow_with_validation_data_hashes_before_activating():
    assert _names({'os_hash_algo': 'sha512', 'os_hash_value': SHA512},
                  True) == ['ImportLock', 'AddLocation', 'HashLocationData',
                            'SetActive', 'Complete']


def test_flow_without_validation_data_hashes_after_unlocking():
    assert _names({}, True) == ['ImportLock', 'AddLocation', 'SetActive',
                                'Complete', 'HashLocationData']


@pytest.mark.parametrize('validation', [
    {}, {'os_hash_algo': 'sha512', 'os_hash_value': SHA512}])
def test_flow_without_secure_hash_reads_nothing(validation):
    assert _names(validation, False) == ['ImportLock', 'AddLocation',
                                         'SetActive', 'Complete']


def test_flow_args_from_location_task_row():
    task = {'id': 't', 'image_id': 'i', 'type': 'location_import',
            'input': {'image_id': 'i', 'loc_url': URL,
                      'validation_data': {'os_hash_algo': 'sha256',
                                          'os_hash_value': 'ab'}}}

    class Conf:
        do_secure_hash = True
        hashing_algorithm = 'sha512'
    args = flows.flow_args_from_task(task, Conf)
    assert args == {
        'image_id': 'i', 'task_id': 't', 'method': flows.LOCATION_IMPORT,
        'stores': [],
        'location': {'url': URL, 'secure_hash': True, 'algo': 'sha256',
                     'validation_data': {'os_hash_algo': 'sha256',
                                         'os_hash_value': 'ab'}}}
    # get_flow builds the same flow from the saved arguments.
    flow = flows.get_flow(**args)
    assert [a.name for a in flow][1:3] == ['AddLocation', 'HashLocationData']


# Steps ---------------------------------------------------------------------

@pytest.fixture
def registered(env, ctx, monkeypatch):  # noqa: F811 (fixtures)
    """A queued image locked by a location_import task; the store finds
    DATA at URL."""
    image = db_images.image_create(ctx, {
        'owner': 'p1', 'visibility': 'private', 'disk_format': 'raw',
        'container_format': 'bare'})
    task = db_tasks.task_create(ctx, {'type': 'location_import',
                                      'owner': 'p1', 'status': 'processing',
                                      'image_id': image.id})
    db_locks.acquire_import_lock(ctx, image.id, task['id'])
    monkeypatch.setattr(external, 'check',
                        lambda conf, url, metadata, context=None:
                        (dict(metadata), len(DATA)))
    return image.id, task['id']


def _read_data(monkeypatch, data=DATA, failures=0):
    calls = []

    def read(location, offset=0, length=None, context=None):
        calls.append(location['url'])
        if len(calls) <= failures:
            raise OSError('connection reset')
        return iter([data[:100], data[100:]])
    monkeypatch.setattr(location_steps.backends, 'read', read)
    return calls


def test_add_location_records_url_and_size(registered, ctx):  # noqa: F811
    image_id, task_id = registered
    step = location_steps.AddLocation(image_id, task_id, URL, True)
    result = step.execute(cfg.CONF)
    image = get(ctx, image_id)
    assert image.status == images.IMPORTING
    assert image.size == len(DATA)
    assert [loc['url'] for loc in image.locations] == [URL]
    step.revert(cfg.CONF, result)
    assert get(ctx, image_id).locations == []


def test_add_location_refuses_what_the_store_refuses(registered, ctx,  # noqa: F811
                                                      monkeypatch):
    image_id, task_id = registered

    def refuse(conf, url, metadata, context=None):
        raise external.InvalidLocation()
    monkeypatch.setattr(external, 'check', refuse)
    step = location_steps.AddLocation(image_id, task_id, URL, False)
    with pytest.raises(exception.ImportTaskError, match='Invalid location'):
        step.execute(cfg.CONF)
    assert get(ctx, image_id).locations == []


def test_hash_checks_validation_data(registered, ctx,  # noqa: F811
                                     monkeypatch):
    image_id, task_id = registered
    _read_data(monkeypatch)
    location_steps.AddLocation(image_id, task_id, URL, True).execute(
        cfg.CONF)
    wrong = location_steps.HashLocationData(
        image_id, task_id, 'sha512',
        expected={'os_hash_algo': 'sha512', 'os_hash_value': '0' * 128})
    with pytest.raises(exception.ImportTaskError,
                       match='not matched with actual'):
        wrong.execute(cfg.CONF)
    assert get(ctx, image_id).os_hash_value is None
    right = location_steps.HashLocationData(
        image_id, task_id, 'sha512',
        expected={'os_hash_algo': 'sha512', 'os_hash_value': SHA512})
    right.execute(cfg.CONF)
    image = get(ctx, image_id)
    assert (image.checksum, image.os_hash_algo, image.os_hash_value) == (
        hashlib.md5(DATA).hexdigest(), 'sha512', SHA512)


def test_hash_retries_then_reports(registered, ctx, monkeypatch):  # noqa: F811
    image_id, task_id = registered
    cfg.CONF.set_override('http_retries', 3)
    try:
        calls = _read_data(monkeypatch, failures=2)
        location_steps.AddLocation(image_id, task_id, URL, False).execute(
            cfg.CONF)
        location_steps.SetActive(image_id, task_id).execute(cfg.CONF)
        location_steps.HashLocationData(image_id, task_id,
                                        'sha512').execute(cfg.CONF)
        assert len(calls) == 3
        assert get(ctx, image_id).os_hash_value == SHA512
        calls = _read_data(monkeypatch, failures=5)
        step = location_steps.HashLocationData(image_id, task_id, 'sha256')
        with pytest.raises(exception.ImportTaskError,
                           match='Hash calculation failed'):
            step.execute(cfg.CONF)
        assert len(calls) == 3
    finally:
        cfg.CONF.clear_override('http_retries')


def test_revert_after_hash_mismatch_restores_queued(registered, ctx,  # noqa: F811
                                                    monkeypatch):
    image_id, task_id = registered
    lock = steps.ImportLock(image_id, task_id, flows.LOCATION_IMPORT, [])
    add = location_steps.AddLocation(image_id, task_id, URL, True)
    result = add.execute(cfg.CONF)
    add.revert(cfg.CONF, result)
    lock.revert(cfg.CONF, None)
    image = get(ctx, image_id)
    assert (image.status, image.size, image.locations,
            image.import_lock) == (images.QUEUED, None, [], None)


def test_set_active_records_given_hashes(registered, ctx):  # noqa: F811
    image_id, task_id = registered
    location_steps.AddLocation(image_id, task_id, URL, False).execute(
        cfg.CONF)
    location_steps.SetActive(image_id, task_id, {
        'os_hash_algo': 'sha512', 'os_hash_value': SHA512}).execute(
        cfg.CONF)
    image = get(ctx, image_id)
    assert (image.status, image.os_hash_value) == (images.ACTIVE, SHA512)


# The store layer's refusals that need no network ---------------------------

@pytest.mark.parametrize('url', [
    'file:///etc/passwd', 'filesystem:///x', 'swift+config://ref/c/o',
    'gopher://example.com/x', 'no-scheme'])
def test_external_check_refuses_without_asking_a_store(env, url):  # noqa: F811
    with pytest.raises(external.InvalidLocation):
        external.check(cfg.CONF, url, {})

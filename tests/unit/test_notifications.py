"""Which notifications are sent, and their payloads."""

import datetime
import threading

import pytest
from oslo_config import cfg

from glance_import import images
from glance_import import notifications


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    notifications.register_opts(conf)
    conf([], default_config_files=[])
    yield conf
    notifications.configure(None)


def test_nothing_is_sent_without_a_driver(conf):
    notifications.configure(conf)
    assert not notifications.enabled('image.create')
    conf.set_override('driver', ['noop'], 'oslo_messaging_notifications')
    assert not notifications.enabled('image.create')
    # Nothing built either.
    notifications.send('image.create', lambda: pytest.fail('built'))


@pytest.mark.parametrize('disabled,event,sent', [
    ([], 'image.create', True),
    (['image.create'], 'image.create', False),
    (['image.create'], 'image.update', True),
    (['image'], 'image.update', False),
    (['image'], 'image.member.create', False),
    (['image.member'], 'image.member.create', False),
    (['image.member'], 'image.update', True),
    (['task'], 'task.success', False),
    (['task.run'], 'task.success', True),
    (['imag'], 'image.create', True),
])
def test_disabled_notifications(conf, disabled, event, sent):
    conf.set_override('driver', ['messagingv2'],
                      'oslo_messaging_notifications')
    conf.set_override('disabled_notifications', disabled)
    notifications.configure(conf)
    assert notifications.enabled(event) is sent


def test_image_payload_has_glance_fields_and_no_locations():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678)
    image = images.Image(
        id='i1', name='n', status='active', visibility='public',
        owner='p', created_at=when, updated_at=when, size=10,
        properties={'x': '1', images.STAGE_HOST: 'http://node',
                    images.IMPORTING_TO_STORES: 'a,b'},
        tags=['t'], locations=[{'url': 'file:///secret', 'metadata': {}}])
    payload = notifications.image_payload(image)
    assert payload['is_public'] is True
    assert payload['created_at'] == '2026-01-02T03:04:05Z'
    assert payload['properties'] == {'x': '1',
                                     images.IMPORTING_TO_STORES: 'a,b'}
    assert 'file:///secret' not in repr(payload)
    assert notifications.import_payload(image) == {
        'os_glance_importing_to_stores': ['a', 'b'],
        'os_glance_failed_import': []}


def test_task_payload_hides_input_result_and_message():
    task = {'id': 't', 'type': 'api_image_import', 'status': 'failure',
            'owner': 'p', 'input': {'token': 'secret'},
            'result': {'x': 1}, 'message': 'boom', 'expires_at': None,
            'created_at': datetime.datetime(2026, 1, 1),
            'updated_at': None}
    payload = notifications.task_payload(task)
    assert payload['result'] is None and payload['message'] is None
    assert 'secret' not in repr(payload)
    assert payload['created_at'] == '2026-01-01T00:00:00Z'


def test_a_full_queue_drops_and_counts(conf, monkeypatch):
    conf.set_override('driver', ['messagingv2'],
                      'oslo_messaging_notifications')
    conf.set_override('transport_url', 'rabbit://guest:guest@127.0.0.1:1/',
                      'oslo_messaging_notifications')
    # Once released, the sender fails at once instead of retrying.
    conf.set_override('retry', 0, 'oslo_messaging_notifications')
    notifications.configure(conf)
    monkeypatch.setattr(notifications, 'QUEUE_SIZE', 2)
    held = threading.Event()
    run = notifications._Sender._run

    def held_run(sender):
        held.wait()
        run(sender)
    monkeypatch.setattr(notifications._Sender, '_run', held_run)
    for _ in range(10):
        notifications.send('image.create', {'id': 'x'})
    sent, failed, dropped, waiting = notifications.stats()
    assert (dropped, waiting) == (8, 2)
    held.set()
    assert notifications.flush(30)
    sent, failed, dropped, waiting = notifications.stats()
    assert waiting == 0 and sent + failed == 2

"""Notifications on the real RabbitMQ (127.0.0.1:5672, guest): each API
call and import method sends Glance's events, with its publisher id and
payload fields, through oslo.messaging's messagingv2 driver; disabled
ones are not sent; a broker that goes away delays nothing and loses
nothing, and the events arrive once it is back.

Each test reads its own topic from a queue of its own bound to Glance's
exchange.
"""

import json
import socket
import threading
import time
import uuid

import kombu
import pytest

from glance_import import notifications
from tests import fixtures
from tests.functional import importutil as iu
from tests.functional.imageutil import PATCH_V21
from tests.functional.imageutil import project

BROKER = 'amqp://guest:guest@127.0.0.1:5672//'
TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
PUBLISHER = 'image.test-host'
DATA = b'notified ' * 1000

IMAGE_KEYS = {
    'id', 'name', 'status', 'created_at', 'updated_at', 'min_disk',
    'min_ram', 'protected', 'checksum', 'owner', 'disk_format',
    'container_format', 'size', 'virtual_size', 'is_public', 'visibility',
    'properties', 'tags', 'deleted', 'deleted_at'}
IMPORT_KEYS = {'os_glance_importing_to_stores', 'os_glance_failed_import'}
MEMBER_KEYS = {'image_id', 'member_id', 'status', 'created_at',
               'updated_at', 'deleted', 'deleted_at'}
TASK_KEYS = {'id', 'type', 'status', 'result', 'owner', 'message',
             'expires_at', 'created_at', 'updated_at', 'deleted',
             'deleted_at'}
SEND_KEYS = {'bytes_sent', 'image_id', 'owner_id', 'receiver_tenant_id',
             'receiver_user_id'}


class Listener:
    """The notifications of one topic, as a consumer sees them."""

    def __init__(self, topic):
        self.topic = topic
        self.connection = kombu.Connection(BROKER)
        self.connection.connect()
        exchange = kombu.Exchange('glance', type='topic', durable=False)
        self.queue = kombu.Queue('test-%s' % topic, exchange,
                                 routing_key='%s.*' % topic,
                                 auto_delete=True)
        self.queue = self.queue(self.connection.default_channel)
        self.queue.declare()
        self.events = []

    def _drain(self):
        while True:
            message = self.queue.get(no_ack=True)
            if message is None:
                return
            body = message.decode()
            assert body['oslo.version'] == '2.0'
            self.events.append(json.loads(body['oslo.message']))

    def wait(self, predicate, timeout=30, what='events'):
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            if predicate(self.events):
                return self.events
            if time.monotonic() > deadline:
                raise AssertionError('%s not seen; got %s' % (
                    what, [e['event_type'] for e in self.events]))
            time.sleep(0.1)

    def take(self, *event_types, timeout=30):
        """Wait for events of these types (in this order among the ones
        of those types), return them and forget everything seen."""
        wanted = list(event_types)

        def seen(events):
            types = [e['event_type'] for e in events
                     if e['event_type'] in wanted]
            return len(types) >= len(wanted)
        self.wait(seen, timeout, what=', '.join(wanted))
        time.sleep(0.3)
        self._drain()
        taken, self.events = self.events, []
        return taken

    def close(self):
        channel = self.connection.default_channel
        for priority in ('info', 'error', 'warn'):
            # The queues oslo.messaging declares for the topic.
            try:
                channel.queue_delete('%s.%s' % (self.topic, priority))
            except Exception:
                pass
        self.queue.delete()
        self.connection.release()


def types(events):
    return [e['event_type'] for e in events]


def one(events, event_type):
    [event] = [e for e in events if e['event_type'] == event_type]
    assert event['publisher_id'] == PUBLISHER
    return event


def messaging_overrides(topic, url=TRANSPORT_URL, **extra):
    values = {
        'oslo_messaging_notifications.driver': 'messagingv2',
        'oslo_messaging_notifications.topics': topic,
        'oslo_messaging_notifications.transport_url': url,
        'default_publisher_id': PUBLISHER,
    }
    values.update(extra)
    return values


@pytest.fixture
def listener():
    topic = 'glance-import-test-%s' % uuid.uuid4().hex[:12]
    listener = Listener(topic)
    yield listener
    listener.close()


@pytest.fixture
def owner():
    return project()


@pytest.fixture
def client(service_factory, listener, owner):
    svc = service_factory(messaging_overrides(listener.topic))
    return fixtures.Client(svc.url).as_caller(owner, roles='member',
                                              user='user-1')


def test_image_calls(client, listener, owner):
    image = iu.create(client, name='first', x_a='1', tags=['t1'])
    image_id = image['id']
    created = one(listener.take('image.create'), 'image.create')
    assert created['priority'] == 'INFO'
    payload = created['payload']
    assert set(payload) == IMAGE_KEYS
    assert payload['id'] == image_id
    assert payload['status'] == 'queued'
    assert payload['owner'] == owner
    assert payload['properties'] == {'x_a': '1'}
    assert payload['tags'] == ['t1']
    assert payload['is_public'] is False
    assert payload['deleted'] is False
    assert payload['created_at'] == image['created_at']

    resp = client.patch('/v2/images/%s' % image_id, json=[
        {'op': 'replace', 'path': '/name', 'value': 'second'}],
        headers={'Content-Type': PATCH_V21})
    assert resp.status_code == 200, resp.text
    assert one(listener.take('image.update'),
               'image.update')['payload']['name'] == 'second'
    assert client.put('/v2/images/%s/tags/t2' % image_id).status_code == 204
    assert sorted(one(listener.take('image.update'), 'image.update')
                  ['payload']['tags']) == ['t1', 't2']
    assert client.delete('/v2/images/%s/tags/t2' % image_id).status_code \
        == 204
    assert one(listener.take('image.update'),
               'image.update')['payload']['tags'] == ['t1']

    resp = client.put('/v2/images/%s/file' % image_id, data=DATA,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    events = listener.take('image.update', 'image.prepare', 'image.upload',
                           'image.activate', 'image.update')
    assert types(events) == ['image.update', 'image.prepare',
                             'image.upload', 'image.activate',
                             'image.update']
    assert events[0]['payload']['status'] == 'saving'
    prepare = events[1]['payload']
    assert set(prepare) == IMAGE_KEYS | IMPORT_KEYS
    assert prepare['os_glance_importing_to_stores'] == []
    assert prepare['status'] == 'saving'
    upload = events[2]['payload']
    assert set(upload) == IMAGE_KEYS | IMPORT_KEYS
    assert upload['status'] == 'active'
    assert upload['size'] == len(DATA)
    assert upload['checksum'] == iu.digests(DATA)[0]
    assert set(events[3]['payload']) == IMAGE_KEYS
    assert events[4]['payload']['status'] == 'active'

    assert iu.download(client, image_id) == DATA
    sent = one(listener.take('image.send'), 'image.send')
    assert sent['priority'] == 'INFO'
    assert sent['payload'] == {
        'bytes_sent': len(DATA), 'image_id': image_id, 'owner_id': owner,
        'receiver_tenant_id': owner, 'receiver_user_id': 'user-1'}
    resp = client.get('/v2/images/%s/file' % image_id,
                      headers={'Range': 'bytes=0-99'})
    assert resp.status_code == 206
    sent = one(listener.take('image.send'), 'image.send')
    assert set(sent['payload']) == SEND_KEYS
    assert sent['payload']['bytes_sent'] == 100

    admin = fixtures.Client(client.url).as_caller(owner, roles='admin')
    for action, status in (('deactivate', 'deactivated'),
                           ('reactivate', 'active')):
        resp = admin.post('/v2/images/%s/actions/%s' % (image_id, action))
        assert resp.status_code == 204, resp.text
        assert one(listener.take('image.update'),
                   'image.update')['payload']['status'] == status

    assert client.delete('/v2/images/%s' % image_id).status_code == 204
    deleted = one(listener.take('image.delete'), 'image.delete')['payload']
    assert set(deleted) == IMAGE_KEYS
    assert deleted['deleted'] is True
    assert deleted['status'] == 'deleted'
    assert deleted['deleted_at'].endswith('Z')


def test_member_calls(client, listener, owner):
    image = iu.create(client)
    listener.take('image.create')
    other = project()
    path = '/v2/images/%s/members' % image['id']
    assert client.post(path, json={'member': other}).status_code == 200
    created = one(listener.take('image.member.create'),
                  'image.member.create')['payload']
    assert set(created) == MEMBER_KEYS
    assert (created['image_id'], created['member_id'],
            created['status']) == (image['id'], other, 'pending')
    member = fixtures.Client(client.url).as_caller(other)
    resp = member.put('%s/%s' % (path, other), json={'status': 'accepted'})
    assert resp.status_code == 200, resp.text
    updated = one(listener.take('image.member.update'),
                  'image.member.update')['payload']
    assert updated['status'] == 'accepted'
    assert client.delete('%s/%s' % (path, other)).status_code == 204
    removed = one(listener.take('image.member.delete'),
                  'image.member.delete')['payload']
    assert removed['deleted'] is True
    assert removed['deleted_at'].endswith('Z')


def _task_events(events, outcome):
    tasks = [e for e in events if e['event_type'].startswith('task.')]
    for event in tasks:
        assert set(event['payload']) == TASK_KEYS
        assert event['payload']['type'] == 'api_image_import'
        assert event['payload']['result'] is None
        assert event['payload']['message'] is None
    # task.run is sent when the task is handed over; the executor may
    # already be processing it.
    order = [t for t in types(tasks) if t != 'task.run']
    assert order == ['task.create', 'task.processing', 'task.%s' % outcome]
    assert 'task.run' in types(tasks)
    final = one(tasks, 'task.%s' % outcome)['payload']
    assert final['status'] == outcome
    assert final['expires_at'].endswith('Z')
    return tasks


def test_glance_direct_import(client, listener):
    image = iu.create(client)
    listener.take('image.create')
    iu.stage(client, image['id'], DATA)
    staged = listener.take('image.update', 'image.update')
    assert [e['payload']['status'] for e in staged] == ['uploading'] * 2
    assert staged[1]['payload']['size'] == len(DATA)
    resp = iu.start_import(client, image['id'])
    assert resp.status_code == 202, resp.text
    events = listener.take('task.create', 'image.prepare', 'image.upload',
                           'image.activate', 'task.success', timeout=60)
    _task_events(events, 'success')
    image_events = [e for e in events if e['event_type'].startswith('image')]
    assert types(image_events) == ['image.update', 'image.prepare',
                                   'image.upload', 'image.activate',
                                   'image.update']
    prepare = image_events[1]['payload']
    assert prepare['status'] == 'importing'
    assert 'backend' not in prepare      # single store
    assert image_events[2]['payload']['status'] == 'active'
    assert image_events[-1]['payload']['properties'][
        'os_glance_importing_to_stores'] == ''


@pytest.fixture
def source():
    with iu.http_source({'/a.img': DATA}) as server:
        yield server


def test_web_download_and_copy_image(service_factory, listener, source,
                                     tmp_path):
    svc = service_factory(messaging_overrides(
        listener.topic,
        enabled_backends='fast:file,slow:file',
        **{'glance_store.default_backend': 'fast',
           'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
           'slow.filesystem_store_datadir': str(tmp_path / 'slow'),
           'os_glance_staging_store.filesystem_store_datadir':
               str(tmp_path / 'staging'),
           'import_filtering_opts.allowed_hosts': ['127.0.0.1'],
           'import_filtering_opts.allowed_ports': [source.port]}))
    # copy-image is for admins by default.
    client = fixtures.Client(svc.url).as_caller(project(),
                                                roles='admin,member')
    image = iu.create(client)
    listener.take('image.create')
    resp = iu.start_import(client, image['id'], method={
        'name': 'web-download', 'uri': source.url + '/a.img'})
    assert resp.status_code == 202, resp.text
    events = listener.take('task.create', 'image.prepare', 'image.upload',
                           'image.activate', 'task.success', timeout=60)
    _task_events(events, 'success')
    prepare = one(events, 'image.prepare')['payload']
    assert prepare['backend'] == 'fast'
    assert prepare['os_glance_importing_to_stores'] == ['fast']

    resp = iu.start_import(client, image['id'], method='copy-image',
                           stores=['slow'])
    assert resp.status_code == 202, resp.text
    events = listener.take('task.create', 'image.prepare', 'image.upload',
                           'task.success', timeout=60)
    _task_events(events, 'success')
    assert 'image.activate' not in types(events)
    assert one(events, 'image.prepare')['payload']['backend'] == 'slow'
    assert one(events, 'image.upload')['payload']['status'] == 'active'

    broken = iu.create(client)
    listener.take('image.create')
    resp = iu.start_import(client, broken['id'], method={
        'name': 'web-download', 'uri': source.url + '/missing.img'})
    assert resp.status_code == 202, resp.text
    events = listener.take('task.create', 'task.failure', timeout=60)
    _task_events(events, 'failure')
    assert 'image.upload' not in types(events)
    assert [e['payload']['status'] for e in events
            if e['event_type'] == 'image.update'][-1] == 'queued'


def test_disabled_notifications(service_factory, listener):
    svc = service_factory(messaging_overrides(
        listener.topic, disabled_notifications='image.update,image.member'))
    client = fixtures.Client(svc.url).as_caller(project())
    image = iu.create(client)
    client.patch('/v2/images/%s' % image['id'], json=[
        {'op': 'add', 'path': '/x', 'value': '1'}],
        headers={'Content-Type': PATCH_V21})
    client.post('/v2/images/%s/members' % image['id'],
                json={'member': project()})
    client.delete('/v2/images/%s' % image['id'])
    events = listener.take('image.create', 'image.delete')
    assert types(events) == ['image.create', 'image.delete']


class _Proxy:
    """A TCP relay to the broker on a port of its own that the test can
    close (connections refused, as with a stopped broker) and open
    again, without stopping RabbitMQ for anyone else."""

    def __init__(self):
        probe = socket.create_server(('127.0.0.1', 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.pairs = []
        self.lock = threading.Lock()
        self.listen = None
        self.restore()

    def _accept(self, listen):
        while True:
            try:
                client, _ = listen.accept()
            except OSError:
                return
            upstream = socket.create_connection(('127.0.0.1', 5672))
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        if self.listen is not None:
            # shutdown() first: close() alone leaves a thread blocked in
            # accept() accepting.
            try:
                self.listen.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listen.close()
            self.listen = None
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self):
        self.listen = socket.create_server(('127.0.0.1', self.port))
        threading.Thread(target=self._accept, args=(self.listen,),
                         daemon=True).start()

    close = cut


def test_a_broker_away_delays_nothing_and_loses_nothing(service_factory,
                                                        listener):
    proxy = _Proxy()
    try:
        svc = service_factory(messaging_overrides(
            listener.topic,
            url='rabbit://guest:guest@127.0.0.1:%d/' % proxy.port,
            **{'oslo_messaging_rabbit.rabbit_retry_interval': 1,
               'oslo_messaging_rabbit.rabbit_interval_max': 1}))
        client = fixtures.Client(svc.url).as_caller(project())
        iu.create(client, name='before')
        listener.take('image.create')
        proxy.cut()
        names = ['while-away-%d' % i for i in range(5)]
        for name in names:
            started = time.monotonic()
            image = iu.create(client, name=name)
            assert time.monotonic() - started < 2
            resp = client.put('/v2/images/%s/file' % image['id'], data=DATA,
                              headers={'Content-Type':
                                       'application/octet-stream'})
            assert resp.status_code == 204, resp.text
            assert time.monotonic() - started < 4
        time.sleep(2)
        listener._drain()
        assert listener.events == []
        # They wait, in order, in the service.
        assert notifications.stats()[3] >= len(names) * 5
        proxy.restore()
        events = listener.take(*(['image.create'] * len(names)),
                               timeout=90)
        created = [e['payload']['name'] for e in events
                   if e['event_type'] == 'image.create']
        assert created == names
        assert types(events).count('image.activate') == len(names)
        # And new calls are notified as before.
        iu.create(client, name='after')
        assert one(listener.take('image.create'),
                   'image.create')['payload']['name'] == 'after'
    finally:
        proxy.close()


def test_glance_download_import(service_factory, process_factory,
                                listener):
    from tests.functional import test_import_glance_download as gd
    remote = process_factory(name='remote')
    local = service_factory(messaging_overrides(
        listener.topic, enabled_import_methods=gd.METHODS,
        **{'import_filtering_opts.allowed_hosts': '127.0.0.1',
           'import_filtering_opts.allowed_ports': remote.port}))
    project_id = project()
    client = fixtures.Client(local.url).as_caller(project_id)
    source = gd.remote_image(fixtures.Client(remote.url).as_caller(
        project_id))
    image_id, task = gd.download_from(client, remote.url, source['id'])
    assert task['status'] == 'success', task['message']
    events = listener.take('image.create', 'task.create', 'image.prepare',
                           'image.upload', 'image.activate', 'task.success',
                           timeout=60)
    _task_events(events, 'success')
    upload = one(events, 'image.upload')['payload']
    assert upload['id'] == image_id
    assert upload['size'] == len(gd.DATA)
    assert upload['checksum'] == iu.digests(gd.DATA)[0]


def test_a_store_failure_is_an_error_event(client, listener, monkeypatch):
    from glance_import import exception
    from glance_import.store import backends

    def unreachable(*args, **kwargs):
        raise exception.StoreError(reason='the store is unreachable')

    image = iu.create(client)
    listener.take('image.create')
    monkeypatch.setattr(backends, 'add', unreachable)
    resp = client.put('/v2/images/%s/file' % image['id'], data=DATA,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 503, resp.text
    events = listener.take('image.prepare', 'image.upload', 'image.update')
    failed = one(events, 'image.upload')
    assert failed['priority'] == 'ERROR'
    assert failed['payload'] == (
        'Failed to upload image data for image %s: Image storage failed: '
        'the store is unreachable' % image['id'])
    assert events[-1]['payload']['status'] == 'queued'

"""Notifications to the rest of the cloud, through oslo.messaging, with
Glance's event types, publisher id and payloads.

Events are sent after the change they describe is committed, from a
thread of their own: a broker that is slow or down never delays or fails
an API call. While the broker is away oslo.messaging retries (``[
oslo_messaging_notifications] retry``, forever by default, every
``[oslo_messaging_rabbit] rabbit_interval_max`` seconds at most), and
events wait in a bounded queue meanwhile, to go in order once it is
back; past ``QUEUE_SIZE`` waiting events new ones are dropped, counted
and logged.

``[oslo_messaging_notifications] driver`` unset (the default) sends
nothing and builds no payload. ``[DEFAULT] disabled_notifications``
names event types (``image.update``) or groups (``image``,
``image.member``, ``task``) not to send.
"""

import atexit
import logging
import os
import queue
import threading
import time
import warnings

from oslo_config import cfg

from glance_import import images as image_domain

with warnings.catch_warnings():
    # oslo.messaging loads oslo.service's eventlet backend, which warns on
    # stderr that eventlet is deprecated; nothing here runs on eventlet.
    warnings.simplefilter('ignore')
    import oslo_messaging
    from oslo_messaging import opts as messaging_opts

LOG = logging.getLogger(__name__)

INFO = 'info'
ERROR = 'error'
QUEUE_SIZE = 10000
# At most one "dropped" warning per this many seconds.
DROP_WARNING_INTERVAL = 60
FLUSH_SECONDS = 5
FOREVER = 2 ** 31 - 1

OPTS = [
    cfg.StrOpt('default_publisher_id', default='image.localhost',
               help='Publisher id of the notifications this service sends, '
                    'usually image.<host name>.'),
    cfg.ListOpt('disabled_notifications', default=[],
                help='Event types (image.update) or groups of them (image, '
                     'image.member, task) not to send.'),
]


def register_opts(conf):
    conf.register_opts(OPTS)
    # Glance's exchange; the transport and driver options are
    # oslo.messaging's own ([oslo_messaging_notifications], [DEFAULT]
    # transport_url, [oslo_messaging_rabbit] ...).
    oslo_messaging.set_transport_defaults('glance')
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)


def list_opts():
    return [(None, OPTS)] + list(messaging_opts.list_opts())


# Payloads --------------------------------------------------------------

def _time(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ') if dt is not None else None


def now():
    """This moment, as the payloads write times."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def image_payload(image):
    """Glance's image payload (never the locations: they may hold
    credentials)."""
    properties = {name: value for name, value in image.properties.items()
                  if name not in image_domain.HIDDEN_PROPERTIES}
    return {
        'id': image.id,
        'name': image.name,
        'status': image.status,
        'created_at': _time(image.created_at),
        'updated_at': _time(image.updated_at),
        'min_disk': image.min_disk,
        'min_ram': image.min_ram,
        'protected': image.protected,
        'checksum': image.checksum,
        'owner': image.owner,
        'disk_format': image.disk_format,
        'container_format': image.container_format,
        'size': image.size,
        'virtual_size': image.virtual_size,
        'is_public': image.visibility == 'public',
        'visibility': image.visibility,
        'properties': properties,
        'tags': list(image.tags),
        'deleted': False,
        'deleted_at': None,
    }


def import_payload(image):
    """The import state the prepare and upload events add."""
    props = image.properties
    return {
        'os_glance_importing_to_stores': image_domain.stores_list(
            props.get(image_domain.IMPORTING_TO_STORES)),
        'os_glance_failed_import': image_domain.stores_list(
            props.get(image_domain.FAILED_IMPORT)),
    }


def member_payload(member):
    return {
        'image_id': member['image_id'],
        'member_id': member['member_id'],
        'status': member['status'],
        'created_at': _time(member['created_at']),
        'updated_at': _time(member['updated_at']),
        'deleted': False,
        'deleted_at': None,
    }


def task_payload(task):
    # Neither input (it may hold credentials) nor result and message, as
    # in Glance.
    return {
        'id': task['id'],
        'type': task['type'],
        'status': task['status'],
        'result': None,
        'owner': task['owner'],
        'message': None,
        'expires_at': _time(task.get('expires_at')),
        'created_at': _time(task.get('created_at')),
        'updated_at': _time(task.get('updated_at')),
        'deleted': False,
        'deleted_at': None,
    }


# Sending ---------------------------------------------------------------

class _Sender:
    """One process's notifier and the thread that feeds it."""

    def __init__(self, conf):
        self.pid = os.getpid()
        self.queue = queue.Queue(QUEUE_SIZE)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._warned_at = 0.0
        transport = oslo_messaging.get_notification_transport(conf)
        retry = conf.oslo_messaging_notifications.retry
        if retry is None or retry < 0:
            # "Forever": oslo.messaging gives up at once on a connection
            # it must open while the broker is down when given -1.
            retry = FOREVER
        self.notifier = oslo_messaging.Notifier(
            transport, publisher_id=conf.default_publisher_id, retry=retry)
        self.thread = threading.Thread(target=self._run,
                                       name='notifications', daemon=True)
        self.thread.start()

    def put(self, priority, event_type, payload):
        try:
            self.queue.put_nowait((priority, event_type, payload))
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if now - self._warned_at > DROP_WARNING_INTERVAL:
                self._warned_at = now
                LOG.warning('Notification queue full (%d waiting): dropped '
                            '%s; %d dropped so far', QUEUE_SIZE, event_type,
                            self.dropped)

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            priority, event_type, payload = item
            try:
                getattr(self.notifier, priority)({}, event_type, payload)
                self.sent += 1
            except Exception as e:
                # oslo.messaging gave up (a finite retry, a driver error).
                self.failed += 1
                LOG.warning('Could not send notification %s: %s',
                            event_type, e)
            finally:
                self.queue.task_done()

    def stop(self):
        """End the thread once what is queued went; one stuck on a broker
        that is away is left to end with the process."""
        if not self.flush(FLUSH_SECONDS):
            return
        self.queue.put_nowait(None)
        self.thread.join(FLUSH_SECONDS)
        try:
            self.notifier.transport.cleanup()
        except Exception:
            pass

    def flush(self, timeout):
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.queue.unfinished_tasks


_conf = None
_sender = None
_lock = threading.Lock()


def configure(conf):
    """Send with *conf* from now on (the sender starts on first use, in
    the process that sends: a forked worker gets its own)."""
    global _conf, _sender
    with _lock:
        old, _conf, _sender = _sender, conf, None
    if old is not None and old.pid == os.getpid():
        old.stop()


def _drivers():
    if _conf is None:
        return []
    return _conf.oslo_messaging_notifications.driver or []


def enabled(event_type):
    """True when *event_type* is sent at all: a driver is configured and
    neither the type nor its group is disabled."""
    drivers = _drivers()
    if not drivers or drivers == ['noop']:
        return False
    disabled = _conf.disabled_notifications
    if not disabled:
        return True
    group = event_type.split('.', 1)[0]
    # image.member.create is also in the image.member group.
    groups = {group, event_type.rsplit('.', 1)[0]}
    return event_type not in disabled and not groups & set(disabled)


def _current_sender():
    global _sender
    with _lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender(_conf)
        return _sender


def send(event_type, payload, priority=INFO):
    """Queue *event_type*; *payload* may be a callable making it, called
    only when the event is sent at all."""
    if not enabled(event_type):
        return
    try:
        if callable(payload):
            payload = payload()
        _current_sender().put(priority, event_type, payload)
    except Exception:
        # Whatever happens here, the API call it reports on stands.
        LOG.exception('Could not queue notification %s', event_type)


def image_event(event_type, image, priority=INFO, *, with_import=False,
                **extra):
    """*event_type* with the payload of *image* (or of what the callable
    *image* loads, only when the event is sent), plus the import state
    with *with_import*, plus *extra* fields."""
    def payload():
        loaded = image() if callable(image) else image
        body = image_payload(loaded)
        if with_import:
            body.update(import_payload(loaded))
        body.update(extra)
        return body
    send(event_type, payload, priority)


def stats():
    """(sent, failed, dropped, waiting) of this process's sender."""
    sender = _sender
    if sender is None:
        return (0, 0, 0, 0)
    return (sender.sent, sender.failed, sender.dropped,
            sender.queue.unfinished_tasks)


def flush(timeout=FLUSH_SECONDS):
    """Wait up to *timeout* seconds for the queued events to go."""
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.flush(timeout)


atexit.register(flush)

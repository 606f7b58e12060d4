"""The locations API of image API 2.17: ``POST`` and ``GET
/v2/images/{id}/locations``.

Nova and Cinder register data that already sits in a store (an RBD
snapshot, a volume) on a queued image. The POST is checked in Glance's
order and answered 202; a location_import task then records the
location, hashes the data unless told not to, and makes the image
active.
"""

import hashlib

import jsonschema
from oslo_config import cfg

from glance_import import exception
from glance_import import images
from glance_import import notifications
from glance_import import policy
from glance_import.api import util
from glance_import.importer import executor
from glance_import.importer import locks
from glance_import.importer import uri_filter
from glance_import.store import external

CONF = cfg.CONF

HASH_ALGORITHMS = ('sha1', 'sha256', 'sha512', 'md5')

# Glance validates the body as the one property of a 'location' schema.
LOCATION_SCHEMA = {
    'name': 'location',
    'type': 'object',
    'properties': {'add_location': {
        'type': 'object',
        'required': ['url'],
        'properties': {
            'url': {'type': 'string'},
            'validation_data': {
                'type': 'object',
                'additionalProperties': False,
                'properties': {
                    'os_hash_algo': {'type': 'string', 'maxLength': 64,
                                     'enum': list(HASH_ALGORITHMS)},
                    'os_hash_value': {'type': 'string', 'maxLength': 128},
                },
                'dependentRequired': {
                    'os_hash_value': ['os_hash_algo'],
                    'os_hash_algo': ['os_hash_value'],
                },
            },
        },
    }},
}
_VALIDATOR = jsonschema.Draft202012Validator(LOCATION_SCHEMA)


def _parse_body(req):
    body = util.json_body(req)
    errors = sorted(_VALIDATOR.iter_errors({'add_location': body}),
                    key=lambda e: list(e.path))
    if errors:
        raise exception.BadRequest(
            "Provided object does not match schema 'location': %s"
            % errors[0].message)
    return body['url'], body.get('validation_data') or {}


def _check_hash_value(validation_data):
    value = validation_data.get('os_hash_value')
    if value is None:
        return
    algo = validation_data.get('os_hash_algo', CONF.hashing_algorithm)
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        raise exception.BadRequest(
            'os_hash_value (%s) is not a valid hexadecimal value' % value)
    want = hashlib.new(algo).digest_size
    if len(digest) != want:
        raise exception.BadRequest(
            'os_hash_value: (%s) is not the correct size for (%s) (should '
            'be (%d) bytes)' % (value, algo, want))


def _is_service(ctx):
    roles = set(ctx.roles) | set(getattr(ctx, 'service_roles', None) or ())
    return 'service' in roles


def add_location(req, image_id):
    """POST /v2/images/{image_id}/locations: 202, a task does the rest."""
    ctx = util.context(req)
    util.check_mutating(ctx)
    url, validation_data = _parse_body(req)
    image = util.load_image(ctx, image_id, (), from_path=False)
    if image.status != images.QUEUED:
        raise exception.Conflict(
            "It's not allowed to add locations if image status is %s."
            % image.status)
    policy.authorize_image(ctx, policy.ADD_IMAGE_LOCATION, image)
    # Other callers may only point an image at a web server, never at
    # the stores the service itself writes.
    if not _is_service(ctx) and not external.is_http_store_url(CONF, url):
        raise exception.Forbidden('http store must be enabled to use '
                                  'location API by normal user.')
    _check_hash_value(validation_data)
    if external.scheme(url) in ('http', 'https'):
        try:
            uri_filter.check_uri(CONF, url, purpose='add location')
        except uri_filter.FilterError as e:
            raise exception.BadRequest(e.msg)
    stale_task_id = locks.stale_lock_holder(ctx, image)
    task = locks.begin_location_import(ctx, CONF, image, url,
                                       validation_data,
                                       stale_task_id=stale_task_id)
    notifications.send('task.create',
                       lambda: notifications.task_payload(task))
    executor.submit(CONF, task, {'auth_token': ctx.auth_token,
                                 'service_catalog': ctx.service_catalog,
                                 'roles': list(ctx.roles)})
    notifications.send('task.run', lambda: notifications.task_payload(task))
    return util.empty_response(202)


@util.no_body
def get_locations(req, image_id):
    """GET /v2/images/{image_id}/locations: url and metadata of each."""
    ctx = util.context(req)
    image = util.load_image(ctx, image_id, (), from_path=False)
    policy.authorize_image(ctx, policy.FETCH_IMAGE_LOCATION, image)
    return util.json_response(
        [{'url': loc['url'], 'metadata': loc['metadata']}
         for loc in image.locations])


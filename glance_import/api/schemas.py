"""JSON schemas served at /v2/schemas/* and used to validate image input.

The shapes follow Glance's so python-glanceclient and openstacksdk, which
build their models from these documents, accept our responses. The image
schema also validates POST /v2/images bodies and PATCH values.
"""

import functools
import json
import logging

import jsonschema
from oslo_config import cfg

from glance_import import exception
from glance_import import images as image_domain
from glance_import import tasks
from glance_import.api import util

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

CUSTOM_PROPERTIES_FILE = 'schema-image.json'
# (properties, required names) from the operator's schema-image.json.
_CUSTOM = ({}, ())

UUID_PATTERN = util.UUID_PATTERN


def _nullable(kind, text, **extra):
    return dict({'type': ['null', kind], 'description': text}, **extra)


def _read_only(kind, text, **extra):
    return dict({'type': kind, 'readOnly': True, 'description': text},
                **extra)


def _location_items():
    return {
        'type': 'object',
        'required': ['url', 'metadata'],
        'properties': {
            'url': {'type': 'string', 'maxLength': 255},
            'metadata': {'type': 'object'},
            'validation_data': {
                'type': 'object',
                'writeOnly': True,
                'additionalProperties': False,
                'required': ['os_hash_algo', 'os_hash_value'],
                'description': 'Hashes to record on a queued image when '
                               'the location is added; on other images '
                               'they must equal the recorded ones.',
                'properties': {
                    'checksum': {'type': 'string', 'minLength': 32,
                                 'maxLength': 32},
                    'os_hash_algo': {'type': 'string', 'maxLength': 64},
                    'os_hash_value': {'type': 'string', 'maxLength': 128},
                },
            },
        },
    }


def _image_properties(disk_formats, container_formats):
    return {
        'id': {'type': 'string', 'pattern': UUID_PATTERN,
               'description': 'Identifier of the image (a UUID).'},
        'name': _nullable('string', 'Name of the image, for humans.',
                          maxLength=255),
        'status': _read_only('string', 'Where the image is in its life '
                             'cycle.', enum=list(image_domain.STATUSES)),
        'visibility': {'type': 'string',
                       'enum': ['community', 'public', 'private', 'shared'],
                       'description': 'Who may see and use the image.'},
        'protected': {'type': 'boolean',
                      'description': 'A protected image cannot be '
                                     'deleted.'},
        'os_hidden': {'type': 'boolean',
                      'description': 'Hidden images are left out of image '
                                     'lists unless asked for.'},
        'checksum': _read_only(['null', 'string'], 'MD5 of the image data.',
                               maxLength=32),
        'os_hash_algo': _read_only(['null', 'string'],
                                   'Algorithm of os_hash_value.',
                                   maxLength=64),
        'os_hash_value': _read_only(['null', 'string'],
                                    'Hex digest of the image data computed '
                                    'with os_hash_algo.', maxLength=128),
        'owner': _nullable('string', 'Project owning the image.',
                           maxLength=255),
        'size': _read_only(['null', 'integer'], 'Bytes of image data.'),
        'virtual_size': _read_only(['null', 'integer'],
                                   'Bytes of the disk the image holds.'),
        'container_format': _nullable(
            'string', 'Container format of the data.',
            enum=[None, *container_formats]),
        'disk_format': _nullable('string', 'Disk format of the data.',
                                 enum=[None, *disk_formats]),
        'created_at': _read_only('string', 'When the image was created.'),
        'updated_at': _read_only('string', 'When the image last changed.'),
        'tags': {'type': 'array',
                 'items': {'type': 'string', 'maxLength': 255},
                 'description': 'Free-form labels of the image.'},
        'direct_url': _read_only('string', 'URL of the data in its '
                                 'store, when the operator shows it.'),
        'locations': {'type': 'array', 'items': _location_items(),
                      'description': 'Where the data is stored, when the '
                                     'operator shows it.'},
        'self': _read_only('string', 'Path of this image.'),
        'file': _read_only('string', 'Path of the image data.'),
        'schema': _read_only('string', 'Path of this schema.'),
        'min_disk': {'type': 'integer',
                     'description': 'Disk (GiB) needed to boot the image.'},
        'min_ram': {'type': 'integer',
                    'description': 'RAM (MiB) needed to boot the image.'},
        'stores': _read_only('string', 'Comma-separated ids of the stores '
                             'holding the data (multi-store only).'),
    }


@functools.lru_cache(maxsize=8)
def _image_schema(disk_formats, container_formats):
    custom, required = _CUSTOM
    schema = {
        'name': 'image',
        'properties': dict(
            _image_properties(disk_formats, container_formats), **custom),
        # Other properties are free-form strings.
        'additionalProperties': {'type': 'string'},
        'links': [{'rel': 'self', 'href': '{self}'},
                  {'rel': 'enclosure', 'href': '{file}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }
    if required:
        schema['required'] = list(required)
    return schema


def load_custom_properties(conf):
    """Merge the operator's ``schema-image.json`` into the image schema.

    The file is looked for beside the configuration files, then in
    oslo.config's usual places (``/etc/glance`` ...). It maps property
    names to JSON schemas, or has that mapping under ``properties`` with
    an optional ``required`` list. A property clashing with a base one,
    or a file that is not a valid schema, stops the service with one
    readable message. Without the file there are no custom properties.
    """
    global _CUSTOM
    path = conf.find_file(CUSTOM_PROPERTIES_FILE)
    if path is None:
        LOG.debug('No %s found; no custom image properties',
                  CUSTOM_PROPERTIES_FILE)
        custom = ({}, ())
    else:
        custom = _read_custom_properties(path)
        LOG.info('Custom image properties from %s: %s', path,
                 ', '.join(sorted(custom[0])) or 'none')
    _CUSTOM = custom
    _image_schema.cache_clear()
    _image_validator.cache_clear()


def _read_custom_properties(path):
    def invalid(reason):
        return exception.InvalidConfiguration(
            'Custom image properties in %s: %s' % (path, reason))
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise invalid(e)
    if not isinstance(doc, dict):
        raise invalid('expected a JSON object')
    if isinstance(doc.get('properties'), dict):
        properties, required = doc['properties'], doc.get('required', [])
    else:
        properties, required = doc, []
    if not isinstance(required, list) or not all(
            isinstance(name, str) for name in required):
        raise invalid('"required" must be a list of property names')
    base = _image_properties((), ())
    clashes = sorted(set(properties) & set(base))
    if clashes:
        raise invalid('%s already defined by the image schema'
                      % ', '.join(clashes))
    for name, schema in properties.items():
        if not isinstance(schema, dict):
            raise invalid('property %s: expected a JSON object' % name)
        try:
            jsonschema.Draft4Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise invalid('property %s: %s' % (name, e.message))
    unknown = sorted(set(required) - set(properties) - set(base))
    if unknown:
        raise invalid('required names no property: %s' % ', '.join(unknown))
    return properties, tuple(required)


def image_schema(conf):
    """The image schema, with the formats this deployment accepts."""
    return _image_schema(tuple(conf.image_format.disk_formats),
                         tuple(conf.image_format.container_formats))


def _collection(name, item):
    return {
        'name': name,
        'properties': {
            name: {'type': 'array', 'items': item},
            'first': {'type': 'string'},
            'next': {'type': 'string'},
            'schema': {'type': 'string'},
        },
        'links': [{'rel': 'first', 'href': '{first}'},
                  {'rel': 'next', 'href': '{next}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }


def images_schema(conf):
    return _collection('images', image_schema(conf))


MEMBER_SCHEMA = {
    'name': 'member',
    'additionalProperties': False,
    'properties': {
        'member_id': {'type': 'string',
                      'description': 'Project the image is shared with.'},
        'image_id': {'type': 'string', 'pattern': UUID_PATTERN,
                     'description': 'The shared image.'},
        'status': {'type': 'string',
                   'enum': list(image_domain.MEMBER_STATUSES),
                   'description': 'Whether the member accepted the image.'},
        'created_at': {'type': 'string',
                       'description': 'When the image was shared.'},
        'updated_at': {'type': 'string',
                       'description': 'When the membership last changed.'},
        'schema': {'type': 'string', 'readOnly': True},
    },
}

MEMBERS_SCHEMA = _collection('members', MEMBER_SCHEMA)

_TASK_PROPERTIES = {
    'id': {'type': 'string', 'pattern': UUID_PATTERN,
           'description': 'Identifier of the task.'},
    'type': {'type': 'string',
             'enum': list(tasks.TYPES),
             'description': 'What the task does.'},
    'status': {'type': 'string',
               'enum': list(tasks.STATUSES),
               'description': 'Where the task is in its life cycle.'},
    'input': {'type': ['null', 'object'],
              'description': 'Parameters the task was started with.'},
    'result': {'type': ['null', 'object'],
               'description': 'What the task produced, once it succeeded.'},
    'owner': {'type': 'string', 'description': 'Project owning the task.'},
    'message': {'type': 'string',
                'description': 'Progress or failure explanation.'},
    'image_id': {'type': 'string', 'description': 'Image the task acts on.'},
    'request_id': {'type': 'string',
                   'description': 'Request that started the task.'},
    'user_id': {'type': 'string',
                'description': 'User who started the task.'},
    # Our addition: bytes written so far by a running import.
    'progress': {'type': ['null', 'integer'],
                 'description': 'Bytes written so far by a running '
                                'import.'},
    'expires_at': {'type': ['null', 'string'],
                   'description': 'When a finished task will be removed.'},
    'created_at': {'type': 'string',
                   'description': 'When the task was created.'},
    'updated_at': {'type': 'string',
                   'description': 'When the task last changed.'},
    'self': {'type': 'string', 'readOnly': True},
    'schema': {'type': 'string', 'readOnly': True},
}

TASK_SCHEMA = {
    'name': 'task',
    'additionalProperties': False,
    'properties': _TASK_PROPERTIES,
}

# List entries leave out the bulky fields.
TASKS_SCHEMA = _collection('tasks', {
    'name': 'task',
    'additionalProperties': False,
    'properties': {k: v for k, v in _TASK_PROPERTIES.items()
                   if k not in ('input', 'result', 'message')},
})


@functools.lru_cache(maxsize=8)
def _image_validator(disk_formats, container_formats, whole):
    schema = _image_schema(disk_formats, container_formats)
    if not whole:
        schema = {k: v for k, v in schema.items() if k != 'required'}
    return jsonschema.Draft4Validator(schema)


def validate_image(doc, conf, *, whole=True):
    """Raise 400 unless *doc* fits the image schema.

    A PATCH value is checked as a fragment, ``{attribute: value}``
    (*whole* False): required properties are then not asked for.
    """
    validator = _image_validator(
        tuple(conf.image_format.disk_formats),
        tuple(conf.image_format.container_formats), whole)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        raise exception.BadRequest(
            "Provided object does not match schema 'image': %s"
            % error.message)


def show_image_schema(req):
    """200: the image schema."""
    return util.json_response(image_schema(CONF))


def show_images_schema(req):
    """200: the image collection schema."""
    return util.json_response(images_schema(CONF))


def show_member_schema(req):
    """200: the image member schema."""
    return util.json_response(MEMBER_SCHEMA)


def show_members_schema(req):
    """200: the image member collection schema."""
    return util.json_response(MEMBERS_SCHEMA)


def show_task_schema(req):
    """200: the task schema."""
    return util.json_response(TASK_SCHEMA)


def show_tasks_schema(req):
    """200: the task collection schema."""
    return util.json_response(TASKS_SCHEMA)

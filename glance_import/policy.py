"""Policy rules, declared in code with Glance's names and defaults.

Operators override any rule in ``policy.yaml`` (or a legacy
``policy.json``) named by ``[oslo_policy] policy_file``;
``oslopolicy-sample-generator --namespace glance_import`` prints them all.
"""

from oslo_policy import policy

from glance_import import exception
from glance_import.policy_decisions import Decisions

# Building blocks, as Glance spells them.
ADMIN = 'rule:context_is_admin'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
PROJECT_READER = 'role:reader and project_id:%(project_id)s'
ADMIN_OR_PROJECT_MEMBER = f'{ADMIN} or ({PROJECT_MEMBER})'
ADMIN_OR_PROJECT_READER = f'{ADMIN} or ({PROJECT_READER})'
_VISIBLE_TO = ("project_id:%(project_id)s or project_id:%(member_id)s"
               " or 'community':%(visibility)s"
               " or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_READER_OF_VISIBLE = f'{ADMIN} or (role:reader and ({_VISIBLE_TO}))'
ADMIN_OR_MEMBER_OF_VISIBLE = f'{ADMIN} or (role:member and ({_VISIBLE_TO}))'
ADMIN_OR_READER_OF_OWNER_OR_MEMBER = (
    f'{ADMIN} or (role:reader and (project_id:%(project_id)s'
    ' or project_id:%(member_id)s))')
ADMIN_OR_SHARED_MEMBER = (
    f'{ADMIN} or (role:member and project_id:%(member_id)s)')
SERVICE_OR_ADMIN = 'rule:service_api'
# Namespaces (and what is in them) are readable in their owner project
# and, when public, by every reader; only administrators change them.
ADMIN_OR_READER_OF_NAMESPACE = (
    f"{ADMIN} or (role:reader and (project_id:%(project_id)s"
    " or 'public':%(visibility)s))")
METADEF_ADMIN = 'rule:metadef_admin'

# Rule names used by the handlers.
ADD_IMAGE = 'add_image'
GET_IMAGE = 'get_image'
GET_IMAGES = 'get_images'
MODIFY_IMAGE = 'modify_image'
PUBLICIZE_IMAGE = 'publicize_image'
COMMUNITIZE_IMAGE = 'communitize_image'
DELETE_IMAGE = 'delete_image'
UPLOAD_IMAGE = 'upload_image'
DOWNLOAD_IMAGE = 'download_image'
DOWNLOAD_FROM_STORE = 'download_from_store'
COPY_IMAGE = 'copy_image'
DEACTIVATE = 'deactivate'
REACTIVATE = 'reactivate'
GET_IMAGE_LOCATION = 'get_image_location'
SET_IMAGE_LOCATION = 'set_image_location'
DELETE_IMAGE_LOCATION = 'delete_image_location'
ADD_IMAGE_LOCATION = 'add_image_location'
FETCH_IMAGE_LOCATION = 'fetch_image_location'
ADD_MEMBER = 'add_member'
DELETE_MEMBER = 'delete_member'
GET_MEMBER = 'get_member'
GET_MEMBERS = 'get_members'
MODIFY_MEMBER = 'modify_member'
TASKS_API_ACCESS = 'tasks_api_access'
GET_TASK = 'get_task'
GET_TASKS = 'get_tasks'
ADD_TASK = 'add_task'
MODIFY_TASK = 'modify_task'
STORES_INFO_DETAIL = 'stores_info_detail'
CONTEXT_IS_ADMIN = 'context_is_admin'
GET_METADEF_NAMESPACE = 'get_metadef_namespace'
GET_METADEF_NAMESPACES = 'get_metadef_namespaces'
MODIFY_METADEF_NAMESPACE = 'modify_metadef_namespace'
ADD_METADEF_NAMESPACE = 'add_metadef_namespace'
DELETE_METADEF_NAMESPACE = 'delete_metadef_namespace'
GET_METADEF_OBJECT = 'get_metadef_object'
GET_METADEF_OBJECTS = 'get_metadef_objects'
MODIFY_METADEF_OBJECT = 'modify_metadef_object'
ADD_METADEF_OBJECT = 'add_metadef_object'
DELETE_METADEF_OBJECT = 'delete_metadef_object'
LIST_METADEF_RESOURCE_TYPES = 'list_metadef_resource_types'
GET_METADEF_RESOURCE_TYPE = 'get_metadef_resource_type'
ADD_METADEF_RESOURCE_TYPE_ASSOCIATION = 'add_metadef_resource_type_association'
REMOVE_METADEF_RESOURCE_TYPE_ASSOCIATION = (
    'remove_metadef_resource_type_association')
GET_METADEF_PROPERTY = 'get_metadef_property'
GET_METADEF_PROPERTIES = 'get_metadef_properties'
MODIFY_METADEF_PROPERTY = 'modify_metadef_property'
ADD_METADEF_PROPERTY = 'add_metadef_property'
REMOVE_METADEF_PROPERTY = 'remove_metadef_property'
GET_METADEF_TAG = 'get_metadef_tag'
GET_METADEF_TAGS = 'get_metadef_tags'
MODIFY_METADEF_TAG = 'modify_metadef_tag'
ADD_METADEF_TAG = 'add_metadef_tag'
ADD_METADEF_TAGS = 'add_metadef_tags'
DELETE_METADEF_TAG = 'delete_metadef_tag'
DELETE_METADEF_TAGS = 'delete_metadef_tags'
CACHE_IMAGE = 'cache_image'
CACHE_LIST = 'cache_list'
CACHE_DELETE = 'cache_delete'
CACHE_CLEAN = 'cache_clean'
CACHE_PRUNE = 'cache_prune'
LIST_CACHED_NODES = 'list_cached_nodes'
MANAGE_IMAGE_CACHE = 'manage_image_cache'

_SCOPE = ['project']


def _rule(name, check, description, operations):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{'path': p, 'method': m} for m, p in operations],
        scope_types=_SCOPE)


BASE_RULES = [
    policy.RuleDefault(CONTEXT_IS_ADMIN, 'role:admin',
                       description='Defines an administrator.'),
    policy.RuleDefault('default', '',
                       description='Rule for names without a rule.'),
    policy.RuleDefault('service_api', 'role:service or role:admin',
                       description='Calls made by other services.'),
]

IMAGE_RULES = [
    _rule(ADD_IMAGE, ADMIN_OR_PROJECT_MEMBER, 'Create a new image.',
          [('POST', '/v2/images')]),
    _rule(GET_IMAGE, ADMIN_OR_READER_OF_VISIBLE, 'Get an image.',
          [('GET', '/v2/images/{image_id}')]),
    _rule(GET_IMAGES, ADMIN_OR_PROJECT_READER, 'List images.',
          [('GET', '/v2/images')]),
    _rule(MODIFY_IMAGE, ADMIN_OR_PROJECT_MEMBER,
          'Update an image, its tags, or stage and import its data.',
          [('PATCH', '/v2/images/{image_id}'),
           ('PUT', '/v2/images/{image_id}/tags/{tag}'),
           ('DELETE', '/v2/images/{image_id}/tags/{tag}'),
           ('PUT', '/v2/images/{image_id}/stage'),
           ('POST', '/v2/images/{image_id}/import')]),
    _rule(PUBLICIZE_IMAGE, ADMIN, 'Make an image public.',
          [('POST', '/v2/images'), ('PATCH', '/v2/images/{image_id}')]),
    _rule(COMMUNITIZE_IMAGE, ADMIN_OR_PROJECT_MEMBER,
          'Make an image available to every project (community).',
          [('POST', '/v2/images'), ('PATCH', '/v2/images/{image_id}')]),
    _rule(DELETE_IMAGE, ADMIN_OR_PROJECT_MEMBER, 'Delete an image.',
          [('DELETE', '/v2/images/{image_id}')]),
    _rule(UPLOAD_IMAGE, ADMIN_OR_PROJECT_MEMBER, 'Upload image data.',
          [('PUT', '/v2/images/{image_id}/file')]),
    _rule(DOWNLOAD_IMAGE, ADMIN_OR_MEMBER_OF_VISIBLE, 'Download image data.',
          [('GET', '/v2/images/{image_id}/file')]),
    _rule(DOWNLOAD_FROM_STORE, ADMIN_OR_MEMBER_OF_VISIBLE,
          'Download image data from preferred stores.',
          [('GET', '/v2/images/{image_id}/file')]),
    _rule(COPY_IMAGE, ADMIN, 'Copy an active image to other stores.',
          [('POST', '/v2/images/{image_id}/import')]),
    _rule(DEACTIVATE, ADMIN_OR_PROJECT_MEMBER, 'Deactivate an image.',
          [('POST', '/v2/images/{image_id}/actions/deactivate')]),
    _rule(REACTIVATE, ADMIN_OR_PROJECT_MEMBER, 'Reactivate an image.',
          [('POST', '/v2/images/{image_id}/actions/reactivate')]),
    _rule(GET_IMAGE_LOCATION, ADMIN_OR_PROJECT_READER,
          'Read the locations of an image.',
          [('GET', '/v2/images/{image_id}'),
           ('DELETE', '/v2/stores/{store_id}/{image_id}')]),
    _rule(SET_IMAGE_LOCATION, ADMIN_OR_PROJECT_MEMBER,
          'Add or replace image locations.',
          [('PATCH', '/v2/images/{image_id}')]),
    _rule(DELETE_IMAGE_LOCATION, ADMIN,
          'Remove a location of an image, or its data from one store.',
          [('PATCH', '/v2/images/{image_id}'),
           ('DELETE', '/v2/stores/{store_id}/{image_id}')]),
    _rule(ADD_IMAGE_LOCATION, f'{SERVICE_OR_ADMIN} or ({PROJECT_MEMBER})',
          'Add a location to a queued image.',
          [('POST', '/v2/images/{image_id}/locations')]),
    _rule(FETCH_IMAGE_LOCATION, SERVICE_OR_ADMIN,
          'List the locations of an image.',
          [('GET', '/v2/images/{image_id}/locations')]),
    _rule(STORES_INFO_DETAIL, f'{ADMIN} or role:service',
          'Show store details.', [('GET', '/v2/info/stores/detail')]),
]

MEMBER_RULES = [
    _rule(ADD_MEMBER, ADMIN_OR_PROJECT_MEMBER, 'Share an image.',
          [('POST', '/v2/images/{image_id}/members')]),
    _rule(DELETE_MEMBER, ADMIN_OR_PROJECT_MEMBER, 'Stop sharing an image.',
          [('DELETE', '/v2/images/{image_id}/members/{member_id}')]),
    _rule(GET_MEMBER, ADMIN_OR_READER_OF_OWNER_OR_MEMBER,
          'Show an image member.',
          [('GET', '/v2/images/{image_id}/members/{member_id}')]),
    _rule(GET_MEMBERS, ADMIN_OR_READER_OF_OWNER_OR_MEMBER,
          'List image members.', [('GET', '/v2/images/{image_id}/members')]),
    _rule(MODIFY_MEMBER, ADMIN_OR_SHARED_MEMBER,
          'Accept or reject a shared image.',
          [('PUT', '/v2/images/{image_id}/members/{member_id}')]),
]

TASK_RULES = [
    _rule(GET_TASK, 'rule:default', 'Show a task.',
          [('GET', '/v2/tasks/{task_id}')]),
    _rule(GET_TASKS, 'rule:default', 'List tasks.', [('GET', '/v2/tasks')]),
    _rule(ADD_TASK, 'rule:default',
          'Create a task, including the one behind every image import.',
          [('POST', '/v2/tasks'), ('POST', '/v2/images/{image_id}/import')]),
    _rule(MODIFY_TASK, 'rule:default', 'Update a task.',
          [('PUT', '/v2/tasks/{task_id}')]),
    _rule(TASKS_API_ACCESS, ADMIN,
          'Use the tasks API at all. Import keeps working for users '
          'without it.',
          [('GET', '/v2/tasks'), ('GET', '/v2/tasks/{task_id}'),
           ('POST', '/v2/tasks')]),
]

_NAMESPACES = '/v2/metadefs/namespaces'
_NAMESPACE = _NAMESPACES + '/{namespace_name}'
_OBJECTS = _NAMESPACE + '/objects'
_OBJECT = _OBJECTS + '/{object_name}'
_PROPERTIES = _NAMESPACE + '/properties'
_PROPERTY = _PROPERTIES + '/{property_name}'
_TAGS = _NAMESPACE + '/tags'
_TAG = _TAGS + '/{tag_name}'
_ASSOCIATIONS = _NAMESPACE + '/resource_types'

METADEF_RULES = [
    policy.RuleDefault('metadef_default', '',
                       description='Anyone. The old default of metadata '
                                   'definition reads, for overrides.'),
    policy.RuleDefault('metadef_admin', ADMIN,
                       description='Who may change metadata definitions.'),
    _rule(GET_METADEF_NAMESPACE, ADMIN_OR_READER_OF_NAMESPACE,
          'Show a metadata definition namespace.', [('GET', _NAMESPACE)]),
    _rule(GET_METADEF_NAMESPACES, ADMIN_OR_PROJECT_READER,
          'List metadata definition namespaces.', [('GET', _NAMESPACES)]),
    _rule(MODIFY_METADEF_NAMESPACE, METADEF_ADMIN,
          'Update a metadata definition namespace.', [('PUT', _NAMESPACE)]),
    _rule(ADD_METADEF_NAMESPACE, METADEF_ADMIN,
          'Create a metadata definition namespace.', [('POST', _NAMESPACES)]),
    _rule(DELETE_METADEF_NAMESPACE, METADEF_ADMIN,
          'Delete a metadata definition namespace.', [('DELETE', _NAMESPACE)]),
    _rule(GET_METADEF_OBJECT, ADMIN_OR_READER_OF_NAMESPACE,
          'Show an object of a namespace.', [('GET', _OBJECT)]),
    _rule(GET_METADEF_OBJECTS, ADMIN_OR_READER_OF_NAMESPACE,
          'List the objects of a namespace.', [('GET', _OBJECTS)]),
    _rule(MODIFY_METADEF_OBJECT, METADEF_ADMIN,
          'Update an object of a namespace.', [('PUT', _OBJECT)]),
    _rule(ADD_METADEF_OBJECT, METADEF_ADMIN,
          'Add an object to a namespace.', [('POST', _OBJECTS)]),
    _rule(DELETE_METADEF_OBJECT, METADEF_ADMIN,
          'Delete an object of a namespace.', [('DELETE', _OBJECT)]),
    _rule(LIST_METADEF_RESOURCE_TYPES, ADMIN_OR_READER_OF_NAMESPACE,
          'List the resource types.',
          [('GET', '/v2/metadefs/resource_types')]),
    _rule(GET_METADEF_RESOURCE_TYPE, ADMIN_OR_READER_OF_NAMESPACE,
          'List the resource types a namespace is associated with.',
          [('GET', _ASSOCIATIONS)]),
    _rule(ADD_METADEF_RESOURCE_TYPE_ASSOCIATION, METADEF_ADMIN,
          'Associate a namespace with a resource type.',
          [('POST', _ASSOCIATIONS)]),
    _rule(REMOVE_METADEF_RESOURCE_TYPE_ASSOCIATION, METADEF_ADMIN,
          'Dissociate a namespace from a resource type.',
          [('DELETE', _ASSOCIATIONS + '/{name}')]),
    _rule(GET_METADEF_PROPERTY, ADMIN_OR_READER_OF_NAMESPACE,
          'Show a property of a namespace.', [('GET', _PROPERTY)]),
    _rule(GET_METADEF_PROPERTIES, ADMIN_OR_READER_OF_NAMESPACE,
          'List the properties of a namespace.', [('GET', _PROPERTIES)]),
    _rule(MODIFY_METADEF_PROPERTY, METADEF_ADMIN,
          'Update a property of a namespace.', [('PUT', _PROPERTY)]),
    _rule(ADD_METADEF_PROPERTY, METADEF_ADMIN,
          'Add a property to a namespace.', [('POST', _PROPERTIES)]),
    _rule(REMOVE_METADEF_PROPERTY, METADEF_ADMIN,
          'Delete a property of a namespace.', [('DELETE', _PROPERTY)]),
    _rule(GET_METADEF_TAG, ADMIN_OR_READER_OF_NAMESPACE,
          'Show a tag of a namespace.', [('GET', _TAG)]),
    _rule(GET_METADEF_TAGS, ADMIN_OR_READER_OF_NAMESPACE,
          'List the tags of a namespace.', [('GET', _TAGS)]),
    _rule(MODIFY_METADEF_TAG, METADEF_ADMIN,
          'Rename a tag of a namespace.', [('PUT', _TAG)]),
    _rule(ADD_METADEF_TAG, METADEF_ADMIN,
          'Add one tag to a namespace.', [('POST', _TAG)]),
    _rule(ADD_METADEF_TAGS, METADEF_ADMIN,
          'Add tags to a namespace, or replace all of them.',
          [('POST', _TAGS)]),
    _rule(DELETE_METADEF_TAG, METADEF_ADMIN,
          'Delete a tag of a namespace.', [('DELETE', _TAG)]),
    _rule(DELETE_METADEF_TAGS, METADEF_ADMIN,
          'Delete every tag of a namespace.', [('DELETE', _TAGS)]),
]

# The image cache of an API node; every call is an administrator's, as
# the cache is shared by all projects.
_CACHE = '/v2/cache'
CACHE_RULES = [
    _rule(CACHE_IMAGE, ADMIN, 'Queue an active image for caching.',
          [('PUT', _CACHE + '/{image_id}')]),
    _rule(CACHE_LIST, ADMIN, 'List the cached and queued images.',
          [('GET', _CACHE)]),
    _rule(CACHE_DELETE, ADMIN,
          'Remove one image, or all of them, from the cache or its queue.',
          [('DELETE', _CACHE), ('DELETE', _CACHE + '/{image_id}')]),
    _rule(CACHE_CLEAN, ADMIN,
          'Remove invalid, stalled and obsolete files from the cache.',
          [('POST', _CACHE + '/clean')]),
    _rule(CACHE_PRUNE, ADMIN,
          'Shrink the cache to its maximum size, least recently used '
          'first.', [('POST', _CACHE + '/prune')]),
    _rule(LIST_CACHED_NODES, ADMIN,
          'List the API nodes that have an image cached.',
          [('GET', _CACHE + '/nodes/{image_id}')]),
    _rule(MANAGE_IMAGE_CACHE, ADMIN,
          'Use the legacy cache calls of the cachemanagement flavor.',
          [('GET', '/v2/cached_images'),
           ('DELETE', '/v2/cached_images'),
           ('DELETE', '/v2/cached_images/{image_id}'),
           ('GET', '/v2/queued_images'),
           ('DELETE', '/v2/queued_images'),
           ('PUT', '/v2/queued_images/{image_id}'),
           ('DELETE', '/v2/queued_images/{image_id}')]),
]


def list_rules():
    """Every rule, for the enforcer and oslopolicy-sample-generator."""
    return (BASE_RULES + IMAGE_RULES + MEMBER_RULES + TASK_RULES
            + METADEF_RULES + CACHE_RULES)


_ENFORCER = None
_DECISIONS = None


def get_enforcer(conf=None):
    """The process's enforcer; loads defaults plus the operator's file."""
    global _ENFORCER, _DECISIONS
    if _ENFORCER is None:
        from oslo_config import cfg
        enforcer = policy.Enforcer(conf or cfg.CONF)
        enforcer.register_defaults(list_rules())
        try:
            enforcer.load_rules()
        except ValueError as e:
            raise exception.InvalidConfiguration(
                'Cannot read the policy file %s: %s'
                % (_policy_file(enforcer), _parse_error(enforcer, e)))
        _ENFORCER = enforcer
        _DECISIONS = Decisions(_ENFORCER)
    return _ENFORCER


def _at(text, mark):
    if mark is None:
        return text
    return '%s at line %d, column %d' % (text, mark.line + 1, mark.column + 1)


def _policy_file(enforcer):
    return enforcer.policy_path or enforcer.policy_file


def _parse_error(enforcer, error):
    """One line for a YAML or JSON syntax error, with its position."""
    import yaml

    path = _policy_file(enforcer)
    try:
        with open(path) as f:
            yaml.safe_load(f)
    except yaml.MarkedYAMLError as e:
        parts = [_at(text, mark) for text, mark in
                 ((e.context, e.context_mark), (e.problem, e.problem_mark))
                 if text]
        return ': '.join(parts)
    except (OSError, yaml.YAMLError):
        pass
    return ' '.join(str(error).split())


def reset():
    global _ENFORCER, _DECISIONS
    if _ENFORCER is not None:
        _ENFORCER.clear()
    _ENFORCER = _DECISIONS = None


def check(ctx, rule, target):
    """True when *ctx* may perform *rule* on *target*.

    ``authorize`` rather than ``enforce``: a misspelt rule name raises
    PolicyNotRegistered instead of silently falling back to ``default``.
    """
    get_enforcer()
    return _DECISIONS.check(ctx, rule, target)


def authorize(ctx, rule, target):
    """Raise 403 unless *ctx* may perform *rule* on *target*."""
    if not check(ctx, rule, target):
        raise exception.PolicyNotAuthorized(action=rule)


def is_admin(ctx):
    return check(ctx, CONTEXT_IS_ADMIN, {'project_id': ctx.project_id})


def image_target(image, member_id=None):
    """Policy target for *image*: its attributes, properties and owner.

    ``project_id`` is the owner, as in Glance; ``member_id`` is the
    caller's project when it reaches the image through a membership.
    """
    target = dict(image.properties)
    target.update({
        'id': image.id, 'name': image.name, 'status': image.status,
        'visibility': image.visibility, 'owner': image.owner,
        'project_id': image.owner, 'protected': image.protected,
        'member_id': member_id,
    })
    return target


def metadef_target(namespace, ctx=None):
    """Policy target of a metadata definition call, as Glance builds it.

    For a call on *namespace* (a namespace dict; its objects, properties,
    tags and associations are judged by it too), ``project_id`` is the
    namespace's owner and ``visibility`` its visibility. Without one (list
    or create namespaces) the target is the caller's own project, *ctx*'s.
    """
    if namespace is None:
        return {'project_id': ctx.project_id if ctx is not None else None}
    return {'project_id': namespace['owner'],
            'visibility': namespace['visibility']}


def authorize_image(ctx, rule, image):
    """Enforce *rule* on a loaded image, hiding it when it is invisible.

    A caller that may not even ``get_image`` gets 404 as if the image did
    not exist; one who can see it but lacks *rule* gets 403.
    """
    target = image_target(image, image.member)
    if check(ctx, rule, target):
        return
    if rule == GET_IMAGE or not check(ctx, GET_IMAGE, target):
        raise exception.ImageNotFound(image_id=image.id)
    raise exception.PolicyNotAuthorized(action=rule)

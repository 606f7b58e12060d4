"""Metadata definition policies: Glance's rule names, defaults, operations
and the decisions they make for each persona."""

import pytest
from oslo_config import cfg
from oslo_policy import opts as policy_opts

from glance_import import context
from glance_import import policy

OWNER = 'project-owner'
OTHER = 'project-other'

ADMIN = 'rule:context_is_admin'
READER_OF_NAMESPACE = ("rule:context_is_admin or (role:reader and "
                       "(project_id:%(project_id)s or "
                       "'public':%(visibility)s))")
PROJECT_READER = ('rule:context_is_admin or '
                  '(role:reader and project_id:%(project_id)s)')
METADEF_ADMIN = 'rule:metadef_admin'

NS = '/v2/metadefs/namespaces'
NAMESPACE = NS + '/{namespace_name}'

# name -> (default check string, [(method, path)]).
RULES = {
    'metadef_default': ('', []),
    'metadef_admin': (ADMIN, []),
    'get_metadef_namespace': (READER_OF_NAMESPACE, [('GET', NAMESPACE)]),
    'get_metadef_namespaces': (PROJECT_READER, [('GET', NS)]),
    'modify_metadef_namespace': (METADEF_ADMIN, [('PUT', NAMESPACE)]),
    'add_metadef_namespace': (METADEF_ADMIN, [('POST', NS)]),
    'delete_metadef_namespace': (METADEF_ADMIN, [('DELETE', NAMESPACE)]),
    'get_metadef_object': (READER_OF_NAMESPACE,
                           [('GET', NAMESPACE + '/objects/{object_name}')]),
    'get_metadef_objects': (READER_OF_NAMESPACE,
                            [('GET', NAMESPACE + '/objects')]),
    'modify_metadef_object': (METADEF_ADMIN,
                              [('PUT', NAMESPACE + '/objects/{object_name}')]),
    'add_metadef_object': (METADEF_ADMIN, [('POST', NAMESPACE + '/objects')]),
    'delete_metadef_object': (
        METADEF_ADMIN, [('DELETE', NAMESPACE + '/objects/{object_name}')]),
    'list_metadef_resource_types': (
        READER_OF_NAMESPACE, [('GET', '/v2/metadefs/resource_types')]),
    'get_metadef_resource_type': (
        READER_OF_NAMESPACE, [('GET', NAMESPACE + '/resource_types')]),
    'add_metadef_resource_type_association': (
        METADEF_ADMIN, [('POST', NAMESPACE + '/resource_types')]),
    'remove_metadef_resource_type_association': (
        METADEF_ADMIN, [('DELETE', NAMESPACE + '/resource_types/{name}')]),
    'get_metadef_property': (
        READER_OF_NAMESPACE,
        [('GET', NAMESPACE + '/properties/{property_name}')]),
    'get_metadef_properties': (READER_OF_NAMESPACE,
                               [('GET', NAMESPACE + '/properties')]),
    'modify_metadef_property': (
        METADEF_ADMIN, [('PUT', NAMESPACE + '/properties/{property_name}')]),
    'add_metadef_property': (METADEF_ADMIN,
                             [('POST', NAMESPACE + '/properties')]),
    'remove_metadef_property': (
        METADEF_ADMIN,
        [('DELETE', NAMESPACE + '/properties/{property_name}')]),
    'get_metadef_tag': (READER_OF_NAMESPACE,
                        [('GET', NAMESPACE + '/tags/{tag_name}')]),
    'get_metadef_tags': (READER_OF_NAMESPACE, [('GET', NAMESPACE + '/tags')]),
    'modify_metadef_tag': (METADEF_ADMIN,
                           [('PUT', NAMESPACE + '/tags/{tag_name}')]),
    'add_metadef_tag': (METADEF_ADMIN,
                        [('POST', NAMESPACE + '/tags/{tag_name}')]),
    'add_metadef_tags': (METADEF_ADMIN, [('POST', NAMESPACE + '/tags')]),
    'delete_metadef_tag': (METADEF_ADMIN,
                           [('DELETE', NAMESPACE + '/tags/{tag_name}')]),
    'delete_metadef_tags': (METADEF_ADMIN,
                            [('DELETE', NAMESPACE + '/tags')]),
}

CONSTANTS = {
    'GET_METADEF_NAMESPACE', 'GET_METADEF_NAMESPACES',
    'MODIFY_METADEF_NAMESPACE', 'ADD_METADEF_NAMESPACE',
    'DELETE_METADEF_NAMESPACE', 'GET_METADEF_OBJECT', 'GET_METADEF_OBJECTS',
    'MODIFY_METADEF_OBJECT', 'ADD_METADEF_OBJECT', 'DELETE_METADEF_OBJECT',
    'LIST_METADEF_RESOURCE_TYPES', 'GET_METADEF_RESOURCE_TYPE',
    'ADD_METADEF_RESOURCE_TYPE_ASSOCIATION',
    'REMOVE_METADEF_RESOURCE_TYPE_ASSOCIATION', 'GET_METADEF_PROPERTY',
    'GET_METADEF_PROPERTIES', 'MODIFY_METADEF_PROPERTY',
    'ADD_METADEF_PROPERTY', 'REMOVE_METADEF_PROPERTY', 'GET_METADEF_TAG',
    'GET_METADEF_TAGS', 'MODIFY_METADEF_TAG', 'ADD_METADEF_TAG',
    'ADD_METADEF_TAGS', 'DELETE_METADEF_TAG', 'DELETE_METADEF_TAGS',
}

READ_RULES = sorted(name for name, (check, _) in RULES.items()
                    if check == READER_OF_NAMESPACE)
WRITE_RULES = sorted(name for name, (check, _) in RULES.items()
                     if check == METADEF_ADMIN)


@pytest.fixture
def enforce(tmp_path):
    """``enforce(text=None)``: an enforcer with *text* as policy.yaml."""

    def load(text=None):
        conf = cfg.ConfigOpts()
        path = str(tmp_path / 'policy.yaml')
        if text is not None:
            with open(path, 'w') as f:
                f.write(text)
        policy_opts.set_defaults(conf, policy_file=path,
                                 policy_dirs=['policy.d'])
        conf([], default_config_files=[])
        policy.reset()
        return policy.get_enforcer(conf)

    load()
    yield load
    policy.reset()
    policy_opts.set_defaults(cfg.ConfigOpts(), policy_file='policy.yaml',
                             policy_dirs=['policy.d'])


def _ctx(project, *roles):
    ctx = context.RequestContext(project_id=project, user_id='u-' + project,
                                 roles=list(roles), overwrite=False)
    ctx.is_admin = policy.is_admin(ctx)
    return ctx


PERSONAS = {
    'admin': lambda: _ctx(OTHER, 'admin', 'member', 'reader'),
    'owner-member': lambda: _ctx(OWNER, 'member', 'reader'),
    'owner-reader': lambda: _ctx(OWNER, 'reader'),
    # Without the reader role (no implied roles here) nothing is readable.
    'owner-member-only': lambda: _ctx(OWNER, 'member'),
    'other-member': lambda: _ctx(OTHER, 'member', 'reader'),
    'other-reader': lambda: _ctx(OTHER, 'reader'),
}


def _namespace(visibility):
    return {'id': 1, 'namespace': 'OS::Example', 'display_name': None,
            'description': None, 'visibility': visibility,
            'protected': False, 'owner': OWNER,
            'created_at': None, 'updated_at': None}


def _decisions(rule, target_of):
    return tuple(int(policy.check(ctx, rule, target_of(ctx)))
                 for ctx in (make() for make in PERSONAS.values()))


def test_rule_names_defaults_and_operations():
    rules = {rule.name: rule for rule in policy.list_rules()}
    for name, (check, operations) in RULES.items():
        rule = rules[name]
        assert rule.check_str == check, name
        assert [(o['method'], o['path'])
                for o in getattr(rule, 'operations', [])] == operations, name
        if operations:
            assert rule.scope_types == ['project'], name
            assert rule.description, name


def test_metadef_rules_are_registered_once_and_complete():
    names = [rule.name for rule in policy.list_rules()]
    assert len(names) == len(set(names))
    metadef = {name for name in names if 'metadef' in name}
    assert metadef == set(RULES)


def test_constants_name_the_rules():
    values = {getattr(policy, constant) for constant in CONSTANTS}
    assert values == set(RULES) - {'metadef_default', 'metadef_admin'}
    for constant in CONSTANTS:
        assert getattr(policy, constant) == constant.lower()


def test_metadef_target(enforce):
    assert policy.metadef_target(_namespace('private')) == {
        'project_id': OWNER, 'visibility': 'private'}
    assert policy.metadef_target(_namespace('public')) == {
        'project_id': OWNER, 'visibility': 'public'}
    # Listing and creating: the caller's own project.
    ctx = _ctx(OTHER, 'reader')
    assert policy.metadef_target(None, ctx) == {'project_id': OTHER}


# Allowed for: admin, owner-member, owner-reader, owner-member-only,
# other-member, other-reader (as a Glance 33 with default policies answers).
READ_PRIVATE = (1, 1, 1, 0, 0, 0)
READ_PUBLIC = (1, 1, 1, 0, 1, 1)
ADMIN_ONLY = (1, 0, 0, 0, 0, 0)


@pytest.mark.parametrize('rule', READ_RULES)
@pytest.mark.parametrize('visibility, expected', [
    ('private', READ_PRIVATE), ('public', READ_PUBLIC)])
def test_reading_a_namespace(enforce, rule, visibility, expected):
    target = policy.metadef_target(_namespace(visibility))
    assert _decisions(rule, lambda ctx: target) == expected


@pytest.mark.parametrize('rule', WRITE_RULES)
@pytest.mark.parametrize('visibility', ['private', 'public'])
def test_changing_a_namespace_takes_an_admin(enforce, rule, visibility):
    target = policy.metadef_target(_namespace(visibility))
    assert _decisions(rule, lambda ctx: target) == ADMIN_ONLY


def test_listing_and_creating_namespaces(enforce):
    def own(ctx):
        return policy.metadef_target(None, ctx)
    # Any reader lists (what each sees is the database's business).
    assert _decisions(policy.GET_METADEF_NAMESPACES, own) == (
        1, 1, 1, 0, 1, 1)
    assert _decisions(policy.ADD_METADEF_NAMESPACE, own) == ADMIN_ONLY
    # Resource types are listed against the caller's own project too.
    assert _decisions(policy.LIST_METADEF_RESOURCE_TYPES, own) == (
        1, 1, 1, 0, 1, 1)


def test_metadef_admin_override_opens_every_change(enforce):
    enforce('"metadef_admin": "role:member"\n')
    target = policy.metadef_target(_namespace('private'))
    for rule in WRITE_RULES:
        assert _decisions(rule, lambda ctx: target) == (
            1, 1, 0, 1, 1, 0), rule
    # Reading is untouched.
    assert _decisions(policy.GET_METADEF_TAGS,
                      lambda ctx: target) == READ_PRIVATE


def test_single_rule_override(enforce):
    enforce('"get_metadef_namespace": "rule:metadef_default"\n')
    target = policy.metadef_target(_namespace('private'))
    assert _decisions(policy.GET_METADEF_NAMESPACE,
                      lambda ctx: target) == (1, 1, 1, 1, 1, 1)
    assert _decisions(policy.GET_METADEF_OBJECTS,
                      lambda ctx: target) == READ_PRIVATE

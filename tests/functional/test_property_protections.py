"""Property protections over HTTP: both rule formats of
property_protection_file on create, show, list and every PATCH operation,
the first-matching-section rule, and the service's own properties."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests import fixtures
from tests.functional import importutil as iu
from tests.functional.imageutil import PATCH_V20
from tests.functional.imageutil import create
from tests.functional.imageutil import message
from tests.functional.imageutil import patch
from tests.functional.imageutil import project

BIN = os.path.dirname(sys.executable)

ROLES_FILE = """\
# Sections are tried in this order; the first that matches decides.
[^x_ordered_special$]
create = member
read = member
update = member
delete = member

[^x_ordered_]
create = admin
read = admin
update = admin
delete = admin

[^x_owner_]
create = admin,member
read = admin,member,reader
update = admin,member
delete = admin,member

[^x_readonly]
create = admin
read = admin,member
update = admin
delete = admin

[^x_admin_read$]
create = admin
read = admin
update = admin
delete = admin

[^x_write_only$]
create = admin,member
read = !
update = !
delete = admin,member

[^x_all$]
create = @
read = @
update = @
delete = @

[^x_none$]
create = !
read = !
update = !
delete = !

[^x_empty_update$]
create = member
read = member
update =
delete = member

[_Mixed_Case$]
create = Member
read = Member
update = Member
delete = Member
"""

POLICY_RULES = """\
"default": "role:admin"
"prop_creator": "role:admin or role:creator"
"prop_reader": "role:admin or role:auditor"
"""

POLICIES_FILE = """\
[^x_policy_prop$]
create = prop_creator
read = prop_reader
update = prop_creator
delete = !

[^x_undefined_policy$]
create = no_such_rule
read = @
update = no_such_rule
delete = no_such_rule

[^x_anyone$]
create = @
read = @
update = @
delete = @
"""


def _protected_service(service_factory, tmp_path, text, rule_format,
                       extra=None):
    path = tmp_path / 'property-protections.conf'
    path.write_text(textwrap.dedent(text))
    overrides = {'property_protection_file': str(path),
                 'property_protection_rule_format': rule_format}
    overrides.update(extra or {})
    return service_factory(overrides)


@pytest.fixture
def roles_service(service_factory, tmp_path):
    return _protected_service(service_factory, tmp_path, ROLES_FILE,
                              'roles')


@pytest.fixture
def owner():
    return project()


def caller(service, owner, roles):
    return fixtures.Client(service.url).as_caller(owner, roles=roles)


def image_with(client, **properties):
    return create(client, disk_format='raw', container_format='bare',
                  **properties)


def show(client, image_id):
    resp = client.get('/v2/images/%s' % image_id)
    assert resp.status_code == 200, resp.text
    return resp.json()


def op(kind, name, value=None):
    item = {'op': kind, 'path': '/%s' % name}
    if kind != 'remove':
        item['value'] = value
    return item


def assert_reserved(resp, name):
    assert resp.status_code == 403, resp.text
    assert "Attribute '%s' is reserved." % name in message(resp)


# Roles ------------------------------------------------------------------

def test_create_needs_the_create_permission_of_every_property(
        roles_service, owner):
    member = caller(roles_service, owner, 'member')
    image = image_with(member, x_owner_a='1', x_all='2', x_write_only='3')
    assert image['x_owner_a'] == '1'
    assert image['x_all'] == '2'
    # Created, but the caller may not read it back.
    assert 'x_write_only' not in image
    for name in ('x_readonly', 'x_none', 'x_admin_read'):
        resp = member.post('/v2/images', json={name: 'v'})
        assert_reserved(resp, name)
    # No section matches: no one may create it, not even an admin.
    admin = caller(roles_service, owner, 'admin')
    assert_reserved(admin.post('/v2/images', json={'unmatched': 'v'}),
                    'unmatched')
    # The refused creates left no image behind.
    assert [i['id'] for i in member.get('/v2/images').json()['images']] \
        == [image['id']]


def test_show_and_list_hide_what_the_caller_may_not_read(roles_service,
                                                         owner):
    admin = caller(roles_service, owner, 'admin')
    image = image_with(admin, x_owner_a='a', x_readonly='r',
                       x_admin_read='s', x_write_only='w')
    member = caller(roles_service, owner, 'member')
    reader = caller(roles_service, owner, 'reader')
    seen = {
        'admin': show(admin, image['id']),
        'member': show(member, image['id']),
        'reader': show(reader, image['id']),
    }
    custom = ('x_owner_a', 'x_readonly', 'x_admin_read', 'x_write_only')
    visible = {who: sorted(n for n in custom if n in body)
               for who, body in seen.items()}
    assert visible == {
        'admin': ['x_admin_read', 'x_owner_a', 'x_readonly'],
        'member': ['x_owner_a', 'x_readonly'],
        'reader': ['x_owner_a'],
    }
    listed = member.get('/v2/images').json()['images']
    assert [sorted(n for n in custom if n in i) for i in listed] == [
        ['x_owner_a', 'x_readonly']]


def test_patch_checks_update_create_and_delete(roles_service, owner):
    admin = caller(roles_service, owner, 'admin')
    member = caller(roles_service, owner, 'member')
    image = image_with(admin, x_owner_a='a', x_readonly='r')
    image_id = image['id']
    # update
    assert_reserved(patch(member, image_id,
                          [op('replace', 'x_readonly', 'new')]),
                    'x_readonly')
    resp = patch(member, image_id, [op('replace', 'x_owner_a', 'b')])
    assert resp.status_code == 200, resp.text
    assert resp.json()['x_owner_a'] == 'b'
    # add over a readable property is an update
    assert_reserved(patch(member, image_id, [op('add', 'x_readonly', 'n')]),
                    'x_readonly')
    # create
    assert_reserved(patch(member, image_id, [op('add', 'x_readonly2', 'n')]),
                    'x_readonly2')
    resp = patch(member, image_id, [op('add', 'x_owner_new', 'n')])
    assert resp.status_code == 200, resp.text
    # delete
    assert_reserved(patch(member, image_id, [op('remove', 'x_readonly')]),
                    'x_readonly')
    resp = patch(member, image_id, [op('remove', 'x_owner_new')])
    assert resp.status_code == 200, resp.text
    assert 'x_owner_new' not in resp.json()
    # What an admin may do.
    resp = patch(admin, image_id, [op('replace', 'x_readonly', 'R'),
                                   op('add', 'x_readonly2', 'n')])
    assert resp.status_code == 200, resp.text
    resp = patch(admin, image_id, [op('remove', 'x_readonly')])
    assert resp.status_code == 200, resp.text
    assert 'x_readonly' not in show(admin, image_id)


def test_a_refused_operation_saves_none_of_the_patch(roles_service, owner):
    member = caller(roles_service, owner, 'member')
    image = image_with(member, x_owner_a='a')
    resp = patch(member, image['id'], [op('replace', 'x_owner_a', 'b'),
                                       op('add', 'name', 'renamed'),
                                       op('add', 'x_none', 'v')])
    assert_reserved(resp, 'x_none')
    after = show(member, image['id'])
    assert after['x_owner_a'] == 'a'
    assert after['name'] is None


def test_unreadable_properties_do_not_exist_for_the_caller(roles_service,
                                                           owner):
    admin = caller(roles_service, owner, 'admin')
    member = caller(roles_service, owner, 'member')
    image = image_with(admin, x_admin_read='secret', x_write_only='w')
    image_id = image['id']
    for item in (op('replace', 'x_admin_read', 'v'),
                 op('remove', 'x_admin_read')):
        resp = patch(member, image_id, [item])
        assert resp.status_code == 409, resp.text
        assert 'Property x_admin_read does not exist.' in message(resp)
    # The 2.0 media type's "already present" only counts what it can see:
    # the add is a create, which x_admin_read allows to admins only.
    resp = patch(member, image_id, [{'add': '/x_admin_read', 'value': 'v'}],
                 media_type=PATCH_V20)
    assert_reserved(resp, 'x_admin_read')
    # x_write_only may be created by members, so an add over the unseen
    # value replaces it, as in Glance.
    resp = patch(member, image_id, [op('add', 'x_write_only', 'w2')])
    assert resp.status_code == 200, resp.text
    assert 'x_write_only' not in resp.json()


def test_properties_a_caller_cannot_see_survive_its_changes(roles_service,
                                                            owner):
    admin = caller(roles_service, owner, 'admin')
    member = caller(roles_service, owner, 'member')
    image = image_with(admin, x_admin_read='secret', x_owner_a='a')
    resp = patch(member, image['id'], [op('replace', 'name', 'renamed'),
                                       op('remove', 'x_owner_a')])
    assert resp.status_code == 200, resp.text
    after = show(admin, image['id'])
    assert after['name'] == 'renamed'
    assert after['x_admin_read'] == 'secret'
    assert 'x_owner_a' not in after


def test_first_matching_section_decides(roles_service, owner):
    member = caller(roles_service, owner, 'member')
    admin = caller(roles_service, owner, 'admin')
    # [^x_ordered_special$] comes before [^x_ordered_], which also
    # matches: its members-only rules decide.
    image = image_with(member, x_ordered_special='s')
    assert image['x_ordered_special'] == 's'
    resp = patch(member, image['id'], [op('replace', 'x_ordered_special',
                                          't')])
    assert resp.status_code == 200, resp.text
    # Any other x_ordered_ name falls to the admin-only section.
    assert_reserved(member.post('/v2/images', json={'x_ordered_other': 'o'}),
                    'x_ordered_other')
    other = image_with(admin, x_ordered_other='o')
    assert 'x_ordered_other' not in show(member, other['id'])
    assert show(admin, other['id'])['x_ordered_other'] == 'o'


def test_an_empty_permission_allows_no_one(roles_service, owner):
    member = caller(roles_service, owner, 'member')
    image = image_with(member, x_empty_update='1')
    assert_reserved(patch(member, image['id'],
                          [op('replace', 'x_empty_update', '2')]),
                    'x_empty_update')
    resp = patch(member, image['id'], [op('remove', 'x_empty_update')])
    assert resp.status_code == 200, resp.text


def test_roles_of_the_file_match_whatever_their_case(roles_service, owner):
    member = caller(roles_service, owner, 'member')
    image = image_with(member, x_Mixed_Case='1')
    assert image['x_Mixed_Case'] == '1'
    # Section names are case-sensitive regular expressions.
    assert_reserved(member.post('/v2/images', json={'x_mixed_case': '1'}),
                    'x_mixed_case')


def test_imports_write_their_own_properties_under_protection(
        roles_service, owner):
    member = caller(roles_service, owner, 'member')
    image = image_with(member, x_owner_a='a')
    resp = member.put('/v2/images/%s/stage' % image['id'], data=b'z' * 4096,
                      headers={'Content-Type': 'application/octet-stream'})
    assert resp.status_code == 204, resp.text
    resp = member.post('/v2/images/%s/import' % image['id'],
                       json={'method': {'name': 'glance-direct'}})
    assert resp.status_code == 202, resp.text
    body = iu.wait_status(member, image['id'], 'active')
    assert body['x_owner_a'] == 'a'
    assert body['os_glance_importing_to_stores'] == ''


# Policies ---------------------------------------------------------------

@pytest.fixture
def policies_service(service_factory, tmp_path):
    rules = tmp_path / 'policy.yaml'
    rules.write_text(POLICY_RULES)
    return _protected_service(
        service_factory, tmp_path, POLICIES_FILE, 'policies',
        {'oslo_policy.policy_file': str(rules)})


def test_policies_format_checks_the_named_rules(policies_service, owner):
    creator = caller(policies_service, owner, 'member,creator')
    auditor = caller(policies_service, owner, 'member,auditor')
    image = image_with(creator, x_policy_prop='p', x_anyone='y')
    # prop_reader: admin or auditor; the creator may not read it back.
    assert 'x_policy_prop' not in image
    assert image['x_anyone'] == 'y'
    assert show(auditor, image['id'])['x_policy_prop'] == 'p'
    assert_reserved(auditor.post('/v2/images', json={'x_policy_prop': 'p'}),
                    'x_policy_prop')
    assert_reserved(patch(auditor, image['id'],
                          [op('replace', 'x_policy_prop', 'q')]),
                    'x_policy_prop')
    # delete = !
    admin = caller(policies_service, owner, 'admin')
    assert_reserved(patch(admin, image['id'], [op('remove', 'x_policy_prop')]),
                    'x_policy_prop')
    resp = patch(admin, image['id'], [op('replace', 'x_policy_prop', 'q')])
    assert resp.status_code == 200, resp.text
    assert resp.json()['x_policy_prop'] == 'q'


def test_a_rule_missing_from_the_policy_file_falls_to_default(
        policies_service, owner):
    # As in Glance: "rule:no_such_rule" is judged by the policy file's
    # default rule (here role:admin; an empty default allows anyone).
    member = caller(policies_service, owner, 'member')
    assert_reserved(member.post('/v2/images',
                                json={'x_undefined_policy': 'v'}),
                    'x_undefined_policy')
    admin = caller(policies_service, owner, 'admin')
    image = image_with(admin, x_undefined_policy='v')
    assert image['x_undefined_policy'] == 'v'
    assert_reserved(admin.post('/v2/images', json={'unmatched': 'v'}),
                    'unmatched')


# A file the service cannot use --------------------------------------------

BAD_FILES = {
    'bad regex': ('[x_(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n',
                  'roles', 'not a valid regular expression'),
    'missing operation': ('[^x]\ncreate = @\nread = @\nupdate = @\n',
                          'roles', 'has no delete permission'),
    'anyone and no one': ('[^x]\ncreate = @,!\nread = @\nupdate = @\n'
                          'delete = @\n', 'roles', 'mutually exclusive'),
    'several policies': ('[^x]\ncreate = a,b\nread = @\nupdate = @\n'
                         'delete = @\n', 'policies', 'several policies'),
    'not an ini file': ('create = @\n', 'roles', 'no section headers'),
}


@pytest.mark.parametrize('case', sorted(BAD_FILES))
def test_the_service_refuses_to_start_on_a_bad_file(test_db_url, tmp_path,
                                                    case):
    text, rule_format, reason = BAD_FILES[case]
    path = tmp_path / 'protections.conf'
    path.write_text(text)
    conf = fixtures.write_config(
        str(tmp_path), test_db_url,
        {'property_protection_file': str(path),
         'property_protection_rule_format': rule_format},
        port=fixtures.free_port())
    result = subprocess.run(
        [os.path.join(BIN, 'glance-import-api'), '--config-file', conf],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stderr
    assert 'Invalid property protection file %s' % path in result.stderr
    assert reason in result.stderr
    assert 'Traceback' not in result.stderr

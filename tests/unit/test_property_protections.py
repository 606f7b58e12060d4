"""The property protection file: parsing and the rule each property gets."""

import types

import pytest

from glance_import import exception
from glance_import import property_protections as pp


def rules_from(tmp_path, text, rule_format='roles'):
    path = tmp_path / 'protections.conf'
    path.write_text(text)
    return pp.PropertyRules.from_file(str(path), rule_format)


def ctx(*roles, service_roles=()):
    return types.SimpleNamespace(roles=list(roles),
                                 service_roles=list(service_roles))


def section(name, create='@', read='@', update='@', delete='@'):
    return ('[%s]\ncreate = %s\nread = %s\nupdate = %s\ndelete = %s\n\n'
            % (name, create, read, update, delete))


def test_the_first_matching_section_decides(tmp_path):
    rules = rules_from(tmp_path, section('^a_special$', create='member')
                       + section('^a_', create='admin')
                       + section('.*', create='!'))
    assert rules.allows(ctx('member'), 'a_special', 'create')
    assert not rules.allows(ctx('member'), 'a_other', 'create')
    assert rules.allows(ctx('admin'), 'a_other', 'create')
    assert not rules.allows(ctx('admin'), 'zzz', 'create')


def test_sections_match_anywhere_in_the_name(tmp_path):
    # re.search, as Glance: an unanchored section matches inside a name.
    rules = rules_from(tmp_path, section('secret', read='admin'))
    assert rules.allows(ctx('admin'), 'my_secret_key', 'read')
    assert not rules.allows(ctx('member'), 'my_secret_key', 'read')
    assert rules.rule_for('unrelated') is None


def test_no_matching_section_allows_nothing(tmp_path):
    rules = rules_from(tmp_path, section('^x$'))
    for operation in pp.OPERATIONS:
        assert not rules.allows(ctx('admin'), 'y', operation)


def test_anyone_no_one_and_empty(tmp_path):
    rules = rules_from(tmp_path, section('^p$', create='@', read='!',
                                         update='', delete='admin, member'))
    assert rules.allows(ctx(), 'p', 'create')
    assert not rules.allows(ctx('admin'), 'p', 'read')
    assert not rules.allows(ctx('admin'), 'p', 'update')
    assert rules.allows(ctx('member'), 'p', 'delete')
    assert not rules.allows(ctx('reader'), 'p', 'delete')


def test_roles_compare_lowercase_and_include_service_roles(tmp_path):
    rules = rules_from(tmp_path, section('^p$', create='Service, Admin'))
    assert rules.allows(ctx('admin'), 'p', 'create')
    assert rules.allows(ctx('member', service_roles=['service']), 'p',
                        'create')
    assert not rules.allows(ctx('member'), 'p', 'create')


def test_service_properties_are_always_open(tmp_path):
    rules = rules_from(tmp_path, section('.*', '!', '!', '!', '!')
                       + section('os_glance_x', '!', '!', '!', '!'))
    assert [rule.expression for rule in rules.rules] == ['os_glance.*', '.*']
    for operation in pp.OPERATIONS:
        assert rules.allows(ctx(), 'os_glance_import_task', operation)
    assert not rules.allows(ctx('admin'), 'other', 'read')


def test_the_default_section_applies_to_every_section(tmp_path):
    # configparser's [DEFAULT], as Glance reads the file.
    rules = rules_from(tmp_path, '[DEFAULT]\ndelete = !\n\n'
                       '[^p$]\ncreate = @\nread = @\nupdate = @\n')
    assert not rules.allows(ctx('admin'), 'p', 'delete')
    assert rules.allows(ctx('admin'), 'p', 'update')


def test_readable_keeps_what_may_be_read(tmp_path):
    rules = rules_from(tmp_path, section('^open$')
                       + section('^hidden$', read='admin'))
    props = {'open': '1', 'hidden': '2', 'os_glance_x': '3'}
    assert rules.readable(ctx('member'), props) == {'open': '1',
                                                     'os_glance_x': '3'}
    assert rules.readable(ctx('admin'), props) == props


@pytest.mark.parametrize('text,rule_format,reason', [
    (section('x_(') , 'roles', 'not a valid regular expression'),
    ('[x]\ncreate = @\nread = @\nupdate = @\n', 'roles',
     'section [x] has no delete permission'),
    (section('x', create='@, !'), 'roles', 'mutually exclusive'),
    (section('x', create='a, b'), 'policies', 'several policies'),
    ('create = @\n', 'roles', 'no section headers'),
    (section('x'), 'acl', "must be 'roles' or 'policies'"),
])
def test_a_bad_file_is_refused_with_its_reason(tmp_path, text, rule_format,
                                               reason):
    with pytest.raises(exception.InvalidConfiguration) as info:
        rules_from(tmp_path, text, rule_format)
    assert reason in info.value.msg
    assert str(tmp_path / 'protections.conf') in info.value.msg


def test_a_missing_file_is_refused(tmp_path):
    conf = types.SimpleNamespace(
        property_protection_file=str(tmp_path / 'absent.conf'),
        property_protection_rule_format='roles',
        find_file=lambda name: None)
    with pytest.raises(exception.InvalidConfiguration) as info:
        pp.configure(conf)
    assert 'was not found' in info.value.msg
    assert pp.rules() is None


def test_unset_file_protects_nothing():
    conf = types.SimpleNamespace(property_protection_file=None)
    assert pp.configure(conf) is None
    pp.check(ctx(), 'anything', 'create')
    assert pp.readable(ctx(), {'a': 1}) == {'a': 1}

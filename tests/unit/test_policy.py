"""Policy: defaults per persona, policy.json/policy.yaml overrides, the
import documentation's task settings, and the sample generators."""

import json
import os
import subprocess
import sys

import pytest
from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy as oslo_policy

from glance_import import context
from glance_import import exception
from glance_import import images
from glance_import import policy

BIN = os.path.dirname(sys.executable)
OWNER = 'project-owner'
OTHER = 'project-other'


@pytest.fixture
def enforce(tmp_path):
    """``enforce(text=None, name='policy.yaml', policy_dirs=None)`` loads
    an enforcer."""

    def load(text=None, name='policy.yaml', policy_dirs=None):
        conf = cfg.ConfigOpts()
        path = str(tmp_path / name)
        if text is not None:
            with open(path, 'w') as f:
                f.write(text)
        policy_opts.set_defaults(conf, policy_file=path,
                                 policy_dirs=policy_dirs or ['policy.d'])
        conf([], default_config_files=[])
        policy.reset()
        return policy.get_enforcer(conf)

    load()
    yield load
    policy.reset()
    # set_defaults changes the shared option objects, cfg.CONF's too.
    policy_opts.set_defaults(cfg.ConfigOpts(), policy_file='policy.yaml',
                             policy_dirs=['policy.d'])


def _rewrite(path, text):
    """Give the policy file at *path* new text, seen as changed."""
    path.write_text(text)
    mtime = os.stat(path).st_mtime + 5
    os.utime(path, (mtime, mtime))
    # oslo.policy finds a changed directory by its own mtime too.
    os.utime(path.parent, (mtime, mtime))


def _ctx(project, *roles):
    ctx = context.RequestContext(project_id=project, user_id='u-' + project,
                                 roles=list(roles), overwrite=False)
    ctx.is_admin = policy.is_admin(ctx)
    return ctx


PERSONAS = {
    'admin': lambda: _ctx(OTHER, 'admin', 'member', 'reader'),
    'owner-member': lambda: _ctx(OWNER, 'member', 'reader'),
    'owner-reader': lambda: _ctx(OWNER, 'reader'),
    'other-member': lambda: _ctx(OTHER, 'member', 'reader'),
    'other-reader': lambda: _ctx(OTHER, 'reader'),
    'service': lambda: _ctx('service-project', 'service'),
}


def _image(visibility='private', member=None):
    return images.Image(id='11111111-2222-3333-4444-555555555555',
                        owner=OWNER, visibility=visibility,
                        properties={'hw_disk_bus': 'virtio'}, member=member)


def _target(visibility='private', member_id=None):
    return policy.image_target(_image(visibility), member_id)


# rule, target, then allowed for: admin, owner-member, owner-reader,
# other-member, other-reader, service.
DEFAULTS = [
    ('get_image', _target(), (1, 1, 1, 0, 0, 0)),
    ('get_image', _target('public'), (1, 1, 1, 1, 1, 0)),
    ('get_image', _target('community'), (1, 1, 1, 1, 1, 0)),
    ('get_image', _target('shared', OTHER), (1, 1, 1, 1, 1, 0)),
    ('get_images', None, (1, 1, 1, 1, 1, 0)),
    ('add_image', {'project_id': OWNER, 'owner': OWNER},
     (1, 1, 0, 0, 0, 0)),
    ('modify_image', _target(), (1, 1, 0, 0, 0, 0)),
    ('modify_image', _target('public'), (1, 1, 0, 0, 0, 0)),
    ('publicize_image', _target(), (1, 0, 0, 0, 0, 0)),
    ('communitize_image', _target(), (1, 1, 0, 0, 0, 0)),
    ('delete_image', _target(), (1, 1, 0, 0, 0, 0)),
    ('upload_image', _target(), (1, 1, 0, 0, 0, 0)),
    ('download_image', _target(), (1, 1, 0, 0, 0, 0)),
    ('download_image', _target('public'), (1, 1, 0, 1, 0, 0)),
    ('download_from_store', _target('public'), (1, 1, 0, 1, 0, 0)),
    ('copy_image', _target(), (1, 0, 0, 0, 0, 0)),
    ('deactivate', _target(), (1, 1, 0, 0, 0, 0)),
    ('reactivate', _target(), (1, 1, 0, 0, 0, 0)),
    ('get_image_location', _target(), (1, 1, 1, 0, 0, 0)),
    ('set_image_location', _target(), (1, 1, 0, 0, 0, 0)),
    ('delete_image_location', _target(), (1, 0, 0, 0, 0, 0)),
    ('add_image_location', _target(), (1, 1, 0, 0, 0, 1)),
    ('fetch_image_location', _target(), (1, 0, 0, 0, 0, 1)),
    ('add_member', _target(), (1, 1, 0, 0, 0, 0)),
    ('delete_member', _target(), (1, 1, 0, 0, 0, 0)),
    ('get_members', _target('shared', OTHER), (1, 1, 1, 1, 1, 0)),
    ('get_member', _target('shared'), (1, 1, 1, 0, 0, 0)),
    ('modify_member', _target('shared', OTHER), (1, 0, 0, 1, 0, 0)),
    ('tasks_api_access', {}, (1, 0, 0, 0, 0, 0)),
    ('get_task', {}, (1, 1, 1, 1, 1, 1)),
    ('get_tasks', {}, (1, 1, 1, 1, 1, 1)),
    ('add_task', {}, (1, 1, 1, 1, 1, 1)),
    ('modify_task', {}, (1, 1, 1, 1, 1, 1)),
    ('stores_info_detail', {}, (1, 0, 0, 0, 0, 1)),
    ('context_is_admin', {}, (1, 0, 0, 0, 0, 0)),
]


@pytest.mark.parametrize('rule, target, expected', DEFAULTS,
                         ids=['%s-%d' % (r[0], i)
                              for i, r in enumerate(DEFAULTS)])
def test_defaults(enforce, rule, target, expected):
    for (name, make), allowed in zip(PERSONAS.items(), expected,
                                     strict=True):
        ctx = make()
        tgt = target if target is not None else {
            'project_id': ctx.project_id}
        assert policy.check(ctx, rule, tgt) is bool(allowed), (rule, name)


def test_every_rule_is_documented_and_project_scoped():
    names = set()
    for rule in policy.list_rules():
        assert rule.name not in names
        names.add(rule.name)
        if hasattr(rule, 'operations'):
            assert rule.operations and rule.description
            assert rule.scope_types == ['project']
    for name in ('add_image', 'get_image', 'get_images', 'modify_image',
                 'publicize_image', 'communitize_image', 'delete_image',
                 'upload_image', 'download_image', 'copy_image',
                 'deactivate', 'reactivate', 'add_member', 'delete_member',
                 'get_member', 'get_members', 'modify_member',
                 'tasks_api_access', 'get_task', 'get_tasks', 'add_task',
                 'modify_task', 'stores_info_detail'):
        assert name in names


def test_unregistered_rule_is_an_error(enforce):
    from oslo_policy import policy as oslo_policy
    with pytest.raises(oslo_policy.PolicyNotRegistered):
        policy.check(PERSONAS['admin'](), 'no_such_rule', {})


def test_authorize_image_hides_invisible_images(enforce):
    other = PERSONAS['other-member']()
    with pytest.raises(exception.ImageNotFound):
        policy.authorize_image(other, policy.MODIFY_IMAGE, _image())
    # Visible but not theirs: 403, not 404.
    with pytest.raises(exception.PolicyNotAuthorized):
        policy.authorize_image(other, policy.MODIFY_IMAGE, _image('public'))
    policy.authorize_image(PERSONAS['owner-member'](), policy.MODIFY_IMAGE,
                           _image())


def test_authorize_raises_403(enforce):
    with pytest.raises(exception.PolicyNotAuthorized) as info:
        policy.authorize(PERSONAS['other-member'](), policy.TASKS_API_ACCESS,
                         {})
    assert info.value.status == 403
    assert 'tasks_api_access' in info.value.msg


def test_policy_json_override(enforce):
    enforce(json.dumps({'modify_image': 'role:admin',
                        'tasks_api_access': '',
                        'publicize_image': 'role:member'}),
            name='policy.json')
    owner = PERSONAS['owner-member']()
    assert not policy.check(owner, 'modify_image', _target())
    assert policy.check(owner, 'tasks_api_access', {})
    assert policy.check(owner, 'publicize_image', _target())
    # Rules the file leaves alone keep their defaults.
    assert policy.check(owner, 'delete_image', _target())
    assert not policy.check(owner, 'copy_image', _target())


def test_policy_yaml_override(enforce):
    enforce('"delete_image": "role:admin"\n'
            '"get_image": "role:reader"\n'
            '"copy_image": "role:member and project_id:%(project_id)s"\n')
    owner = PERSONAS['owner-member']()
    other = PERSONAS['other-reader']()
    assert not policy.check(owner, 'delete_image', _target())
    assert policy.check(other, 'get_image', _target())
    assert policy.check(owner, 'copy_image', _target())
    assert not policy.check(PERSONAS['other-member'](), 'copy_image',
                            _target())


def test_rule_aliases_in_override(enforce):
    enforce('"owner_only": "project_id:%(project_id)s"\n'
            '"download_image": "rule:owner_only"\n')
    assert policy.check(PERSONAS['owner-reader'](), 'download_image',
                        _target())
    assert not policy.check(PERSONAS['other-member'](), 'download_image',
                            _target('public'))


SEED = {
    'get_task': '',
    'get_tasks': '',
    'add_task': '',
    'modify_task': '',
    'tasks_api_access': 'role:admin',
}


@pytest.mark.parametrize('name, text', [
    ('policy.json', json.dumps(SEED, indent=4)),
    ('policy.yaml', ''.join('"%s": "%s"\n' % kv for kv in SEED.items())),
])
def test_seed_task_configuration(enforce, name, text):
    """Users may drive import tasks; only admins reach /v2/tasks."""
    enforce(text, name=name)
    for persona in ('owner-member', 'other-member', 'owner-reader'):
        ctx = PERSONAS[persona]()
        for rule in ('get_task', 'get_tasks', 'add_task', 'modify_task'):
            assert policy.check(ctx, rule, {'project_id': ctx.project_id})
        assert not policy.check(ctx, 'tasks_api_access', {})
        # Import itself is guarded by modify_image, unchanged.
        assert policy.check(ctx, 'modify_image', _target()) is (
            persona == 'owner-member')
    assert policy.check(PERSONAS['admin'](), 'tasks_api_access', {})


def _run(command, *args):
    result = subprocess.run([os.path.join(BIN, command), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_policy_sample_generator_entry_point():
    out = _run('oslopolicy-sample-generator', '--namespace', 'glance_import')
    assert '#"tasks_api_access": "rule:context_is_admin"' in out
    assert '#"add_image":' in out
    assert '# POST  /v2/images' in out


def test_policy_generator_uses_the_enforcer_entry_point():
    out = _run('oslopolicy-policy-generator', '--namespace', 'glance_import')
    assert '"copy_image": "rule:context_is_admin"' in out


def test_config_generator_entry_point():
    out = _run('oslo-config-generator', '--namespace', 'glance_import')
    for line in ('[DEFAULT]', '#enable_image_import = false',
                 '[task]', "#task_executor = taskflow", '[paste_deploy]',
                 '[taskflow_executor]', '#engine_mode = parallel'):
        assert line in out.splitlines(), line


# Prepared enforcement: decisions remembered under what each rule reads.

def _counting(enforcer, monkeypatch):
    calls = []
    real = enforcer.authorize

    def authorize(rule, target, creds, **kwargs):
        calls.append(rule)
        return real(rule, target, creds, **kwargs)
    monkeypatch.setattr(enforcer, 'authorize', authorize)
    return calls


def _page_target(n, visibility='private'):
    image = images.Image(id='00000000-0000-0000-0000-%012d' % n,
                         name='image-%d' % n, owner=OWNER,
                         visibility=visibility,
                         properties={'n': str(n)})
    return policy.image_target(image)


def test_a_page_of_alike_images_costs_one_enforcement(enforce,
                                                      monkeypatch):
    owner = PERSONAS['owner-reader']()
    other = PERSONAS['other-reader']()
    calls = _counting(enforce(), monkeypatch)
    assert all(policy.check(owner, 'get_image', _page_target(n))
               for n in range(25))
    assert calls == ['get_image']
    # Another visibility, another caller: decided afresh, and rightly.
    assert not policy.check(other, 'get_image', _page_target(1))
    assert policy.check(other, 'get_image', _page_target(2, 'public'))
    assert len(calls) == 3


def test_decisions_follow_the_fields_an_override_reads(enforce):
    enforce('"get_image": "\'golden\':%(name)s or project_id:%(n)s"\n')
    assert policy._DECISIONS.fields('get_image') == ('n', 'name')
    other = PERSONAS['other-reader']()
    golden = dict(_page_target(1), name='golden')
    assert policy.check(other, 'get_image', golden)
    assert not policy.check(other, 'get_image', _page_target(1))
    assert policy.check(other, 'get_image', dict(_page_target(1), n=OTHER))
    # A target without the field fails the check, as in oslo.policy.
    target = _page_target(1)
    del target['n']
    assert not policy.check(other, 'get_image', target)


def test_rules_referring_to_rules_and_the_default(enforce):
    enforce('"default": "project_id:%(owner)s"\n'
            '"download_image": "rule:no_such_rule or rule:admin_only"\n'
            '"admin_only": "role:admin"\n')
    # An unknown rule means the default rule, which reads owner.
    assert policy._DECISIONS.fields('download_image') == ('owner',)
    assert policy.check(PERSONAS['owner-reader'](), 'download_image',
                        _target())
    assert not policy.check(PERSONAS['other-reader'](), 'download_image',
                            _target())


def test_checks_with_unknown_inputs_are_keyed_on_the_whole_target(enforce):
    enforce('"download_image": "http://127.0.0.1:9/check"\n'
            '"get_image": "role:reader and not role:%(forbidden_role)s"\n')
    assert policy._DECISIONS.fields('download_image') is None
    assert policy._DECISIONS.fields('get_image') == ('forbidden_role',)


def test_edited_policy_file_applies_after_the_reload_interval(
        enforce, tmp_path, monkeypatch):
    enforce('"get_image": ""\n')
    other = PERSONAS['other-reader']()
    assert policy.check(other, 'get_image', _target())
    _rewrite(tmp_path / 'policy.yaml', '"get_image": "role:admin"\n')
    # Within the interval the file is not looked at again.
    assert policy.check(other, 'get_image', _target())
    monkeypatch.setattr(policy.Decisions, 'RELOAD_INTERVAL', 0)
    assert not policy.check(other, 'get_image', _target())
    assert policy.check(PERSONAS['admin'](), 'get_image', _target())


@oslo_policy.register('glance_import_test_name_is')
class _NameIs(oslo_policy.Check):
    """A plugin check: reads a target field no match names."""

    def __call__(self, target, creds, enforcer, current_rule=None):
        return target.get('name') == self.match


def test_a_plugin_check_is_keyed_on_the_whole_target(enforce):
    enforce('"get_image": "glance_import_test_name_is:golden"\n')
    assert policy._DECISIONS.fields('get_image') is None
    other = PERSONAS['other-reader']()
    assert policy.check(other, 'get_image', dict(_target(), name='golden'))
    assert not policy.check(other, 'get_image', _target())


def test_rules_changed_in_place_drop_the_decisions(enforce, monkeypatch):
    enforcer = enforce('"get_image": ""\n')
    other = PERSONAS['other-reader']()
    assert policy.check(other, 'get_image', _target())
    # The same Rules object, one rule replaced: found by its text.
    enforcer.rules['get_image'] = oslo_policy.Rules.from_dict(
        {'get_image': 'role:admin'})['get_image']
    monkeypatch.setattr(policy.Decisions, 'RELOAD_INTERVAL', 0)
    assert not policy.check(other, 'get_image', _target())


def test_a_changed_policy_directory_drops_the_decisions(enforce, tmp_path,
                                                         monkeypatch):
    policy_d = tmp_path / 'policy.d'
    policy_d.mkdir()
    (policy_d / 'images.yaml').write_text('"get_image": ""\n')
    enforce(name='none.yaml', policy_dirs=[str(policy_d)])
    other = PERSONAS['other-reader']()
    assert policy.check(other, 'get_image', _target())
    _rewrite(policy_d / 'images.yaml', '"get_image": "role:admin"\n')
    monkeypatch.setattr(policy.Decisions, 'RELOAD_INTERVAL', 0)
    assert not policy.check(other, 'get_image', _target())

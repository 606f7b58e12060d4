"""Configuration: validation, helpers, and start-up refusing bad settings."""

import os
import subprocess
import sys

import pytest
from oslo_config import cfg

from glance_import import config
from glance_import import exception
from tests import fixtures

BIN = os.path.dirname(sys.executable)


@pytest.fixture
def conf(tmp_path):
    """A private ConfigOpts with every option and a writable state dir."""
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('state_path', str(tmp_path))
    conf.set_override('node_staging_uri', 'file://%s/staging' % tmp_path)
    conf.set_override('connection', 'sqlite:///%s/db.sqlite' % tmp_path,
                      group='database')
    return conf


def _invalid(conf):
    with pytest.raises(exception.InvalidConfiguration) as info:
        config.validate(conf)
    message = info.value.msg
    assert '\n' not in message
    return message


def test_defaults_are_valid(conf):
    conf.set_override('enable_image_import', True)
    config.validate(conf)
    assert os.path.isdir(config.staging_dir(conf))


def test_glance_defaults():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    assert conf.enable_image_import is False
    assert conf.node_staging_uri == 'file:///tmp/staging/'
    assert conf.enabled_import_methods == [
        'glance-direct', 'web-download', 'copy-image']
    assert conf.image_size_cap == 1099511627776
    assert conf.user_storage_quota == '0'
    assert conf.task.task_executor == 'taskflow'
    assert conf.taskflow_executor.engine_mode == 'parallel'
    assert conf.taskflow_executor.max_workers == 10
    assert conf.paste_deploy.flavor is None
    assert conf.bind_port == 9292
    assert conf.database.connection.endswith('/glance_import.sqlite')


def test_unknown_task_executor(conf):
    with pytest.raises(ValueError):
        conf.set_override('task_executor', 'eventlet', group='task')


@pytest.mark.parametrize('uri', ['http://example.com/staging',
                                 'swift://container', '/tmp/staging'])
def test_staging_uri_must_be_file(conf, uri):
    conf.set_override('node_staging_uri', uri)
    assert 'node_staging_uri must be a file:// URI' in _invalid(conf)


def test_staging_uri_must_be_absolute(conf):
    conf.set_override('node_staging_uri', 'file://relative/dir')
    assert 'absolute path' in _invalid(conf)


def test_staging_dir_that_cannot_be_created(conf, tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('')
    conf.set_override('enable_image_import', True)
    conf.set_override('node_staging_uri', 'file://%s/staging' % blocker)
    assert 'Cannot create the staging directory' in _invalid(conf)


def test_staging_dir_not_writable(conf):
    # /proc/self exists but nobody, root included, can create files there.
    conf.set_override('enable_image_import', True)
    conf.set_override('node_staging_uri', 'file:///proc/self')
    assert 'staging directory /proc/self is not writable' in _invalid(conf)


def test_staging_dir_only_checked_with_import(conf):
    conf.set_override('node_staging_uri', 'file:///proc/self')
    config.validate(conf)


@pytest.mark.parametrize('url', ['foo://bar', 'not a url',
                                 'postgresql+nosuchdriver://h/db'])
def test_bad_database_url(conf, url):
    conf.set_override('connection', url, group='database')
    assert 'is not a usable database URL' in _invalid(conf)


def test_database_password_is_masked(conf):
    conf.set_override('connection', 'mysql+nosuchdriver://u:secret@h/db',
                      group='database')
    message = _invalid(conf)
    assert 'secret' not in message
    assert '***' in message


@pytest.mark.parametrize('value, expected', [
    ('0', 0), ('1024', 1024), ('10B', 10), ('2KB', 2048),
    ('3 MB', 3 << 20), ('1gb', 1 << 30), ('5TB', 5 << 40)])
def test_storage_quota_units(conf, value, expected):
    conf.set_override('user_storage_quota', value)
    assert config.storage_quota_bytes(conf) == expected


@pytest.mark.parametrize('value', ['lots', '12 parsecs', '-5', '1.5GB',
                                   'GB'])
def test_bad_storage_quota(conf, value):
    conf.set_override('user_storage_quota', value)
    assert 'user_storage_quota must be a byte count' in _invalid(conf)


def test_reserved_store_id(conf):
    conf.set_override('enabled_backends', {'os_glance_staging_store': 'file'})
    assert 'reserved' in _invalid(conf)


def test_list_opts_covers_the_groups():
    groups = dict(config.list_opts())
    for group in ('DEFAULT', 'task', 'taskflow_executor', 'paste_deploy',
                  'image_import_opts', 'import_filtering_opts'):
        assert groups[group], group
    names = {opt.name for opt in groups['DEFAULT']}
    assert {'enable_image_import', 'node_staging_uri',
            'enabled_import_methods', 'image_size_cap',
            'user_storage_quota', 'public_endpoint',
            'worker_self_reference_url', 'enabled_backends'} <= names


# The real command: one line on stderr, a non-zero status, no traceback.

def _run_command(tmp_path, overrides, command='glance-import-api',
                 extra=()):
    path = fixtures.write_config(str(tmp_path), None, overrides,
                                 port=fixtures.free_port())
    result = subprocess.run(
        [os.path.join(BIN, command), '--config-file', path, *extra],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('%s: error: ' % command), lines[0]
    assert 'Traceback' not in result.stdout + result.stderr
    return lines[0]


@pytest.mark.parametrize('overrides, expected', [
    ({'task.task_executor': 'eventlet'},
     "Invalid value for [task] task_executor in %(file)s: Valid values are "
     "[taskflow], but found 'eventlet'"),
    ({'node_staging_uri': 'http://example.com/staging'},
     'must be a file:// URI'),
    ({'node_staging_uri': 'file:///proc/self'}, 'is not writable'),
    ({'database.connection': 'foo://bar'}, 'not a usable database URL'),
    ({'database.connection':
      'postgresql+psycopg2://nobody:pw@127.0.0.1:1/none'},
     'Cannot use [database] connection'),
    ({'user_storage_quota': '12 parsecs'}, 'user_storage_quota'),
    ({'enabled_backends': 'os_glance_x:file'}, 'reserved'),
    ({'paste_deploy.flavor': 'nosuchflavor'},
     "Unknown [paste_deploy] flavor 'nosuchflavor'"),
    ({'paste_deploy.config_file': '/nonexistent/paste.ini'},
     'not found'),
    ({'bind_port': 'not-a-port'}, 'bind_port'),
], ids=['executor', 'staging-uri', 'staging-dir', 'db-url', 'db-down',
        'quota', 'store-id', 'flavor', 'paste-file', 'port'])
def test_api_command_refuses_bad_config(tmp_path, overrides, expected):
    line = _run_command(tmp_path, overrides)
    assert expected % {'file': tmp_path / 'glance-api.conf'} in line
    assert 'pw@' not in line


def test_api_command_port_in_use(tmp_path):
    import socket
    with socket.create_server(('127.0.0.1', 0)) as busy:
        port = busy.getsockname()[1]
        line = _run_command(tmp_path, {'bind_port': port})
    assert 'Address already in use' in line


def test_api_command_unknown_option_file(tmp_path):
    result = subprocess.run(
        [os.path.join(BIN, 'glance-import-api'), '--config-file',
         str(tmp_path / 'missing.conf')],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'Traceback' not in result.stderr


def test_manage_command_refuses_bad_database(tmp_path):
    line = _run_command(
        tmp_path, {'database.connection': 'foo://bar'},
        command='glance-import-manage', extra=['db', 'sync'])
    assert 'foo://bar' in line


def test_no_store_driver_noise_at_startup(tmp_path):
    """Optional glance_store drivers missing libraries stay quiet."""
    line = _run_command(tmp_path, {'task.task_executor': 'eventlet'})
    assert 'Could not load' not in line


# Every option is read at start-up: a value that does not parse stops
# every entry point, naming the option, its file and the reason.

BAD_VALUES = [
    ('enabled_import_methods', '[glance-direct,bogus]',
     "[DEFAULT] enabled_import_methods", "but found 'bogus'"),
    ('enabled_import_methods', "['glance-direct", '[DEFAULT] '
     'enabled_import_methods', 'Invalid'),
    ('import_filtering_opts.allowed_ports', '[80, 99999]',
     '[import_filtering_opts] allowed_ports', 'less than or equal to 65535'),
    ('import_filtering_opts.allowed_hosts', '[bad host!]',
     '[import_filtering_opts] allowed_hosts', 'bad host!'),
    ('image_import_opts.image_import_plugins', "['image_conversion]",
     '[image_import_opts] image_import_plugins', 'Invalid'),
    ('task.task_time_to_live', 'two days', '[task] task_time_to_live',
     'two days'),
    ('image_size_cap', '0', '[DEFAULT] image_size_cap',
     'greater than or equal to 1'),
    ('taskflow_executor.engine_mode', 'fast',
     '[taskflow_executor] engine_mode', "but found 'fast'"),
    ('enable_image_import', 'maybe', '[DEFAULT] enable_image_import',
     'maybe'),
    ('inject_metadata_properties.inject', 'novalue',
     '[inject_metadata_properties] inject', 'NAME:VALUE pairs'),
    ('oslo_policy.enforce_new_defaults', 'sometimes',
     '[oslo_policy] enforce_new_defaults', 'sometimes'),
    ('glance_store.filesystem_store_file_perm', 'rw',
     '[glance_store] filesystem_store_file_perm', 'rw'),
]
BAD_IDS = ['method-choice', 'method-quote', 'port-bound', 'host',
           'plugin-quote', 'int', 'int-min', 'choice', 'bool', 'dict',
           'library-bool', 'store-int']


def _check_bad_value_line(line, tmp_path, option, reason):
    assert 'Invalid value for %s in %s: ' % (
        option, tmp_path / 'glance-api.conf') in line, line
    assert reason in line, line


@pytest.mark.parametrize('name, value, option, reason', BAD_VALUES,
                         ids=BAD_IDS)
def test_api_command_refuses_bad_values(tmp_path, name, value, option,
                                        reason):
    line = _run_command(tmp_path, {name: value})
    _check_bad_value_line(line, tmp_path, option, reason)


@pytest.mark.parametrize('name, value, option, reason', BAD_VALUES[:3],
                         ids=BAD_IDS[:3])
def test_manage_command_refuses_bad_values(tmp_path, name, value, option,
                                           reason):
    line = _run_command(tmp_path, {name: value},
                        command='glance-import-manage', extra=['db', 'sync'])
    _check_bad_value_line(line, tmp_path, option, reason)


@pytest.mark.parametrize('name, value, option, reason', BAD_VALUES[:3],
                         ids=BAD_IDS[:3])
def test_conductor_refuses_bad_values(tmp_path, name, value, option, reason):
    line = _run_command(tmp_path, {
        name: value,
        'taskflow_executor.jobboard_url': 'redis://127.0.0.1:6379/15'},
        command='glance-import-conductor')
    _check_bad_value_line(line, tmp_path, option, reason)


def _run_wsgi_entry(tmp_path, overrides):
    path = fixtures.write_config(str(tmp_path), None, overrides)
    env = dict(os.environ, GLANCE_IMPORT_CONFIG_FILES=path)
    result = subprocess.run(
        [sys.executable, '-c', 'import glance_import.api.wsgi'],
        capture_output=True, text=True, timeout=120, env=env,
        stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('glance-import-wsgi: error: '), lines[0]
    return lines[0]


@pytest.mark.parametrize('name, value, option, reason', BAD_VALUES[:3],
                         ids=BAD_IDS[:3])
def test_wsgi_entry_refuses_bad_values(tmp_path, name, value, option,
                                       reason):
    line = _run_wsgi_entry(tmp_path, {name: value})
    _check_bad_value_line(line, tmp_path, option, reason)


def test_store_section_values_are_checked(tmp_path):
    line = _run_command(tmp_path, {
        'enabled_backends': 'fast:file',
        'glance_store.default_backend': 'fast',
        'fast.filesystem_store_datadir': str(tmp_path / 'fast'),
        'fast.filesystem_store_chunk_size': 'big'})
    _check_bad_value_line(line, tmp_path,
                          '[fast] filesystem_store_chunk_size', 'big')


MALFORMED_POLICIES = [
    ('policy.yaml', 'get_images: "role:admin\n  bad: [\n',
     'while scanning a quoted scalar at line 1, column 13'),
    ('policy.json', '{"get_images": "role:admin",\n', 'at line 2'),
]


@pytest.mark.parametrize('name, text, reason', MALFORMED_POLICIES,
                         ids=['yaml', 'json'])
def test_malformed_policy_file_stops_start_up(tmp_path, name, text, reason):
    policy_file = tmp_path / name
    policy_file.write_text(text)
    overrides = {'oslo_policy.policy_file': str(policy_file)}
    for line in (_run_command(tmp_path, overrides),
                 _run_wsgi_entry(tmp_path, overrides)):
        assert 'Cannot read the policy file %s: ' % policy_file in line
        assert reason in line, line


def test_glance_syntax_file_starts(tmp_path):
    """The lists written as Glance's documentation writes them."""
    service = fixtures.ServiceProcess(str(tmp_path), None, {
        'enabled_import_methods': '[glance-direct,web-download]',
        'image_import_opts.image_import_plugins':
            "['image_conversion', 'inject_image_metadata']",
        'import_filtering_opts.allowed_ports': '[]',
        'import_filtering_opts.allowed_hosts': '[127.0.0.1]',
        'inject_metadata_properties.ignore_user_roles': '[admin]',
    })
    service.start()
    try:
        import requests
        info = requests.get(service.url + '/v2/info/import', timeout=30)
        assert info.status_code == 200, info.text
        assert info.json()['import-methods']['value'] == [
            'glance-direct', 'web-download']
    finally:
        service.stop()


def _file_conf(tmp_path, text):
    path = tmp_path / 'glance-api.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf(['--config-file', str(path)], default_config_files=[])
    return conf


@pytest.mark.parametrize('text,expected', [
    # Unset: a connection for each request thread, not oslo.db's 5.
    ('', {'max_pool_size': 16}),
    ('[DEFAULT]\nserver_threads = 40\n', {'max_pool_size': 40}),
    ('[DEFAULT]\nserver_threads = 2\n', {'max_pool_size': 5}),
    # The operator's choice stands, even when it is oslo.db's default.
    ('[database]\nmax_pool_size = 7\n', {}),
    ('[database]\nmax_pool_size = 5\n', {}),
])
def test_database_pool_follows_the_request_threads(tmp_path, text,
                                                   expected):
    from glance_import.db import engine
    assert engine._pool_size(_file_conf(tmp_path, text)) == expected

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
    conf.set_override('task_executor', 'eventlet', group='task')
    assert "task_executor must be 'taskflow'" in _invalid(conf)


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
    ({'task.task_executor': 'eventlet'}, "task_executor must be 'taskflow'"),
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
    assert expected in line
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

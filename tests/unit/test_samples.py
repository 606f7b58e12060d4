"""The shipped samples are what the generator produces today."""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_generated_samples_are_current():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'generate_samples.py'),
         '--check'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        'run "python tools/generate_samples.py": %s%s'
        % (result.stdout, result.stderr))


def test_shipped_config_has_the_quick_start_values():
    with open(os.path.join(ROOT, 'etc', 'glance-api.conf')) as f:
        lines = f.read().splitlines()
    for line in ('enable_image_import = true',
                 'node_staging_uri = file://$state_path/staging',
                 'connection = sqlite:///$state_path/glance_import.sqlite',
                 'filesystem_store_datadir = $state_path/images'):
        assert line in lines, line


SHIPPED = os.path.join(ROOT, 'etc', 'glance-api.conf')
_SECTION = re.compile(r'^\[(?P<name>[^\]]+)\]$')
_SETTING = re.compile(r'^(?P<name>[A-Za-z0-9_.-]+)\s*=')


def _written(path):
    """{section: [uncommented option names]} of a configuration file."""
    sections = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            match = _SECTION.match(line)
            if match:
                current = sections.setdefault(match['name'], [])
            elif _SETTING.match(line):
                current.append(_SETTING.match(line)['name'])
    return sections


def load_as_the_service(config_files):
    """Load *config_files* as the service does; report what that logged.

    Returns the warnings oslo.config logged (deprecated options) and the
    options registered, by section, once the service has built what
    registers library options late: the policy enforcer and the paste
    pipelines of both flavors (keystonemiddleware, oslo.middleware). Run
    in a fresh process by _load: oslo.config reports each deprecation
    once per process.
    """
    import logging

    from oslo_config import cfg
    from oslo_policy import policy as oslo_policy

    from glance_import import startup
    from glance_import.api import app

    warnings = []

    class Keep(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    logging.getLogger('oslo_config.cfg').addHandler(Keep(logging.WARNING))
    argv = []
    for path in config_files:
        argv += ['--config-file', path]
    conf = startup.load_config(argv, 'glance-import-api')
    oslo_policy.Enforcer(conf)
    for flavor in (None, 'keystone'):
        conf.set_override('flavor', flavor, group='paste_deploy')
        app.load_app(conf)
    options = {}
    for key in list(conf):
        try:
            value = conf[key]
        except cfg.NoSuchOptError:
            continue
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            options[key] = []
            for name in value:
                # Reading an option set in a file reports its deprecation.
                value[name]
                options[key].append(name)
        else:
            options.setdefault('DEFAULT', []).append(key)
    return {'warnings': warnings, 'options': options}


def _load(tmp_path, *config_files):
    state = tmp_path / 'state.conf'
    state.write_text('[DEFAULT]\nstate_path = %s\n' % (tmp_path / 'state'))
    out = tmp_path / 'loaded.json'
    code = ('import json, sys; from tests.unit import test_samples; '
            'json.dump(test_samples.load_as_the_service(sys.argv[2:]), '
            'open(sys.argv[1], "w"))')
    result = subprocess.run(
        [sys.executable, '-c', code, str(out), *config_files, str(state)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope='module')
def shipped(tmp_path_factory):
    return _load(tmp_path_factory.mktemp('shipped'), SHIPPED)


def test_shipped_config_logs_no_deprecation(shipped):
    assert shipped['warnings'] == []


def test_shipped_config_sections_are_registered(shipped):
    registered = shipped['options']
    for section, names in _written(SHIPPED).items():
        assert section in registered, section
        for name in names:
            assert name in registered[section], (section, name)


def test_a_deprecated_setting_would_be_reported(tmp_path):
    deprecated = tmp_path / 'deprecated.conf'
    deprecated.write_text('[glance_store]\nstores = file,http\n')
    loaded = _load(tmp_path, SHIPPED, str(deprecated))
    [warning] = loaded['warnings']
    assert 'Option "stores" from group "glance_store" is deprecated' \
        in warning


def test_sample_has_the_libraries_sections():
    sections = _written(SHIPPED)
    for section in ('DEFAULT', 'database', 'glance_store',
                    'keystone_authtoken', 'oslo_policy', 'cors',
                    'oslo_middleware', 'paste_deploy', 'taskflow_executor'):
        assert section in sections, section
    with open(SHIPPED) as f:
        text = f.read()
    for namespace in ('glance_import', 'oslo.log', 'oslo.db', 'glance.store',
                      'keystonemiddleware.auth_token', 'oslo.policy',
                      'oslo.middleware.cors',
                      'oslo.middleware.http_proxy_to_wsgi'):
        assert '# From %s\n' % namespace in text, namespace

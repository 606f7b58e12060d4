"""Everything the package needs at run time is declared for the wheel."""

import configparser
import fnmatch
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, 'glance_import')


def _package_data_patterns():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    return parser['options.package_data']['glance_import'].split()


def test_non_module_files_are_package_data():
    patterns = _package_data_patterns()
    missing = []
    for directory, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        is_package = '__init__.py' in files
        for name in files:
            if name.endswith('.pyc'):
                continue
            if is_package and name.endswith('.py'):
                continue
            rel = os.path.relpath(os.path.join(directory, name), PACKAGE)
            if not any(fnmatch.fnmatch(rel, p) for p in patterns):
                missing.append(rel)
    assert missing == []


def test_console_scripts_and_generator_entry_points():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    entry_points = parser['options.entry_points']
    assert 'glance-import-api = glance_import.cmd.api:main' in \
        entry_points['console_scripts']
    assert 'glance-import-manage = glance_import.cmd.manage:main' in \
        entry_points['console_scripts']
    for group in ('oslo.config.opts', 'oslo.policy.policies',
                  'oslo.policy.enforcer'):
        assert 'glance_import = ' in entry_points[group]

"""Every third-party module the service imports is a declared dependency,
and every declared dependency is pinned in upper-constraints.txt.

A bare ``pip install -e .`` installs only install_requires: a module that
the code imports but that arrives only through a test extra works in the
suite and fails for the operator (tools/ci/quickstart-check.sh proves
the bare install end to end).
"""

import ast
import configparser
import importlib.metadata
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, 'glance_import')
CONSTRAINTS = os.path.join(ROOT, 'upper-constraints.txt')


def _normalize(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def _requirements(key, section='options'):
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    lines = parser[section][key].strip().splitlines()
    names = {}
    for line in lines:
        match = re.match(r'\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?', line)
        names[_normalize(match.group(1))] = match.group(2) or ''
    return names


def _catches_import_error(handler):
    names = []
    if isinstance(handler.type, ast.Tuple):
        names = [getattr(e, 'id', None) for e in handler.type.elts]
    elif handler.type is not None:
        names = [getattr(handler.type, 'id', None)]
    return bool({'ImportError', 'ModuleNotFoundError'} & set(names))


def _required_imports(tree):
    """Top-level module names imported outside ImportError guards."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                _catches_import_error(h) for h in node.handlers):
            for inner in node.body:
                optional.update(id(n) for n in ast.walk(inner))
    modules = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            modules.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split('.')[0])
    return modules


def _imported_third_party_modules():
    found = {}
    for directory, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(directory, name)
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read(), path)
            for module in _required_imports(tree):
                if module in sys.stdlib_module_names or \
                        module == 'glance_import':
                    continue
                found.setdefault(module, os.path.relpath(path, ROOT))
    return found


def test_every_imported_module_is_declared():
    declared = set(_requirements('install_requires'))
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for module, where in sorted(_imported_third_party_modules().items()):
        owners = {_normalize(d) for d in distributions.get(module, [])}
        if not owners & declared:
            undeclared.append('%s (imported by %s, from %s)'
                              % (module, where, sorted(owners) or '?'))
    assert undeclared == []


def test_format_inspection_extra_is_declared():
    # oslo.utils' format inspector needs cryptography (LUKS headers), which
    # oslo.utils installs only with its image-inspection extra.
    assert _requirements('install_requires')['oslo-utils'] == \
        '[image-inspection]'


def _pins():
    pins = {}
    with open(CONSTRAINTS, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                name, _, version = line.partition('==')
                assert version, 'not an exact pin: %r' % line
                pins[_normalize(name)] = version
    return pins


def test_declared_dependencies_are_pinned():
    pins = _pins()
    declared = dict(_requirements('install_requires'))
    for extra in ('test', 'postgresql', 'redis', 'storage', 'bench',
                  'profiler'):
        declared.update(_requirements(extra, 'options.extras_require'))
    assert sorted(set(declared) - set(pins)) == []


def test_runtime_dependencies_run_at_their_pinned_versions():
    # tools/run-tests.sh installs with -c upper-constraints.txt: the suite
    # tests exactly the versions an operator's install gets.
    pins = _pins()
    drift = {}
    for name in _requirements('install_requires'):
        installed = importlib.metadata.version(name)
        if installed != pins[name]:
            drift[name] = (installed, pins[name])
    assert drift == {}

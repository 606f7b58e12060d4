"""The import layering contracts in pyproject.toml ([tool.importlinter]):
kept by the tree, and broken by a forbidden import."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), 'lint-imports')


def _lint_imports(root):
    # The package under *root* comes first on the path, so a copy is
    # analysed instead of the checkout; no cache written into the tree.
    env = dict(os.environ, PYTHONPATH=root)
    return subprocess.run(
        [LINT_IMPORTS, '--no-cache', '--no-logo',
         os.path.join(root, 'pyproject.toml')],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_contracts_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Contracts: 3 kept, 0 broken.' in result.stdout


def _lint_with_import(tmp_path, module, statement):
    """lint-imports over a copy of the tree where *module* adds *statement*."""
    shutil.copytree(os.path.join(ROOT, 'glance_import'),
                    tmp_path / 'glance_import',
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(os.path.join(ROOT, 'pyproject.toml'), tmp_path)
    with open(tmp_path / 'glance_import' / module, 'a') as f:
        f.write('\n%s  # noqa\n' % statement)
    result = _lint_imports(str(tmp_path))
    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def test_store_importing_db_breaks_the_layers(tmp_path):
    out = _lint_with_import(tmp_path, 'store/limits.py',
                            'from glance_import.db import accounting')
    assert ('Service layers: cmd > api > importer | cache > db | store '
            'BROKEN') in out
    assert 'glance_import.store.limits -> glance_import.db.accounting' in out


def test_jobboard_importing_recovery_breaks_the_importer_layers(tmp_path):
    # The cycle executor -> jobboard -> recovery -> executor.
    out = _lint_with_import(tmp_path, 'importer/jobboard.py',
                            'from glance_import.importer import recovery')
    assert ("Importer: what runs a task sits above the task's lifecycle "
            "BROKEN") in out
    assert ('glance_import.importer.jobboard -> '
            'glance_import.importer.recovery') in out

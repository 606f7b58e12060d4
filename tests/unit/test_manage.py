"""glance-import-manage: arguments, messages, and the migration phases.

The commands against each database backend are in
tests/functional/test_manage_db.py.
"""

import os
import subprocess
import sys
import types

import pytest

from glance_import import exception
from glance_import.db import migration
from glance_import.db import purge

BIN = os.path.dirname(sys.executable)


def manage(tmp_path, *args):
    conf = tmp_path / 'manage.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                    'connection = sqlite:///%s/db.sqlite\n'
                    % (tmp_path, tmp_path))
    return subprocess.run(
        [os.path.join(BIN, 'glance-import-manage'), '--config-file',
         str(conf), *args],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)


@pytest.mark.parametrize('args, message', [
    (['--age_in_days', '-1'], 'Must supply a non-negative value for age.'),
    (['--age_in_days', 'ten'], 'Invalid int value for age_in_days: ten'),
    (['--age_in_days', '1.5'], 'Invalid int value for age_in_days: 1.5'),
    (['--age_in_days', '100000'],
     'Maximal age is count of days since epoch.'),
    (['--max_rows', 'all'], 'Invalid int value for max_rows: all'),
    (['--max_rows', '-2'], 'Minimal rows limit is -1.'),
    (['--max_rows', '0'], 'max_rows must be positive, or -1 for no limit.'),
    (['--max_rows', str(2 ** 31)],
     "'max_rows' value out of range, must not exceed 2147483647."),
])
@pytest.mark.parametrize('command', ['purge', 'purge_images_table'])
def test_purge_rejects_bad_arguments(tmp_path, command, args, message):
    result = manage(tmp_path, 'db', command, *args)
    assert result.returncode == 1
    assert result.stdout == ''
    assert result.stderr.splitlines() == [
        'glance-import-manage: error: %s' % message]


def test_purge_validation_in_process():
    purge.validate(0, -1)
    purge.validate(30, 1)
    with pytest.raises(exception.BadRequest):
        purge.validate(30, 0)


def test_unknown_command_is_one_line(tmp_path):
    result = manage(tmp_path, 'db')
    assert result.returncode == 1
    line, = result.stderr.splitlines()
    assert line.startswith('glance-import-manage: error: usage: ')
    for command in ('db check', 'db expand', 'db migrate', 'db contract',
                    'db purge', 'db purge_images_table'):
        assert command in line


def test_help_lists_purge_defaults(tmp_path):
    result = manage(tmp_path, 'db', 'purge', '--help')
    assert result.returncode == 0
    text = ' '.join(result.stdout.split())
    assert 'older than this many days (default 30)' in text
    assert '-1 for all (default 100)' in text
    result = manage(tmp_path, 'db', 'purge_images_table', '--help')
    assert '(default 180)' in ' '.join(result.stdout.split())


def test_shipped_revisions_are_expand_only_so_far():
    phases = [migration.phase(rev) for rev in migration._history()]
    assert phases == [migration.EXPAND] * len(phases)


# Phase planning on stand-in revisions -----------------------------------

def _rev(name, phase=None, data=None):
    module = types.SimpleNamespace()
    if phase is not None:
        module.phase = phase
    if data is not None:
        module.migrate_data = lambda conn: 0
        module.data_pending = lambda conn: data
    return types.SimpleNamespace(revision=name, module=module)


def test_undeclared_phase_counts_as_contract():
    assert migration.phase(_rev('0001')) == migration.EXPAND
    assert migration.phase(_rev('0002')) == migration.EXPAND
    assert migration.phase(_rev('0099')) == migration.CONTRACT
    assert migration.phase(_rev('0099', 'expand')) == migration.EXPAND
    with pytest.raises(exception.GlanceImportError) as info:
        migration.phase(_rev('0099', 'shrink'))
    assert "unknown phase 'shrink'" in info.value.msg


def test_leading_run_stops_at_the_other_phase():
    pending = [_rev('a', 'expand'), _rev('b', 'expand'),
               _rev('c', 'contract'), _rev('d', 'expand')]
    assert [r.revision for r in migration._leading_run(
        pending, migration.EXPAND)] == ['a', 'b']
    assert migration._leading_run(pending, migration.CONTRACT) == []
    assert [r.revision for r in migration._leading_run(
        pending[2:], migration.CONTRACT)] == ['c']


def test_data_migrations_since_the_last_contract_only():
    applied = [_rev('a', 'expand', data=True), _rev('b', 'contract'),
               _rev('c', 'expand', data=True), _rev('d', 'expand'),
               _rev('e', 'expand', data=False)]
    found = migration._data_migrations(applied)
    assert found == [applied[2].module, applied[4].module]
    assert migration._pending_data(None, applied) == [applied[2].module]

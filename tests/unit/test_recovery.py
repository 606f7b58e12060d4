"""Which interrupted imports recovery takes over, and how."""

import datetime
import os

import pytest

from glance_import.importer import persistence
from glance_import.importer import recovery

Action = recovery.Action
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0)
ME = {'node': 'a', 'host': 'host-a', 'pid': 100, 'started': '5'}
TIMEOUT = 600


def _task(status='processing', age=0, type_='api_image_import'):
    seen = NOW - datetime.timedelta(seconds=age)
    return {'id': 't', 'status': status, 'type': type_,
            'created_at': seen, 'updated_at': seen}


def _decide(task, owner, *, alive=False, has_state=True, resume=True,
            on_jobboard=False):
    return recovery.decide(task, owner, me=ME, now=NOW, timeout=TIMEOUT,
                           alive=lambda o: alive, has_state=has_state,
                           resume=resume, on_jobboard=on_jobboard)


def test_our_own_running_task_is_left_alone():
    assert _decide(_task(age=10000), dict(ME)) is Action.SKIP


def test_live_sibling_process_on_this_host_is_left_alone():
    sibling = dict(ME, pid=101)
    assert _decide(_task(age=10000), sibling, alive=True) is Action.SKIP


def test_dead_process_on_this_host_is_taken_at_once():
    dead = dict(ME, pid=99)
    assert _decide(_task(age=0), dead) is Action.RESUME
    assert _decide(_task(age=0), dead, resume=False) is Action.REVERT


def test_other_host_needs_a_stale_heartbeat():
    other = {'node': 'b', 'host': 'host-b', 'pid': 100, 'started': '5'}
    assert _decide(_task(age=TIMEOUT - 1), other) is Action.SKIP
    assert _decide(_task(age=TIMEOUT), other) is Action.RESUME


def test_unknown_owner_needs_a_stale_heartbeat():
    assert _decide(_task(age=5), None, has_state=False) is Action.SKIP
    assert _decide(_task(age=TIMEOUT + 1), None,
                   has_state=False) is Action.RESUME


def test_without_saved_state_the_task_runs_afresh_even_if_resume_is_off():
    # Nothing ran: running it from the start is the clean way.
    assert _decide(_task(age=TIMEOUT + 1), None, has_state=False,
                   resume=False) is Action.RESUME


def test_pending_task_of_a_dead_process_is_started():
    dead = dict(ME, pid=99)
    assert _decide(_task('pending'), dead) is Action.START


def test_legacy_tasks_are_reverted():
    dead = dict(ME, pid=99)
    assert _decide(_task(type_='import'), dead) is Action.REVERT


def test_jobboard_tasks_belong_to_the_conductors():
    dead = dict(ME, pid=99)
    assert _decide(_task(age=10000), dead, on_jobboard=True) is Action.SKIP


def test_process_identity_survives_only_with_the_same_start_time():
    me = {'pid': os.getpid(),
          'started': persistence.process_start_time(os.getpid())}
    assert persistence.is_alive(me)
    assert not persistence.is_alive(dict(me, started='1'))
    assert not persistence.is_alive({'pid': None})


@pytest.mark.parametrize('pid', [2 ** 22 + 1])
def test_vanished_process_is_dead(pid):
    assert persistence.process_start_time(pid) is None
    assert not persistence.is_alive({'pid': pid, 'started': '7'})

"""Import flow state in the service database (taskflow SQL persistence).

Every import task gets a logbook and a flow detail whose uuid is the task
id. The flow detail records the factory that builds the flow
(``flows.get_flow`` and its plain-data arguments), the process running it
(``owner``) and, through taskflow, the state and result of every step, so
an interrupted import can be resumed from where it stopped, by this node
after a restart or by another node or conductor.

Taskflow's tables (``logbooks``, ``flowdetails``, ``atomdetails``) are
created by taskflow's own migrations, run from our schema migration
(``glance_import.db.taskflow_schema``).

A process refreshes ``updated_at`` of the tasks it runs every
``[taskflow_executor] heartbeat_interval`` seconds; recovery treats a task
whose heartbeat stopped as abandoned.
"""

import contextlib
import logging
import os
import socket
import threading
import time

import sqlalchemy as sa
import taskflow.engines
from taskflow import exceptions as tf_exceptions
from taskflow import states as tf_states
from taskflow.persistence import models as tf_models
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence.backends.sqlalchemy import tables as tf_tables

from glance_import import context
from glance_import import exception
from glance_import import tasks
from glance_import.db import engine as db_engine
from glance_import.db import tasks as db_tasks

LOG = logging.getLogger(__name__)

FACTORY = 'glance_import.importer.flows.get_flow'
FINISHED = (tf_states.SUCCESS, tf_states.REVERTED, tf_states.FAILURE)


# Backend and node identity ---------------------------------------------

_BACKEND = None
_BACKEND_LOCK = threading.Lock()


def backend() -> impl_sqlalchemy.SQLAlchemyBackend:
    """The taskflow backend on the service's database.

    It shares the service's engine, except on SQLite (see
    ``_sqlite_engine``).
    """
    global _BACKEND
    engine = db_engine.get_engine()
    with _BACKEND_LOCK:
        if _BACKEND is None or _BACKEND[0] is not engine:
            if _BACKEND is not None and _BACKEND[1].engine is not \
                    _BACKEND[0]:
                _BACKEND[1].engine.dispose()
            own = (_sqlite_engine(engine.url)
                   if engine.dialect.name == 'sqlite' else engine)
            _BACKEND = (engine, _Backend(
                {'connection': engine.url.render_as_string(True)},
                engine=own))
        return _BACKEND[1]


class _Backend(impl_sqlalchemy.SQLAlchemyBackend):
    """taskflow's backend, with its table objects built once.

    taskflow builds new ``Table`` objects for every connection it asks
    for (once per saved state change). SQLAlchemy keys its compiled
    statement cache on those objects, so every save compiled afresh and
    added cache entries until the LRU limit: about 5 MB more memory per
    import in every process, and the service's own statements evicted
    where the engine is shared. taskflow's connections hold no state of
    their own (each operation opens its own transaction), so one serves
    every caller.
    """

    _shared = None

    def get_connection(self):
        if self._shared is None:
            self._shared = super().get_connection()
        return self._shared


def _sqlite_engine(url):
    """An engine whose transactions take SQLite's write lock first.

    taskflow reads a row and then updates it in one transaction; on
    SQLite two such transactions (threads or processes) holding read
    locks cannot both upgrade, and one fails at once with "database is
    locked". Starting with BEGIN IMMEDIATE makes them wait their turn.
    """
    engine = sa.create_engine(url, connect_args={'timeout': 60})

    @sa.event.listens_for(engine, 'connect')
    def _no_implicit_begin(dbapi_connection, record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, 'begin')
    def _begin_immediate(connection):
        connection.exec_driver_sql('BEGIN IMMEDIATE')

    return engine


def process_start_time(pid: int) -> str | None:
    """Start time of process *pid* (kernel clock ticks), None if gone.

    With the pid it names one process for good: a reused pid has
    another start time.
    """
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces.
    return stat.rsplit(')', 1)[1].split()[19]


def this_process(conf) -> dict:
    """The identity recorded as ``owner`` of the flows we run."""
    pid = os.getpid()
    return {'node': conf.taskflow_executor.node_name or socket.gethostname(),
            'host': socket.gethostname(), 'pid': pid,
            'started': process_start_time(pid)}


def is_alive(owner: dict) -> bool:
    """Whether the process named by *owner* (on this host) still runs."""
    pid = owner.get('pid')
    if not isinstance(pid, int):
        return False
    started = process_start_time(pid)
    if started is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return owner.get('started') is None
    return owner.get('started') in (None, started)


# Flow details ----------------------------------------------------------

def flow_detail(task_id: str):
    """The flow detail of *task_id*, or None."""
    with contextlib.closing(backend().get_connection()) as conn:
        try:
            return conn.get_flow_details(task_id)
        except tf_exceptions.NotFound:
            return None


def create_flow_detail(conf, task_id: str, flow_args: dict, **meta):
    """Record the flow of *task_id*: factory, arguments, owner.

    *flow_args* are ``flows.get_flow`` keyword arguments (plain data).
    Returns the saved flow detail (an existing one is returned as is).
    """
    existing = flow_detail(task_id)
    if existing is not None:
        return existing
    book = tf_models.LogBook('import-%s' % task_id, uuid=task_id)
    detail = tf_models.FlowDetail('import-%s' % task_id, uuid=task_id)
    detail.meta = dict(meta, owner=this_process(conf), factory={
        'name': FACTORY, 'args': [], 'kwargs': dict(flow_args)})
    book.add(detail)
    with contextlib.closing(backend().get_connection()) as conn:
        conn.save_logbook(book)
    return detail


def logbook(task_id: str):
    """The logbook holding the flow detail of *task_id*."""
    with contextlib.closing(backend().get_connection()) as conn:
        return conn.get_logbook(task_id)


def set_owner(detail, owner: dict) -> None:
    """Record that *owner* (``this_process``) runs *detail* now."""
    detail.meta = dict(detail.meta or {}, owner=owner)
    with contextlib.closing(backend().get_connection()) as conn:
        conn.update_flow_details(detail)


_TABLES = tf_tables.fetch(sa.MetaData())


def forget(task_id: str) -> None:
    """Drop the saved state of a finished task.

    Rows are deleted child first: taskflow's migrations cannot add the
    cascading foreign keys on SQLite.
    """
    books, flows_, atoms = (_TABLES.logbooks, _TABLES.flowdetails,
                            _TABLES.atomdetails)
    flow_ids = sa.select(flows_.c.uuid).where(flows_.c.parent_uuid == task_id)
    try:
        with backend().engine.begin() as conn:
            conn.execute(atoms.delete().where(
                atoms.c.parent_uuid.in_(flow_ids)))
            conn.execute(flows_.delete().where(
                flows_.c.parent_uuid == task_id))
            conn.execute(books.delete().where(books.c.uuid == task_id))
    except Exception as e:
        LOG.warning('Cannot drop the flow state of task %s: %s', task_id, e)


def forget_finished() -> int:
    """Drop saved flows whose task finished or vanished; returns how many.

    A task failed by someone else (an expired lock taken over, a refused
    start) leaves its saved flow behind; the recovery scan sweeps them.
    """
    books = _TABLES.logbooks
    # Flows first: a flow is saved after its task, so any flow listed
    # here has its task visible to the second query.
    with backend().engine.connect() as conn:
        saved = list(conn.scalars(sa.select(books.c.uuid)))
    live_ids = db_tasks.live_task_ids(context.admin_context())
    stale = [uuid for uuid in saved if uuid not in live_ids]
    for task_id in stale:
        forget(task_id)
    return len(stale)


def flow_args(detail) -> dict:
    """The ``get_flow`` keyword arguments recorded in *detail*."""
    return dict(((detail.meta or {}).get('factory') or {}).get('kwargs')
                or {})


def load_engine(conf, task_id: str, args: dict, credentials: dict | None,
                engine_options: dict):
    """An engine for the saved flow of *task_id*, owned by this process.

    The flow is saved first if it was not (*args*: ``flows.get_flow``
    keyword arguments); the engine resumes whatever state it recorded.
    The caller's credentials and the service's conf are injected in
    memory only: they are never written to the database.
    """
    detail = create_flow_detail(conf, task_id, args)
    me = this_process(conf)
    if (detail.meta or {}).get('owner') != me:
        set_owner(detail, me)
    engine = taskflow.engines.load_from_detail(
        detail, backend=backend(), **engine_options)
    # The steps' inputs that are not plain data: kept in memory only.
    engine.storage.inject({'credentials': credentials or {}, 'conf': conf},
                          transient=True)
    return engine


def run_engine(conf, task_id: str, engine) -> None:
    """Run *engine* to its end, beating the heart of *task_id*.

    Raises what the flow raised after its revert. The flow state is
    dropped once the flow has finished either way.
    """
    try:
        with HEARTBEAT.beating(task_id,
                               conf.taskflow_executor.heartbeat_interval):
            engine.run()
    finally:
        # Kept while unfinished (e.g. the database went away mid-run).
        if engine.storage.get_flow_state() in FINISHED:
            forget(task_id)


# Heartbeat -------------------------------------------------------------

class Heartbeat:
    """Refreshes ``updated_at`` of the tasks this process is running."""

    def __init__(self):
        self._tasks = {}
        self._lock = threading.Lock()
        self._thread = None
        self._interval = None

    @contextlib.contextmanager
    def beating(self, task_id, interval):
        """Refresh *task_id* every *interval* seconds while in the block."""
        with self._lock:
            self._interval = interval
            self._tasks[task_id] = self._tasks.get(task_id, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name='import-heartbeat', daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._tasks[task_id] -= 1
                if not self._tasks[task_id]:
                    del self._tasks[task_id]

    def running(self):
        with self._lock:
            return list(self._tasks)

    def _loop(self):
        while True:
            time.sleep(self._interval)
            for task_id in self.running():
                try:
                    db_tasks.task_update(context.admin_context(), task_id, {},
                                         from_status=tasks.PROCESSING)
                except exception.Conflict:
                    pass
                except Exception as e:
                    LOG.warning('Heartbeat of task %s failed: %s', task_id,
                                e)


HEARTBEAT = Heartbeat()

"""The database engine: oslo.db's enginefacade, SQLite tuning, the reader
and writer transactions and their retry on deadlock."""

import functools

import sqlalchemy as sa
from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade

_FACADE = None


def configure(conf):
    """(Re)build the engine for ``[database] connection``."""
    global _FACADE
    facade = enginefacade.transaction_context()
    # thread_checkin yields to eventlet after each checkin: no use here.
    facade.configure(connection=conf.database.connection, sqlite_fk=True,
                     max_retries=conf.database.max_retries,
                     mysql_sql_mode='TRADITIONAL', thread_checkin=False,
                     **_pool_size(conf))
    _FACADE = facade
    engine = facade.writer.get_engine()
    if engine.dialect.name == 'sqlite':
        sa.event.listen(engine, 'connect', _tune_sqlite)
        _keep_sqlite_connections(engine)
    return facade


def _pool_size(conf):
    """Keep a connection for each request thread unless the operator
    chose ``[database] max_pool_size``.

    oslo.db keeps 5; with more threads than that, every request beyond
    the fifth opens a new connection and closes it afterwards, which on
    PostgreSQL costs more than the queries of a typical request.
    """
    threads = getattr(conf, 'server_threads', None)
    if threads is None or not hasattr(conf, 'get_location'):
        return {}
    chosen = conf.get_location('max_pool_size', 'database')
    if chosen is not None and chosen.location != cfg.Locations.opt_default:
        return {}
    return {'max_pool_size': max(threads, conf.database.max_pool_size or 0)}


def _keep_sqlite_connections(engine):
    """Pool SQLite file connections instead of opening one per transaction.

    oslo.db gives file databases a NullPool, so every transaction paid a
    connect, its pragmas and a close: 0.6 ms, a third of a show request.
    The replacement pool keeps the listeners (oslo.db's pragmas and fork
    guard, ours) by taking over the old pool's dispatch, as
    ``Pool.recreate`` does; a local file needs no pre-ping.
    """
    old = engine.pool
    if not isinstance(old, sa.pool.NullPool):
        return
    engine.pool = sa.pool.QueuePool(
        old._creator, pool_size=8, max_overflow=-1, recycle=old._recycle,
        pre_ping=False, reset_on_return=old._reset_on_return,
        _dispatch=old.dispatch, dialect=old._dialect)
    # Connections opened while the engine was tested lack the pragmas.
    old.dispose()


def _tune_sqlite(dbapi_connection, connection_record):
    """WAL lets readers run beside a writer; wait for locks, don't fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA busy_timeout = 30000')
    if cursor.execute('PRAGMA journal_mode').fetchone()[0] != 'memory':
        cursor.execute('PRAGMA journal_mode = WAL')
    cursor.close()


def get_engine():
    return _FACADE.writer.get_engine()


def dispose():
    global _FACADE
    if _FACADE is not None:
        try:
            _FACADE.dispose_pool()
        except AttributeError:
            pass
    _FACADE = None


def writer(ctx):
    """An ORM session in a writer transaction (joins the caller's)."""
    return _FACADE.writer.using(ctx)


def reader(ctx):
    """An ORM session in a read transaction."""
    return _FACADE.reader.using(ctx)


def read_connection(ctx):
    """A Core connection in a read transaction: no ORM session to set up
    for the hot read paths."""
    return _FACADE.reader.connection.using(ctx)


def _sqlite_busy(error):
    # SQLite refuses at once (no waiting) when two transactions that
    # both read want to write; the loser can simply start again.
    return 'database is locked' in str(error)


_retry = oslo_db_api.wrap_db_retry(
    max_retries=8, retry_on_deadlock=True, retry_interval=0.05,
    inc_retry_interval=True, max_retry_interval=1,
    exception_checker=_sqlite_busy)


def _in_caller_transaction(ctx):
    local = getattr(ctx, '_enginefacade_context', None)
    return getattr(local, 'current', None) is not None


def retry_on_deadlock(fn):
    """Run *fn(ctx, ...)* again when the database reports a deadlock.

    Only a whole transaction can be retried: inside a caller's
    transaction (``in_transaction``) the error goes up to the caller,
    which is retried as a whole instead.
    """
    retried = _retry(fn)

    @functools.wraps(fn)
    def wrapper(ctx, *args, **kwargs):
        if _in_caller_transaction(ctx):
            return fn(ctx, *args, **kwargs)
        return retried(ctx, *args, **kwargs)
    return wrapper


def in_transaction(fn):
    """Run *fn(ctx, ...)* inside one writer transaction.

    The whole transaction is retried on deadlock (*fn* must only touch
    the database).
    """
    @functools.wraps(fn)
    @retry_on_deadlock
    def wrapper(ctx, *args, **kwargs):
        with writer(ctx):
            return fn(ctx, *args, **kwargs)
    return wrapper

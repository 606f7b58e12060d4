"""Records of the image cache: which node holds which image, its hits and
access times.

The ``centralized_db`` driver keeps them in the main database, so every
API node sees the others' entries; the ``sqlite`` driver keeps the same
two tables in a file of its own cache directory. The files in the cache
directory stay the truth of what can be served; these rows order the
pruning and answer the listings.
"""

import datetime
import os

import sqlalchemy as sa
from oslo_db import exception as db_exc

from glance_import.db import engine as db_engine
from glance_import.db import models

_NODES = models.NodeReference.__table__
_CACHED = models.CachedImage.__table__


def _timestamp(value):
    """Seconds since the epoch of a naive UTC datetime, as Glance lists."""
    return value.replace(tzinfo=datetime.UTC).timestamp()


def entry_view(row):
    """A cached image as GET /v2/cache lists it (Glance's fields)."""
    return {'id': row.id, 'image_id': row.image_id,
            'last_accessed': _timestamp(row.last_accessed),
            'last_modified': _timestamp(row.last_modified),
            'size': row.size, 'hits': row.hits, 'checksum': row.checksum}


def central_engine():
    return db_engine.get_engine()


def local_engine(path):
    """An engine on the node-private SQLite file *path*, tables created."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    eng = sa.create_engine('sqlite:///%s' % path)

    @sa.event.listens_for(eng, 'connect')
    def _pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.execute('PRAGMA busy_timeout=5000')
        cursor.close()

    models.Base.metadata.create_all(eng, tables=[_NODES, _CACHED])
    return eng


class CacheRecords:
    """The cache rows of one node (*node_url*) in the database of
    *engine*; ``nodes_caching`` alone looks across nodes."""

    def __init__(self, engine, node_url):
        self.engine = engine
        self.node_url = node_url
        self._node_id = None

    @property
    def node_id(self):
        if self._node_id is None:
            self._node_id = self._ensure_node()
        return self._node_id

    def _ensure_node(self):
        select = sa.select(_NODES.c.node_reference_id).where(
            _NODES.c.node_reference_url == self.node_url)
        with self.engine.begin() as conn:
            found = conn.scalar(select)
            if found is not None:
                return found
        try:
            with self.engine.begin() as conn:
                conn.execute(_NODES.insert().values(
                    node_reference_url=self.node_url))
        except db_exc.DBDuplicateEntry:
            pass  # another node process registered it first
        except sa.exc.IntegrityError:
            pass  # the same, through a plain (non oslo.db) engine
        with self.engine.begin() as conn:
            return conn.scalar(select)

    def _mine(self):
        return _CACHED.c.node_reference_id == self.node_id

    def record_cached(self, image_id, size, checksum=None, *,
                      last_accessed=None):
        """Record *image_id* as complete here (again: size refreshed)."""
        now = models.utcnow()
        values = {'size': size, 'checksum': checksum, 'last_modified': now,
                  'last_accessed': last_accessed or now}
        with self.engine.begin() as conn:
            updated = conn.execute(_CACHED.update().where(
                self._mine(), _CACHED.c.image_id == image_id).values(
                    **values)).rowcount
            if updated:
                return
            try:
                with conn.begin_nested():
                    conn.execute(_CACHED.insert().values(
                        image_id=image_id, hits=0,
                        node_reference_id=self.node_id, **values))
            except (db_exc.DBDuplicateEntry, sa.exc.IntegrityError):
                pass  # recorded by a concurrent fill of this node

    def record_hit(self, image_id):
        with self.engine.begin() as conn:
            conn.execute(_CACHED.update().where(
                self._mine(), _CACHED.c.image_id == image_id).values(
                    hits=_CACHED.c.hits + 1,
                    last_accessed=models.utcnow()))

    def forget(self, image_id):
        with self.engine.begin() as conn:
            conn.execute(_CACHED.delete().where(
                self._mine(), _CACHED.c.image_id == image_id))

    def forget_all(self):
        with self.engine.begin() as conn:
            conn.execute(_CACHED.delete().where(self._mine()))

    def entries(self):
        """This node's cached images, least recently accessed first."""
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(_CACHED).where(
                self._mine()).order_by(_CACHED.c.last_accessed,
                                       _CACHED.c.id)).all()
        return rows

    def hits(self, image_id):
        with self.engine.begin() as conn:
            return conn.scalar(sa.select(_CACHED.c.hits).where(
                self._mine(), _CACHED.c.image_id == image_id)) or 0

    def nodes_caching(self, image_id):
        """URLs of every node whose cache holds *image_id*."""
        with self.engine.begin() as conn:
            return list(conn.scalars(
                sa.select(_NODES.c.node_reference_url).join(
                    _CACHED, _CACHED.c.node_reference_id
                    == _NODES.c.node_reference_id).where(
                        _CACHED.c.image_id == image_id).order_by(
                            _NODES.c.node_reference_url)))

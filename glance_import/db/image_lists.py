"""Image list queries: visibility, filters, sorting and keyset paging
of ``GET /v2/images``."""

import datetime
import functools

import sqlalchemy as sa

from glance_import import exception
from glance_import import images as image_domain
from glance_import.db import engine
from glance_import.db import images as db_images
from glance_import.db import models

# Sort keys a client may use; the nullable ones sort as if NULL were the
# smallest value, on every database (their native NULL order differs).
SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size',
             'id', 'created_at', 'updated_at')
_NULL_SORT_DEFAULTS = {
    'name': '', 'container_format': '', 'disk_format': '', 'size': 0,
    'updated_at': datetime.datetime(1970, 1, 1),
}
# Filter operators on image columns.
_COLUMN_OPS = {
    'eq': lambda col, v: col == v,
    'neq': lambda col, v: col != v,
    'gt': lambda col, v: col > v,
    'gte': lambda col, v: col >= v,
    'lt': lambda col, v: col < v,
    'lte': lambda col, v: col <= v,
    'in': lambda col, v: col.in_(list(v)),
    # Half-open interval [low, high) and its complement.
    'within': lambda col, v: sa.and_(col >= v[0], col < v[1]),
    'outside': lambda col, v: sa.or_(col < v[0], col >= v[1]),
}


def _allowed_images(ctx, member_status):
    """Images the caller may see at all (None: no restriction for admins).

    Bound to ``caller_project`` (see ``db_images.caller_params``).
    """
    if ctx.is_admin:
        return None
    return _visible_to(bool(ctx.project_id), member_status)


@functools.lru_cache(maxsize=16)
def _visible_to(with_project, member_status):
    # Built once per shape: the project is a bound parameter.
    image = models.Image
    allowed = [image.visibility.in_(('public', 'community'))]
    if with_project:
        project = sa.bindparam('caller_project')
        shared_with_me = sa.select(models.ImageMember.image_id).where(
            models.ImageMember.member == project)
        if member_status != 'all':
            shared_with_me = shared_with_me.where(
                models.ImageMember.status == member_status)
        allowed.append(image.owner == project)
        allowed.append(sa.and_(image.visibility == 'shared',
                               image.id.in_(shared_with_me)))
    return sa.or_(*allowed)


def _list_conditions(ctx, visibility, member_status, column_filters, tags,
                     properties, os_hidden):
    image = models.Image
    conds = [image.deleted == sa.false(),
             image.status != image_domain.KILLED]
    allowed = _allowed_images(ctx, member_status)
    if allowed is not None:
        conds.append(allowed)
    if visibility is None:
        # Community images appear only to their owner unless asked for.
        community_ok = [image.visibility != 'community']
        if ctx.project_id:
            community_ok.append(
                image.owner == sa.bindparam('caller_project'))
        conds.append(sa.or_(*community_ok))
    elif visibility != 'all':
        conds.append(image.visibility == visibility)
    if os_hidden is not None:
        conds.append(image.os_hidden == sa.true() if os_hidden
                     else image.os_hidden == sa.false())
    for column, op, value in column_filters:
        conds.append(_COLUMN_OPS[op](getattr(image, column), value))
    for tag in tags:
        conds.append(sa.exists().where(models.ImageTag.image_id == image.id,
                                       models.ImageTag.value == tag))
    for name, value in properties.items():
        conds.append(sa.exists().where(
            models.ImageProperty.image_id == image.id,
            models.ImageProperty.name == name,
            models.ImageProperty.value == value))
    return conds


def _sort_columns(keys, dirs):
    """(expression, direction, key) triples; nullable keys become two."""
    return _sort_columns_for(tuple(keys), tuple(dirs))


@functools.lru_cache(maxsize=256)
def _sort_columns_for(keys, dirs):
    out = []
    for key, direction in zip(keys, dirs, strict=True):
        col = getattr(models.Image, key)
        if key in _NULL_SORT_DEFAULTS:
            default = sa.literal(_NULL_SORT_DEFAULTS[key], type_=col.type)
            out.append((sa.case((col.is_(None), 0), else_=1), direction,
                        (key, 'isnull')))
            out.append((sa.func.coalesce(col, default), direction,
                        (key, 'value')))
        else:
            out.append((col, direction, (key, 'value')))
    return out


def _sort_value(row, part):
    key, kind = part
    value = getattr(row, key)
    if kind == 'isnull':
        return 0 if value is None else 1
    return _NULL_SORT_DEFAULTS[key] if value is None else value


def _after_marker(columns, marker_row):
    """Rows strictly after *marker_row* in the sort order (keyset)."""
    values = [_sort_value(marker_row, part) for _, _, part in columns]
    alternatives = []
    for i, (expr, direction, _) in enumerate(columns):
        equal = [columns[j][0] == values[j] for j in range(i)]
        beyond = expr > values[i] if direction == 'asc' else \
            expr < values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


def image_get_all(ctx, *, visibility=None, member_status='accepted',
                  column_filters=(), tags=(), properties=None,
                  os_hidden=False, marker=None, limit=None,
                  sort_keys=('created_at',), sort_dirs=('desc',)):
    """One page of the images *ctx* may see; returns (images, full_page).

    *column_filters* are (column, op, value) with op in eq, neq, gt, gte,
    lt, lte, in, within/outside (value a (low, high) pair); *tags* must
    all be present; *properties* must all match.
    ``created_at`` and ``id`` are appended to the sort as tie-breakers.
    The cost is a fixed number of statements whatever the page size: the
    marker, the page (with the caller's memberships joined), and the
    children of the page.
    """
    keys, dirs = list(sort_keys), list(sort_dirs)
    for tiebreak in ('created_at', 'id'):
        if tiebreak not in keys:
            keys.append(tiebreak)
            dirs.append(dirs[-1] if dirs else 'desc')
    columns = _sort_columns(keys, dirs)
    conds = _list_conditions(ctx, visibility, member_status, column_filters,
                             tags, properties or {}, os_hidden)
    with engine.read_connection(ctx) as conn:
        if marker is not None:
            conds.append(_after_marker(columns,
                                       _marker_row(conn, ctx, marker)))
        stmt = db_images.select_images(ctx).where(*conds).order_by(*(
            expr.asc() if direction == 'asc' else expr.desc()
            for expr, direction, _ in columns))
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = conn.execute(stmt, db_images.caller_params(ctx)).all()
        images = db_images.to_domain(ctx, conn, rows)
    return images, limit is not None and len(rows) == limit


def _marker_row(conn, ctx, marker):
    images = models.Image.__table__
    stmt = sa.select(*db_images.IMAGE_COLUMNS).where(
        images.c.id == marker, images.c.deleted == sa.false())
    allowed = _allowed_images(ctx, 'all')
    if allowed is not None:
        stmt = stmt.where(allowed)
    row = conn.execute(stmt, db_images.caller_params(ctx)).first()
    if row is None:
        raise exception.BadRequest(
            'Invalid marker. Image %s could not be found.' % marker)
    return row

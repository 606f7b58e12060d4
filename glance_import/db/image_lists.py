"""Image list queries: visibility, filters, sorting and keyset paging
of ``GET /v2/images``.

A page costs the same whatever the size of the catalog. The images a
caller may see are the union of disjoint branches (public images, the
caller's own, those shared with the caller), each of which an index on
(visibility or owner, sort key, created_at, id) reads in sort order from
the marker on, stopping after one page. Rows whose leading sort key is
NULL are read as a segment of their own, so that no database has to
agree on where NULLs sort for the index order to be usable. The union
of at most a few pages is then sorted once more and cut to one page.
"""

import dataclasses
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
    'in': lambda col, v: col.in_(v),
    # Half-open interval [low, high) and its complement.
    'within': lambda col, v: sa.and_(col >= v[0], col < v[1]),
    'outside': lambda col, v: sa.or_(col < v[0], col >= v[1]),
}
_IMAGES = models.Image.__table__
_MEMBERS = models.ImageMember.__table__
_CALLER = sa.bindparam('caller_project')


@dataclasses.dataclass(frozen=True)
class _Branch:
    """Images of one kind of access: *where* on the images table, and
    the membership join for images shared with the caller."""

    where: tuple
    shared_with_caller: str | None = None  # member status, or 'all'


def _branches(is_admin, with_project, visibility, member_status):
    """Disjoint branches whose union is what the caller may see.

    Admins see everything (but community images of others only when
    asked for). Other callers see public images, their own, and the
    shared images they are a member of; community images appear only
    when asked for, or when they own them.
    """
    vis = _IMAGES.c.visibility
    if is_admin:
        if visibility == 'all':
            return [_Branch(())]
        if visibility is not None:
            return [_Branch((vis == visibility,))]
        not_community = [vis != 'community']
        if with_project:
            not_community.append(_IMAGES.c.owner == _CALLER)
        return [_Branch((sa.or_(*not_community),))]
    # What anyone may see, whoever owns it.
    open_to_all = {None: ('public',), 'all': ('public', 'community'),
                   'public': ('public',),
                   'community': ('community',)}.get(visibility, ())
    branches = []
    if open_to_all:
        branches.append(_Branch((vis.in_(open_to_all),)))
    if not with_project:
        return branches
    if visibility in (None, 'all') or visibility not in open_to_all:
        own = [_IMAGES.c.owner == _CALLER]
        if open_to_all:
            own.append(vis.not_in(open_to_all))
        if visibility not in (None, 'all'):
            own.append(vis == visibility)
        branches.append(_Branch(tuple(own)))
    if visibility in (None, 'all', 'shared'):
        branches.append(_Branch(
            (vis == 'shared', _IMAGES.c.owner.is_distinct_from(_CALLER)),
            shared_with_caller=member_status))
    return branches


def _filters(filter_shape, tag_count, property_count, os_hidden):
    """Conditions every branch shares: not deleted, not killed, and the
    client's filters, their values bound as ``f<i>``, ``tag<i>``,
    ``prop<i>`` and ``prop<i>_value`` (see ``_filter_params``)."""
    image = _IMAGES.c
    conds = [image.deleted == sa.false(),
             image.status != image_domain.KILLED]
    if os_hidden is not None:
        conds.append(image.os_hidden == sa.true() if os_hidden
                     else image.os_hidden == sa.false())
    for i, (column, op) in enumerate(filter_shape):
        col = image[column]
        if op in ('within', 'outside'):
            value = (sa.bindparam('f%d_low' % i, type_=col.type),
                     sa.bindparam('f%d_high' % i, type_=col.type))
        else:
            value = sa.bindparam('f%d' % i, type_=col.type,
                                 expanding=op == 'in')
        conds.append(_COLUMN_OPS[op](col, value))
    tag_table = models.ImageTag.__table__
    for i in range(tag_count):
        conds.append(sa.exists().where(
            tag_table.c.image_id == image.id,
            tag_table.c.value == sa.bindparam('tag%d' % i)))
    prop_table = models.ImageProperty.__table__
    for i in range(property_count):
        conds.append(sa.exists().where(
            prop_table.c.image_id == image.id,
            prop_table.c.name == sa.bindparam('prop%d' % i),
            prop_table.c.value == sa.bindparam('prop%d_value' % i)))
    return conds


def _filter_params(column_filters, tags, properties):
    """(shape, parameters) of the client's filters for ``_filters``."""
    shape, params = [], {}
    for i, (column, op, value) in enumerate(column_filters):
        shape.append((column, op))
        if op in ('within', 'outside'):
            params['f%d_low' % i], params['f%d_high' % i] = value
        else:
            params['f%d' % i] = list(value) if op == 'in' else value
    for i, tag in enumerate(tags):
        params['tag%d' % i] = tag
    for i, (name, value) in enumerate(properties.items()):
        params['prop%d' % i], params['prop%d_value' % i] = name, value
    return tuple(shape), params


@functools.lru_cache(maxsize=256)
def _sort_columns(keys, dirs, table=None):
    """(expression, direction, key) triples with NULL as the smallest
    value; nullable keys become two expressions."""
    columns = _IMAGES.c if table is None else table.c
    out = []
    for key, direction in zip(keys, dirs, strict=True):
        col = columns[key]
        if key in _NULL_SORT_DEFAULTS:
            default = sa.literal(_NULL_SORT_DEFAULTS[key], type_=col.type)
            out.append((sa.case((col.is_(None), 0), else_=1), direction,
                        (key, 'isnull')))
            out.append((sa.func.coalesce(col, default), direction,
                        (key, 'value')))
        else:
            out.append((col, direction, (key, 'value')))
    return out


def _ordered(columns):
    return [expr.asc() if direction == 'asc' else expr.desc()
            for expr, direction, _ in columns]


def _sort_value(row, part):
    key, kind = part
    value = getattr(row, key)
    if kind == 'isnull':
        return 0 if value is None else 1
    return _NULL_SORT_DEFAULTS[key] if value is None else value


def _after_marker(columns):
    """Rows strictly after the marker in the sort order (keyset); the
    marker's sort values are bound as ``after<i>``."""
    values = [sa.bindparam('after%d' % i, type_=expr.type)
              for i, (expr, _, _) in enumerate(columns)]
    alternatives = []
    for i, (expr, direction, _) in enumerate(columns):
        equal = [columns[j][0] == values[j] for j in range(i)]
        beyond = expr > values[i] if direction == 'asc' else \
            expr < values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


def _marker_params(columns, marker_row):
    return {'after%d' % i: _sort_value(marker_row, part)
            for i, (_, _, part) in enumerate(columns)}


def _segments(key, direction, start):
    """Conditions on the leading sort key that split a branch into the
    ranges an index on that key reads in order: from the marker on, with
    the NULL rows (the smallest) as a range of their own.

    *start* says where the marker is: None (no marker), 'null' (among
    the NULL rows) or 'value' (at the value bound as ``start``).
    """
    col = _IMAGES.c[key]
    nullable = key in _NULL_SORT_DEFAULTS
    if start is None:
        return [col.is_(None), col.is_not(None)] if nullable else [None]
    if start == 'null':
        # Ascending, every non-NULL row is still to come; descending,
        # none is.
        return ([col.is_(None), col.is_not(None)] if direction == 'asc'
                else [col.is_(None)])
    value = sa.bindparam('start', type_=col.type)
    bound = col >= value if direction == 'asc' else col <= value
    if nullable and direction == 'desc':
        return [bound, col.is_(None)]
    return [bound]


def _leading_order(keys, dirs):
    """The order within one segment: the leading key plain (a segment
    holds no NULLs of it, or only NULLs), so that an index serves it."""
    first, *rest = _sort_columns(keys, dirs)
    if first[2][1] == 'isnull':
        rest = rest[1:]
    lead = _IMAGES.c[keys[0]]
    return [lead.asc() if dirs[0] == 'asc' else lead.desc(),
            *_ordered(rest)]


def _segment_select(branch, conds, key_cond, order, limit):
    stmt = sa.select(*db_images.IMAGE_COLUMNS)
    if branch.shared_with_caller is not None:
        joined = sa.and_(_MEMBERS.c.image_id == _IMAGES.c.id,
                         _MEMBERS.c.member == _CALLER)
        if branch.shared_with_caller != 'all':
            joined = sa.and_(joined,
                             _MEMBERS.c.status == branch.shared_with_caller)
        stmt = stmt.select_from(_IMAGES.join(_MEMBERS, joined))
    stmt = stmt.where(*branch.where, *conds)
    if key_cond is not None:
        stmt = stmt.where(key_cond)
    return stmt.order_by(*order).limit(limit)


def _page_statement(with_project, segments, keys, dirs, limit):
    """One page out of the union of *segments*, with the caller's
    membership of each image (``member_status``)."""
    if len(segments) == 1:
        page = segments[0].subquery('page')
    else:
        page = sa.union_all(*(sa.select(s.subquery().c) for s in segments)
                            ).subquery('page')
    columns = [page.c[a] for a in image_domain.BASE_ATTRIBUTES]
    if with_project:
        # A lookup per image of the page on the (image, member) key,
        # rather than a join that reads all of the caller's memberships.
        member_status = sa.select(_MEMBERS.c.status).where(
            _MEMBERS.c.image_id == page.c.id,
            _MEMBERS.c.member == _CALLER).scalar_subquery()
    else:
        member_status = sa.null()
    stmt = sa.select(*columns, member_status.label('member_status'))
    return stmt.order_by(*_ordered(_sort_columns(keys, dirs, page))
                         ).limit(limit)


@functools.lru_cache(maxsize=512)
def _list_statement(caller, visibility, member_status, filter_shape,
                    tag_count, property_count, os_hidden, keys, dirs,
                    start, paged):
    """The page statement of one shape of query, built once: every value
    is a bound parameter. *caller* is (is_admin, has a project)."""
    conds = _filters(filter_shape, tag_count, property_count, os_hidden)
    if start is not None:
        conds.append(_after_marker(_sort_columns(keys, dirs)))
    order = _leading_order(keys, dirs)
    limit = sa.bindparam('limit', type_=sa.Integer) if paged else None
    segments = [_segment_select(branch, conds, key_cond, order, limit)
                for branch in _branches(*caller, visibility, member_status)
                for key_cond in _segments(keys[0], dirs[0], start)]
    if not segments:
        return None
    return _page_statement(caller[1], segments, keys, dirs, limit)


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
    keys, dirs = tuple(keys), tuple(dirs)
    properties = properties or {}
    filter_shape, params = _filter_params(column_filters, tags, properties)
    params.update(db_images.caller_params(ctx), limit=limit)
    caller = (ctx.is_admin, bool(ctx.project_id))
    with engine.read_connection(ctx) as conn:
        start = None
        if marker is not None:
            marker_row = _marker_row(conn, ctx, marker)
            params.update(_marker_params(_sort_columns(keys, dirs),
                                         marker_row))
            params['start'] = getattr(marker_row, keys[0])
            start = 'null' if params['start'] is None else 'value'
        stmt = _list_statement(
            caller, visibility, member_status, filter_shape, len(tags),
            len(properties), os_hidden, keys, dirs, start,
            limit is not None)
        if stmt is None:
            return [], False
        rows = conn.execute(stmt, params).all()
        images = db_images.to_domain(ctx, conn, rows)
    return images, limit is not None and len(rows) == limit


@functools.lru_cache(maxsize=4)
def _marker_statement(caller):
    """The marker image, if the caller may see it at all."""
    stmt = sa.select(*db_images.IMAGE_COLUMNS).where(
        _IMAGES.c.id == sa.bindparam('marker'),
        _IMAGES.c.deleted == sa.false())
    if caller[0]:
        return stmt
    visible = []
    for branch in _branches(*caller, 'all', 'all'):
        where = list(branch.where)
        if branch.shared_with_caller is not None:
            where.append(_IMAGES.c.id.in_(sa.select(_MEMBERS.c.image_id).where(
                _MEMBERS.c.member == _CALLER)))
        visible.append(sa.and_(*where))
    return stmt.where(sa.or_(*visible))


def _marker_row(conn, ctx, marker):
    row = conn.execute(
        _marker_statement((ctx.is_admin, bool(ctx.project_id))),
        {'marker': marker, **db_images.caller_params(ctx)}).first()
    if row is None:
        raise exception.BadRequest(
            'Invalid marker. Image %s could not be found.' % marker)
    return row

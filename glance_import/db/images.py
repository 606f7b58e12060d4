"""Image rows: reads, writes, locations and their conversion to domain
images. Status changes are compare-and-swap UPDATEs of the image row."""

import json
import uuid

import sqlalchemy as sa
from oslo_db import exception as db_exc

from glance_import import exception
from glance_import import images as image_domain
from glance_import.db import engine
from glance_import.db import models

# Conversion ------------------------------------------------------------

_IMAGES = models.Image.__table__
IMAGE_COLUMNS = tuple(_IMAGES.c[a] for a in image_domain.BASE_ATTRIBUTES)
_PROPERTIES = models.ImageProperty.__table__
_TAGS = models.ImageTag.__table__
_LOCATIONS = models.ImageLocation.__table__
# The caller's own membership, joined beside the image row. Without a
# project there is no membership.
_CALLER_MEMBERSHIP = models.ImageMember.__table__.alias('caller_membership')
_SELECT_IMAGES = {
    False: sa.select(*IMAGE_COLUMNS, sa.null().label('member_status')),
    True: sa.select(
        *IMAGE_COLUMNS,
        _CALLER_MEMBERSHIP.c.status.label('member_status')).select_from(
            _IMAGES.outerjoin(_CALLER_MEMBERSHIP, sa.and_(
                _CALLER_MEMBERSHIP.c.image_id == _IMAGES.c.id,
                _CALLER_MEMBERSHIP.c.member == sa.bindparam(
                    'caller_project')))),
}
_GET_IMAGE = {with_project: stmt.where(_IMAGES.c.id == sa.bindparam('id'),
                                       _IMAGES.c.deleted == sa.false())
              for with_project, stmt in _SELECT_IMAGES.items()}


def _children_statement():
    """Properties, tags and active locations of some images, in one go.

    Rows are (kind, image id, location id, text a, text b); location
    metadata comes back as JSON text so the three selects share types.
    """
    ids = sa.bindparam('ids', expanding=True)
    props, tags, locs = _PROPERTIES.c, _TAGS.c, _LOCATIONS.c
    no_id = sa.cast(sa.null(), sa.Integer)
    no_text = sa.cast(sa.null(), sa.Text)
    return sa.union_all(
        sa.select(sa.literal('p'), props.image_id, no_id,
                  sa.cast(props.name, sa.Text), props.value).where(
            props.image_id.in_(ids)),
        sa.select(sa.literal('t'), tags.image_id, no_id,
                  sa.cast(tags.value, sa.Text), no_text).where(
            tags.image_id.in_(ids)),
        sa.select(sa.literal('l'), locs.image_id, locs.id, locs.value,
                  sa.cast(locs.meta_data, sa.Text)).where(
            locs.image_id.in_(ids), locs.status == 'active'))


_GET_CHILDREN = _children_statement()


def caller_params(ctx):
    return {'caller_project': ctx.project_id} if ctx.project_id else {}


def to_domain(ctx, conn, rows):
    """Domain images for *rows* of ``IMAGE_COLUMNS`` followed by
    ``member_status`` (the caller's membership), children included.

    Plain rows rather than ORM objects: reads are the hot path, and one
    more statement loads the children of any number of images.
    """
    images = {}
    for row in rows:
        # The row's leading columns are BASE_ATTRIBUTES, in order; zip
        # stops before member_status.
        image = image_domain.Image(
            **dict(zip(image_domain.BASE_ATTRIBUTES, row, strict=False)))
        if row.member_status is not None:
            image.member = ctx.project_id
        images[image.id] = image
    if not images:
        return []
    locations = []
    # fetchall: a page of 1000 images has some 20 000 children, and
    # fetching them one by one costs more than the query.
    for kind, image_id, loc_id, a, b in conn.execute(
            _GET_CHILDREN, {'ids': list(images)}).all():
        image = images[image_id]
        if kind == 'p':
            image.properties[a] = b
        elif kind == 't':
            image.tags.append(a)
        else:
            locations.append((loc_id, image, a, json.loads(b or 'null')))
    # Oldest first, as they were added.
    for loc_id, image, url, metadata in sorted(locations,
                                               key=lambda loc: loc[0]):
        image.locations.append({'id': loc_id, 'url': url,
                                'metadata': metadata or {},
                                'status': 'active'})
    for image in images.values():
        image.tags.sort()
    return list(images.values())


def is_visible(ctx, image_row, member_status):
    """Database visibility rules (admins see everything)."""
    if ctx.is_admin:
        return True
    if image_row.visibility in ('public', 'community'):
        return True
    if ctx.project_id is not None and image_row.owner == ctx.project_id:
        return True
    return image_row.visibility == 'shared' and member_status is not None


# Images ----------------------------------------------------------------

def image_get(ctx, image_id, *, check_visible=True):
    """Load one live image or raise ImageNotFound.

    Invisible images are reported as missing, like Glance does.
    """
    if not isinstance(image_id, str) or len(image_id) > 36:
        raise exception.ImageNotFound(image_id=image_id)
    with engine.read_connection(ctx) as conn:
        row = conn.execute(_GET_IMAGE[bool(ctx.project_id)],
                           dict(caller_params(ctx), id=image_id)).first()
        if row is None or (check_visible and not is_visible(
                ctx, row, row.member_status)):
            raise exception.ImageNotFound(image_id=image_id)
        return to_domain(ctx, conn, [row])[0]


def image_statuses(ctx, image_ids):
    """{id: status} of the live images among *image_ids*."""
    with engine.read_connection(ctx) as conn:
        rows = conn.execute(sa.select(models.Image.id, models.Image.status)
                            .where(models.Image.id.in_(list(image_ids)),
                                   models.Image.deleted.is_(False)))
        return {row.id: row.status for row in rows}


@engine.retry_on_deadlock
def image_create(ctx, values, properties=None, tags=()):
    """Insert a queued image; a reused id (even deleted) is a 409."""
    now = models.utcnow()
    values = dict(values)
    values.setdefault('id', str(uuid.uuid4()))
    values.setdefault('status', image_domain.QUEUED)
    values.setdefault('created_at', now)
    values.setdefault('updated_at', now)
    values.setdefault('deleted', False)
    try:
        with engine.writer(ctx) as session:
            row = models.Image(**values)
            row.properties = [
                models.ImageProperty(name=k, value=v, created_at=now,
                                     updated_at=now)
                for k, v in (properties or {}).items()]
            row.tags = [models.ImageTag(value=t, created_at=now)
                        for t in sorted(set(tags))]
            row.locations = []
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.DuplicateImage(image_id=values['id'])
    return image_get(ctx, values['id'], check_visible=False)


@engine.retry_on_deadlock
def image_update(ctx, image_id, values=None, *, from_status=None,
                 set_properties=None, remove_properties=(), tags=None):
    """Update columns, properties and tags of an image in one transaction.

    With *from_status*, the update happens only if the image still has
    that status (compare-and-swap); otherwise InvalidImageStatusTransition
    (409), from the status it has to "(expected *from_status*)". A
    missing or deleted image raises ImageNotFound.
    Setting status queued clears size and virtual_size, as Glance does.
    """
    values = dict(values or {})
    now = models.utcnow()
    values['updated_at'] = now
    if values.get('status') == image_domain.QUEUED:
        values.setdefault('size', None)
        values.setdefault('virtual_size', None)
    with engine.writer(ctx) as session:
        _compare_and_swap(session, image_id, values, from_status)
        if set_properties:
            _upsert_properties(session, image_id, set_properties, now)
        if remove_properties:
            session.execute(sa.delete(models.ImageProperty).where(
                models.ImageProperty.image_id == image_id,
                models.ImageProperty.name.in_(list(remove_properties))))
        if tags is not None:
            _replace_tags(session, image_id, tags, now)
    return image_get(ctx, image_id, check_visible=False)


def _compare_and_swap(session, image_id, values, from_status):
    """Update the live image row, only while its status is *from_status*
    (when given): of two racing writers exactly one wins. The loser gets
    ImageNotFound if the image is gone, else InvalidImageStatusTransition.
    """
    stmt = sa.update(models.Image).where(
        models.Image.id == image_id, models.Image.deleted == sa.false())
    if from_status is not None:
        stmt = stmt.where(models.Image.status == from_status)
    if session.execute(stmt.values(**values)).rowcount == 1:
        return
    status = session.scalar(sa.select(models.Image.status).where(
        models.Image.id == image_id, models.Image.deleted == sa.false()))
    if status is None:
        raise exception.ImageNotFound(image_id=image_id)
    raise exception.InvalidImageStatusTransition(
        cur_status=status, new_status='(expected %s)' % from_status)


def _upsert_properties(session, image_id, props, now):
    existing = dict(session.execute(
        sa.select(models.ImageProperty.name, models.ImageProperty.id).where(
            models.ImageProperty.image_id == image_id,
            models.ImageProperty.name.in_(list(props)))).all())
    for name, value in props.items():
        if name in existing:
            session.execute(sa.update(models.ImageProperty).where(
                models.ImageProperty.id == existing[name]).values(
                    value=value, updated_at=now))
        else:
            session.add(models.ImageProperty(
                image_id=image_id, name=name, value=value, created_at=now,
                updated_at=now))
    session.flush()


def _replace_tags(session, image_id, tags, now):
    session.execute(sa.delete(models.ImageTag).where(
        models.ImageTag.image_id == image_id))
    session.add_all(models.ImageTag(image_id=image_id, value=t,
                                    created_at=now)
                    for t in sorted(set(tags)))
    session.flush()


@engine.retry_on_deadlock
def image_delete(ctx, image_id, *, delayed=False):
    """Mark the image deleted and drop its children; returns locations.

    The caller removes the data of the returned locations afterwards.
    With *delayed* (``delayed_delete``), an image with data goes
    ``pending_delete`` instead: its rows stay, its locations are marked
    for the scrubber, and nothing is returned to remove now.
    """
    now = models.utcnow()
    with engine.writer(ctx) as session:
        # Write first: the row lock orders racing deletes (and SQLite's
        # write lock is taken before any read).
        result = session.execute(
            sa.update(models.Image).where(
                models.Image.id == image_id,
                models.Image.deleted == sa.false()).values(
                    status=image_domain.DELETED, deleted=True,
                    deleted_at=now, updated_at=now))
        if result.rowcount != 1:
            raise exception.ImageNotFound(image_id=image_id)
        locations = [
            {'id': loc.id, 'url': loc.value, 'metadata': loc.meta_data or {}}
            for loc in session.scalars(sa.select(models.ImageLocation).where(
                models.ImageLocation.image_id == image_id))]
        if delayed and locations:
            session.execute(sa.update(models.Image).where(
                models.Image.id == image_id).values(
                    status=image_domain.PENDING_DELETE))
            session.execute(sa.update(models.ImageLocation).where(
                models.ImageLocation.image_id == image_id).values(
                    status=image_domain.PENDING_DELETE, updated_at=now))
            return []
        for model in (models.ImageProperty, models.ImageTag,
                      models.ImageLocation, models.ImageMember):
            session.execute(sa.delete(model).where(
                model.image_id == image_id))
    return locations


@engine.retry_on_deadlock
def image_add_tag(ctx, image_id, tag, quota):
    """Add one tag (idempotent); 413 past the tag quota."""
    with engine.writer(ctx) as session:
        tags = set(session.scalars(sa.select(models.ImageTag.value).where(
            models.ImageTag.image_id == image_id)))
        if tag in tags:
            return
        if 0 <= quota <= len(tags):
            raise exception.QuotaExceeded(resource='image tags',
                                          limit=quota)
        try:
            with session.begin_nested():
                session.add(models.ImageTag(image_id=image_id, value=tag,
                                            created_at=models.utcnow()))
        except db_exc.DBDuplicateEntry:
            return
        _touch(session, image_id)


@engine.retry_on_deadlock
def image_delete_tag(ctx, image_id, tag):
    with engine.writer(ctx) as session:
        result = session.execute(sa.delete(models.ImageTag).where(
            models.ImageTag.image_id == image_id,
            models.ImageTag.value == tag))
        if result.rowcount == 0:
            raise exception.NotFound('Tag %s not found' % tag)
        _touch(session, image_id)


def _touch(session, image_id):
    session.execute(sa.update(models.Image).where(
        models.Image.id == image_id).values(updated_at=models.utcnow()))


# Locations -------------------------------------------------------------

@engine.retry_on_deadlock
def image_add_location(ctx, image_id, url, metadata, *, values=None,
                       from_status=None):
    """Record a location; optionally update image columns in the same CAS.

    Used when data lands in a store: the location, the hashes/size and the
    move to active are one transaction.
    """
    now = models.utcnow()
    with engine.writer(ctx) as session:
        if values or from_status:
            _compare_and_swap(session, image_id,
                              dict(values or {}, updated_at=now),
                              from_status)
        loc = models.ImageLocation(image_id=image_id, value=url,
                                   meta_data=metadata or {}, status='active',
                                   created_at=now, updated_at=now)
        session.add(loc)
        session.flush()
        return loc.id


@engine.retry_on_deadlock
def image_set_locations(ctx, image_id, locations, *, values=None,
                        from_status=None):
    """Make *locations* (dicts with url and metadata) the image's list, in
    that order; optionally update image columns in the same CAS.

    Locations are read back in id order, so the rows are written anew in
    the order given: an insert in the middle or a reordering survives.
    """
    now = models.utcnow()
    with engine.writer(ctx) as session:
        if values or from_status:
            _compare_and_swap(session, image_id,
                              dict(values or {}, updated_at=now),
                              from_status)
        else:
            # Serialise with other location changes of this image.
            _compare_and_swap(session, image_id, {'updated_at': now}, None)
        session.execute(sa.delete(models.ImageLocation).where(
            models.ImageLocation.image_id == image_id))
        for loc in locations:
            session.add(models.ImageLocation(
                image_id=image_id, value=loc['url'],
                meta_data=loc.get('metadata') or {}, status='active',
                created_at=now, updated_at=now))
        session.flush()


@engine.retry_on_deadlock
def image_remove_location(ctx, image_id, location_id):
    with engine.writer(ctx) as session:
        session.execute(sa.delete(models.ImageLocation).where(
            models.ImageLocation.image_id == image_id,
            models.ImageLocation.id == location_id))


def image_lock_row(ctx, image_id):
    """Lock the image row for the rest of the caller's transaction.

    For read-check-write sequences (``in_transaction``): SELECT ... FOR
    UPDATE where the database has it; on SQLite a no-op UPDATE, which
    takes the write lock first so two such transactions queue instead of
    failing with "database is locked" when both upgrade a read lock.
    """
    with engine.writer(ctx) as session:
        if session.bind.dialect.name == 'sqlite':
            session.execute(sa.update(models.Image).where(
                models.Image.id == image_id).values(id=models.Image.id))
        else:
            session.execute(sa.select(models.Image.id).where(
                models.Image.id == image_id).with_for_update())

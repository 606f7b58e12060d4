"""Metadata definitions: namespaces and the objects, properties, tags and
resource-type associations in them.

Values go in and out as plain dicts; JSON documents (an object's
``required`` and ``properties``, a property's schema) are stored as
json.dumps text and returned decoded. A namespace the caller may not see
(neither public nor owned by the caller's project, for non-admins) is
reported as missing. Policy is the API's business, and so is refusing
to delete from a protected namespace.
"""

import json
import operator

import sqlalchemy as sa
from oslo_db import exception as db_exc

from glance_import import exception
from glance_import.db import engine
from glance_import.db import models

_NAMESPACE_FIELDS = ('namespace', 'display_name', 'description',
                     'visibility', 'protected', 'owner')


def _now():
    # MySQL keeps whole seconds: the same on every database.
    return models.utcnow().replace(microsecond=0)


def _loads(text, default):
    return json.loads(text) if text else default


def _namespace_dict(row):
    return {'id': row.id, 'namespace': row.namespace,
            'display_name': row.display_name,
            'description': row.description, 'visibility': row.visibility,
            'protected': bool(row.protected), 'owner': row.owner,
            'created_at': row.created_at, 'updated_at': row.updated_at}


def _object_dict(row):
    return {'id': row.id, 'namespace_id': row.namespace_id,
            'name': row.name, 'description': row.description,
            'required': _loads(row.required, []),
            'properties': _loads(row.json_schema, {}),
            'created_at': row.created_at, 'updated_at': row.updated_at}


def _property_dict(row):
    return {'id': row.id, 'namespace_id': row.namespace_id,
            'name': row.name, 'schema': _loads(row.json_schema, {}),
            'created_at': row.created_at, 'updated_at': row.updated_at}


def _tag_dict(row):
    return {'id': row.id, 'namespace_id': row.namespace_id,
            'name': row.name, 'created_at': row.created_at,
            'updated_at': row.updated_at}


def _resource_type_dict(row):
    return {'id': row.id, 'name': row.name,
            'protected': bool(row.protected),
            'created_at': row.created_at, 'updated_at': row.updated_at}


def _association_dict(row, rt_name):
    return {'name': rt_name, 'prefix': row.prefix,
            'properties_target': row.properties_target,
            'created_at': row.created_at, 'updated_at': row.updated_at}


def _schema_text(schema):
    schema = dict(schema or {})
    schema.pop('name', None)
    return json.dumps(schema)


# Namespaces


def _visible(stmt, ctx):
    if ctx.is_admin:
        return stmt
    ns = models.MetadefNamespace
    if ctx.project_id is None:
        return stmt.where(ns.visibility == 'public')
    return stmt.where(sa.or_(ns.visibility == 'public',
                             ns.owner == ctx.project_id))


def _namespace(session, ctx, name):
    """The namespace row *name*, if the caller may see it."""
    ns = models.MetadefNamespace
    row = session.scalar(_visible(sa.select(ns).where(ns.namespace == name),
                                  ctx))
    if row is None:
        raise exception.MetadefNamespaceNotFound(namespace_name=name)
    return row


def _sort_column(model, sort_key, aliases):
    key = aliases.get(sort_key, sort_key)
    if key not in model.__table__.c:
        raise exception.BadRequest('Invalid sort key: %s' % sort_key)
    return key


def _paginate(stmt, model, sort_key, sort_dir, marker, limit):
    """Order *stmt* by *sort_key* then created_at and id, all in
    *sort_dir*, starting after the *marker* row.

    NULLs sort first in ascending order on every database (PostgreSQL
    would put them last) so that pages never skip or repeat them.
    """
    if sort_dir not in ('asc', 'desc'):
        raise exception.BadRequest('Invalid sort direction: %s' % sort_dir)
    keys = [sort_key] + [k for k in ('created_at', 'id') if k != sort_key]
    columns = []
    for key in keys:
        column = getattr(model, key)
        value = getattr(marker, key) if marker is not None else None
        if model.__table__.c[key].nullable:
            flag = sa.case((column.is_(None), 0), else_=1)
            columns.append((flag, int(value is not None)))
        columns.append((column, value))
    ascending = sort_dir == 'asc'
    stmt = stmt.order_by(*(c.asc() if ascending else c.desc()
                           for c, _ in columns))
    if marker is not None:
        after = operator.gt if ascending else operator.lt
        clauses, equal = [], []
        for column, value in columns:
            if value is None:
                # The marker's NULL: its flag already ties with every
                # other NULL.
                continue
            clauses.append(sa.and_(*equal, after(column, value)))
            equal.append(column == value)
        stmt = stmt.where(sa.or_(*clauses))
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


def namespace_list(ctx, *, marker=None, limit=None, sort_key='created_at',
                   sort_dir='desc', visibility=None, resource_types=None):
    """Visible namespaces, a page after the namespace named *marker*.

    *resource_types* keeps those associated with any of the named types.
    """
    ns = models.MetadefNamespace
    sort_key = _sort_column(ns, sort_key, {'name': 'namespace'})
    if isinstance(resource_types, str):
        resource_types = resource_types.split(',')
    with engine.reader(ctx) as session:
        stmt = _visible(sa.select(ns), ctx)
        if visibility is not None:
            stmt = stmt.where(ns.visibility == visibility)
        if resource_types is not None:
            assoc = models.MetadefNamespaceResourceType
            rt = models.MetadefResourceType
            stmt = stmt.where(sa.exists().where(
                assoc.namespace_id == ns.id,
                assoc.resource_type_id == rt.id,
                rt.name.in_(list(resource_types))))
        marker_row = None
        if marker is not None:
            marker_row = _namespace(session, ctx, marker)
        stmt = _paginate(stmt, ns, sort_key, sort_dir, marker_row, limit)
        return [_namespace_dict(row) for row in session.scalars(stmt)]


def namespace_get(ctx, name):
    with engine.reader(ctx) as session:
        return _namespace_dict(_namespace(session, ctx, name))


def namespace_exists(ctx, name):
    """Whether namespace *name* exists, whoever may see it."""
    ns = models.MetadefNamespace
    with engine.reader(ctx) as session:
        return session.scalar(
            sa.select(ns.id).where(ns.namespace == name)) is not None


def _add_namespace(session, ctx, values, now):
    fields = {k: values[k] for k in _NAMESPACE_FIELDS if k in values}
    fields.setdefault('owner', ctx.project_id)
    if fields['owner'] is None:
        raise exception.BadRequest('A namespace needs an owner.')
    if fields.get('visibility') is None:
        fields['visibility'] = 'private'
    fields['protected'] = bool(fields.get('protected'))
    row = models.MetadefNamespace(created_at=now, updated_at=now, **fields)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateNamespace(
            namespace_name=fields.get('namespace'))
    return row


@engine.retry_on_deadlock
def namespace_create(ctx, values):
    """Create a namespace; its owner defaults to the caller's project."""
    with engine.writer(ctx) as session:
        return _namespace_dict(_add_namespace(session, ctx, values, _now()))


@engine.retry_on_deadlock
def namespace_create_full(ctx, values, *, objects=(), properties=None,
                          tags=(), associations=()):
    """Create a namespace with its content in one transaction.

    Resource types named by *associations* are created if unknown.
    """
    now = _now()
    with engine.writer(ctx) as session:
        row = _add_namespace(session, ctx, values, now)
        name = row.namespace
        for obj in objects:
            _add_object(session, row, obj, now)
        for prop_name, schema in (properties or {}).items():
            _add_property(session, row, prop_name, schema, now)
        _add_tags(session, row, [t['name'] for t in tags], now)
        for assoc in associations:
            rt = _resource_type_or_create(session, assoc['name'], now)
            _add_association(session, row.id, rt, assoc, name, now)
        return _namespace_dict(row)


@engine.retry_on_deadlock
def namespace_update(ctx, name, values):
    """Change a namespace's fields (a new ``namespace`` renames it)."""
    with engine.writer(ctx) as session:
        row = _namespace(session, ctx, name)
        try:
            with session.begin_nested():
                for key in _NAMESPACE_FIELDS:
                    # The owner column takes no NULL: None keeps it.
                    if key in values and not (key == 'owner'
                                              and values[key] is None):
                        setattr(row, key, values[key])
                row.visibility = row.visibility or 'private'
                row.protected = bool(row.protected)
                row.updated_at = _now()
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise exception.MetadefDuplicateNamespace(
                namespace_name=values.get('namespace'))
        return _namespace_dict(row)


_CHILDREN = (models.MetadefObject, models.MetadefProperty,
             models.MetadefTag, models.MetadefNamespaceResourceType)


@engine.retry_on_deadlock
def namespace_delete(ctx, name):
    """Delete a namespace with everything in it; returns its dict."""
    with engine.writer(ctx) as session:
        row = _namespace(session, ctx, name)
        deleted = _namespace_dict(row)
        # Explicit, not left to ON DELETE CASCADE alone: the session
        # must not keep the children either.
        for model in _CHILDREN:
            session.execute(sa.delete(model).where(
                model.namespace_id == row.id))
        session.execute(sa.delete(models.MetadefNamespace).where(
            models.MetadefNamespace.id == row.id))
        session.expunge(row)
        return deleted


def _delete_children(ctx, name, model):
    with engine.writer(ctx) as session:
        row = _namespace(session, ctx, name)
        return session.execute(sa.delete(model).where(
            model.namespace_id == row.id)).rowcount


@engine.retry_on_deadlock
def namespace_delete_objects(ctx, name):
    """Delete every object of a namespace; returns how many went."""
    return _delete_children(ctx, name, models.MetadefObject)


@engine.retry_on_deadlock
def namespace_delete_properties(ctx, name):
    """Delete every property of a namespace; returns how many went."""
    return _delete_children(ctx, name, models.MetadefProperty)


@engine.retry_on_deadlock
def namespace_delete_tags(ctx, name):
    """Delete every tag of a namespace; returns how many went."""
    return _delete_children(ctx, name, models.MetadefTag)


# Objects


def _object(session, ns_row, obj_name):
    obj = models.MetadefObject
    row = session.scalar(sa.select(obj).where(
        obj.namespace_id == ns_row.id, obj.name == obj_name))
    if row is None:
        raise exception.MetadefObjectNotFound(
            object_name=obj_name, namespace_name=ns_row.namespace)
    return row


def _object_fields(values):
    fields = {}
    for key in ('name', 'description'):
        if key in values:
            fields[key] = values[key]
    if 'required' in values:
        required = values['required']
        fields['required'] = (json.dumps(list(required))
                              if required is not None else None)
    if 'properties' in values:
        fields['json_schema'] = json.dumps(values['properties'] or {})
    return fields


def _add_object(session, ns_row, values, now):
    fields = _object_fields(values)
    fields.setdefault('json_schema', '{}')
    row = models.MetadefObject(namespace_id=ns_row.id, created_at=now,
                               updated_at=now, **fields)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateObject(
            object_name=values.get('name'), namespace_name=ns_row.namespace)
    return row


def object_list(ctx, ns_name):
    """The objects of a namespace, in the order they were created."""
    obj = models.MetadefObject
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        rows = session.scalars(sa.select(obj).where(
            obj.namespace_id == ns_row.id).order_by(obj.id))
        return [_object_dict(row) for row in rows]


def object_get(ctx, ns_name, obj_name):
    with engine.reader(ctx) as session:
        return _object_dict(_object(session, _namespace(session, ctx,
                                                        ns_name), obj_name))


@engine.retry_on_deadlock
def object_create(ctx, ns_name, values):
    """Create an object from name, description, required, properties."""
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _object_dict(_add_object(session, ns_row, values, _now()))


@engine.retry_on_deadlock
def object_update(ctx, ns_name, obj_name, values):
    """Change the fields given in *values* (``name`` renames)."""
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        row = _object(session, ns_row, obj_name)
        try:
            with session.begin_nested():
                for key, value in _object_fields(values).items():
                    setattr(row, key, value)
                row.updated_at = _now()
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise exception.MetadefDuplicateObject(
                object_name=values.get('name'),
                namespace_name=ns_row.namespace)
        return _object_dict(row)


@engine.retry_on_deadlock
def object_delete(ctx, ns_name, obj_name):
    with engine.writer(ctx) as session:
        row = _object(session, _namespace(session, ctx, ns_name), obj_name)
        deleted = _object_dict(row)
        session.delete(row)
        return deleted


# Properties


def _property(session, ns_row, prop_name):
    prop = models.MetadefProperty
    row = session.scalar(sa.select(prop).where(
        prop.namespace_id == ns_row.id, prop.name == prop_name))
    if row is None:
        raise exception.MetadefPropertyNotFound(
            property_name=prop_name, namespace_name=ns_row.namespace)
    return row


def _add_property(session, ns_row, name, schema, now):
    row = models.MetadefProperty(namespace_id=ns_row.id, name=name,
                                 json_schema=_schema_text(schema),
                                 created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateProperty(
            property_name=name, namespace_name=ns_row.namespace)
    return row


def property_list(ctx, ns_name):
    """The properties of a namespace, in the order they were created."""
    prop = models.MetadefProperty
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        rows = session.scalars(sa.select(prop).where(
            prop.namespace_id == ns_row.id).order_by(prop.id))
        return [_property_dict(row) for row in rows]


def property_get(ctx, ns_name, prop_name):
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _property_dict(_property(session, ns_row, prop_name))


@engine.retry_on_deadlock
def property_create(ctx, ns_name, name, schema):
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _property_dict(_add_property(session, ns_row, name, schema,
                                            _now()))


@engine.retry_on_deadlock
def property_update(ctx, ns_name, prop_name, new_name, schema):
    """Replace a property's name and schema."""
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        row = _property(session, ns_row, prop_name)
        try:
            with session.begin_nested():
                row.name = new_name
                row.json_schema = _schema_text(schema)
                row.updated_at = _now()
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise exception.MetadefDuplicateProperty(
                property_name=new_name, namespace_name=ns_row.namespace)
        return _property_dict(row)


@engine.retry_on_deadlock
def property_delete(ctx, ns_name, prop_name):
    with engine.writer(ctx) as session:
        row = _property(session, _namespace(session, ctx, ns_name),
                        prop_name)
        deleted = _property_dict(row)
        session.delete(row)
        return deleted


# Tags: names are unique, and looked up, regardless of case.


def _tag(session, ns_row, tag_name):
    tag = models.MetadefTag
    row = session.scalar(sa.select(tag).where(
        tag.namespace_id == ns_row.id, tag.name_folded == tag_name.lower()))
    if row is None:
        raise exception.MetadefTagNotFound(name=tag_name,
                                           namespace_name=ns_row.namespace)
    return row


def _add_tags(session, ns_row, names, now):
    seen = set()
    for name in names:
        if name.lower() in seen:
            raise exception.MetadefDuplicateTag(
                name=name, namespace_name=ns_row.namespace)
        seen.add(name.lower())
    rows = []
    current = None
    try:
        with session.begin_nested():
            for current in names:
                row = models.MetadefTag(namespace_id=ns_row.id, name=current,
                                        name_folded=current.lower(),
                                        created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                rows.append(row)
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateTag(
            name=current, namespace_name=ns_row.namespace)
    return rows


def tag_list(ctx, ns_name, *, marker=None, limit=None, sort_key='created_at',
             sort_dir='desc'):
    """A page of a namespace's tags after the tag named *marker*."""
    tag = models.MetadefTag
    sort_key = _sort_column(tag, sort_key, {})
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        marker_row = None
        if marker is not None:
            marker_row = _tag(session, ns_row, marker)
        stmt = _paginate(sa.select(tag).where(tag.namespace_id == ns_row.id),
                         tag, sort_key, sort_dir, marker_row, limit)
        return [_tag_dict(row) for row in session.scalars(stmt)]


def tag_get(ctx, ns_name, tag_name):
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _tag_dict(_tag(session, ns_row, tag_name))


@engine.retry_on_deadlock
def tag_create(ctx, ns_name, tag_name):
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _tag_dict(_add_tags(session, ns_row, [tag_name], _now())[0])


@engine.retry_on_deadlock
def tag_create_many(ctx, ns_name, names, *, append=False):
    """Create tags *names*, replacing all the namespace's tags unless
    *append*.

    An empty *names* changes nothing, as in Glance.
    """
    names = list(names)
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        if not names:
            return []
        if not append:
            session.execute(sa.delete(models.MetadefTag).where(
                models.MetadefTag.namespace_id == ns_row.id))
        rows = _add_tags(session, ns_row, names, _now())
        return [_tag_dict(row) for row in rows]


@engine.retry_on_deadlock
def tag_update(ctx, ns_name, tag_name, new_name):
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        row = _tag(session, ns_row, tag_name)
        try:
            with session.begin_nested():
                row.name = new_name
                row.name_folded = new_name.lower()
                row.updated_at = _now()
                session.flush()
        except db_exc.DBDuplicateEntry:
            raise exception.MetadefDuplicateTag(
                name=new_name, namespace_name=ns_row.namespace)
        return _tag_dict(row)


@engine.retry_on_deadlock
def tag_delete(ctx, ns_name, tag_name):
    with engine.writer(ctx) as session:
        row = _tag(session, _namespace(session, ctx, ns_name), tag_name)
        deleted = _tag_dict(row)
        session.delete(row)
        return deleted


# Resource types and their associations with namespaces


def _resource_type(session, name):
    rt = models.MetadefResourceType
    row = session.scalar(sa.select(rt).where(rt.name == name))
    if row is None:
        raise exception.MetadefResourceTypeNotFound(resource_type_name=name)
    return row


def _add_resource_type(session, name, protected, now):
    row = models.MetadefResourceType(name=name, protected=bool(protected),
                                     created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateResourceType(resource_type_name=name)
    return row


def _resource_type_or_create(session, name, now):
    rt = models.MetadefResourceType
    try:
        return _resource_type(session, name)
    except exception.MetadefResourceTypeNotFound:
        pass
    try:
        return _add_resource_type(session, name, False, now)
    except exception.MetadefDuplicateResourceType:
        # Created meanwhile by another transaction: a locking read sees
        # it even inside MySQL's repeatable-read snapshot.
        return session.scalar(sa.select(rt).where(rt.name == name)
                              .with_for_update(read=True))


def resource_type_list(ctx):
    rt = models.MetadefResourceType
    with engine.reader(ctx) as session:
        return [_resource_type_dict(row)
                for row in session.scalars(sa.select(rt).order_by(rt.id))]


def resource_type_get(ctx, name):
    with engine.reader(ctx) as session:
        return _resource_type_dict(_resource_type(session, name))


@engine.retry_on_deadlock
def resource_type_create(ctx, name, protected=False):
    with engine.writer(ctx) as session:
        return _resource_type_dict(_add_resource_type(session, name,
                                                      protected, _now()))


def _add_association(session, ns_id, rt_row, values, ns_name, now):
    row = models.MetadefNamespaceResourceType(
        resource_type_id=rt_row.id, namespace_id=ns_id,
        prefix=values.get('prefix'),
        properties_target=values.get('properties_target'),
        created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.MetadefDuplicateResourceTypeAssociation(
            resource_type_name=rt_row.name, namespace_name=ns_name)
    return _association_dict(row, rt_row.name)


def _associations_of(session, namespace_ids):
    """{namespace id: its associations, oldest first}."""
    assoc = models.MetadefNamespaceResourceType
    rt = models.MetadefResourceType
    found = {ns_id: [] for ns_id in namespace_ids}
    if not found:
        return found
    rows = session.execute(
        sa.select(assoc, rt.name).join(
            rt, rt.id == assoc.resource_type_id).where(
            assoc.namespace_id.in_(found)).order_by(
            assoc.created_at, rt.name))
    for row, name in rows:
        found[row.namespace_id].append(_association_dict(row, name))
    return found


def association_list(ctx, ns_name):
    """The resource types a namespace is associated with, oldest first."""
    with engine.reader(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        return _associations_of(session, [ns_row.id])[ns_row.id]


def association_lists(ctx, namespaces):
    """{namespace name: its associations} for namespace dicts already
    read (and so already visible): one query for a whole page."""
    with engine.reader(ctx) as session:
        by_id = _associations_of(session, [ns['id'] for ns in namespaces])
    return {ns['namespace']: by_id[ns['id']] for ns in namespaces}


@engine.retry_on_deadlock
def association_create(ctx, ns_name, values):
    """Associate resource type ``values['name']`` with a namespace, with
    its prefix and properties_target; an unknown type is created, as
    Glance creates it."""
    now = _now()
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        rt_row = _resource_type_or_create(session, values['name'], now)
        return _add_association(session, ns_row.id, rt_row, values,
                                ns_row.namespace, now)


@engine.retry_on_deadlock
def association_delete(ctx, ns_name, rt_name):
    assoc = models.MetadefNamespaceResourceType
    with engine.writer(ctx) as session:
        ns_row = _namespace(session, ctx, ns_name)
        rt_row = _resource_type(session, rt_name)
        row = session.get(assoc, (rt_row.id, ns_row.id))
        if row is None:
            raise exception.MetadefResourceTypeAssociationNotFound(
                resource_type_name=rt_name, namespace_name=ns_name)
        deleted = _association_dict(row, rt_name)
        session.delete(row)
        return deleted

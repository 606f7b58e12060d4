"""Glance's metadata definition files (``db load_metadefs``,
``db unload_metadefs``, ``db export_metadefs``).

A file holds one namespace: its fields, ``resource_type_associations``,
``properties`` (name -> JSON schema), ``objects`` and ``tags``. Loading
follows Glance's rules: a namespace already in the database is skipped,
unless ``merge`` adds what the file has and the database lacks;
``prefer_new`` then also rewrites what both have, and ``overwrite``
drops the namespace and loads it afresh. Resource types named by a file
are created, protected, when missing.

Each file is loaded in a transaction of its own: a file that fails
leaves nothing behind and the others still load. Progress and problems
are logged, as Glance logs them; the commands exit 0 either way.
"""

import json
import os
import re

import sqlalchemy as sa
from oslo_log import log as logging

from glance_import.db import engine as db_engine
from glance_import.db import models

LOG = logging.getLogger(__name__)

# Glance's default owner of a namespace whose file names none.
DEFAULT_OWNER = 'admin'

NEED_MERGE = ('To use --prefer_new or --overwrite you need to combine of '
              'these options with --merge option.')
ONE_OF = ('Please provide no more than one option from this list: '
          '--prefer_new, --overwrite')

_NAMESPACES = models.MetadefNamespace.__table__
_OBJECTS = models.MetadefObject.__table__
_PROPERTIES = models.MetadefProperty.__table__
_TAGS = models.MetadefTag.__table__
_TYPES = models.MetadefResourceType.__table__
_ASSOCIATIONS = models.MetadefNamespaceResourceType.__table__

# Children first: the order the tables are emptied in.
_TABLES = (_PROPERTIES, _OBJECTS, _TAGS, _ASSOCIATIONS, _NAMESPACES, _TYPES)
_CHILDREN = (_PROPERTIES, _OBJECTS, _TAGS, _ASSOCIATIONS)

_NOT_A_WORD = re.compile(r'[\W_]+')


class InvalidFile(ValueError):
    """The document is not a namespace definition."""


def _dict(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidFile('%s must be an object' % what)
    return value


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidFile('%s must be a list' % what)
    return value


def _named(entry, what):
    if not isinstance(entry, dict) or not isinstance(entry.get('name'), str):
        raise InvalidFile('each of %s needs a "name"' % what)
    return entry


def parse(document):
    """The parts of one definition file's JSON *document*.

    Returns ``{'namespace': {...}, 'associations': [...],
    'properties': {name: schema}, 'objects': [...], 'tags': [...]}``;
    raises InvalidFile for a document that is not one.
    """
    if not isinstance(document, dict):
        raise InvalidFile('the document must be an object')
    name = document.get('namespace')
    if not isinstance(name, str) or not name:
        raise InvalidFile('"namespace" must be a non-empty string')
    namespace = {
        'namespace': name,
        'display_name': document.get('display_name'),
        'description': document.get('description'),
        'visibility': document.get('visibility') or 'private',
        'protected': bool(document.get('protected')),
        'owner': document.get('owner') or DEFAULT_OWNER,
    }
    associations = [
        {'name': entry['name'], 'prefix': entry.get('prefix'),
         'properties_target': entry.get('properties_target')}
        for entry in (_named(e, 'resource_type_associations') for e in _list(
            document.get('resource_type_associations'),
            'resource_type_associations'))]
    properties = _dict(document.get('properties'), 'properties')
    for prop, schema in properties.items():
        _dict(schema, 'property %s' % prop)
    objects = []
    for entry in _list(document.get('objects'), 'objects'):
        entry = _named(entry, 'objects')
        objects.append({
            'name': entry['name'],
            'description': entry.get('description'),
            'required': _list(entry.get('required'),
                              'required of object %s' % entry['name']),
            'properties': _dict(entry.get('properties'),
                                'properties of object %s' % entry['name']),
        })
    tags = [_named(e, 'tags')['name']
            for e in _list(document.get('tags'), 'tags')]
    return {'namespace': namespace, 'associations': associations,
            'properties': properties, 'objects': objects, 'tags': tags}


# The errors are returned, to be logged outside their handlers: oslo.log
# would append the exception being handled to the message.

def _listdir(path):
    """(sorted names, None) or (None, the error)."""
    try:
        return sorted(os.listdir(path)), None
    except OSError as e:
        return None, e


def _definition_files(path):
    """The files to load at *path* (a file or a directory), or None after
    logging why there are none."""
    if os.path.isfile(path):
        return [path]
    names, error = _listdir(path)
    if error is not None:
        LOG.error('%s', error)
        return None
    files = [os.path.join(path, name) for name in names
             if name.endswith('.json')
             and os.path.isfile(os.path.join(path, name))]
    if not files:
        LOG.error('Json schema files not found in %s. Aborting.', path)
        return None
    return files


def load(path, merge=False, prefer_new=False, overwrite=False):
    """Load the definition files at *path* (a directory or one file).

    True when every file loaded (or was skipped as already there). Glance
    logs the same errors but exits 0 on them; the caller here can tell.
    """
    if not merge and (prefer_new or overwrite):
        LOG.error(NEED_MERGE)
        return False
    if prefer_new and overwrite:
        LOG.error(ONE_OF)
        return False
    files = _definition_files(path)
    if files is None:
        return False
    failed = 0
    engine = db_engine.get_engine()
    for file_path in files:
        definition, error = _read(file_path)
        if error is not None:
            LOG.error('Failed to parse json file %(file_path)s while '
                      'populating metadata due to: %(exc)s',
                      {'file_path': file_path, 'exc': error})
            failed += 1
            continue
        loaded, error = _write(engine, definition, merge, prefer_new,
                               overwrite)
        if error is not None:
            # Another writer, or a value the columns cannot hold.
            LOG.error('Failed to load %(file_path)s: %(exc)s',
                      {'file_path': file_path, 'exc': error})
            failed += 1
        elif loaded:
            LOG.info('File %s loaded to database.', file_path)
    LOG.info('Metadata loading finished')
    return not failed


def _read(file_path):
    """(parsed definition, None) or (None, the error)."""
    try:
        with open(file_path, encoding='utf-8') as f:
            return parse(json.load(f)), None
    except (OSError, ValueError) as e:
        return None, e


def _write(engine, definition, merge, prefer_new, overwrite):
    """(whether the namespace was written, None) or (False, the error);
    one transaction."""
    try:
        with engine.begin() as conn:
            return _load_namespace(conn, definition, merge, prefer_new,
                                   overwrite), None
    except sa.exc.DBAPIError as e:
        return False, e.orig


def _one(conn, query):
    row = conn.execute(query).first()
    return row[0] if row else None


def _load_namespace(conn, definition, merge, prefer_new, overwrite):
    """Write one parsed file; False when its namespace was skipped."""
    values = definition['namespace']
    name = values['namespace']
    now = models.utcnow()
    ns_id = _one(conn, sa.select(_NAMESPACES.c.id).where(
        _NAMESPACES.c.namespace == name))
    if ns_id is not None and overwrite:
        LOG.info('Overwriting namespace %s', name)
        _delete_namespaces(conn, [ns_id])
        ns_id = None
    if ns_id is None:
        ns_id = conn.execute(_NAMESPACES.insert().values(
            created_at=now, updated_at=now, **values)).inserted_primary_key[0]
    elif not merge:
        LOG.info('Skipping namespace %s. It already exists in the '
                 'database.', name)
        return False
    elif prefer_new:
        conn.execute(_NAMESPACES.update().where(
            _NAMESPACES.c.id == ns_id).values(updated_at=now, **values))

    for association in definition['associations']:
        _load_association(conn, ns_id, association, prefer_new, now)
    for prop, schema in definition['properties'].items():
        _upsert(conn, _PROPERTIES, ns_id, _PROPERTIES.c.name == prop,
                {'name': prop, 'json_schema': json.dumps(schema)},
                prefer_new, now)
    for obj in definition['objects']:
        _upsert(conn, _OBJECTS, ns_id, _OBJECTS.c.name == obj['name'],
                {'name': obj['name'], 'description': obj['description'],
                 'required': json.dumps(obj['required']),
                 'json_schema': json.dumps(obj['properties'])},
                prefer_new, now)
    for tag in definition['tags']:
        # Tag names are unique regardless of case.
        _upsert(conn, _TAGS, ns_id, _TAGS.c.name_folded == tag.lower(),
                {'name': tag}, prefer_new, now, update={})
    return True


def _upsert(conn, table, ns_id, match, values, prefer_new, now,
            update=None):
    """Insert *values* unless *match* finds a row of the namespace; with
    *prefer_new* rewrite that row (with *update*, default *values*)."""
    row_id = _one(conn, sa.select(table.c.id).where(
        table.c.namespace_id == ns_id, match))
    if row_id is None:
        conn.execute(table.insert().values(
            namespace_id=ns_id, created_at=now, updated_at=now, **values))
    elif prefer_new:
        conn.execute(table.update().where(table.c.id == row_id).values(
            updated_at=now, **(values if update is None else update)))


def _load_association(conn, ns_id, association, prefer_new, now):
    rt_id = _one(conn, sa.select(_TYPES.c.id).where(
        _TYPES.c.name == association['name']))
    if rt_id is None:
        rt_id = conn.execute(_TYPES.insert().values(
            name=association['name'], protected=True, created_at=now,
            updated_at=now)).inserted_primary_key[0]
    elif prefer_new:
        conn.execute(_TYPES.update().where(_TYPES.c.id == rt_id).values(
            updated_at=now))
    key = sa.and_(_ASSOCIATIONS.c.namespace_id == ns_id,
                  _ASSOCIATIONS.c.resource_type_id == rt_id)
    fields = {'prefix': association['prefix'],
              'properties_target': association['properties_target']}
    exists = conn.execute(sa.select(sa.literal(1)).where(key)).first()
    if exists is None:
        conn.execute(_ASSOCIATIONS.insert().values(
            namespace_id=ns_id, resource_type_id=rt_id, created_at=now,
            updated_at=now, **fields))
    elif prefer_new:
        conn.execute(_ASSOCIATIONS.update().where(key).values(
            updated_at=now, **fields))


def _delete_namespaces(conn, ns_ids):
    for table in _CHILDREN:
        conn.execute(table.delete().where(table.c.namespace_id.in_(ns_ids)))
    conn.execute(_NAMESPACES.delete().where(_NAMESPACES.c.id.in_(ns_ids)))


def unload():
    """Remove every namespace, its contents and every resource type."""
    with db_engine.get_engine().begin() as conn:
        for table in _TABLES:
            conn.execute(table.delete())
    # Logged once all are gone: the deletes are one transaction.
    for table in _TABLES:
        LOG.info('Table %s has been cleared', table.name)


def catalog(conn):
    """Every namespace as the document a definition file holds, in
    namespace order."""
    namespaces = conn.execute(sa.select(_NAMESPACES).order_by(
        _NAMESPACES.c.namespace)).mappings().all()
    documents = []
    for ns in namespaces:
        ns_id = ns['id']
        associations = conn.execute(
            sa.select(_TYPES.c.name, _ASSOCIATIONS.c.prefix,
                      _ASSOCIATIONS.c.properties_target)
            .join(_TYPES, _TYPES.c.id == _ASSOCIATIONS.c.resource_type_id)
            .where(_ASSOCIATIONS.c.namespace_id == ns_id)
            .order_by(_TYPES.c.name)).mappings().all()
        properties = conn.execute(
            sa.select(_PROPERTIES.c.name, _PROPERTIES.c.json_schema)
            .where(_PROPERTIES.c.namespace_id == ns_id)
            .order_by(_PROPERTIES.c.id)).all()
        objects = conn.execute(
            sa.select(_OBJECTS).where(_OBJECTS.c.namespace_id == ns_id)
            .order_by(_OBJECTS.c.id)).mappings().all()
        tags = conn.execute(
            sa.select(_TAGS.c.name).where(_TAGS.c.namespace_id == ns_id)
            .order_by(_TAGS.c.id)).scalars().all()
        documents.append({
            'namespace': ns['namespace'],
            'display_name': ns['display_name'],
            'description': ns['description'],
            'visibility': ns['visibility'],
            'protected': ns['protected'],
            'owner': ns['owner'],
            'resource_type_associations': [dict(a) for a in associations],
            'properties': {name: json.loads(schema)
                           for name, schema in properties},
            'objects': [{
                'name': obj['name'],
                'description': obj['description'],
                'required': json.loads(obj['required'] or '[]'),
                'properties': json.loads(obj['json_schema'] or '{}'),
            } for obj in objects],
            'tags': [{'name': tag} for tag in tags],
        })
    return documents


def _file_stem(document, taken):
    """Glance's file name: the display name without non-word characters;
    the namespace name when that is empty or already written."""
    for source in (document['display_name'], document['namespace']):
        stem = _NOT_A_WORD.sub('', source or '')
        if stem and stem not in taken:
            return stem
    base = stem or 'namespace'
    n = 2
    while '%s%d' % (base, n) in taken:
        n += 1
    return '%s%d' % (base, n)


def _save(file_path, document):
    """Write *document*; the error, if any."""
    try:
        with open(file_path, 'w', encoding='utf-8') as f:
            json.dump(document, f, indent=4, ensure_ascii=False)
            f.write('\n')
    except OSError as e:
        return e
    return None


def export(path):
    """Write each namespace to ``<path>/<display name>.json``."""
    with db_engine.get_engine().connect() as conn:
        documents = catalog(conn)
    taken = set()
    for document in documents:
        stem = _file_stem(document, taken)
        taken.add(stem)
        file_path = os.path.join(path, stem + '.json')
        if os.path.isfile(file_path):
            LOG.info('Overwriting: %s', file_path)
        error = _save(file_path, document)
        if error is not None:
            LOG.error('%s', error)
            continue
        LOG.info('Namespace %(namespace)s saved in %(file)s',
                 {'namespace': document['namespace'], 'file': file_path})

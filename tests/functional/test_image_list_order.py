"""Image list pages against a model of the rules, on each database.

``db.image_lists`` reads a page as the union of visibility branches, each
split where the leading sort key is NULL, so that indexes serve every
part in order. This walks every page, by marker, of many callers,
visibility filters, member statuses and sorts over a catalog full of the
awkward cases (NULL names, sizes and update times, equal sort values,
equal creation times, deleted, killed and hidden images, memberships of
every status) and compares the result with a plain Python model.
"""

import datetime
import functools
import random
import types
import uuid

import pytest
import sqlalchemy as sa

from glance_import import context
from glance_import.db import engine as db_engine
from glance_import.db import image_lists
from glance_import.db import migration
from glance_import.db import models
from tests import fixtures

PROJECTS = ('p1', 'p2', 'p3')
VISIBILITIES = ('public', 'private', 'shared', 'community')
MEMBER_STATUSES = ('accepted', 'pending', 'rejected')
NULLABLE_DEFAULTS = {'name': '', 'container_format': '', 'disk_format': '',
                     'size': 0, 'updated_at': datetime.datetime(1970, 1, 1)}


def _catalog(rng, count=90):
    """Image rows and membership rows, with collisions on purpose."""
    start = datetime.datetime(2026, 1, 1)
    images, members = [], []
    for i in range(count):
        owner = rng.choice(PROJECTS + (None,))
        visibility = rng.choice(VISIBILITIES)
        created = start + datetime.timedelta(minutes=i // 3)  # ties
        row = {
            'id': str(uuid.UUID(int=rng.getrandbits(128))),
            'name': rng.choice([None, 'a', 'b', 'c', 'B', 'img-%d' % i]),
            'disk_format': rng.choice([None, 'raw', 'qcow2']),
            'container_format': rng.choice([None, 'bare']),
            'size': rng.choice([None, 0, 5, 5, 1000, i]),
            'status': rng.choice(['active'] * 6 + ['queued', 'killed']),
            'visibility': visibility, 'owner': owner,
            'min_disk': 0, 'min_ram': 0, 'protected': False,
            'os_hidden': rng.random() < 0.1,
            'deleted': rng.random() < 0.1,
            'created_at': created,
            'updated_at': rng.choice(
                [None, created, created + datetime.timedelta(hours=1)]),
        }
        images.append(row)
        for project in PROJECTS:
            if project != owner and rng.random() < 0.4:
                members.append({
                    'image_id': row['id'], 'member': project,
                    'status': rng.choice(MEMBER_STATUSES),
                    'can_share': False, 'created_at': created,
                    'updated_at': created})
    return images, members


@pytest.fixture(scope='module')
def catalog(tmp_path_factory):
    for url in fixtures.fresh_database(tmp_path_factory.mktemp('db')):
        db_engine.configure(types.SimpleNamespace(
            database=types.SimpleNamespace(connection=url, max_retries=3)))
        migration.upgrade()
        images, members = _catalog(random.Random(7))
        with db_engine.get_engine().begin() as conn:
            conn.execute(sa.insert(models.Image.__table__), images)
            conn.execute(sa.insert(models.ImageMember.__table__), members)
        yield images, members
        db_engine.dispose()


def _visible(image, caller, visibility, member_status, memberships):
    """The listing rules of Glance, one image at a time."""
    if image['deleted'] or image['status'] == 'killed' or \
            image['os_hidden']:
        return False
    project, is_admin = caller
    vis, own = image['visibility'], (project is not None
                                     and image['owner'] == project)
    if visibility is None:
        if vis == 'community' and not own:
            return False
    elif visibility != 'all' and vis != visibility:
        return False
    if is_admin:
        return True
    membership = memberships.get((image['id'], project))
    shared_with_me = vis == 'shared' and membership is not None and (
        member_status == 'all' or membership == member_status)
    return vis in ('public', 'community') or own or shared_with_me


def _sort_value(image, key):
    value = image[key]
    if isinstance(value, str) and fixtures.db_kind() == 'mysql':
        # MySQL compares text by its case-insensitive collation.
        value = value.lower()
    if key in NULLABLE_DEFAULTS:
        return (0, NULLABLE_DEFAULTS[key]) if value is None else (1, value)
    return value


def _expected(images, memberships, caller, visibility, member_status, keys,
              dirs):
    keys, dirs = list(keys), list(dirs)
    for tiebreak in ('created_at', 'id'):
        if tiebreak not in keys:
            keys.append(tiebreak)
            dirs.append(dirs[-1])

    def compare(a, b):
        for key, direction in zip(keys, dirs, strict=True):
            x, y = _sort_value(a, key), _sort_value(b, key)
            if x != y:
                return (-1 if x < y else 1) * (1 if direction == 'asc'
                                               else -1)
        return 0

    shown = [image for image in images if _visible(
        image, caller, visibility, member_status, memberships)]
    return [image['id'] for image in sorted(
        shown, key=functools.cmp_to_key(compare))]


def _walk(caller, visibility, member_status, keys, dirs, limit):
    """Every page, following markers; the ids in order."""
    project, is_admin = caller
    ctx = context.RequestContext(project_id=project, is_admin=is_admin,
                                 roles=['admin' if is_admin else 'member'])
    ids, marker = [], None
    for _ in range(200):
        page, full = image_lists.image_get_all(
            ctx, visibility=visibility, member_status=member_status,
            sort_keys=keys, sort_dirs=dirs, marker=marker, limit=limit)
        ids.extend(image.id for image in page)
        if not full:
            return ids
        # A full page holds as many images as asked for: branches that
        # overlapped would show here as a short page.
        assert len(page) == limit
        marker = page[-1].id
    raise AssertionError('the walk did not end')


CALLERS = [('p1', False), ('p2', False), (None, False), ('p1', True),
           (None, True)]
SORTS = [((key,), (direction,)) for key in image_lists.SORT_KEYS
         for direction in ('asc', 'desc')] + [
    (('name', 'size'), ('asc', 'desc')),
    (('size', 'name'), ('desc', 'asc')),
    (('disk_format', 'updated_at'), ('asc', 'asc'))]


@pytest.mark.parametrize('keys,dirs', SORTS,
                         ids=['%s:%s' % (','.join(k), ','.join(d))
                              for k, d in SORTS])
def test_every_sort_walks_the_model_order(catalog, keys, dirs):
    images, members = catalog
    memberships = {(m['image_id'], m['member']): m['status']
                   for m in members}
    for caller in CALLERS:
        for limit in (4, 1000):
            expected = _expected(images, memberships, caller, None,
                                 'accepted', keys, dirs)
            assert _walk(caller, None, 'accepted', keys, dirs,
                         limit) == expected, (caller, limit)


@pytest.mark.parametrize('visibility',
                         [None, 'all', *VISIBILITIES])
@pytest.mark.parametrize('member_status', ['accepted', 'pending', 'all'])
def test_every_visibility_filter_matches_the_model(catalog, visibility,
                                                   member_status):
    images, members = catalog
    memberships = {(m['image_id'], m['member']): m['status']
                   for m in members}
    for caller in CALLERS:
        for keys, dirs in ((('created_at',), ('desc',)),
                           (('name',), ('asc',)), (('size',), ('desc',))):
            expected = _expected(images, memberships, caller, visibility,
                                 member_status, keys, dirs)
            assert _walk(caller, visibility, member_status, keys, dirs,
                         5) == expected, (caller, keys, dirs)


def test_catalog_has_the_awkward_cases(catalog):
    """The walks above meet NULL sort values, ties and every branch."""
    images, members = catalog
    assert any(i['name'] is None for i in images)
    assert any(i['size'] is None for i in images)
    names = [i['name'] for i in images if i['name'] is not None]
    assert len(names) > len(set(names))
    created = [i['created_at'] for i in images]
    assert len(created) > len(set(created))
    assert {i['visibility'] for i in images} == set(VISIBILITIES)
    assert {m['status'] for m in members} == set(MEMBER_STATUSES)

"""bench/scale.py still runs: the fill, every call and the marker walk.

Tiny catalogs, glance_import alone (CI has no Glance 33), on the database
the suite is configured for. Nothing here asserts a timing: the point is
that the fill writes the catalog mix into the real schema and that every
call answers sane pages.
"""

import importlib.util
import json
import os
import sys
import urllib.parse

import pytest
import sqlalchemy as sa

from tests import fixtures

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'bench')

SEED = 7
# Two steps, as a run grows its catalog: the second adds the difference.
STEPS = (100, 400)
WALK_LIMIT = 5


@pytest.fixture
def scale():
    """bench/scale.py, loaded as the benchmark runs it."""
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    spec = importlib.util.spec_from_file_location(
        'scale', os.path.join(BENCH_DIR, 'scale.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def serve(tmp_path):
    """``serve(url)``: glance_import in-process on the database *url*.

    Not service_factory: that one also creates and migrates the suite's
    shared database, seconds this test has no use for.
    """
    running = []

    def start(url):
        directory = tmp_path / 'api'
        directory.mkdir()
        running.append(fixtures.InProcessService(str(directory), url))
        return running[-1].start()

    yield start
    for svc in running:
        svc.stop()


def _fill_in_steps(scale, url):
    """Fill *url* (our schema) the way a run grows its catalog."""
    engine = sa.create_engine(url)
    images = []
    try:
        for size in STEPS:
            added = scale.catalog(SEED, len(images), size)
            images += added
            scale.fill(engine, added, chunk=150)
            scale.analyze(engine)
    finally:
        engine.dispose()
    return images


def _count(conn, sql):
    return conn.execute(sa.text(sql)).all()


def _expected(query, images, visible, project):
    """How many images the catalog says *query* returns for *project*."""
    params = dict(urllib.parse.parse_qsl(query))
    count = 0
    for image in images:
        c, props, tags = image['columns'], image['properties'], image['tags']
        if params.get('visibility') == 'shared':
            # member_status=all: pending memberships count too.
            ok = c['visibility'] == 'shared' and (
                c['owner'] == project
                or any(m == project for m, _ in image['members']))
        else:
            ok = c['id'] in visible and params.get(
                'visibility', c['visibility']) == c['visibility']
        if 'prop_03' in params:
            ok = ok and props['prop_03'] == params['prop_03']
        if 'tag' in params:
            ok = ok and params['tag'] in tags
        count += ok
    return min(int(params['limit']), count)


def _assert_catalog_mix(scale, url, images):
    n = STEPS[-1]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        mix = dict(_count(conn, 'SELECT visibility, COUNT(*) FROM images '
                                'GROUP BY visibility'))
        assert mix == {'public': n // 20, 'shared': n // 10,
                       'private': n - n // 20 - n // 10}
        (owners, statuses), = _count(
            conn, 'SELECT COUNT(DISTINCT owner), COUNT(DISTINCT status) '
                  'FROM images')
        assert 50 < owners <= 100 and statuses == 1
        props = _count(conn, 'SELECT name, COUNT(*) FROM image_properties '
                             'GROUP BY name')
        assert dict(props) == dict.fromkeys(scale.PROPERTIES, n)
        (values,), = _count(conn, 'SELECT COUNT(DISTINCT value) '
                                  'FROM image_properties')
        assert values == 10
        (tags,), = _count(conn, 'SELECT COUNT(*) FROM image_tags')
        assert tags == 2 * n
        members = dict(_count(conn, 'SELECT status, COUNT(*) FROM '
                                    'image_members GROUP BY status'))
        assert set(members) == {'accepted', 'pending'}
        assert members['accepted'] > members['pending']
        assert n // 10 <= sum(members.values()) <= 3 * n // 10
        (shared_only,), = _count(
            conn, "SELECT COUNT(*) FROM image_members m JOIN images i ON "
                  "i.id = m.image_id WHERE i.visibility <> 'shared'")
        assert shared_only == 0
        (locations,), = _count(conn, 'SELECT COUNT(*) FROM image_locations')
        assert locations == n
        (created,), = _count(conn, 'SELECT COUNT(DISTINCT created_at) '
                                   'FROM images')
        assert created == n
    engine.dispose()
    # The same seed gives the same images; ids never repeat.
    assert scale.catalog(SEED, 0, 3) == images[:3]
    assert len({i['columns']['id'] for i in images}) == n


# One test for the fill and the calls: under pytest-xdist, two tests
# would each create, migrate and fill a database of their own.
def test_fill_then_every_call_answers_sane_pages(scale, fresh_db, tmp_path,
                                                 serve):
    url = fresh_db
    # Our schema the way the benchmark creates it (db sync).
    scale.Ours(str(tmp_path / 'ours'), url).configure()
    images = _fill_in_steps(scale, url)
    _assert_catalog_mix(scale, url, images)

    svc = serve(url)
    ep = scale.bench.Endpoint(svc.url, scale.caller_headers())
    logged = []

    result = scale.measure({'ours': ep}, images, calls=1, warmup=0,
                           walk_limit=WALK_LIMIT, log=logged.append)

    by_id = {i['columns']['id']: i for i in images}
    visible = scale.visible_ids(images)
    for query in scale.CALLS:
        params = dict(urllib.parse.parse_qsl(query))
        answer = result['calls'][query]['ours']
        assert answer['n'] == 1
        assert answer['returned'] == _expected(query, images, visible,
                                               scale.CALLER), query
        got = [by_id[i] for i in answer['ids']]
        if 'prop_03' in params:
            assert all(i['properties']['prop_03'] == 'v5' for i in got)
        if 'tag' in params:
            assert all('t3' in i['tags'] for i in got)
        if params.get('visibility') == 'public':
            assert all(i['columns']['visibility'] == 'public' for i in got)
        if params.get('visibility') == 'shared':
            assert all(i['columns']['visibility'] == 'shared' for i in got)
        else:
            assert set(answer['ids']) <= visible
    # The admin sees every image (the catalog has no community images).
    for query in scale.ADMIN_CALLS:
        answer = result['calls'][query + ' (admin)']['ours']
        assert answer['returned'] == min(len(images), 1000)
    assert result['calls']['limit=1000']['ours']['returned'] == len(visible)
    assert result['calls']['limit=20&visibility=shared&member_status=all'][
        'ours']['returned'] > 0
    # The walk visits every visible image once, in full pages but the last.
    walk = result['walk']['ours']
    assert walk['complete'] and walk['images'] == len(visible)
    assert walk['duplicates'] == walk['unexpected'] == walk['missing'] == 0
    assert walk['largest_page'] == WALK_LIMIT
    assert walk['pages'] == len(visible) // WALK_LIMIT + 1
    assert result['warnings'] == []

    result.update(images=STEPS[-1], added=STEPS[-1], db='test',
                  walk_limit=WALK_LIMIT, fill_s={'ours': 0.1})
    text = scale.size_table(result) + scale.growth_table([result, result])
    assert 'limit=20&prop_03=v5' in text and 'walk limit=5' in text
    json.dumps(result)

    # A capped walk stops after its pages.
    times, pages, complete = scale.walk(ep, limit=2, max_pages=3)
    assert len(times) == 3 and not complete
    assert [len(p) for p in pages] == [2, 2, 2]


def test_differences_name_their_cause(scale):
    images = scale.catalog(SEED, 0, 4)
    by_id = {i['columns']['id']: i for i in images}
    a, b, c, d = by_id
    by_id[a]['columns']['name'] = None
    assert scale.difference('limit=2', [a, b], [a, b], by_id) is None
    nulls = scale.difference('limit=2&sort=name:asc', [a, b], [b, c], by_id)
    assert nulls.startswith('2 image(s) only in one answer')
    assert 'NULL name' in nulls
    by_id[c]['columns']['size'] = by_id[d]['columns']['size']
    ties = scale.difference('limit=2&sort_key=size', [c, d], [d, c], by_id)
    assert ties == 'same images in another order; ties on size'

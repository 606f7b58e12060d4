"""``GET /v2/images`` as the catalog grows: glance_import and Glance 33.

Starts ``glance-import-api`` from this checkout and Glance 33 under uwsgi
(see glance33.py), each with a database of its own on the same server,
then grows both catalogs to each size in turn (1,000 -> 10,000 -> 100,000
images by default) by writing the same images straight into each
service's own schema. At every size, as a normal member of one of the 100
projects, it times a set of list calls (default sort, other sorts, a
property, a tag, shared images, a 1,000-image page, public images) and a
marker walk through every page of the caller's default list: p50 and p99
in milliseconds, sequential requests on one connection per service and
call, so this is latency, not throughput. It warns when the two services
return different images for the same call, and prints one table per size
and how each call grew from the smallest size to the largest::

    python bench/scale.py                         # PostgreSQL, up to 100k
    python bench/scale.py --sizes 1000,10000 --db mysql
    python bench/scale.py --quick                 # smoke run, under a minute
    python bench/scale.py --no-glance --db sqlite # glance_import alone
"""

import argparse
import contextlib
import datetime
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import sqlalchemy as sa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import glance33  # noqa: E402

import bench  # noqa: E402

SERVERS = {
    'postgresql': 'postgresql+psycopg2://postgres@127.0.0.1:5432/%s',
    'mysql': 'mysql+pymysql://root@127.0.0.1:3306/%s?charset=utf8mb4',
}
DATABASES = {'ours': 'gi_scale', 'glance': 'glance_scale'}

PROJECTS = ['project-%02d' % i for i in range(100)]
# The caller: owns about 1 % of the images, a member of some shared ones.
CALLER = PROJECTS[42]
PROPERTIES = ['prop_%02d' % i for i in range(20)]
TAGS = ['t%d' % i for i in range(10)]
DISTROS = ('cirros', 'ubuntu', 'debian', 'fedora', 'centos', 'rocky',
           'alpine', 'windows')
EPOCH = datetime.datetime(2025, 1, 1)
YEAR_S = 365 * 86400
# Coprime to YEAR_S, so image i gets its own second of the year: distinct
# created_at values (whole seconds survive MySQL's DATETIME) in an order
# unrelated to the order of insertion.
STRIDE_S = 1000003
MiB = 1024 * 1024
GiB = 1024 * MiB

# The tables both schemas share, parents first.
TABLES = ('images', 'image_properties', 'image_tags', 'image_members',
          'image_locations')
CHUNK = 5000        # images per insert transaction

CALLS = (
    'limit=20',
    'limit=20&sort=name:asc',
    'limit=20&sort_key=size',
    'limit=20&prop_03=v5',
    'limit=20&tag=t3',
    'limit=20&visibility=shared&member_status=all',
    'limit=1000',
    'limit=20&visibility=public',
)
# The member's limit=1000 page holds as many images as the member sees
# (60 at 1,000 images, 1,000 at 100,000): it measures the page size as
# much as the catalog. An admin gets a full page at every size, which
# isolates what the size of the catalog costs.
ADMIN_CALLS = ('limit=1000',)
ADMIN_HEADERS = {'X-Roles': 'admin,member,reader'}
WARMUP = 3
WALK_LIMIT = 25
SERVICE_NAMES = {'ours': 'glance_import', 'glance': 'Glance 33'}


def caller_headers(project=CALLER):
    """compare.py's trusted headers, for *project*."""
    return dict(compare.HEADERS, **{'X-Project-Id': project,
                                    'X-User-Id': 'user-%s' % project})


# -- the catalog -----------------------------------------------------------

def catalog(seed, start, stop):
    """Images *start* .. *stop* - 1: the same ones on every run of *seed*."""
    return [_image(seed, i) for i in range(start, stop)]


def _image(seed, i):
    """Image number *i*: its columns plus properties, tags and members."""
    rng = random.Random('%d:%d' % (seed, i))
    slot = i % 20       # an exact mix: 1 in 20 public, 2 in 20 shared
    visibility = 'public' if slot == 0 else (
        'shared' if slot <= 2 else 'private')
    owner = rng.choice(PROJECTS)
    created = EPOCH + datetime.timedelta(
        seconds=(i * STRIDE_S + seed) % YEAR_S)
    size = rng.randrange(16 * MiB, 20 * GiB)
    image = {
        'id': str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        'name': '%s-%08x' % (rng.choice(DISTROS), rng.getrandbits(32)),
        'disk_format': rng.choice(('qcow2', 'raw')),
        'container_format': 'bare',
        'size': size,
        'virtual_size': size,
        'status': 'active',
        'visibility': visibility,
        'checksum': '%032x' % rng.getrandbits(128),
        'os_hash_algo': 'sha512',
        'os_hash_value': '%0128x' % rng.getrandbits(512),
        'min_disk': 0,
        'min_ram': 0,
        'owner': owner,
        'protected': False,
        'os_hidden': False,
        'created_at': created,
        'updated_at': created + datetime.timedelta(
            seconds=rng.randrange(30 * 86400)),
        'deleted_at': None,
        'deleted': False,
    }
    # A few NULLs, where the two services may order differently.
    if rng.random() < 0.002:
        image['name'] = None
    if rng.random() < 0.002:
        image['size'] = image['virtual_size'] = None
    members = []
    if visibility == 'shared':
        others = [p for p in PROJECTS if p != owner]
        for member in rng.sample(others, rng.randint(1, 3)):
            status = 'pending' if rng.random() < 0.2 else 'accepted'
            members.append((member, status))
    return {
        'columns': image,
        'properties': {p: 'v%d' % rng.randrange(10) for p in PROPERTIES},
        'tags': rng.sample(TAGS, 2),
        'members': members,
    }


def visible_ids(images, project=CALLER):
    """Ids in *project*'s default list (member_status accepted)."""
    out = set()
    for image in images:
        c = image['columns']
        if (c['visibility'] == 'public' or c['owner'] == project
                or (project, 'accepted') in image['members']):
            out.add(c['id'])
    return out


def table_rows(images):
    """Rows of the five tables, with every column either schema needs."""
    rows = {name: [] for name in TABLES}
    for image in images:
        c = image['columns']
        stamps = {'created_at': c['created_at'],
                  'updated_at': c['updated_at'], 'deleted_at': None,
                  'deleted': False}
        rows['images'].append(c)
        for name, value in image['properties'].items():
            rows['image_properties'].append(
                {'image_id': c['id'], 'name': name, 'value': value,
                 **stamps})
        for tag in image['tags']:
            rows['image_tags'].append(
                {'image_id': c['id'], 'value': tag, **stamps})
        for member, status in image['members']:
            rows['image_members'].append(
                {'image_id': c['id'], 'member': member, 'status': status,
                 'can_share': False, **stamps})
        rows['image_locations'].append(
            {'image_id': c['id'], 'status': 'active', 'meta_data': {},
             'value': 'file:///var/lib/glance/images/%s' % c['id'],
             **stamps})
    return rows


# -- databases -------------------------------------------------------------

def database_url(kind, name, workdir):
    """SQLAlchemy URL of database *name* on the *kind* server."""
    if kind == 'sqlite':
        return 'sqlite:///%s' % os.path.join(workdir, name + '.sqlite')
    return SERVERS[kind] % name


def _server_engine(url):
    """An autocommit engine on the server of *url*, outside its database."""
    url = sa.engine.make_url(url)
    # PostgreSQL needs some database to connect to; MySQL none ('').
    admin = url.set(database='postgres' if url.get_backend_name() ==
                    'postgresql' else '')
    return sa.create_engine(admin, isolation_level='AUTOCOMMIT')


def drop_database(url):
    """Remove the database of *url* if it exists."""
    url = sa.engine.make_url(url)
    if url.get_backend_name() == 'sqlite':
        with contextlib.suppress(FileNotFoundError):
            os.remove(url.database)
        return
    engine = _server_engine(url)
    with engine.connect() as conn:
        if url.get_backend_name() == 'postgresql':
            # A kept database may still have a session from a past run.
            conn.execute(sa.text(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = :name AND pid <> pg_backend_pid()'),
                {'name': url.database})
        conn.execute(sa.text('DROP DATABASE IF EXISTS %s' % url.database))
    engine.dispose()


def recreate_database(url):
    """An empty database at *url*, dropped first if it was there."""
    drop_database(url)
    url = sa.engine.make_url(url)
    if url.get_backend_name() == 'sqlite':
        os.makedirs(os.path.dirname(url.database), exist_ok=True)
        return
    engine = _server_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text('CREATE DATABASE %s' % url.database))
    engine.dispose()


def fill(engine, images, chunk=CHUNK):
    """Insert *images* into the five tables as they are in *engine*'s
    database (reflected, so either schema works); returns seconds."""
    metadata = sa.MetaData()
    metadata.reflect(engine, only=TABLES)
    t0 = time.monotonic()
    for start in range(0, len(images), chunk):
        rows = table_rows(images[start:start + chunk])
        with engine.begin() as conn:
            for name in TABLES:
                _insert(conn, metadata.tables[name], rows[name])
    return time.monotonic() - t0


def _insert(conn, table, rows):
    """Bulk insert: COPY on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    # Only the columns this schema has; ids come from its sequences.
    columns = [c.name for c in table.columns if c.name in rows[0]]
    if conn.dialect.name == 'postgresql':
        text = io.StringIO(''.join(
            '\t'.join([_copy_text(row[c]) for c in columns]) + '\n'
            for row in rows))
        cursor = conn.connection.cursor()
        cursor.copy_expert('COPY %s (%s) FROM STDIN' % (
            table.name, ', '.join('"%s"' % c for c in columns)), text)
        cursor.close()
        return
    # A JSON column takes the dict, a text column (Glance's meta_data,
    # JSON on MariaDB) its JSON text.
    as_text = [c for c in columns if isinstance(rows[0][c], dict)
               and not isinstance(table.c[c].type, sa.JSON)]
    conn.execute(table.insert(), [
        {c: json.dumps(row[c]) if c in as_text else row[c] for c in columns}
        for row in rows])


def _copy_text(value):
    """*value* in COPY's text format (generated values need no escapes)."""
    # Most values are strings: test for them first, this runs per cell.
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return r'\N'
    if kind is bool:
        return 't' if value else 'f'
    if kind is dict:
        return json.dumps(value)
    return str(value)       # numbers; datetimes as 'YYYY-MM-DD HH:MM:SS'


def analyze(engine):
    """Fresh planner statistics after a fill; returns seconds."""
    t0 = time.monotonic()
    with engine.begin() as conn:
        if conn.dialect.name == 'mysql':
            conn.execute(sa.text('ANALYZE TABLE %s' % ', '.join(TABLES)))
        else:
            conn.execute(sa.text('ANALYZE'))
    return time.monotonic() - t0


# -- the services ----------------------------------------------------------

def venv_script(name):
    """The console script *name* of the Python running this benchmark."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        path = os.path.join(compare.ROOT, '.venv', 'bin', name)
    return path


class Ours(compare.Ours):
    """``glance-import-api`` from this checkout on the database *url*."""

    def __init__(self, workdir, url, workers=2):
        super().__init__(workdir, http_port=80, workers=workers)
        self.database = url
        self.conf = os.path.join(self.workdir, 'glance-api.conf')

    def configure(self):
        """compare.py's configuration on our database, and its schema."""
        os.makedirs(self.workdir, exist_ok=True)
        text, count = re.subn(
            r'(?m)^connection = .*$', 'connection = %s' % self.database,
            compare.OURS_CONF.format(workdir=self.workdir, port=self.port,
                                     workers=self.workers,
                                     http_port=self.http_port))
        if count != 1:
            raise RuntimeError('no [database] connection in OURS_CONF')
        with open(self.conf, 'w') as f:
            f.write(text)
        # The service refuses an unmigrated shared database.
        subprocess.run([venv_script('glance-import-manage'),
                        '--config-file', self.conf, 'db', 'sync'],
                       check=True, capture_output=True)

    def start(self, timeout=60):
        self.configure()
        self._log = open(self.log_path, 'ab')  # noqa: SIM115
        self.proc = subprocess.Popen(
            [venv_script('glance-import-api'), '--config-file', self.conf],
            stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        glance33.wait_for(self.url + '/versions', timeout, self.proc,
                          self.log_path)
        return self


# -- measuring -------------------------------------------------------------

def series(ep, query, calls, warmup=WARMUP, headers=None):
    """GET ``/v2/images?query`` *calls* times on one connection, after a
    warm-up; returns (milliseconds of each, the last answer's images)."""
    path = '/v2/images?' + query
    conn = ep.connect()
    try:
        for _ in range(warmup):
            ep.request('GET', path, conn=conn, headers=headers)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            _, _, data = ep.request('GET', path, conn=conn, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    return times, json.loads(data)['images']


def walk(ep, limit=WALK_LIMIT, max_pages=None):
    """Follow ``next`` from the first page of the default list; returns
    the milliseconds of each page and the ids of each page."""
    path = '/v2/images?limit=%d' % limit
    times, pages = [], []
    conn = ep.connect()
    try:
        while path and (max_pages is None or len(pages) < max_pages):
            t0 = time.perf_counter()
            _, _, data = ep.request('GET', path, conn=conn)
            times.append((time.perf_counter() - t0) * 1000)
            body = json.loads(data)
            pages.append([image['id'] for image in body['images']])
            path = body.get('next')
    finally:
        conn.close()
    return times, pages, path is None


def summary(times):
    """p50 and p99 in ms of *times* (already in ms)."""
    ordered = sorted(times)
    return {'p50_ms': round(bench._percentile(ordered, 0.50), 2),
            'p99_ms': round(bench._percentile(ordered, 0.99), 2),
            'n': len(ordered)}


def sort_key(query):
    """The first sort key of a list query (created_at by default)."""
    params = dict(urllib.parse.parse_qsl(query))
    if 'sort' in params:
        return params['sort'].split(',')[0].split(':')[0]
    return params.get('sort_key', 'created_at')


def difference(query, ours, glance, by_id):
    """Why two id lists answering *query* differ; None when equal."""
    if ours == glance:
        return None
    key = sort_key(query)
    both = set(ours) | set(glance)
    values = [by_id[i]['columns'].get(key) for i in both if i in by_id]
    nulls = sum(v is None for v in values)
    reasons = []
    if nulls:
        reasons.append('%d image(s) with a NULL %s (glance_import sorts '
                       'NULL lowest everywhere; Glance leaves it to the '
                       'database: highest on PostgreSQL, lowest on '
                       'MySQL/SQLite)' % (nulls, key))
    present = [v for v in values if v is not None]
    if len(present) != len(set(present)):
        reasons.append('ties on %s' % key)
    if set(ours) == set(glance):
        where = 'same images in another order'
    else:
        where = '%d image(s) only in one answer' % len(
            set(ours) ^ set(glance))
    return '%s; %s' % (where, '; '.join(reasons) or
                       'not explained by NULLs or ties')


def measure(services, images, calls, walk_pages_max=None,
            walk_limit=WALK_LIMIT, warmup=WARMUP, log=print):
    """Every call and the walk against every service, at one size."""
    by_id = {image['columns']['id']: image for image in images}
    result = {'calls': {}, 'walk': {}, 'warnings': []}

    def warn(message):
        log('  WARNING: ' + message)
        result['warnings'].append(message)

    calls_and_callers = [(query, query, None) for query in CALLS] + [
        (query + ' (admin)', query, ADMIN_HEADERS) for query in ADMIN_CALLS]
    for label, query, headers in calls_and_callers:
        answers = {}
        entry = result['calls'][label] = {}
        for name, ep in services.items():
            times, page = series(ep, query, calls, warmup, headers)
            answers[name] = [image['id'] for image in page]
            entry[name] = dict(summary(times), returned=len(page),
                               ids=answers[name])
            log('  %-46s %-13s p50 %8.1f ms  p99 %8.1f ms  (%d images)'
                % (label, SERVICE_NAMES[name], entry[name]['p50_ms'],
                   entry[name]['p99_ms'], len(page)))
        if len(answers) == 2:
            entry['difference'] = difference(
                query, answers['ours'], answers['glance'], by_id)
            if entry['difference']:
                warn('%s: glance_import and Glance 33 return different '
                     'ids: %s' % (label, entry['difference']))
    expected = visible_ids(images)
    walked = {}
    for name, ep in services.items():
        times, pages, complete = walk(ep, walk_limit, walk_pages_max)
        ids = [i for page in pages for i in page]
        walked[name] = ids
        result['walk'][name] = dict(
            summary(times), pages=len(pages), images=len(ids),
            complete=complete, duplicates=len(ids) - len(set(ids)),
            largest_page=max(map(len, pages), default=0),
            missing=len(expected - set(ids)) if complete else None,
            unexpected=len(set(ids) - expected))
        w = result['walk'][name]
        log('  walk limit=%d %-26s p50 %8.1f ms  p99 %8.1f ms  (%d pages,'
            ' %d images%s)' % (walk_limit, SERVICE_NAMES[name], w['p50_ms'],
                               w['p99_ms'], w['pages'], w['images'],
                               '' if complete else ', capped'))
        if (w['duplicates'] or w['unexpected'] or w['missing']
                or w['largest_page'] > walk_limit):
            warn('walk of %s: %d duplicate(s), %d image(s) not visible to '
                 'the caller, %s visible image(s) never reached, largest '
                 'page %d' % (SERVICE_NAMES[name], w['duplicates'],
                              w['unexpected'], w['missing'],
                              w['largest_page']))
    if len(walked) == 2:
        common = min(map(len, walked.values()))
        result['walk']['difference'] = difference(
            'limit=%d' % walk_limit, walked['ours'][:common],
            walked['glance'][:common], by_id)
        if result['walk']['difference']:
            warn('walk: glance_import and Glance 33 walk different ids: %s'
                 % result['walk']['difference'])
    result['visible'] = len(expected)
    return result


# -- the tables ------------------------------------------------------------

def _ms(value):
    return '-' if value is None else '%.1f' % value


def _ratio(glance, ours):
    return 'x%.1f' % (glance / ours) if glance and ours else '-'


def _rows(result):
    """(label, ours figures, Glance figures or None) for one size."""
    out = [(query, r['ours'], r.get('glance'))
           for query, r in result['calls'].items()]
    walk = result['walk']
    pages = '/'.join(str(walk[name]['pages']) for name in ('ours', 'glance')
                     if name in walk)
    out.append(('walk limit=%d, every page (%s pages)'
                % (result['walk_limit'], pages), walk['ours'],
                walk.get('glance')))
    return out


def size_table(result):
    """The table of one size: p50/p99 of both and the ratio."""
    fill = result['fill_s']
    lines = ['%s images on %s; %s sees %d in its default list; filled '
             '+%s in %s' % (
                 format(result['images'], ','), result['db'], CALLER,
                 result['visible'], format(result['added'], ','),
                 ', '.join('%s %.1f s' % (SERVICE_NAMES[name], seconds)
                           for name, seconds in fill.items()))]
    row = '%-50s %9s %9s %11s %9s %8s'
    header = row % ('call', 'ours p50', 'ours p99', 'Glance p50',
                    'Glance p99', 'G/ours')
    lines += [header, '-' * len(header)]
    for label, ours, glance in _rows(result):
        glance = glance or {}
        lines.append(row % (label, _ms(ours['p50_ms']), _ms(ours['p99_ms']),
                            _ms(glance.get('p50_ms')),
                            _ms(glance.get('p99_ms')),
                            _ratio(glance.get('p50_ms'), ours['p50_ms'])))
    lines += ['  WARNING: %s' % w for w in result['warnings']]
    return '\n'.join(lines)


def growth_table(results):
    """p50 at the largest size over p50 at the smallest, per call; and,
    where the smallest catalog gave the caller a shorter answer than the
    largest, the growth from the first size that gave as many images."""
    small, large = results[0], results[-1]
    lines = ['Growth of p50 from %s to %s images (largest / smallest)'
             % (format(small['images'], ','), format(large['images'], ','))]
    row = '%-50s %9s %9s %13s  %s'
    header = row % ('call', 'ours', 'Glance', 'images', 'ours, same answer')
    lines += [header, '-' * len(header)]
    per_size = [_rows(result) for result in results]
    for i, (label, l_ours, l_glance) in enumerate(per_size[-1]):
        _, s_ours, s_glance = per_size[0][i]
        returned = [rows[i][1].get('returned') for rows in per_size]
        same = ''
        if returned[0] is not None and returned[0] != returned[-1]:
            first = next((j for j, n in enumerate(returned)
                          if n == returned[-1]), len(results) - 1)
            if first < len(results) - 1:
                same = '%s (from %s)' % (
                    _ratio(l_ours['p50_ms'], per_size[first][i][1]['p50_ms']),
                    format(results[first]['images'], ','))
            else:
                same = 'no smaller size gave %d' % returned[-1]
        lines.append(row % (
            re.sub(r' \(.*pages\)$', '', label),
            _ratio(l_ours['p50_ms'], s_ours['p50_ms']),
            _ratio(l_glance and l_glance['p50_ms'],
                   s_glance and s_glance['p50_ms']),
            '' if returned[0] is None else '%d -> %d' % (returned[0],
                                                        returned[-1]),
            same))
    return '\n'.join(lines)


def tables(report):
    """Every size's table, then the growth table."""
    results = report['results']
    return '\n\n'.join([size_table(r) for r in results] +
                       [growth_table(results)])


# -- the run ---------------------------------------------------------------

def parse_sizes(text):
    sizes = sorted({int(s) for s in text.replace('_', '').split(',') if s})
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError('sizes must be positive integers')
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=parse_sizes,
                        default=[1000, 10000, 100000],
                        help='catalog sizes, grown in this order '
                             '(default 1000,10000,100000)')
    parser.add_argument('--db', choices=('postgresql', 'mysql', 'sqlite'),
                        default='postgresql',
                        help='database server for both services')
    parser.add_argument('--calls', type=int, default=25,
                        help='timed requests per call and service')
    parser.add_argument('--walk-pages-max', type=int, default=None,
                        help='stop each marker walk after this many pages')
    parser.add_argument('--walk-limit', type=int, default=WALK_LIMIT,
                        help='page size of the marker walk')
    parser.add_argument('--no-glance', action='store_true',
                        help='measure glance_import alone')
    parser.add_argument('--quick', action='store_true',
                        help='sizes 200,1000, 5 calls, walks capped')
    parser.add_argument('--keep', action='store_true',
                        help='leave both databases behind')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--workers', type=int, default=2,
                        help='glance_import worker processes')
    parser.add_argument('--glance-processes', type=int, default=2)
    parser.add_argument('--glance-venv', default=None,
                        help='virtualenv for Glance 33 (created if missing;'
                             ' default %s)' % glance33.default_venv())
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-scale'),
        help='service state (and SQLite files)')
    parser.add_argument('--output', help='results file (JSON)')
    parser.add_argument('--report', metavar='JSON',
                        help='print the tables of an earlier run and stop')
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            print(tables(json.load(f)))
        return 0
    if args.quick:
        args.sizes, args.calls = [200, 1000], 5
        args.walk_pages_max = args.walk_pages_max or 10

    def log(message):
        print(message, flush=True)

    workdir = os.path.abspath(args.workdir)
    names = ['ours'] + ([] if args.no_glance else ['glance'])
    urls = {name: database_url(args.db, DATABASES[name], workdir)
            for name in names}
    venv = None if args.no_glance else glance33.ensure_venv(
        args.glance_venv, log=log)
    for url in urls.values():
        recreate_database(url)
    engines = {name: sa.create_engine(url) for name, url in urls.items()}
    report = {
        **compare.run_facts(),
        'db': args.db, 'sizes': args.sizes, 'calls': args.calls,
        'walk_pages_max': args.walk_pages_max, 'seed': args.seed,
        'caller': CALLER,
        'deployments': {'ours': {'workers': args.workers},
                        'glance': {'processes': args.glance_processes}},
        'results': [],
    }
    servers = {'ours': Ours(os.path.join(workdir, 'glance_import'),
                            urls['ours'], args.workers)}
    if not args.no_glance:
        servers['glance'] = glance33.Glance(
            venv, os.path.join(workdir, 'glance33'),
            processes=args.glance_processes, database=urls['glance'])
    started = []
    images = []
    try:
        for server in servers.values():
            server.start()
            started.append(server)
        log('  '.join('%s at %s' % (SERVICE_NAMES[n], s.url)
                      for n, s in servers.items()))
        services = {name: bench.Endpoint(server.url, caller_headers())
                    for name, server in servers.items()}
        for size in args.sizes:
            added = catalog(args.seed, len(images), size)
            images += added
            result = {'images': size, 'added': len(added), 'db': args.db,
                      'walk_limit': args.walk_limit, 'fill_s': {},
                      'analyze_s': {}}
            for name, engine in engines.items():
                log('[%s] adding %d images (%d in all)'
                    % (SERVICE_NAMES[name], len(added), size))
                result['fill_s'][name] = round(fill(engine, added), 2)
                result['analyze_s'][name] = round(analyze(engine), 2)
                log('  filled in %.1f s, ANALYZE %.1f s'
                    % (result['fill_s'][name], result['analyze_s'][name]))
            log('measuring at %d images' % size)
            result.update(measure(
                services, images, args.calls, walk_pages_max=
                args.walk_pages_max, walk_limit=args.walk_limit, log=log))
            report['results'].append(result)
            log('\n' + size_table(result) + '\n')
    finally:
        for server in reversed(started):
            server.stop()
        for engine in engines.values():
            engine.dispose()
        if not args.keep:
            for url in urls.values():
                drop_database(url)
    compare.finish_report(report, tables, args.output or os.path.join(
        workdir, 'scale-%s.json' % time.strftime('%Y%m%d-%H%M%S')), log)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Who may manage the image cache, behind Keystone, on every database.

The personas, rows and checks are the policy matrix's
(test_policy_matrix.py); the service has a cache and the
keystone+cachemanagement flavor, so the legacy calls are rows too.
Glance 33's defaults make every cache call an administrator's. The
calls on one image look it up first: a caller who cannot see it gets
404, unless (DELETE) the cache holds it, which makes it a 403.
"""

import uuid

import pytest

from glance_import.api import routes
from tests import fixtures
from tests import keystone as ks
from tests.functional import test_policy_matrix as matrix
from tests.functional.test_policy_matrix import expect
from tests.functional.test_policy_matrix import row
from tests.functional.test_policy_matrix import source  # noqa: F401

ADMINS_ONLY = expect(200, 403, 403, 403)
CACHE = '/v2/cache'
ONE = CACHE + '/{image_id}'
CACHE_ROWS = [
    row('GET', CACHE, ADMINS_ONLY, setup='cached'),
    row('DELETE', CACHE, expect(204, 403, 403, 403), setup='cached'),
    row('PUT', ONE, expect(202, 403, 403, 404), setup='active'),
    row('DELETE', ONE, expect(204, 403, 403, 404), setup='active'),
    row('DELETE', ONE, expect(204, 403, 403, 403), setup='cached',
        variant='cached'),
    row('GET', CACHE + '/nodes/{image_id}', ADMINS_ONLY, setup='cached'),
    row('POST', CACHE + '/clean', ADMINS_ONLY),
    row('POST', CACHE + '/prune', ADMINS_ONLY),
]
# The legacy calls: Glance's manage_image_cache rule, 200 throughout.
LEGACY_ROWS = [
    row('GET', '/v2/cached_images', ADMINS_ONLY, setup='cached'),
    row('DELETE', '/v2/cached_images', ADMINS_ONLY, setup='cached'),
    row('DELETE', '/v2/cached_images/{image_id}', ADMINS_ONLY,
        setup='cached'),
    row('GET', '/v2/queued_images', ADMINS_ONLY, setup='queued'),
    row('DELETE', '/v2/queued_images', ADMINS_ONLY, setup='queued_only'),
    row('PUT', '/v2/queued_images/{image_id}', ADMINS_ONLY, setup='queued'),
    row('DELETE', '/v2/queued_images/{image_id}', ADMINS_ONLY,
        setup='queued_only'),
]


class CacheWorld(matrix.World):
    """The matrix's world plus images in the cache or its queue."""

    def cache_state(self):
        return self._ok(self.admin.get(CACHE), 200, 'cache state').json()

    def setup(self, name):
        if name == 'queued_only':
            # Only in the queue; the worker (run hourly) leaves it there.
            ctx = self.setup('none')
            ctx.update(image_id=str(uuid.uuid4()), ghost=True)
            self._ok(self.admin.put('/v2/queued_images/%s'
                                    % ctx['image_id']), 200, 'legacy queue')
            return ctx
        if name != 'cached':
            return super().setup(name)
        ctx = super().setup('active')
        image_id = ctx['image_id']
        self._ok(self.admin.put('%s/%s' % (CACHE, image_id)), 202, 'queue')
        fixtures.wait_until(lambda: self._cached_only(image_id), 60,
                            message='image %s cached' % image_id)
        return ctx

    def _cached_only(self, image_id):
        # The queue entry goes just after the file is in place.
        state = self.cache_state()
        return (image_id in [e['image_id'] for e in state['cached_images']]
                and image_id not in state['queued_images'])

    def shared_setup(self, name):
        # A clear of the whole cache by one row must not empty another's.
        return self.setup(name)

    def snapshot(self, ctx):
        """The matrix's, plus where the cache has the row's image. Only
        that image: the worker may drop other queued ids meanwhile."""
        image = None if ctx.get('ghost') else super().snapshot(ctx)
        state = self.cache_state()
        image_id = ctx.get('image_id')
        return {'image': image,
                'cached': image_id in [e['image_id'] for e in
                                       state['cached_images']],
                'queued': image_id in state['queued_images']}


@pytest.fixture(scope='module')
def world(keystone, tmp_path_factory, test_db_url, source):  # noqa: F811
    directory = tmp_path_factory.mktemp('cache-policy')
    proc = ks.start_service(keystone, str(directory), test_db_url, {
        'paste_deploy.flavor': 'keystone+cachemanagement',
        'image_cache_dir': str(directory / 'cache'),
        'cache_prefetcher_interval': 3600,
        'worker_self_reference_url': 'http://cache-policy.example:9292',
    })
    try:
        yield CacheWorld(keystone, proc.url, source)
    finally:
        proc.stop()


def test_every_cache_route_has_a_row():
    covered = {(r.path, r.method) for r in CACHE_ROWS}
    cache_routes = {(path, method) for path, methods in routes.ROUTES.items()
                    if path.startswith(CACHE) for method in methods}
    assert cache_routes == covered


@pytest.mark.parametrize('persona', matrix.PERSONAS)
@pytest.mark.parametrize('r', CACHE_ROWS + LEGACY_ROWS, ids=matrix._row_id)
def test_cache_policy(world, r, persona):
    resp, ctx = matrix.check_row(world, r, persona)
    if resp.status_code >= 400:
        return
    image_id = ctx.get('image_id')
    if r.method == 'GET' and r.path == CACHE:
        assert image_id in [e['image_id'] for e in
                            resp.json()['cached_images']]
    if r.path == CACHE + '/nodes/{image_id}':
        assert resp.json() == ['http://cache-policy.example:9292']
    if r.method == 'GET' and r.path == '/v2/cached_images':
        assert image_id in [e['image_id'] for e in
                            resp.json()['cached_images']]
    if r.method == 'DELETE' and 'image_id' in r.path:
        state = world.cache_state()
        assert image_id not in state['queued_images']
        assert image_id not in [e['image_id'] for e in
                                state['cached_images']]
    if r.method == 'PUT' and r.path == ONE:
        # The worker, woken, caches it.
        fixtures.wait_until(
            lambda: image_id in [e['image_id'] for e in
                                 world.cache_state()['cached_images']],
            60, message='image %s cached' % image_id)
    if r.method == 'PUT' and r.path.startswith('/v2/queued_images'):
        assert image_id in world.cache_state()['queued_images']

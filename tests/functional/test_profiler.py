"""osprofiler tracing as in Glance: with ``[profiler] enabled`` a request
signed with one of ``hmac_keys`` is traced (WSGI and SQL spans) into the
collector of ``connection_string`` (here the Redis of the jobboard
tests); unsigned requests are not."""

import uuid

import pytest
import requests

redis = pytest.importorskip('redis')

REDIS = 'redis://127.0.0.1:6379'
KEY = 'trace-secret'


@pytest.fixture
def api(process_factory):
    return process_factory({'profiler.enabled': True,
                            'profiler.hmac_keys': KEY,
                            'profiler.connection_string': REDIS,
                            'profiler.trace_sqlalchemy': True})


def _signed_headers(base_id):
    from osprofiler import profiler
    from osprofiler import web
    profiler.init(KEY, base_id=base_id)
    try:
        return web.get_trace_id_headers()
    finally:
        profiler.clean()


def _report(base_id):
    from oslo_config import cfg
    from osprofiler import opts
    from osprofiler.drivers import base
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf)
    conf([], default_config_files=[])
    return base.get_driver(REDIS, conf=conf).get_report(base_id)


def _names(node):
    names = [node['info'].get('name')]
    for child in node.get('children', []):
        names.extend(_names(child))
    return names


def test_a_signed_request_is_traced(api):
    base_id = str(uuid.uuid4())
    headers = dict(_signed_headers(base_id), **{
        'X-Project-Id': 'p', 'X-Roles': 'member'})
    resp = requests.get(api.url + '/v2/images', headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    names = [n for child in _report(base_id)['children']
             for n in _names(child)]
    assert 'wsgi' in names
    assert 'db' in names


def test_an_unsigned_request_is_not(api):
    base_id = str(uuid.uuid4())
    headers = _signed_headers(base_id)
    headers['X-Trace-HMAC'] = 'forged'
    resp = requests.get(api.url + '/v2/images', headers=dict(
        headers, **{'X-Project-Id': 'p'}), timeout=30)
    assert resp.status_code == 200, resp.text
    assert _report(base_id)['children'] == []

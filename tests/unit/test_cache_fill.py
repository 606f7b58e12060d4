"""Filling the image cache from a stream: the tee of a download, the
verification before a file becomes visible, one writer per image."""

import hashlib
import os
import types
import uuid

import pytest
from oslo_config import cfg

from glance_import import config
from glance_import.cache import directory as cache_directory
from glance_import.cache import image_cache
from glance_import.db import cache_records

DATA = os.urandom(2 * 1024 * 1024 + 3)


@pytest.fixture
def cache(tmp_path):
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project='glance', default_config_files=[])
    conf.set_override('image_cache_dir', str(tmp_path / 'cache'))
    directory = cache_directory.CacheDirectory(conf.image_cache_dir)
    directory.ensure()
    records = cache_records.CacheRecords(
        cache_records.local_engine(str(tmp_path / 'cache' / 'cache.db')),
        'http://node-a:9292')
    return image_cache.ImageCache(conf, directory, records)


def _image(data=DATA, **values):
    fields = {'id': str(uuid.uuid4()), 'size': len(data),
              'status': 'active', 'checksum': hashlib.md5(data).hexdigest(),
              'os_hash_algo': 'sha512',
              'os_hash_value': hashlib.sha512(data).hexdigest(),
              'locations': []}
    fields.update(values)
    return types.SimpleNamespace(**fields)


def _chunks(data, size=256 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _drain(iterator):
    return b''.join(iterator)


def _finish_fills():
    image_cache._VERIFIER.submit(lambda: None).result(timeout=30)


def test_a_whole_stream_is_cached_after_verification(cache):
    image = _image()
    assert _drain(cache.fill_through(image, _chunks(DATA))) == DATA
    _finish_fills()
    assert cache.cached_path(image) == cache.directory.path(image.id)
    with open(cache.cached_path(image), 'rb') as f:
        assert f.read() == DATA
    [entry] = cache.cached_entries()
    assert (entry['image_id'], entry['size'], entry['hits'],
            entry['checksum']) == (image.id, len(DATA), 0, image.checksum)
    assert os.listdir(os.path.join(cache.directory.base, 'incomplete')) == []


def test_a_stream_the_client_abandons_is_not_cached(cache):
    image = _image()
    stream = cache.fill_through(image, _chunks(DATA))
    next(stream)
    stream.close()
    _finish_fills()
    assert cache.cached_path(image) is None
    assert cache.cached_entries() == []
    assert os.listdir(os.path.join(cache.directory.base, 'incomplete')) == []


@pytest.mark.parametrize('change', ['bytes', 'short', 'long'])
def test_data_unlike_the_image_record_is_not_cached(cache, change):
    image = _image()
    if change == 'bytes':
        data = DATA[:100] + bytes([DATA[100] ^ 1]) + DATA[101:]
    elif change == 'short':
        data = DATA[:-1]
    else:
        data = DATA + b'!'
    assert _drain(cache.fill_through(image, _chunks(data))) == data
    _finish_fills()
    assert cache.cached_path(image) is None
    assert not cache.is_cached(image.id)
    assert cache.cached_entries() == []


def test_the_multihash_is_checked_when_the_md5_matches(cache):
    image = _image(os_hash_value='0' * 128)
    _drain(cache.fill_through(image, _chunks(DATA)))
    _finish_fills()
    assert not cache.is_cached(image.id)


def test_a_second_stream_while_one_fills_passes_through(cache):
    image = _image()
    first = cache.fill_through(image, _chunks(DATA))
    next(first)  # the first writer holds the lock now
    plain = _chunks(DATA)
    assert cache.fill_through(image, plain) is plain
    assert cache.directory.is_being_written(image.id)
    assert _drain(first)
    _finish_fills()
    assert cache.is_cached(image.id)


def test_a_cached_image_is_not_filled_again(cache):
    image = _image()
    _drain(cache.fill_through(image, _chunks(DATA)))
    _finish_fills()
    plain = _chunks(DATA)
    assert cache.fill_through(image, plain) is plain


@pytest.mark.parametrize('status', ['queued', 'saving', 'deactivated'])
def test_only_active_images_fill(cache, status):
    image = _image(status=status)
    plain = _chunks(DATA)
    assert cache.fill_through(image, plain) is plain


def test_a_deactivated_image_already_cached_is_still_served(cache):
    image = _image()
    _drain(cache.fill_through(image, _chunks(DATA)))
    _finish_fills()
    image.status = 'deactivated'
    assert cache.cached_path(image) is not None
    image.status = 'killed'
    assert cache.cached_path(image) is None


def test_a_local_file_is_copied_in_the_background(cache, tmp_path):
    image = _image()
    source = tmp_path / 'store-file'
    source.write_bytes(DATA)
    cache.fill_from_file_later(image, str(source))
    _finish_fills()
    with open(cache.cached_path(image), 'rb') as f:
        assert f.read() == DATA


def test_fetch_tries_the_next_location_when_one_fails(cache):
    from glance_import import exception
    image = _image(locations=[{'url': 'rbd://gone'}, {'url': 's3://ok'}])

    def read(location):
        if location['url'] == 'rbd://gone':
            raise exception.NotFound('gone')
        return _chunks(DATA)
    assert cache.fetch(image, read, lambda location: None) is True
    assert cache.is_cached(image.id)


def test_hits_are_counted_per_node(cache, tmp_path):
    image = _image()
    _drain(cache.fill_through(image, _chunks(DATA)))
    _finish_fills()
    cache.record_hit(image.id)
    cache.record_hit(image.id)
    other_node = cache_records.CacheRecords(cache.records.engine,
                                            'http://node-b:9292')
    assert other_node.hits(image.id) == 0
    assert cache.records.hits(image.id) == 2
    assert cache.nodes_caching(image.id) == ['http://node-a:9292']

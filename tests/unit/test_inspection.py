"""store.inspection: a staged file and a stream get the same verdict."""

import pytest

from glance_import import exception
from glance_import import startup
from glance_import.store import inspection
from tests import fixtures

CHUNK = 64 * 1024


@pytest.fixture
def conf(tmp_path):
    path = fixtures.write_config(str(tmp_path), None, None)
    return startup.load_config(['--config-file', path], 'test')


@pytest.fixture
def images(tmp_path):
    base, top = fixtures.qcow2_pair(tmp_path)
    raw = tmp_path / 'raw'
    raw.write_bytes(b'\0' * 3 * CHUNK + b'data')
    return {'qcow2': base, 'backed': top, 'raw': raw}


def _stream_verdict(conf, path, disk_format, container_format):
    data = path.read_bytes()
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    inspector = inspection.StreamInspector(conf, chunks, disk_format,
                                           container_format)
    assert b''.join(inspector) == data
    return inspector.verdict(len(data))


def _outcome(judge):
    try:
        return judge()
    except exception.InvalidImageData as e:
        return e.msg


@pytest.mark.parametrize('name,disk_format,container_format,expected', [
    ('qcow2', 'qcow2', 'bare', 2 * 1024 * 1024),
    ('qcow2', 'raw', 'bare', 'size'),
    ('raw', 'raw', 'bare', 'size'),
    ('raw', 'ami', 'bare', None),
    ('backed', 'raw', 'bare', 'Image failed safety checks (qcow2)'),
    ('backed', 'qcow2', 'bare', 'Image failed safety checks (qcow2)'),
    ('backed', 'qcow2', 'ovf', None),
])
def test_file_and_stream_share_the_rules(conf, images, name, disk_format,
                                         container_format, expected):
    path = images[name]
    if expected == 'size':
        expected = path.stat().st_size
    from_file = _outcome(lambda: inspection.inspect_file(
        conf, str(path), disk_format, container_format).virtual_size)
    from_stream = _outcome(lambda: _stream_verdict(
        conf, path, disk_format, container_format))
    assert from_file == from_stream
    if isinstance(expected, str):
        assert expected in from_file
    else:
        assert from_file == expected


def test_file_verdict_names_the_detected_format(conf, images):
    verdict = inspection.inspect_file(conf, str(images['qcow2']), 'raw')
    assert verdict == inspection.Verdict(format='qcow2',
                                         virtual_size=images['qcow2']
                                         .stat().st_size)
    verdict = inspection.inspect_file(conf, str(images['raw']), 'qcow2',
                                      'ovf')
    assert verdict == inspection.Verdict(format='qcow2', virtual_size=None)

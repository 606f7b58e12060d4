"""bench/slow_clients.py keeps measuring: a short run against a real
``glance-import-api`` with a handful of clients. No timing is asserted;
the figures must add up."""

from tests import fixtures
from tests.unit.test_bench_smoke import _load


def test_measure_and_table(tmp_path):
    slow_clients = _load('slow_clients')
    proc = fixtures.ServiceProcess(str(tmp_path), None, {
        'request_header_timeout': 1, 'request_header_max_timeout': 1,
        'request_body_timeout': 1})
    proc.start()
    try:
        result = slow_clients.measure(proc.port, slow=2, idle=5,
                                      seconds=5, log=lambda m: None)
    finally:
        proc.stop()
    assert result['ordinary'] == result['answered'] > 0
    assert result['idle_opened'] == 5
    assert result['idle_kept'] == result['idle_sampled'] == 5
    assert result['slow_head_closed'] == result['slow_body_closed'] == 2
    text = slow_clients.table({'ours': result}, 2)
    assert 'ordinary answered within 2 s' in text
    assert 'n/a' in text    # no Glance in this run

"""Slow and idle clients against glance_import and Glance 33, in one run.

Each service runs as it would on a two-core node with four request
threads per process: ``glance-import-api`` with ``workers = 2`` and
``server_threads = 4`` (its connection gate on, with its default
timeouts), and Glance 33 under uwsgi with ``processes = 2`` and
``threads = 4`` (``bench/glance33.py``). Then, for ``--seconds``:

* ``--slow`` connections send a request head a header line every 2 s;
* ``--slow`` uploads send their headers, then a body byte every 2 s;
* ``--idle`` connections made one request and stay open, kept alive;
* one ordinary client sends ``GET /versions`` on a new connection every
  0.2 s, each given 2 s.

Reported per service: the share of ordinary requests answered within
2 s, their median and worst time, how many slow connections the server
closed (and after how long), and how many idle connections it kept.
Nothing is timed against a threshold here: the table is the result.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare
import glance33

OURS_CONF = """\
[DEFAULT]
state_path = {workdir}
bind_host = 127.0.0.1
bind_port = {port}
workers = 2
server_threads = 4
enable_image_import = true
node_staging_uri = file://{workdir}/staging

[database]
connection = sqlite:///{workdir}/glance_import.sqlite

[glance_store]
filesystem_store_datadir = {workdir}/images
"""

HEADERS = {'Content-Type': 'application/json',
           **glance33.TRUSTED_HEADERS, 'X-Project-Id': 'bench'}


def _request(port, method, path, body=None, timeout=10):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=HEADERS)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _queued_image(port):
    status, body = _request(port, 'POST', '/v2/images', json.dumps(
        {'disk_format': 'raw', 'container_format': 'bare'}))
    if status != 201:
        raise RuntimeError('image create answered %d' % status)
    return json.loads(body)['id']


def _gone(sock):
    """Whether the server closed *sock* (its answer, if any, read)."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def measure(port, slow, idle, seconds, log=print):
    """The figures of one service listening on *port*."""
    # Before any slow client holds the service.
    image_ids = [_queued_image(port) for _ in range(slow)]
    kept = []
    for _ in range(idle):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        try:
            conn.request('GET', '/versions', headers=HEADERS)
            conn.getresponse().read()
            kept.append(conn)
        except (OSError, http.client.HTTPException):
            conn.close()
    connections = []
    for _ in range(slow):
        sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        sock.sendall(b'GET /versions HTTP/1.1\r\nHost: bench\r\n')
        connections.append(['head', sock, b'X-Slow: 1\r\n', None])
    for image_id in image_ids:
        sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        head = ('PUT /v2/images/%s/file HTTP/1.1\r\nHost: bench\r\n'
                'Content-Type: application/octet-stream\r\n'
                'X-Identity-Status: Confirmed\r\nX-Roles: admin,member\r\n'
                'X-Project-Id: bench\r\nContent-Length: 100000\r\n\r\n'
                % image_id)
        sock.sendall(head.encode())
        connections.append(['body', sock, b'x', None])
    log('  %d slow heads, %d slow bodies, %d idle connections kept alive'
        % (slow, slow, len(kept)))
    started = time.monotonic()
    stop = threading.Event()

    def trickle():
        # A piece every 2 s; closes are looked for every 0.25 s.
        ticks = 0
        while not stop.wait(0.25):
            ticks += 1
            for entry in connections:
                if entry[3] is not None:
                    continue
                try:
                    if ticks % 8 == 0:
                        entry[1].sendall(entry[2])
                    gone = _gone(entry[1])
                except OSError:
                    gone = True
                if gone:
                    entry[3] = time.monotonic() - started

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    times, failed = [], 0
    while time.monotonic() - started < seconds:
        began = time.monotonic()
        try:
            status, _ = _request(port, 'GET', '/versions', timeout=2)
            if status != 200:
                raise OSError('status %d' % status)
            times.append(time.monotonic() - began)
        except (OSError, http.client.HTTPException):
            failed += 1
        time.sleep(max(0.0, 0.2 - (time.monotonic() - began)))
    stop.set()
    thread.join(5)
    closed = {kind: [e[3] for e in connections if e[0] == kind and e[3]]
              for kind in ('head', 'body')}
    for entry in connections:
        entry[1].close()
    # Idle connections still open and answering: a sample of them, on
    # their own sockets (no reconnecting).
    sample = kept[::max(1, len(kept) // 20)]
    still_kept = 0
    for conn in sample:
        conn.auto_open = 0
        try:
            conn.sock.settimeout(2)
            conn.request('GET', '/versions', headers=HEADERS)
            conn.getresponse().read()
            still_kept += 1
        except (OSError, AttributeError, http.client.HTTPException):
            pass
    for conn in kept:
        conn.close()
    result = {'ordinary': len(times) + failed, 'answered': len(times),
              'median_s': statistics.median(times) if times else None,
              'worst_s': max(times) if times else None,
              'idle_opened': len(kept), 'idle_sampled': len(sample),
              'idle_kept': still_kept}
    for kind, times_closed in closed.items():
        result['slow_%s_closed' % kind] = len(times_closed)
        result['slow_%s_closed_after_s' % kind] = (
            [round(min(times_closed), 1), round(max(times_closed), 1)]
            if times_closed else None)
    return result


def table(results, slow):
    lines = ['%-34s %18s %18s' % ('', 'glance_import', 'Glance 33 uwsgi')]

    def row(label, fmt):
        cells = []
        for name in ('ours', 'glance'):
            value = results.get(name)
            cells.append(fmt(value) if value else 'n/a')
        lines.append('%-34s %18s %18s' % (label, cells[0], cells[1]))

    row('ordinary answered within 2 s',
        lambda r: '%d of %d' % (r['answered'], r['ordinary']))
    row('ordinary median / worst (s)',
        lambda r: '%.3f / %.3f' % (r['median_s'], r['worst_s'])
        if r['median_s'] is not None else '- / -')
    for kind, plural in (('head', 'heads'), ('body', 'bodies')):
        row('slow %s closed by the server' % plural,
            lambda r, k=kind: '%d of %d' % (r['slow_%s_closed' % k], slow))
        row('  after (s, first-last)',
            lambda r, k=kind: '%s' % (r['slow_%s_closed_after_s' % k],))
    row('idle connections opened', lambda r: '%d' % r['idle_opened'])
    row('  still answering (sampled)',
        lambda r: '%d of %d' % (r['idle_kept'], r['idle_sampled']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--slow', type=int, default=32,
                        help='slow heads, and as many slow bodies (default '
                             '32: 4 x the 8 request threads)')
    parser.add_argument('--idle', type=int, default=1000)
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--glance-venv', default=None,
                        help='virtualenv with Glance 33 and uwsgi (default '
                             '%s, created if missing)'
                             % glance33.default_venv())
    parser.add_argument('--skip-glance', action='store_true')
    parser.add_argument('--workdir', default=os.path.join(
        tempfile.gettempdir(), 'glance_import-bench-slow'))
    parser.add_argument('--output', help='results file (.json)')
    args = parser.parse_args(argv)
    workdir = os.path.abspath(args.workdir)
    results = {}

    ours_dir = os.path.join(workdir, 'ours')
    os.makedirs(ours_dir, exist_ok=True)
    port = glance33.free_port()
    conf = os.path.join(ours_dir, 'glance-api.conf')
    with open(conf, 'w') as f:
        f.write(OURS_CONF.format(workdir=ours_dir, port=port))
    url = 'http://127.0.0.1:%d' % port
    proc, log = compare.start_api(conf, url, os.path.join(ours_dir,
                                                          'api.log'))
    try:
        print('glance_import', flush=True)
        results['ours'] = measure(port, args.slow, args.idle, args.seconds)
    finally:
        compare.stop_process(proc, log)

    if not args.skip_glance:
        venv = glance33.ensure_venv(args.glance_venv)
        with glance33.Glance(venv, os.path.join(workdir, 'glance'),
                             processes=2, threads=4) as glance:
            print('Glance 33 under uwsgi', flush=True)
            results['glance'] = measure(glance.port, args.slow, args.idle,
                                        args.seconds)
    print(table(results, args.slow))
    if args.output:
        with open(args.output, 'w') as f:
            json.dump({'args': vars(args), 'results': results,
                       'facts': compare.run_facts()}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())

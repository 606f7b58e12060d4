#!/usr/bin/env python3
"""Time image data operations on each store, side by side, in one run.

Starts the storage daemons (tools/ci/storage-up.sh, unless running) and
one glance-import-api process configured with
``enabled_backends = ceph:rbd, objects:s3, swift:swift, local:file``,
then for an image of --size-mib (default 1024) on each store measures:
upload (PUT /file), glance-direct (stage, then import until active),
copy-image into the store (from the local store; the local store copies
from ceph) and download, with the peak RSS of the API process (children
included) during each step. Prints a table (and JSON with --json).

Usage: python tools/bench_storage.py [--size-mib N] [--stores a,b]
       [--json FILE] [--keep-storage]
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from tests import fixtures
from tests.functional import storageutil

OCTET = {'Content-Type': 'application/octet-stream'}


class Bench:
    def __init__(self, url, pid, size):
        self.http = requests.Session()
        self.url = url
        self.pid = pid
        self.size = size

    def call(self, method, path, **kw):
        kw.setdefault('timeout', 1800)
        resp = self.http.request(method, self.url + path, **kw)
        if resp.status_code >= 400:
            raise RuntimeError('%s %s: %s %s' % (method, path,
                                                 resp.status_code,
                                                 resp.text[:500]))
        return resp

    def create(self, name):
        return self.call('POST', '/v2/images', json={
            'name': name, 'disk_format': 'raw',
            'container_format': 'bare'}).json()['id']

    def wait(self, image_id):
        """Until the image's newest task has finished."""
        while True:
            tasks = self.call('GET', '/v2/images/%s/tasks'
                              % image_id).json()['tasks']
            if tasks and tasks[0]['status'] == 'failure':
                raise RuntimeError('task failed: %s' % tasks[0]['message'])
            if tasks and tasks[0]['status'] == 'success':
                return
            time.sleep(0.2)

    def measure(self, store):
        result = {}
        with storageutil.PeakRss(self.pid) as m:
            uploaded = self.create('bench-upload-%s' % store)
            self.call('PUT', '/v2/images/%s/file' % uploaded,
                      data=storageutil.PatternBody(self.size),
                      headers=dict(OCTET, **{'X-Image-Meta-Store': store}))
        result['upload'] = (m.seconds, m.peak)

        with storageutil.PeakRss(self.pid) as m:
            direct = self.create('bench-direct-%s' % store)
            self.call('PUT', '/v2/images/%s/stage' % direct,
                      data=storageutil.PatternBody(self.size), headers=OCTET)
            self.call('POST', '/v2/images/%s/import' % direct, json={
                'method': {'name': 'glance-direct'}, 'stores': [store]})
            self.wait(direct)
        result['glance-direct'] = (m.seconds, m.peak)

        with storageutil.PeakRss(self.pid) as m:
            got, md5 = 0, hashlib.md5()
            with self.call('GET', '/v2/images/%s/file' % uploaded,
                           stream=True) as resp:
                for chunk in resp.iter_content(1 << 20):
                    got += len(chunk)
                    md5.update(chunk)
        if got != self.size:
            raise RuntimeError('downloaded %d of %d bytes' % (got,
                                                              self.size))
        result['download'] = (m.seconds, m.peak)
        self.call('DELETE', '/v2/images/%s' % direct)
        return uploaded, result

    def copy(self, image_id, store):
        with storageutil.PeakRss(self.pid) as m:
            self.call('POST', '/v2/images/%s/import' % image_id, json={
                'method': {'name': 'copy-image'}, 'stores': [store]})
            self.wait(image_id)
        return m.seconds, m.peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--stores', default=','.join(storageutil.STORES))
    parser.add_argument('--json')
    parser.add_argument('--keep-storage', action='store_true',
                        help='leave the daemons running if started here')
    args = parser.parse_args()
    stores = args.stores.split(',')
    size = args.size_mib * 1024 * 1024

    settings = storageutil.storage()
    workdir = tempfile.mkdtemp(prefix='bench-storage-')
    overrides = storageutil.store_overrides(settings, workdir)
    overrides['image_size_cap'] = max(4 * size, 1 << 40)
    proc = fixtures.ServiceProcess(workdir, None, overrides)
    rows = {}
    try:
        proc.start(timeout=120)
        bench = Bench(proc.url, proc.proc.pid, size)
        baseline = storageutil.PeakRss(proc.proc.pid).rss()
        uploaded = {}
        for store in stores:
            print('measuring %s ...' % store, file=sys.stderr)
            uploaded[store], rows[store] = bench.measure(store)
            print('  %s' % rows[store], file=sys.stderr)
        for store in stores:
            source = 'ceph' if store == 'local' else 'local'
            if source not in uploaded:
                source = next(s for s in uploaded if s != store)
            rows[store]['copy-image'] = bench.copy(uploaded[source], store)
            print('  copy to %s: %s' % (store, rows[store]['copy-image']),
                  file=sys.stderr)
            rows[store]['copy-source'] = source
        for image_id in uploaded.values():
            bench.call('DELETE', '/v2/images/%s' % image_id)
    finally:
        proc.stop()
        if not args.keep_storage:
            storageutil.release()

    ops = ('upload', 'glance-direct', 'copy-image', 'download')
    mib = size / (1 << 20)
    print('image %d MiB; API process baseline RSS %.0f MiB'
          % (mib, baseline / (1 << 20)))
    print('%-8s' % 'store' + ''.join('%22s' % op for op in ops))
    for store in stores:
        cells = ''.join(
            '%9.1fs %4.0fMiB/s %3.0fM' % (
                rows[store][op][0], mib / rows[store][op][0],
                rows[store][op][1] / (1 << 20))
            for op in ops)
        print('%-8s%s' % (store, cells))
    print('(each cell: seconds, throughput, peak RSS of the API process;'
          ' copy-image from %s)' % ', '.join(
              '%s<-%s' % (s, rows[s]['copy-source']) for s in stores))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'size_mib': mib, 'baseline_rss': baseline,
                       'results': rows}, f, indent=2)


if __name__ == '__main__':
    main()

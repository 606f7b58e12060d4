"""The README's quick start: the shipped etc/glance-api.conf as it is.

Only state_path and the port are overridden (by a second config file, as
an operator would), so the embedded defaults are what is tested.
"""

import os
import subprocess
import sys

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, 'etc', 'glance-api.conf')


def test_shipped_config_serves_import(tmp_path):
    port = fixtures.free_port()
    state = tmp_path / 'state'
    override = tmp_path / 'override.conf'
    override.write_text('[DEFAULT]\nstate_path = %s\nbind_port = %d\n'
                        % (state, port))
    log_path = tmp_path / 'api.log'
    command = [os.path.join(os.path.dirname(sys.executable),
                            'glance-import-api'),
               '--config-file', SHIPPED, '--config-file', str(override)]
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(command, stdout=log,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    try:
        fixtures.wait_for(url + '/versions', 60, proc, str(log_path))
        client = fixtures.Client(url)
        versions = client.get('/versions').json()['versions']
        assert versions[0] == {
            'id': 'v2.17', 'status': 'CURRENT',
            'links': [{'rel': 'self', 'href': url + '/v2/'}]}

        resp = client.post('/v2/images', json={
            'name': 'quickstart', 'disk_format': 'raw',
            'container_format': 'bare'})
        assert resp.status_code == 201, resp.text
        image_id = resp.json()['id']
        assert resp.json()['owner'] == 'admin'
        resp = client.put('/v2/images/%s/stage' % image_id, data=b'q' * 1000,
                          headers={'Content-Type': 'application/octet-stream'})
        assert resp.status_code == 204, resp.text
        resp = client.post('/v2/images/%s/import' % image_id,
                           json={'method': {'name': 'glance-direct'}})
        assert resp.status_code == 202, resp.text
        fixtures.wait_until(
            lambda: client.get('/v2/images/%s' % image_id).json()[
                'status'] == 'active', timeout=60, message='active image')
        # The staged copy is dropped by the flow's last steps, just after
        # the image turns active: wait for the task to finish.
        fixtures.wait_until(
            lambda: [t['status'] for t in client.get(
                '/v2/images/%s/tasks' % image_id).json()['tasks']] == [
                'success'], timeout=60, message='finished import task')
        resp = client.get('/v2/images/%s/file' % image_id)
        assert resp.content == b'q' * 1000

        # Everything lives under state_path.
        assert (state / 'glance_import.sqlite').is_file()
        assert (state / 'images' / image_id).is_file()
        assert (state / 'staging').is_dir()
        assert not (state / 'staging' / image_id).exists()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    output = log_path.read_text()
    assert 'Traceback' not in output
    assert 'Could not load' not in output

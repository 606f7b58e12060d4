"""How deep a request goes: frames from the router to its SQL statements.

Loads the paste application in this process (SQLite, file store, the
no-auth flavor), then sends a PATCH of one property and a glance-direct
POST /import, and for the first statement and the first write of each
request prints the stack depth from ``Router.__call__`` to the code that
asked SQLAlchemy for it: the project's own frames, and every frame
(libraries included) down to the DB-API cursor::

    python bench/frames.py
"""

import json
import logging
import os
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(os.path.dirname(HERE), 'glance_import')
HEADERS = {'X-Project-Id': 'frames-project', 'X-User-Id': 'frames-user',
           'X-Roles': 'member,reader'}
WRITES = ('INSERT', 'UPDATE', 'DELETE')


def _write_config(directory):
    path = os.path.join(directory, 'glance-api.conf')
    with open(path, 'w') as f:
        f.write('[DEFAULT]\nstate_path = %s\nenable_image_import = true\n'
                'node_staging_uri = file://%s/staging\n'
                '[database]\nconnection = sqlite:///%s/glance.sqlite\n'
                '[glance_store]\nfilesystem_store_datadir = %s/images\n'
                % (directory, directory, directory, directory))
    return path


class StatementStacks:
    """Records the stack of the first statement and of the first write."""

    def __init__(self):
        self.armed = False
        self.first = self.first_write = None

    def arm(self):
        self.armed, self.first, self.first_write = True, None, None

    def __call__(self, conn, cursor, statement, parameters, context,
                 executemany):
        if not self.armed:
            return
        stack = traceback.extract_stack()[:-1]
        if self.first is None:
            self.first = (statement, stack)
        if statement.lstrip().upper().startswith(WRITES):
            self.first_write = (statement, stack)
            self.armed = False


def depth(stack):
    """(own frames, all frames) from Router.__call__ to the statement."""
    start = next(i for i, f in enumerate(stack)
                 if f.name == '__call__'
                 and f.filename.endswith(os.path.join('api', 'routes.py')))
    frames = stack[start:]
    own = [f for f in frames if f.filename.startswith(PACKAGE_DIR)]
    return len(own), len(frames), [f.name for f in own]


def main():
    import sqlalchemy as sa
    import webob

    from glance_import import startup
    from glance_import.api import app
    from glance_import.db import engine as db_engine
    from glance_import.importer import executor

    directory = tempfile.mkdtemp(prefix='frames-')
    conf = startup.load_config(
        ['--config-file', _write_config(directory)], 'glance-api')
    logging.disable(logging.WARNING)    # the figures only
    app.init_service(conf, auto_migrate=True, recover=False)
    application = app.load_app(conf)
    stacks = StatementStacks()
    sa.event.listen(db_engine.get_engine(), 'before_cursor_execute', stacks)

    def call(method, path, body=None, content_type='application/json'):
        req = webob.Request.blank(path, method=method, headers=HEADERS)
        if body is not None:
            req.body = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            req.content_type = content_type
        resp = req.get_response(application)
        if resp.status_int >= 400:
            sys.exit('%s %s: %s' % (method, path, resp.text))
        return resp

    image = call('POST', '/v2/images', {
        'name': 'frames', 'disk_format': 'raw',
        'container_format': 'bare'}).json
    call('PUT', '/v2/images/%s/stage' % image['id'], b'x' * 4096,
         'application/octet-stream')
    requests = [
        ('PATCH', '/v2/images/%s' % image['id'],
         [{'op': 'add', 'path': '/frames', 'value': '1'}],
         'application/openstack-images-v2.1-json-patch'),
        ('POST', '/v2/images/%s/import' % image['id'],
         {'method': {'name': 'glance-direct'}}, 'application/json'),
    ]
    for method, path, body, content_type in requests:
        stacks.arm()
        call(method, path, body, content_type)
        for label, found in (('first statement', stacks.first),
                             ('first write', stacks.first_write)):
            own, total, names = depth(found[1])
            print('%-6s %-34s %-15s own %2d, all %3d  %s' % (
                method, path.replace(image['id'], '{id}'), label, own,
                total, ' > '.join(names)))
    executor.shutdown()


if __name__ == '__main__':
    main()

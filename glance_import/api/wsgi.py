"""``application`` for uwsgi and Apache mod_wsgi.

Configuration comes from ``$OS_GLANCE_CONFIG_DIR`` (default /etc/glance):
``glance-image-import.conf`` then ``glance-api.conf`` (the later file
wins), as Glance reads them, or from the files listed (comma-separated)
in ``$GLANCE_IMPORT_CONFIG_FILES``.
"""

import os

from glance_import.api import app
from glance_import.cmd import common


def _config_files():
    listed = os.environ.get('GLANCE_IMPORT_CONFIG_FILES')
    if listed:
        return [f for f in listed.split(',') if f]
    conf_dir = os.environ.get('OS_GLANCE_CONFIG_DIR', '/etc/glance')
    names = ('glance-image-import.conf', 'glance-api.conf')
    return [os.path.join(conf_dir, n) for n in names
            if os.path.exists(os.path.join(conf_dir, n))]


def init_application():
    conf = common.load_config([], 'glance-api',
                              default_config_files=_config_files())
    app.init_service(conf, auto_migrate=True)
    return app.load_app(conf)


application = init_application()

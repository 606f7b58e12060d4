"""``application`` for uwsgi and Apache mod_wsgi.

Configuration comes from ``$OS_GLANCE_CONFIG_DIR`` (default /etc/glance):
``glance-image-import.conf`` then ``glance-api.conf`` (the later file
wins), as Glance reads them, or from the files listed (comma-separated)
in ``$GLANCE_IMPORT_CONFIG_FILES``.
"""

import os

from oslo_config import cfg

from glance_import import exception
from glance_import import startup
from glance_import.api import app


def _config_files():
    listed = os.environ.get('GLANCE_IMPORT_CONFIG_FILES')
    if listed:
        return [f for f in listed.split(',') if f]
    conf_dir = os.environ.get('OS_GLANCE_CONFIG_DIR', '/etc/glance')
    names = ('glance-image-import.conf', 'glance-api.conf')
    return [os.path.join(conf_dir, n) for n in names
            if os.path.exists(os.path.join(conf_dir, n))]


PROG = 'glance-import-wsgi'


def init_application():
    """The application; a bad setting ends the process with one line."""
    try:
        conf = startup.load_config([], 'glance-api',
                                  default_config_files=_config_files())
        app.init_service(conf, auto_migrate=True)
        return app.load_app(conf)
    except (exception.GlanceImportError, cfg.Error, OSError) as e:
        # uwsgi (need-app) and mod_wsgi log the one line and give up on
        # this process instead of serving 500s.
        raise SystemExit(startup.fail(PROG, e)) from None


application = init_application()

"""Service start-up shared by the commands and the WSGI entry point:
options, config files, logging, and the one-line failure report."""

import sys

from oslo_config import cfg
from oslo_log import log as logging

from glance_import import config
from glance_import import exception
from glance_import import unsupported_options

LOG = logging.getLogger(__name__)
_REGISTERED = False
# Libraries whose INFO lines say nothing an operator needs
# (barbicanclient logs about a dozen per certificate fetch).
QUIET_LOGGERS = ['alembic.runtime.plugins=WARN', 'barbicanclient=WARN']


def load_config(argv, prog, conf=None, default_config_files=None,
                log_to_stderr=False):
    """Register options, parse *argv* and config files, set up logging.

    Commands whose standard output is their result log to stderr.
    """
    global _REGISTERED
    conf = conf or cfg.CONF
    if not _REGISTERED:
        logging.set_defaults(default_log_levels=(
            logging.get_default_log_levels() + QUIET_LOGGERS))
        logging.register_options(conf)
        config.register_opts(conf)
        _REGISTERED = True
    if log_to_stderr:
        conf.set_default('use_stderr', True)
    conf(argv, project='glance', prog=prog,
         default_config_files=default_config_files)
    try:
        logging.setup(conf, 'glance_import')
    except ValueError:
        config.check_values(conf)   # names the bad logging option
        raise
    # After logging is set up: reading an option set in the file logs
    # its deprecation, which belongs in the service's log.
    config.check_values(conf)
    unsupported_options.warn_unsupported(conf, LOG)
    return conf


def fail(prog, error):
    """One clear line on stderr and exit status 1, never a traceback."""
    reason = error.msg if isinstance(error, exception.GlanceImportError) \
        else str(error)
    # Driver errors span several lines (hints, a documentation link).
    lines = [line.strip() for line in reason.splitlines()]
    reason = ' '.join(line for line in lines
                      if line and not line.startswith('(Background on'))
    print('%s: error: %s' % (prog, reason), file=sys.stderr)
    return 1

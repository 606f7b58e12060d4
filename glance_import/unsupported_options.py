"""Glance options that this service accepts in a file but does not act on.

An operator's glance-api.conf may set options of Glance features that are
not served here yet. oslo.config ignores options nobody registered, so a
file asking for notifications would load silently and serve without one:
``unsupported_settings`` finds each such setting so that start-up can name
it in a warning.
"""

import glob
import os

from oslo_config import cfg

from glance_import import profiler

# Glance 33's options (group, name) whose feature this service lacks.
UNSUPPORTED_OPTIONS = {
    ('DEFAULT', 'metadata_encryption_key'): 'encryption of location '
                                            'metadata',
    ('DEFAULT', 'digest_algorithm'): 'signing of notifications and '
                                     'certificates',
    ('image_import_opts', 'max_parallel_stores'): 'uploads to several '
                                                  'stores at once',
    ('DEFAULT', 'pydev_worker_debug_host'): 'the pydev debugger',
    ('DEFAULT', 'pydev_worker_debug_port'): 'the pydev debugger',
}

# Whole sections of Glance's file whose feature this service lacks.
UNSUPPORTED_SECTIONS = {
    'profiler': 'osprofiler tracing',
}


def _config_files(conf):
    files = list(conf.config_file or conf.default_config_files or [])
    # --config-dir is a single path in older oslo.config, a list now.
    dirs = conf.config_dir or []
    for directory in [dirs] if isinstance(dirs, str) else dirs:
        files.extend(sorted(glob.glob(os.path.join(directory, '*.conf'))))
    return [f for f in files if os.path.isfile(f)]


def unsupported_settings(conf):
    """(file, section, option, feature) for each unsupported setting."""
    found = []
    for path in _config_files(conf):
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError):
            continue  # oslo.config itself reports unreadable files
        for section, values in sections.items():
            feature = UNSUPPORTED_SECTIONS.get(section)
            if section == 'profiler' and profiler.available():
                feature = None
            if feature:
                found.extend((path, section, name, feature)
                             for name in values)
                continue
            for name in values:
                feature = UNSUPPORTED_OPTIONS.get((section, name))
                if feature:
                    found.append((path, section, name, feature))
    return found


def warn_unsupported(conf, log):
    for path, section, name, feature in unsupported_settings(conf):
        log.warning('%s sets [%s] %s, an option of %s, which this '
                    'service does not provide; it is ignored',
                    path, section, name, feature)

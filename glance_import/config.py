"""Every configuration option of the service, declared once.

Option names, groups and defaults follow Glance's ``glance-api.conf`` so an
operator's existing file keeps its meaning. ``register_opts`` is called once
by whoever owns the configuration object (the app factory, the commands,
the tests); ``list_opts`` feeds ``oslo-config-generator``.
"""

import logging
import os
import re
import tempfile

from oslo_config import cfg

from glance_import import exception
from glance_import import notifications
from glance_import import profiler

IMPORT_METHODS = ('glance-direct', 'web-download', 'copy-image',
                  'glance-download')

DEFAULT_DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw',
                        'qcow2', 'vdi', 'iso', 'ploop']
DEFAULT_CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova',
                             'docker', 'compressed']


class BracketsOptional(cfg.types.List):
    """A list read the same with or without its surrounding brackets.

    Glance declares some lists with bounds, and then refuses
    ``glance-direct,web-download`` for want of brackets, and others
    without, and then reads ``[admin]`` as a role named "[admin]".
    Here both spellings give the same items; values written Glance's
    way give Glance's result.
    """

    def __call__(self, value):
        if isinstance(value, str):
            text = value.strip().rstrip(',')
            bracketed = text.startswith('[') and text.endswith(']')
            if self.bounds and not bracketed:
                value = '[%s]' % text
            elif not self.bounds and bracketed:
                value = text[1:-1]
        return super().__call__(value)


class ListOpt(cfg.ListOpt):
    """``cfg.ListOpt`` whose value may be written with or without brackets.

    *bounds* is Glance's declaration; it decides how the sample file
    writes the default.
    """

    def __init__(self, name, item_type=None, bounds=False, **kwargs):
        super().__init__(name, item_type=item_type, bounds=bounds, **kwargs)
        self.type = BracketsOptional(item_type or cfg.types.String(),
                                     bounds=bounds)


_STATE_PATH = os.path.join('~', '.local', 'state', 'glance_import')

default_opts = [
    cfg.StrOpt('state_path', default=os.path.expanduser(_STATE_PATH),
               sample_default=_STATE_PATH,
               help='Directory for the service\'s own state (the embedded '
                    'SQLite database, staging area and file store in the '
                    'shipped configuration). Other paths may refer to it as '
                    '$state_path.'),
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the API server listens on.'),
    cfg.PortOpt('bind_port', default=9292,
                help='Port the API server listens on.'),
    cfg.IntOpt('workers', default=0, min=0,
               help='Number of API server processes for '
                    '``glance-import-api``. 0 serves from one process with '
                    'a thread pool; under uwsgi or mod_wsgi the server\'s '
                    'own setting applies instead.'),
    cfg.IntOpt('server_threads', default=16, min=1,
               help='Worker threads per API server process. Each thread '
                    'serves one request at a time, so this caps concurrent '
                    'uploads and downloads per process.'),
    cfg.BoolOpt('enable_image_import', default=False,
                help='Enable the interoperable image import API (v2.6): '
                     'the stage and import calls and /v2/info/import. When '
                     'False, /versions does not list v2.6 and those calls '
                     'answer 404 as a v2.5 server would.'),
    cfg.StrOpt('node_staging_uri', default='file:///tmp/staging/',
               help='file:// URI of the directory where staged image data '
                    'is kept until it is imported. With several API nodes '
                    'either share it (NFS) or set worker_self_reference_url '
                    'on every node so imports are forwarded to the node '
                    'holding the data.'),
    ListOpt('enabled_import_methods',
                item_type=cfg.types.String(quotes=True,
                                           choices=IMPORT_METHODS),
                bounds=True,
                default=['glance-direct', 'web-download', 'copy-image'],
                help='Import methods offered to clients.'),
    cfg.StrOpt('worker_self_reference_url',
               help='URL other API nodes use to reach this one directly, '
                    'recorded on staged images so a glance-direct import '
                    'or delete arriving elsewhere is forwarded here. '
                    'Falls back to public_endpoint.'),
    cfg.StrOpt('public_endpoint',
               help='Public URL of the API, used for the links in the '
                    'versions document instead of the request\'s host.'),
    cfg.IntOpt('image_size_cap', default=1099511627776, min=1,
               max=9223372036854775808,
               help='Largest image, in bytes, accepted by upload, stage or '
                    'import.'),
    cfg.StrOpt('user_storage_quota', default='0',
               help='Total bytes one project may store across all its '
                    'images and stores; a number with an optional B, KB, '
                    'MB, GB or TB suffix. 0 means unlimited.'),
    cfg.StrOpt('hashing_algorithm', default='sha512',
               help='hashlib algorithm for os_hash_value.'),
    cfg.DictOpt('enabled_backends',
                help='Store identifiers and their types (id:type,...), '
                     'e.g. "fast:file,ceph:rbd". Setting it turns on '
                     'multi-store; [glance_store] default_backend must '
                     'then name one of them.'),
    cfg.BoolOpt('use_keystone_limits', default=False,
                help='Enforce the Keystone unified limits image_size_total, '
                     'image_stage_total, image_count_total and '
                     'image_count_uploading registered for this service '
                     '(see [oslo_limit]); user_storage_quota is then '
                     'ignored.'),
    cfg.BoolOpt('delayed_delete', default=False,
                help='Delete image data later: a deleted image with data '
                     'goes pending_delete and keeps its data until the '
                     'scrubber removes it, scrub_time seconds after the '
                     'delete (the API processes scrub every wakeup_time '
                     'seconds; glance-import-manage scrub runs it once).'),
    cfg.IntOpt('scrub_time', default=0, min=0,
               help='Seconds a pending-delete image keeps its data before '
                    'the scrubber may remove it.'),
    cfg.IntOpt('scrub_pool_size', default=1, min=1,
               help='Images the scrubber deletes the data of at once.'),
    cfg.IntOpt('wakeup_time', default=300, min=0,
               help='Seconds between two runs of the scrubber in the API '
                    'processes, when delayed_delete is on.'),
    cfg.StrOpt('property_protection_file',
               help='INI file of property protections: sections are '
                    'regular expressions over property names, each giving '
                    'the roles (or policies) allowed to create, read, '
                    'update and delete matching properties. Unset: no '
                    'protections. A file that cannot be read or parsed '
                    'stops the service at start-up.'),
    cfg.StrOpt('property_protection_rule_format', default='roles',
               choices=('roles', 'policies'),
               help='Whether property_protection_file lists roles, or '
                    'names rules of the policy file.'),
    cfg.BoolOpt('show_image_direct_url', default=False,
                help='Show the first location of an image as direct_url.'),
    cfg.BoolOpt('show_multiple_locations', default=False,
                help='Show all locations of an image as locations.'),
    cfg.IntOpt('limit_param_default', default=25, min=1,
               help='Page size of list calls without a limit.'),
    cfg.IntOpt('api_limit_max', default=1000, min=1,
               help='Largest page a list call returns.'),
    cfg.IntOpt('image_member_quota', default=128,
               help='Members per image; negative means unlimited.'),
    cfg.IntOpt('image_property_quota', default=128,
               help='Custom properties per image; negative means '
                    'unlimited.'),
    cfg.IntOpt('image_tag_quota', default=128,
               help='Tags per image; negative means unlimited.'),
    cfg.IntOpt('image_location_quota', default=10,
               help='Locations per image; negative means unlimited.'),
    cfg.BoolOpt('do_secure_hash', default=True,
                help='Compute the checksum and os_hash_value of data '
                     'registered through POST /v2/images/{id}/locations, '
                     'reading it from its store in the background. When '
                     'off, the hashes given as validation_data are '
                     'recorded as they are.'),
    cfg.IntOpt('http_retries', default=3,
               help='Attempts at reading a registered location to hash '
                    'it, when reading fails.'),
    cfg.BoolOpt('allow_anonymous_access', default=False,
                help='With the keystone flavor, serve unauthenticated '
                     'requests with a read-only anonymous context instead '
                     'of answering 401.'),
    cfg.IntOpt('max_header_line', default=16384, min=256,
               help='Longest request header line, in bytes, that '
                    '``glance-import-api`` reads; a longer one is answered '
                    'with 431. Raise it for very large tokens; name and '
                    'default are those of eventlet-era Glance.'),
    cfg.IntOpt('max_request_header_size', default=65536, min=1024,
               help='Largest request head (request line and all header '
                    'lines), in bytes, that ``glance-import-api`` reads; a '
                    'larger one is answered with 431, or 414 when the '
                    'request line alone is too long. Keep it at least '
                    'max_header_line.'),
    cfg.IntOpt('request_header_timeout', default=20, min=1,
               help='Seconds a client of ``glance-import-api`` has to send '
                    'a whole request head, extended by one second per '
                    'request_min_rate bytes received, up to '
                    'request_header_max_timeout; a late client gets 408. '
                    'Until its head is complete a connection holds no '
                    'request thread (Apache: RequestReadTimeout '
                    'header=20-40,MinRate=500).'),
    cfg.IntOpt('request_header_max_timeout', default=40, min=1,
               help='Longest time a request head may take, however fast '
                    'it arrives.'),
    cfg.IntOpt('request_body_timeout', default=20, min=1,
               help='Seconds a request body may take before it must keep '
                    'up request_min_rate: a body gets this plus one second '
                    'per request_min_rate bytes read, so a slow but steady '
                    'upload goes on and a trickle is cut.'),
    cfg.IntOpt('request_min_rate', default=500, min=1,
               help='Bytes per second a request head or body must average '
                    'once its first timeout has passed.'),
    cfg.IntOpt('client_socket_timeout', default=300, min=1,
               help='Seconds ``glance-import-api`` waits on a silent '
                    'client: the longest pause within a request body, and '
                    'how long an idle kept-alive connection stays open.'),
    cfg.IntOpt('max_server_threads', default=512, min=1,
               help='Most request threads per API server process. The '
                    'pool starts at server_threads and grows with the '
                    'requests in flight (slow uploads and downloads each '
                    'hold one), so slow clients do not take the threads '
                    'others need.'),
    cfg.IntOpt('max_client_connections', default=4096, min=0,
               help='Most open client connections per API server process '
                    '(idle and waiting ones included); past it a new '
                    'connection gets 503. 0: no limit (the open files '
                    'limit remains).'),
    cfg.IntOpt('max_client_connections_per_address', default=0, min=0,
               help='Most open connections from one client address per '
                    'API server process, so that one client cannot take '
                    'them all; past it a new connection gets 503. 0: no '
                    'limit, right behind a load balancer or proxy, whose '
                    'address every connection carries.'),
    cfg.IntOpt('max_request_id_length', default=64, min=0,
               help='Longest X-Openstack-Request-ID accepted from a '
                    'client.'),
    cfg.StrOpt('noauth_default_project_id', default='admin',
               help='Project owning requests in the unauthenticated '
                    'flavor when the caller sends no X-Project-Id header. '
                    'The caller is then an admin of that project.'),
]

# The image cache on API nodes (glance_import.cache); Glance's names.
CACHE_DRIVERS = ('centralized_db', 'sqlite', 'xattr')
cache_opts = [
    cfg.StrOpt('image_cache_dir',
               help='Directory of the image cache of this API node. '
                    'Setting it turns the cache on: downloads under a '
                    'caching paste flavor are served from it and fill it, '
                    '/v2/cache manages it, and /versions lists 2.14, 2.16 '
                    'and 2.18. Holds the cached files and the incomplete, '
                    'invalid and queue subdirectories, as in Glance.'),
    cfg.StrOpt('image_cache_driver', default='centralized_db',
               choices=CACHE_DRIVERS, ignore_case=True,
               help='Where cache entries are recorded: centralized_db in '
                    'the main database, so every node sees the others\' '
                    'entries (GET /v2/cache/nodes); sqlite in a database '
                    'file inside image_cache_dir, private to the node. '
                    'xattr is served as sqlite.'),
    cfg.IntOpt('image_cache_max_size', default=10 * 1024 ** 3, min=0,
               help='Bytes the pruner shrinks the cache to, least recently '
                    'used images first. A threshold, not a hard limit: '
                    'the cache may exceed it between two prunes.'),
    cfg.IntOpt('image_cache_stall_time', default=86400, min=0,
               help='Seconds after which the cleaner removes an '
                    'incomplete cache file that nobody is writing.'),
    cfg.StrOpt('image_cache_sqlite_db', default='cache.db',
               help='File name, in image_cache_dir, of the sqlite '
                    'driver\'s database.'),
    cfg.IntOpt('cache_prefetcher_interval', default=300, min=1,
               help='Seconds between two runs of the API node\'s cache '
                    'worker: it caches queued images, then prunes and '
                    'cleans the cache. PUT /v2/cache/{image_id} also '
                    'wakes it at once.'),
]

task_opts = [
    cfg.StrOpt('task_executor', default='taskflow', choices=('taskflow',),
               help='Task executor. Only taskflow exists.'),
    cfg.IntOpt('task_time_to_live', default=48,
               help='Hours a finished task stays visible.'),
    cfg.StrOpt('work_dir',
               help='Scratch directory of the legacy tasks API; kept for '
                    'compatibility of existing configuration files.'),
]

taskflow_executor_opts = [
    cfg.StrOpt('engine_mode', default='parallel',
               choices=('serial', 'parallel'),
               help='Taskflow engine running import flows.'),
    cfg.IntOpt('max_workers', default=10, min=1,
               help='Threads of the parallel engine per flow.'),
    cfg.StrOpt('conversion_format', choices=('qcow2', 'raw', 'vmdk'),
               help='Disk format the legacy tasks API converts to.'),
    # Crash recovery and distributed execution (importer.persistence,
    # importer.recovery, importer.jobboard).
    cfg.StrOpt('node_name',
               help='Name of this node in the saved state of the imports '
                    'it runs; defaults to the host name. Give every node '
                    'sharing a database a distinct name.'),
    cfg.IntOpt('heartbeat_interval', default=10, min=1,
               help='Seconds between refreshes of updated_at of the '
                    'import tasks a process is running.'),
    cfg.IntOpt('recovery_timeout', default=600, min=10,
               help='Seconds without a heartbeat after which an import '
                    'task owned by another node is considered abandoned '
                    'and is resumed or reverted by this one. Must be well '
                    'above heartbeat_interval.'),
    cfg.IntOpt('recovery_interval', default=60, min=0,
               help='Seconds between scans for abandoned imports (one '
                    'scan always runs at start-up); 0 scans only at '
                    'start-up.'),
    cfg.BoolOpt('resume_interrupted_imports', default=True,
                help='Resume an interrupted import from its saved state; '
                     'when False it is reverted (the image goes back to '
                     'queued, the failure is recorded).'),
    cfg.StrOpt('jobboard_url',
               help='Taskflow jobboard for distributed imports, e.g. '
                    'redis://127.0.0.1:6379. When set, the API posts each '
                    'import as a job and glance-import-conductor '
                    'processes run them; unset runs imports inside the '
                    'API process.'),
    cfg.StrOpt('jobboard_name', default='glance_import_imports',
               help='Name (key namespace) of the jobboard.'),
    cfg.IntOpt('job_claim_expiry', default=30, min=5,
               help='Seconds a conductor\'s claim on a job lasts unless '
                    'renewed; a killed conductor\'s jobs are claimed by '
                    'another after this.'),
    cfg.StrOpt('conductor_type', default='blocking',
               choices=('blocking', 'nonblocking'),
               help='Taskflow conductor of glance-import-conductor: '
                    'blocking runs one job at a time, nonblocking up to '
                    'conductor_max_jobs.'),
    cfg.IntOpt('conductor_max_jobs', default=4, min=1,
               help='Jobs a nonblocking conductor runs at once.'),
]

wsgi_opts = [
    cfg.IntOpt('task_pool_threads', default=16, min=1,
               help='Imports running concurrently in one API process.'),
    cfg.StrOpt('python_interpreter',
               help='Python interpreter used to apply process limits to '
                    'qemu-img (image_conversion plugin); defaults to the '
                    'one running the service.'),
]

paste_deploy_opts = [
    cfg.StrOpt('flavor',
               help='Pipeline of the paste configuration to serve: unset '
                    'for the unauthenticated pipeline, "keystone" for '
                    'keystonemiddleware authentication.'),
    cfg.StrOpt('config_file',
               help='Paste configuration file; defaults to the '
                    'glance-api-paste.ini shipped with the package.'),
]

image_import_opts = [
    ListOpt('image_import_plugins', default=[],
                item_type=cfg.types.String(quotes=True), bounds=True,
                help='Import plugins to run, in order: image_conversion, '
                     'image_decompression, inject_image_metadata, no_op.'),
]

import_filtering_opts = [
    ListOpt('allowed_schemes', default=['http', 'https'],
                item_type=cfg.types.String(quotes=True), bounds=True,
                help='URI schemes web-download may use.'),
    ListOpt('disallowed_schemes', default=[],
                item_type=cfg.types.String(quotes=True), bounds=True,
                help='URI schemes web-download may not use; ignored when '
                     'allowed_schemes is set.'),
    ListOpt('allowed_hosts', default=[],
                item_type=cfg.types.HostAddress(), bounds=True,
                help='Hosts web-download may reach. A host listed here '
                     'may also resolve to loopback or link-local '
                     'addresses.'),
    ListOpt('disallowed_hosts', default=[],
                item_type=cfg.types.HostAddress(), bounds=True,
                help='Hosts web-download may not reach; ignored when '
                     'allowed_hosts is set.'),
    ListOpt('allowed_ports', item_type=cfg.types.Integer(1, 65535),
                bounds=True, default=[80, 443],
                help='Explicit URI ports web-download may use.'),
    ListOpt('disallowed_ports', item_type=cfg.types.Integer(1, 65535),
                bounds=True, default=[],
                help='Explicit URI ports web-download may not use; ignored '
                     'when allowed_ports is set.'),
]

inject_metadata_opts = [
    ListOpt('ignore_user_roles', default='admin',
            item_type=cfg.types.String(quotes=True),
            help='Users with any of these roles get no injected '
                 'properties.'),
    cfg.DictOpt('inject', default={},
                help='Properties (key:value,...) added to imported images.'),
]

glance_download_opts = [
    ListOpt('extra_properties',
                item_type=cfg.types.String(quotes=True), bounds=True,
                default=['hw_', 'trait:', 'os_distro', 'os_secure_boot',
                         'os_type'],
                help='Prefixes of the properties glance-download copies '
                     'from the remote image (os_glance names never are).'),
]

image_conversion_opts = [
    cfg.StrOpt('output_format', default='raw',
               choices=('qcow2', 'raw', 'vmdk'),
               help='Disk format the image_conversion plugin produces.'),
]

image_format_opts = [
    cfg.ListOpt('container_formats', default=DEFAULT_CONTAINER_FORMATS,
                help='Accepted container_format values.'),
    cfg.ListOpt('disk_formats', default=DEFAULT_DISK_FORMATS,
                help='Accepted disk_format values.'),
    cfg.ListOpt('vmdk_allowed_types',
                default=['streamOptimized', 'monolithicSparse'],
                help='VMDK create-types the conversion plugin accepts.'),
    cfg.BoolOpt('require_image_format_match', default=True,
                help='Refuse data whose detected format differs from the '
                     'declared disk_format.'),
    cfg.ListOpt('gpt_safety_checks_nonfatal', default=[],
                help='GPT safety checks whose failure is only logged.'),
]

OPT_GROUPS = (
    (None, default_opts),
    (None, cache_opts),
    ('task', task_opts),
    ('taskflow_executor', taskflow_executor_opts),
    ('wsgi', wsgi_opts),
    ('paste_deploy', paste_deploy_opts),
    ('image_import_opts', image_import_opts),
    ('import_filtering_opts', import_filtering_opts),
    ('inject_metadata_properties', inject_metadata_opts),
    ('image_conversion', image_conversion_opts),
    ('glance_download_properties', glance_download_opts),
    ('image_format', image_format_opts),
)

DEFAULT_DB_CONNECTION = 'sqlite:///$state_path/glance_import.sqlite'


def register_opts(conf):
    """Register our options and the database and store ones on *conf*."""
    from oslo_db import options as db_options

    for group, opts in OPT_GROUPS:
        conf.register_opts(opts, group=group)
    db_options.set_defaults(conf, connection=DEFAULT_DB_CONNECTION)
    _register_store_opts(conf)
    _register_key_manager_opts(conf)
    notifications.register_opts(conf)
    from oslo_limit import opts as limit_opts
    limit_opts.register_opts(conf)
    profiler.register_opts(conf)


class _OptionalDriverFilter(logging.Filter):
    """Drop stevedore's "Could not load 'cinder'" for optional drivers.

    glance_store imports every driver to list its options; drivers whose
    libraries are not installed (cinder, vmware ...) fail with ImportError
    there. That is only noise: a configured store that cannot load still
    fails loudly when the stores are created.
    """

    def filter(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg.startswith('Could not load')
                    and len(args) == 2 and isinstance(args[1], ImportError))


_DRIVER_FILTER = _OptionalDriverFilter()


def _register_store_opts(conf):
    import glance_store

    stevedore_log = logging.getLogger('stevedore.extension')
    if _DRIVER_FILTER not in stevedore_log.filters:
        stevedore_log.addFilter(_DRIVER_FILTER)
    glance_store.register_opts(conf)
    # Multi-store options are registered once enabled_backends is known
    # (see glance_import.store.registry.configure).


def _register_key_manager_opts(conf):
    """castellan's [key_manager], [barbican], [barbican_service_user] and
    [vault] options, read for image signature verification.

    The backend keeps castellan's default, barbican, as in Glance.
    """
    from castellan import options as castellan_options

    castellan_options.set_defaults(conf)


def list_opts():
    """Options for oslo-config-generator, grouped as in glance-api.conf."""
    grouped = {}
    for group, opts in OPT_GROUPS:
        grouped.setdefault(group or 'DEFAULT', []).extend(opts)
    # oslo.messaging's own are in its namespace.
    grouped['DEFAULT'].extend(notifications.OPTS)
    return list(grouped.items())


def state_path(conf):
    return os.path.expanduser(conf.state_path)


def staging_dir(conf):
    """Directory behind node_staging_uri; only file:// URIs are valid."""
    uri = conf.node_staging_uri
    if not uri.startswith('file://'):
        raise exception.InvalidConfiguration(
            'node_staging_uri must be a file:// URI, not %r' % uri)
    path = uri[len('file://'):]
    if not path.startswith('/'):
        raise exception.InvalidConfiguration(
            'node_staging_uri must name an absolute path: %r' % uri)
    return os.path.expanduser(path)


def storage_quota_bytes(conf):
    """user_storage_quota as bytes (0 = unlimited)."""
    value = conf.user_storage_quota.strip().upper()
    units = {'TB': 1 << 40, 'GB': 1 << 30, 'MB': 1 << 20, 'KB': 1 << 10,
             'B': 1}
    number, factor = value, 1
    for suffix, multiplier in units.items():
        if value.endswith(suffix):
            number, factor = value[:-len(suffix)].strip(), multiplier
            break
    if not number.isdigit():
        raise exception.InvalidConfiguration(
            'user_storage_quota must be a byte count with an optional '
            'B/KB/MB/GB/TB suffix, not %r' % conf.user_storage_quota)
    return int(number) * factor


def _check_writable(path):
    # Create a file rather than trust os.access: root passes access()
    # checks even on read-only mounts.
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise exception.InvalidConfiguration(
            'The staging directory %s is not writable: %s'
            % (path, e.strerror))


def database_url_for_display(conf):
    """[database] connection with any password masked, for messages."""
    from sqlalchemy.engine import url as sa_url

    try:
        return sa_url.make_url(conf.database.connection).render_as_string(
            hide_password=True)
    except Exception:
        return conf.database.connection


def check_database_url(conf):
    """The URL must parse and name a dialect/driver that is installed."""
    from sqlalchemy.engine import url as sa_url

    try:
        sa_url.make_url(conf.database.connection).get_dialect()
    except Exception as e:
        raise exception.InvalidConfiguration(
            '[database] connection %r is not a usable database URL: %s'
            % (database_url_for_display(conf), e))


_BAD_VALUE_RE = re.compile(
    r"Value for option (?P<name>\S+) from LocationInfo\(location=<[^>]*>, "
    r"detail='?(?P<where>.*?)'?\) is not valid: (?P<reason>.*)", re.S)


def check_values(conf):
    """Read every registered option so a bad value stops the start-up.

    oslo.config parses a value when it is first read; without this an
    option read only by some request handler would fail that request
    with a 500 instead. Raises InvalidConfiguration naming the option,
    the file (or environment variable) and the reason.
    """
    for key in list(conf):
        value = _read(conf, None, key)
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for name in list(value):
                _read(conf, key, name)


def _read(conf, group, name):
    try:
        return conf[group][name] if group else conf[name]
    except cfg.NoSuchOptError:
        return None
    except ValueError as e:
        raise exception.InvalidConfiguration(
            _describe_bad_value(group, name, e)) from None


def _describe_bad_value(group, name, error):
    option = '[%s] %s' % (group or 'DEFAULT', name)
    match = _BAD_VALUE_RE.match(str(error))
    if match is None:
        return 'Invalid value for %s: %s' % (option, error)
    reason = ' '.join(match['reason'].split())
    where = match['where']
    if where and where != 'None':
        return 'Invalid value for %s in %s: %s' % (option, where, reason)
    return 'Invalid value for %s: %s' % (option, reason)


def validate(conf):
    """Refuse settings the service cannot run with, in one message each."""
    check_values(conf)
    storage_quota_bytes(conf)
    path = staging_dir(conf)
    if conf.enable_image_import:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise exception.InvalidConfiguration(
                'Cannot create the staging directory %s: %s'
                % (path, e.strerror))
        _check_writable(path)
    check_database_url(conf)
    backends = conf.enabled_backends or {}
    for store_id in backends:
        if store_id.startswith('os_glance_'):
            raise exception.InvalidConfiguration(
                'Store identifier %r is reserved (os_glance_ prefix)'
                % store_id)

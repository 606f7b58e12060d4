"""Which stores are configured: ``configure(conf)`` sets up glance_store
and resolves every store id once to its ``base.Store``, and the rules of
which store a client may name live here.

Single-store mode is a layout of one unnamed store (id None). Store ids
clients see exclude the reserved ``os_glance_*`` stores.
"""

import dataclasses
import enum
import functools
import os

import glance_store
from glance_store import exceptions as gs_exc
from glance_store import location as gs_location
from glance_store import multi_backend
from oslo_config import cfg

from glance_import import config
from glance_import import exception
from glance_import.store import base
from glance_import.store import fileio
from glance_import.store import glance_store_driver
from glance_import.store import native_file

STAGING_STORE = 'os_glance_staging_store'
TASKS_STORE = 'os_glance_tasks_store'
RESERVED_STORES = {STAGING_STORE: 'file', TASKS_STORE: 'file'}
RESERVED_PREFIX = 'os_glance_'
STORE_TYPES = ('file', 'http', 'rbd', 'swift', 'cinder', 's3', 'vmware')
READ_ONLY_TYPES = ('http',)


class Unwritable(enum.Enum):
    """Why a client cannot name a store to write to."""

    RESERVED = 'reserved'
    UNKNOWN = 'unknown'
    READ_ONLY = 'read-only'


@dataclasses.dataclass(frozen=True)
class Layout:
    """The configured stores, each resolved to its implementation."""

    multi: bool
    types: dict           # client-visible store id -> type (multi only)
    default: str | None   # default store id (multi) or None
    stores: dict          # store id (None in single-store) -> base.Store
    calls: type           # glance_store's call set for this mode

    def store(self, store_id: str | None) -> base.Store:
        """The store of *store_id*, as ``resolve_store`` returned it."""
        return self.stores[store_id]

    def store_of(self, location: dict) -> base.Store:
        """The store holding *location*; one that is no longer configured
        is still glance_store's to try."""
        store_id = None
        if self.multi:
            store_id = (location.get('metadata') or {}).get('store')
        found = self.stores.get(store_id)
        if found is None:
            found = glance_store_driver.GlanceStoreDriver(store_id,
                                                          self.calls)
        return found


_LAYOUT: Layout | None = None


def configure(conf) -> None:
    """Configure glance_store (and our native file stores) from *conf*.

    glance_store keeps its registered stores in module globals; they are
    cleared first so a second call reflects only the new configuration.
    Raises InvalidConfiguration with one readable message.
    """
    global _LAYOUT
    _LAYOUT = None
    _reset_glance_store()
    fileio.check_hash_algo(conf.hashing_algorithm)
    if conf.enabled_backends:
        layout = _configure_multi(conf)
    else:
        layout = _configure_single(conf)
    _LAYOUT = layout


def layout(conf) -> Layout:
    """The configured stores, configuring them from *conf* if needed."""
    if _LAYOUT is None:
        configure(conf)
    return _LAYOUT


def current() -> Layout:
    """The configured stores, for callers that hold only a location."""
    return layout(cfg.CONF)


def _reset_glance_store():
    gs_location.SCHEME_TO_CLS_MAP.clear()
    gs_location.SCHEME_TO_CLS_BACKEND_MAP.clear()
    multi_backend._RESERVED_STORES.clear()


def _configure_single(conf):
    group = conf.glance_store
    stores = list(group.stores or [])
    if group.default_store not in stores:
        raise exception.InvalidConfiguration(
            '[glance_store] default_store %r is not one of the enabled '
            'stores (%s)' % (group.default_store, ', '.join(stores)))
    calls = glance_store_driver.SingleStoreCalls
    driver = glance_store_driver.GlanceStoreDriver(None, calls)
    store = driver
    if 'file' in stores:
        store = _native_or(conf, None, 'glance_store', driver)
    try:
        glance_store.create_stores(conf)
        glance_store.verify_default_store()
    except (gs_exc.GlanceStoreException, RuntimeError, ValueError) as e:
        raise exception.InvalidConfiguration(
            'Cannot configure the image stores: %s' % e)
    return Layout(multi=False, types={}, default=None, stores={None: store},
                  calls=calls)


def _configure_multi(conf):
    backends = dict(conf.enabled_backends)
    for store_id, store_type in backends.items():
        if store_id.startswith(RESERVED_PREFIX):
            raise exception.InvalidConfiguration(
                'Store identifier %r is reserved (os_glance_ prefix)'
                % store_id)
        if store_type not in STORE_TYPES:
            raise exception.InvalidConfiguration(
                'Store %r has unknown type %r; enabled_backends types are '
                '%s' % (store_id, store_type, ', '.join(STORE_TYPES)))
    try:
        multi_backend.register_store_opts(
            conf, reserved_stores=dict(RESERVED_STORES))
    except Exception as e:
        raise exception.InvalidConfiguration(
            'Cannot register store options: %s' % e)
    _set_reserved_defaults(conf)
    # The per-store sections exist from here on: read them all once.
    config.check_values(conf)
    default = conf.glance_store.default_backend
    if not default:
        raise exception.InvalidConfiguration(
            '[glance_store] default_backend must be set when '
            'enabled_backends is used')
    if default not in backends:
        raise exception.InvalidConfiguration(
            '[glance_store] default_backend %r is not one of '
            'enabled_backends (%s)' % (default, ', '.join(backends)))
    calls = glance_store_driver.MultiStoreCalls
    stores = {}
    for store_id, store_type in list(backends.items()) + list(
            RESERVED_STORES.items()):
        driver = glance_store_driver.GlanceStoreDriver(store_id, calls)
        stores[store_id] = driver
        if store_type == 'file':
            stores[store_id] = _native_or(conf, store_id, store_id, driver)
    try:
        multi_backend.create_multi_stores(
            conf, reserved_stores=dict(RESERVED_STORES))
        multi_backend.verify_store()
    except (gs_exc.GlanceStoreException, RuntimeError, ValueError) as e:
        raise exception.InvalidConfiguration(
            'Cannot configure the image stores: %s' % e)
    for store_id, store_type in backends.items():
        try:
            multi_backend.get_store_from_store_identifier(store_id)
        except Exception as e:
            raise exception.InvalidConfiguration(
                'Store %r (type %s) could not be loaded: %s'
                % (store_id, store_type, e))
    return Layout(multi=True, types=backends, default=default,
                  stores=stores, calls=calls)


def _native_or(conf, store_id, group_name, driver):
    """The native store of a file store, else its glance_store driver."""
    option = functools.partial(store_option, conf, group_name)
    native = native_file.open_store(store_id, group_name, option, driver)
    return driver if native is None else native


def _set_reserved_defaults(conf):
    """Reserved stores default to our staging dir and state path.

    glance_store resets every backend group's defaults to None when it
    creates the stores (falling back to [backend_defaults]), so the
    effective value is pinned with an override; the operator's own value,
    when set, is what gets pinned.
    """
    defaults = {
        STAGING_STORE: config.staging_dir(conf),
        TASKS_STORE: os.path.join(config.state_path(conf), TASKS_STORE),
    }
    for group, default in defaults.items():
        conf.clear_override('filesystem_store_datadir', group=group)
        conf.set_default('filesystem_store_datadir', default, group=group)
        value = getattr(conf, group).filesystem_store_datadir or default
        conf.set_override('filesystem_store_datadir', value, group=group)


def store_option(conf, group_name: str, name: str):
    """A store option as glance_store sees it: the store's own group,
    else ``[backend_defaults]``; None when not registered."""
    for group in (group_name, 'backend_defaults'):
        try:
            value = getattr(getattr(conf, group), name)
        except (AttributeError, cfg.NoSuchOptError, cfg.NoSuchGroupError):
            continue
        if value is not None:
            return value
    return None


# What is configured ----------------------------------------------------

def staging_datadir(conf) -> str | None:
    """Directory of the reserved staging store (multi-store only).

    Configures the stores first when needed (command-line tools), since
    the reserved store's options exist only from then on.
    """
    if not conf.enabled_backends:
        return None
    layout(conf)
    return store_option(conf, STAGING_STORE, 'filesystem_store_datadir')


def is_multi_store(conf) -> bool:
    return bool(conf.enabled_backends)


def store_ids(conf) -> list[str]:
    """Client-visible store ids in configuration order ([] single-store)."""
    return list(layout(conf).types)


def default_store_id(conf) -> str | None:
    return layout(conf).default


def store_type(conf, store_id: str) -> str | None:
    return layout(conf).types.get(store_id)


def unwritable(conf, store_id: str) -> Unwritable | None:
    """Why clients cannot write to *store_id*, or None when they can.

    Callers word the refusal: uploads and imports answer differently.
    """
    if store_id.startswith(RESERVED_PREFIX):
        return Unwritable.RESERVED
    types = layout(conf).types
    if store_id not in types:
        return Unwritable.UNKNOWN
    if types[store_id] in READ_ONLY_TYPES:
        return Unwritable.READ_ONLY
    return None


_UPLOAD_REFUSALS = {
    Unwritable.RESERVED:
        'Store %s is reserved for the service and cannot be used.',
    Unwritable.UNKNOWN: 'Store for identifier %s not found',
    Unwritable.READ_ONLY: 'Store %s is read-only.',
}


def resolve_store(conf, store_id: str | None) -> str | None:
    """The store to write to: *store_id* or the default (400 if unknown).

    Single-store deployments ignore *store_id* (Glance ignores the
    X-Image-Meta-Store header there) and return None.
    """
    current_layout = layout(conf)
    if not current_layout.multi:
        return None
    if not store_id:
        return current_layout.default
    reason = unwritable(conf, store_id)
    if reason is not None:
        raise exception.BadRequest(_UPLOAD_REFUSALS[reason] % store_id)
    return store_id

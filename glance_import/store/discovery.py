"""What clients learn about the stores: the /v2/info/stores entries and
the weights that order an image's locations."""

from glance_store import multi_backend

from glance_import.store import registry

# Settings /v2/info/stores/detail shows, by store type: key -> option.
_DETAIL_PROPERTIES = {
    'file': {'data_dir': 'filesystem_store_datadir',
             'chunk_size': 'filesystem_store_chunk_size',
             'thin_provisioning': 'filesystem_thin_provisioning'},
    'rbd': {'chunk_size': 'rbd_store_chunk_size',
            'pool': 'rbd_store_pool',
            'thin_provisioning': 'rbd_thin_provisioning'},
    'cinder': {'volume_type': 'cinder_volume_type',
               'use_multipath': 'cinder_use_multipath'},
    'swift': {'container': 'swift_store_container',
              'large_object_size': 'swift_store_large_object_size',
              'large_object_chunk_size':
                  'swift_store_large_object_chunk_size'},
    's3': {name: name for name in (
        's3_store_large_object_size', 's3_store_large_object_chunk_size',
        's3_store_thread_pools')},
    'http': {},
}


def stores_info(conf, detail: bool = False) -> list[dict]:
    """Entries of GET /v2/info/stores (and /detail with *detail*)."""
    layout = registry.layout(conf)
    option = registry.store_option
    entries = []
    for store_id, kind in layout.types.items():
        if kind == 'swift' and all(option(conf, store_id, name) for
                                   name in ('swift_store_multi_tenant',
                                            'swift_store_config_file')):
            continue
        entry = {'id': store_id}
        description = option(conf, store_id, 'store_description')
        if description:
            entry['description'] = description
        if store_id == layout.default:
            entry['default'] = 'true'
        if kind in registry.READ_ONLY_TYPES:
            entry['read-only'] = 'true'
        if detail:
            entry['type'] = kind
            entry['weight'] = store_weight(conf, store_id)
            entry['properties'] = {
                key: option(conf, store_id, name)
                for key, name in _DETAIL_PROPERTIES.get(kind, {}).items()}
            if kind == 'rbd':
                entry['properties']['fsid'] = _rbd_fsid(store_id)
        entries.append(entry)
    return entries


def store_weight(conf, store_id: str | None) -> int:
    """Configured weight of a store (locations are read heaviest first)."""
    if not store_id or store_id not in registry.layout(conf).types:
        return 0
    return registry.store_option(conf, store_id, 'weight') or 0


def _rbd_fsid(store_id):
    """The cluster fsid from the rbd driver's ``rbd://<fsid>/<pool>/``
    URL prefix (set when it reached the cluster at start), as Glance."""
    try:
        store = multi_backend.get_store_from_store_identifier(store_id)
    except Exception:
        return None
    prefix = getattr(store, 'url_prefix', None) or ''
    pieces = prefix[len('rbd://'):].rstrip('/').split('/')
    if prefix.startswith('rbd://') and len(pieces) == 2 and pieces[0]:
        return pieces[0]
    return None

"""Import flows: one taskflow linear flow per import method.

``get_flow`` is a module-level factory taking plain data only (ids,
method, store names, flags), and building a flow has no side effects, so
a jobboard conductor can rebuild the same flow from a task row. The
engine reverts every step that ran, last first, when one fails.

Order of the steps (reference section 5.3, with inspection moved after
the plugins so it sees exactly the bytes the stores will get):

    ImportLock -> [RemoteMetadata] -> data (staged / download / copy)
    -> plugins -> InspectFormat -> WriteToStore x N -> DeleteStaging
    -> Complete
"""

from taskflow.patterns import linear_flow

from glance_import import tasks
from glance_import.importer import location_steps
from glance_import.importer import plugins
from glance_import.importer import steps

METHODS = ('glance-direct', 'web-download', 'copy-image', 'glance-download')
# The flow of a location_import task: not an import method clients name.
LOCATION_IMPORT = 'location-import'


def set_active_flags(stores, method, all_stores_must_succeed):
    """Which store writes may turn the image active (Glance's rule).

    copy-image never (already active); with all_stores_must_succeed only
    the last store, so a failure before it leaves the image importing;
    otherwise any store (the first success wins).
    """
    if method == 'copy-image':
        return [False] * len(stores)
    if all_stores_must_succeed:
        return [i == len(stores) - 1 for i in range(len(stores))]
    return [True] * len(stores)


def get_flow(*, image_id: str, task_id: str, method: str, stores: list,
             all_stores_must_succeed: bool = True, uri: str | None = None,
             remote: dict | None = None, plugin_names=(),
             location: dict | None = None) -> linear_flow.Flow:
    """The flow importing *image_id* for task *task_id* with *method*.

    *stores* is the list of target store ids ([None] in single-store);
    *remote* holds glance-download's image_id/region/interface;
    *location* the url, validation_data and secure_hash of a
    location_import.
    """
    if method == LOCATION_IMPORT:
        return location_flow(image_id, task_id, **location)
    if method not in METHODS:
        raise ValueError('Unknown import method %r' % method)
    flow = linear_flow.Flow('import-%s-%s' % (method, image_id))
    flow.add(steps.ImportLock(image_id, task_id, method, stores))

    if method == 'glance-direct':
        flow.add(steps.UseStagedData(image_id, task_id))
    elif method == 'web-download':
        flow.add(steps.WebDownload(image_id, task_id, uri))
    elif method == 'copy-image':
        flow.add(steps.CopyFromStore(image_id, task_id))
    else:
        args = (image_id, task_id, remote['image_id'], remote['region'],
                remote['interface'])
        flow.add(steps.RemoteMetadata(*args, provides='remote_info'))
        flow.add(steps.RemoteDownload(*args))

    if method != 'copy-image':
        for atom in plugins.get_plugin_flows(
                plugin_names, image_id=image_id, task_id=task_id,
                method=method, stores=stores):
            flow.add(atom)
        flow.add(steps.InspectFormat(image_id, task_id))

    flags = set_active_flags(stores, method, all_stores_must_succeed)
    for store_id, set_active in zip(stores, flags, strict=True):
        flow.add(steps.WriteToStore(image_id, task_id, store_id, set_active,
                                    all_stores_must_succeed))
    flow.add(steps.DeleteStaging(image_id, task_id))
    flow.add(steps.Complete(image_id, task_id, method))
    return flow


def location_flow(image_id, task_id, *, url, validation_data, secure_hash,
                  algo):
    """Record *url* on a queued image and make it active (Glance's order).

    With validation data the image is ``importing`` until the data's hash
    matches it; without, it is active at once and hashed afterwards, out
    of the lock. Without *secure_hash* nothing is read: the validation
    data, if any, is recorded as given.
    """
    flow = linear_flow.Flow('location-import-%s' % image_id)
    flow.add(steps.ImportLock(image_id, task_id, LOCATION_IMPORT, []))
    verify = bool(secure_hash and validation_data)
    flow.add(location_steps.AddLocation(image_id, task_id, url, verify))
    if verify:
        flow.add(location_steps.HashLocationData(image_id, task_id, algo,
                                                 expected=validation_data))
    values = validation_data if not secure_hash else None
    flow.add(location_steps.SetActive(image_id, task_id, values))
    flow.add(steps.Complete(image_id, task_id, LOCATION_IMPORT))
    if secure_hash and not validation_data:
        flow.add(location_steps.HashLocationData(image_id, task_id, algo))
    return flow


def _location_args(task: dict, conf) -> dict:
    task_input = task['input'] or {}
    validation = dict(task_input.get('validation_data') or {})
    return {
        'image_id': task_input.get('image_id') or task['image_id'],
        'task_id': task['id'],
        'method': LOCATION_IMPORT,
        'stores': [],
        'location': {
            'url': task_input.get('loc_url'),
            'validation_data': validation,
            # Decided once, when the task starts: a resumed flow keeps
            # its shape whatever the configuration says by then.
            'secure_hash': bool(conf.do_secure_hash),
            'algo': validation.get('os_hash_algo') or conf.hashing_algorithm,
        },
    }


def flow_args_from_task(task: dict, conf) -> dict:
    """get_flow's arguments from an api_image_import or location_import
    task row."""
    if task.get('type') == tasks.LOCATION_IMPORT:
        return _location_args(task, conf)
    task_input = task['input'] or {}
    body = task_input.get('import_req') or {}
    method = body.get('method') or {}
    name = method.get('name')
    remote = None
    if name == 'glance-download':
        remote = {'image_id': method.get('glance_image_id'),
                  'region': method.get('glance_region'),
                  'interface': method.get('glance_service_interface',
                                          'public')}
    return {
        'image_id': task_input.get('image_id') or task['image_id'],
        'task_id': task['id'],
        'method': name,
        'stores': task_input.get('backend') or [None],
        'all_stores_must_succeed': body.get('all_stores_must_succeed', True),
        'uri': method.get('uri'),
        'remote': remote,
        'plugin_names': list(conf.image_import_opts.image_import_plugins),
    }

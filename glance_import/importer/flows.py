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

from glance_import.importer import plugins
from glance_import.importer import steps

METHODS = ('glance-direct', 'web-download', 'copy-image', 'glance-download')


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
             remote: dict | None = None, plugin_names=()) -> linear_flow.Flow:
    """The flow importing *image_id* for task *task_id* with *method*.

    *stores* is the list of target store ids ([None] in single-store);
    *remote* holds glance-download's image_id/region/interface.
    """
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


def flow_args_from_task(task: dict, conf) -> dict:
    """get_flow's arguments from an api_image_import task row."""
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

"""Where an import runs: in this process, or as a job on a jobboard.

``dispatch`` is called once per accepted import task. It saves the flow
(factory and plain-data arguments, see ``persistence``) before anything
runs, so recovery knows the task from its first moment. Without
``[taskflow_executor] jobboard_url`` the caller then runs the task in its
own pool; with it the task is posted on a taskflow Redis jobboard and
``glance-import-conductor`` processes claim and run it.

A conductor holds its claim for ``job_claim_expiry`` seconds and renews
it while the job runs, so the job of a killed conductor becomes
claimable again and the next conductor resumes the saved flow.
"""

import contextlib
import logging
import threading
import urllib.parse

from taskflow.jobs import backends as job_backends

from glance_import import context
from glance_import import exception
from glance_import.db import images as db_images
from glance_import.importer import lifecycle
from glance_import.importer import persistence
from glance_import.store import signature

LOG = logging.getLogger(__name__)


def enabled(conf) -> bool:
    return bool(conf.taskflow_executor.jobboard_url)


def board_conf(conf) -> dict:
    """taskflow's Redis jobboard settings from ``jobboard_url``."""
    url = conf.taskflow_executor.jobboard_url
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != 'redis' or not parsed.hostname:
        raise exception.InvalidConfiguration(
            '[taskflow_executor] jobboard_url must be redis://host[:port]'
            '[/db], not %r' % url)
    settings = {'board': 'redis', 'host': parsed.hostname,
                'port': parsed.port or 6379,
                'namespace': conf.taskflow_executor.jobboard_name.encode()}
    db = parsed.path.strip('/')
    if db:
        if not db.isdigit():
            raise exception.InvalidConfiguration(
                'The database of jobboard_url must be a number: %r' % url)
        settings['db'] = int(db)
    if parsed.password:
        settings['password'] = urllib.parse.unquote(parsed.password)
    if parsed.username:
        settings['username'] = urllib.parse.unquote(parsed.username)
    return settings


@contextlib.contextmanager
def board(conf):
    """A connected jobboard, closed on exit."""
    with job_backends.backend(conf.taskflow_executor.jobboard_name,
                              board_conf(conf),
                              persistence=persistence.backend()) as jb:
        yield jb


_BOARD = None
_BOARD_LOCK = threading.Lock()


def _shared_board(conf):
    """One connected board per process for posting."""
    global _BOARD
    with _BOARD_LOCK:
        if _BOARD is None:
            jb = job_backends.fetch(conf.taskflow_executor.jobboard_name,
                                    board_conf(conf),
                                    persistence=persistence.backend())
            jb.connect()
            _BOARD = jb
        return _BOARD


def dispatch(conf, task: dict, args: dict,
             credentials: dict | None) -> bool:
    """Save the flow of import *task* (*args*); post it as a job if a
    jobboard is set.

    Returns True when the job was posted (the caller must not run it).
    Legacy tasks create their image when they start, so their flow is
    saved then, and they always run in the API process.
    """
    if not enabled(conf):
        try:
            persistence.create_flow_detail(conf, task['id'], args)
        except Exception as e:
            # The run saves it again; recovery just knows it later.
            LOG.warning('Cannot save the flow of task %s yet: %s',
                        task['id'], e)
        return False
    try:
        _post(conf, task, args, credentials)
    except Exception as e:
        # An accepted import must run: do it here rather than lose it.
        LOG.error('Cannot post import task %s on the jobboard (%s); '
                  'running it in this process', task['id'], e)
        detail = persistence.flow_detail(task['id'])
        if detail is not None:
            detail.meta = dict(detail.meta or {}, jobboard=False)
            persistence.set_owner(detail, persistence.this_process(conf))
        return False
    return True


def _post(conf, task, args, credentials):
    detail = persistence.create_flow_detail(conf, task['id'], args,
                                            jobboard=True)
    if not (detail.meta or {}).get('jobboard'):
        # Saved earlier for an in-process run (e.g. restarted after a
        # crash): the conductors own it now.
        detail.meta = dict(detail.meta or {}, jobboard=True)
        persistence.set_owner(detail, persistence.this_process(conf))
    details = {'flow_uuid': detail.uuid, 'task_id': task['id']}
    if credentials and _acts_as_caller(args):
        # The token travels in the job (keep Redis private).
        details['store'] = {'credentials': credentials}
    book = persistence.logbook(task['id'])
    _shared_board(conf).post('import-%s' % task['id'], book=book,
                             details=details)
    LOG.info('Posted import task %s as a job', task['id'])


def _acts_as_caller(args) -> bool:
    """Whether the flow calls another service as the user: glance-download
    reads the remote region, and the certificate of a signed image comes
    from the key manager."""
    if args['method'] == 'glance-download':
        return True
    try:
        image = db_images.image_get(context.admin_context(),
                                    args['image_id'], check_visible=False)
    except exception.ImageNotFound:
        return False
    return signature.is_signed(image.properties)


# Conductors ------------------------------------------------------------

class ExpiringClaims:
    """A jobboard whose claims expire unless renewed.

    taskflow's conductors claim without expiry, so the jobs of a killed
    conductor would stay claimed forever; here every claim lasts
    ``expiry`` seconds and ``keep_claimed`` renews it while a job runs.
    """

    def __init__(self, jobboard, expiry):
        self._jobboard = jobboard
        self.expiry = expiry

    def __getattr__(self, name):
        return getattr(self._jobboard, name)

    def claim(self, job, who, expiry=None):
        return self._jobboard.claim(job, who, expiry=expiry or self.expiry)

    @contextlib.contextmanager
    def keep_claimed(self, job):
        stop = threading.Event()

        def renew():
            while not stop.wait(self.expiry / 3.0):
                try:
                    job.extend_expiry(self.expiry)
                except Exception as e:
                    LOG.warning('Cannot renew the claim on %s: %s', job, e)

        thread = threading.Thread(target=renew, daemon=True,
                                  name='claim-%s' % job.uuid)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def run_job(conf, task_id: str, credentials: dict | None) -> None:
    """Run, or continue, the import task of a claimed job to its end."""
    task = lifecycle.start(task_id, or_continue=True)
    if task is not None:
        lifecycle.resume(conf, task, credentials)


def _dispatch_job(conductor, job):
    """Conductor hook: our task runner instead of a bare engine run.

    Returns whether to consume the job (False gives it back).
    """
    details = job.details or {}
    task_id = details.get('task_id')
    if not task_id:
        LOG.error('Job %s names no import task; dropping it', job)
        return True
    credentials = (details.get('store') or {}).get('credentials')
    with conductor._jobboard.keep_claimed(job):
        try:
            run_job(conductor.service_conf, task_id, credentials)
        except Exception:
            # E.g. the database is unreachable: give the job back (an
            # exception here would make the conductor trash it).
            LOG.exception('Import task %s could not run; job released',
                          task_id)
            return False
    return True


def conductor(conf, name: str):
    """A taskflow conductor (``conductor_type``) running import jobs."""
    from taskflow.conductors.backends import impl_blocking
    from taskflow.conductors.backends import impl_nonblocking

    opts = conf.taskflow_executor
    base = {'blocking': impl_blocking.BlockingConductor,
            'nonblocking': impl_nonblocking.NonBlockingConductor}[
                opts.conductor_type]
    # taskflow calls the hook with the conductor: it carries the conf.
    cls = type('ImportConductor', (base,),
               {'_dispatch_job': _dispatch_job, 'service_conf': conf})
    jb = job_backends.fetch(opts.jobboard_name, board_conf(conf),
                            persistence=persistence.backend())
    jb.connect()
    kwargs = {'persistence': persistence.backend(), 'wait_timeout': 1.0}
    if opts.conductor_type == 'nonblocking':
        kwargs['max_simultaneous_jobs'] = opts.conductor_max_jobs
    return cls(name, ExpiringClaims(jb, opts.job_claim_expiry), **kwargs)

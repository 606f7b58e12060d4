"""The no_op plugin: runs, logs, changes nothing (useful to test wiring)."""

import logging

from taskflow import task

LOG = logging.getLogger(__name__)


class _NoOp(task.Task):
    def __init__(self, image_id):
        self.image_id = image_id
        super().__init__(name='plugin-no_op')

    def execute(self):
        LOG.info('no_op import plugin ran for image %s', self.image_id)


def get_flow(image_id, **kwargs):
    return _NoOp(image_id)

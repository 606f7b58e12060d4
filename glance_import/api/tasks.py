"""PLACEHOLDER module: to be written."""

import webob.exc


def list_image_tasks(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def list_tasks(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def create_task(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_task(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

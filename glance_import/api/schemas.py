"""PLACEHOLDER module: to be written."""

import webob.exc


def show_image_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_images_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_member_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_members_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_task_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_tasks_schema(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

"""PLACEHOLDER module: to be written."""

import webob.exc


def list_images(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def create_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def update_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def delete_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def add_tag(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def delete_tag(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def deactivate_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def reactivate_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

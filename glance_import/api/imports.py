"""PLACEHOLDER module: to be written."""

import webob.exc


def import_image(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_import_info(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def list_stores(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def list_stores_detail(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

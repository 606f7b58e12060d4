"""PLACEHOLDER module: to be written."""

import webob.exc


def download_image_data(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def upload_image_data(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def stage_image_data(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def delete_from_store(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

"""PLACEHOLDER module: to be written."""

import webob.exc


def list_members(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def create_member(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def show_member(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def update_member(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()


def delete_member(req, **kwargs):
    raise webob.exc.HTTPNotImplemented()

"""The staging area: image data uploaded with PUT /stage, until import.

Staged data lives in ``<staging dir>/<image id>`` (image ids are UUIDs,
so no name can leave the directory). ``write`` hashes while writing, so
a glance-direct import whose data lands unchanged need not read it again:
the stage handler records the digests on the image in the hidden
properties named in ``STAGE_PROPERTIES`` and ``staged_from_image`` reads
them back.

The staging directory is ``node_staging_uri`` in single-store mode and
the ``[os_glance_staging_store]`` data directory with multi-store (which
defaults to the same path).
"""

import logging
import os
import uuid

from glance_import import config
from glance_import import exception
from glance_import import images as image_domain
from glance_import.store import fileio
from glance_import.store import limits

LOG = logging.getLogger(__name__)

# What a completed stage measured (size and digests of the staged file).
Staged = fileio.Written

# Hidden image properties written by PUT /stage (service-reserved names).
STAGE_CHECKSUM = image_domain.STAGE_CHECKSUM
STAGE_HASH_ALGO = image_domain.STAGE_HASH_ALGO
STAGE_HASH_VALUE = image_domain.STAGE_HASH_VALUE
STAGE_PROPERTIES = (STAGE_CHECKSUM, STAGE_HASH_ALGO, STAGE_HASH_VALUE)


def directory(conf) -> str:
    """The staging directory for this configuration."""
    if conf.enabled_backends:
        from glance_import.store import backends
        datadir = backends.staging_datadir(conf)
        if datadir:
            return os.path.abspath(os.path.expanduser(datadir))
    return os.path.abspath(config.staging_dir(conf))


def _check_id(image_id):
    try:
        return str(uuid.UUID(image_id)) == image_id.lower()
    except (ValueError, TypeError, AttributeError):
        return False


def path(conf, image_id: str) -> str:
    """Path of the staged data of *image_id*."""
    if not _check_id(image_id):
        raise exception.ImageNotFound(image_id=image_id)
    return os.path.join(directory(conf), image_id)


def exists(conf, image_id: str) -> bool:
    return os.path.exists(path(conf, image_id))


def write(conf, image_id: str, data, size_cap: int, *,
          expected_size: int | None = None) -> Staged:
    """Stream *data* (iterable of byte chunks) to the staging file.

    Enforces *size_cap* (413) and *expected_size* (400) while writing;
    computes md5 and ``hashing_algorithm``; fsyncs. On any error,
    including a client disconnect surfacing from *data*, the partial
    file is removed. An existing staged file is a 409.
    """
    limited = limits.LimitedStream(data, cap=size_cap,
                                   expected=expected_size)
    return fileio.write_new(
        path(conf, image_id), limited, conf.hashing_algorithm,
        exists_error=exception.Conflict(
            'The image %s has data on staging' % image_id))


def delete(conf, image_id: str) -> bool:
    """Remove the staged data of *image_id*; True if there was some.

    Files derived from it by import plugins (``<id>.<suffix>``) go too.
    """
    staged = path(conf, image_id)
    removed = _remove(staged)
    base = directory(conf)
    try:
        names = [n for n in os.listdir(base)
                 if n.startswith(image_id + '.')]
    except OSError:
        names = []
    for name in names:
        removed = _remove(os.path.join(base, name)) or removed
    return removed


def _remove(file_path):
    try:
        os.unlink(file_path)
        return True
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        return False


def stage_properties(staged: Staged) -> dict:
    """Hidden properties recording the digests of a completed stage."""
    return {STAGE_CHECKSUM: staged.checksum,
            STAGE_HASH_ALGO: staged.os_hash_algo,
            STAGE_HASH_VALUE: staged.os_hash_value}


def staged_from_image(image) -> Staged | None:
    """The Staged recorded on *image* by PUT /stage, or None."""
    props = image.properties
    if image.size is None or not all(props.get(p)
                                     for p in STAGE_PROPERTIES):
        return None
    return Staged(image.size, props[STAGE_CHECKSUM], props[STAGE_HASH_ALGO],
                  props[STAGE_HASH_VALUE])


# Residue files ---------------------------------------------------------
# Which files are residue needs the database: importer.residue decides.

def staged_files(conf) -> dict[str, list[str]]:
    """{image id: names of its files} in the staging directory.

    A file belongs to the image named by its name up to the first '.'
    (plugins add suffixes); names that are not UUIDs are not ours and
    are left out.
    """
    try:
        names = os.listdir(directory(conf))
    except FileNotFoundError:
        return {}
    owners = {}
    for name in names:
        image_id = name.split('.', 1)[0]
        if _check_id(image_id):
            owners.setdefault(image_id, []).append(name)
    return owners


def remove_residue(conf, names) -> list[str]:
    """Remove the staged files *names*; returns the removed paths.

    A file that cannot be removed is logged and skipped.
    """
    base = directory(conf)
    removed = []
    for name in names:
        file_path = os.path.join(base, name)
        try:
            if _remove(file_path):
                removed.append(file_path)
        except OSError as e:
            LOG.warning('Cannot remove staging residue %s: %s',
                        file_path, e.strerror)
    if removed:
        LOG.info('Removed %d staging residue file(s) from %s',
                 len(removed), base)
    return removed

"""The image domain: the record, its status machine and property rules.

Pure Python: no HTTP, no SQL. Handlers and import steps ask this module
whether a change is allowed; ``db.images`` applies it with compare-and-swap.
"""

import dataclasses
import datetime

from glance_import import exception

QUEUED = 'queued'
SAVING = 'saving'
ACTIVE = 'active'
KILLED = 'killed'
DELETED = 'deleted'
UPLOADING = 'uploading'
IMPORTING = 'importing'
PENDING_DELETE = 'pending_delete'
DEACTIVATED = 'deactivated'

STATUSES = (QUEUED, SAVING, ACTIVE, KILLED, DELETED, UPLOADING, IMPORTING,
            PENDING_DELETE, DEACTIVATED)

# Each status and the statuses it may move to.
TRANSITIONS = {
    QUEUED: {SAVING, UPLOADING, IMPORTING, ACTIVE, DELETED},
    # A failed upload returns the image to queued (v2 never kills).
    SAVING: {ACTIVE, KILLED, DELETED, QUEUED},
    # Staged data may be imported, dropped (back to queued) or deleted.
    UPLOADING: {IMPORTING, QUEUED, DELETED},
    # A failed import reverts to queued so the client can try again.
    IMPORTING: {ACTIVE, DELETED, QUEUED},
    ACTIVE: {PENDING_DELETE, DELETED, DEACTIVATED},
    KILLED: {DELETED},
    PENDING_DELETE: {DELETED, ACTIVE},
    DEACTIVATED: {ACTIVE, DELETED},
    DELETED: set(),
}

# Leaving queued/uploading for these needs both formats set.
_NEEDS_FORMATS = {SAVING, ACTIVE, IMPORTING}

VISIBILITIES = ('public', 'community', 'shared', 'private')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')

# Columns of the images table, as clients see them.
BASE_ATTRIBUTES = (
    'id', 'name', 'status', 'visibility', 'protected', 'os_hidden',
    'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size',
    'disk_format', 'container_format', 'min_disk', 'min_ram', 'owner',
    'created_at', 'updated_at')

# Attributes only the service sets.
READ_ONLY = frozenset((
    'created_at', 'updated_at', 'status', 'checksum', 'size',
    'virtual_size', 'direct_url', 'self', 'file', 'schema', 'id',
    'os_hash_algo', 'os_hash_value', 'stores'))
# Names no client may use as a property.
RESERVED = frozenset(('location', 'deleted', 'deleted_at'))
RESERVED_PREFIX = 'os_glance'

# Import bookkeeping properties, maintained by the service.
IMPORT_LOCK = 'os_glance_import_task'
IMPORTING_TO_STORES = 'os_glance_importing_to_stores'
FAILED_IMPORT = 'os_glance_failed_import'
STAGE_HOST = 'os_glance_stage_host'
# Digests of the staged data, recorded by PUT /stage so a glance-direct
# import need not hash it again (see store.staging).
STAGE_CHECKSUM = 'os_glance_stage_checksum'
STAGE_HASH_ALGO = 'os_glance_stage_hash_algo'
STAGE_HASH_VALUE = 'os_glance_stage_hash_value'
# Properties never shown to clients.
HIDDEN_PROPERTIES = frozenset((STAGE_HOST, 'os_glance_hash_op_host',
                               STAGE_CHECKSUM, STAGE_HASH_ALGO,
                               STAGE_HASH_VALUE))

INT32_MAX = 2 ** 31 - 1


@dataclasses.dataclass
class Image:
    """An image as loaded from the database."""

    id: str
    status: str = QUEUED
    name: str | None = None
    visibility: str = 'shared'
    protected: bool = False
    os_hidden: bool = False
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    disk_format: str | None = None
    container_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    owner: str | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    properties: dict = dataclasses.field(default_factory=dict)
    tags: list = dataclasses.field(default_factory=list)
    # [{'id': row id, 'url': ..., 'metadata': {...}, 'status': ...}]
    locations: list = dataclasses.field(default_factory=list)
    # The caller's project when it has a membership on this image.
    member: str | None = None

    @property
    def stores(self):
        """Store ids holding the data, in location order."""
        return [loc['metadata'].get('store') for loc in self.locations
                if loc['metadata'].get('store')]

    @property
    def import_lock(self):
        return self.properties.get(IMPORT_LOCK)


def can_transition(current, new):
    return new in TRANSITIONS.get(current, ())


def check_transition(image, new):
    """Raise unless *image* may move to status *new*."""
    if not can_transition(image.status, new):
        raise exception.InvalidImageStatusTransition(
            cur_status=image.status, new_status=new)
    if (image.status in (QUEUED, UPLOADING) and new in _NEEDS_FORMATS
            and not (image.disk_format and image.container_format)):
        raise exception.BadRequest(
            'Properties disk_format, container_format must be set prior '
            'to saving data.')


# Locations ---------------------------------------------------------------

# The statuses in which clients may change an image's locations. A queued
# image has no data yet, so a location may supply it; only an active one
# has locations to take away.
LOCATION_CHANGES = {
    'add': frozenset((QUEUED, ACTIVE)),
    'replace': frozenset((QUEUED, ACTIVE)),
    'remove': frozenset((ACTIVE,)),
}


def check_location_change(image, change):
    """409 unless *image*'s status allows *change* ('add', 'replace' or
    'remove') of its locations."""
    if image.status not in LOCATION_CHANGES[change]:
        raise exception.Conflict(
            "It's not allowed to %s locations if image status is %s."
            % (change, image.status))


def check_store_data_removal(image):
    """409 unless the data of *image* may be removed from one store."""
    if image.status not in LOCATION_CHANGES['remove']:
        raise exception.Conflict(
            "It's not allowed to remove image data from store if image "
            "status is not 'active'")


def location_activates(image):
    """Whether adding a location makes *image* active: a queued image
    gets its data from the location."""
    return image.status == QUEUED


def data_for_admins_only(image):
    """A deactivated image's data and locations are for admins only."""
    return image.status == DEACTIVATED


# Properties --------------------------------------------------------------

def is_reserved(name):
    return name in RESERVED or name.startswith(RESERVED_PREFIX)


def check_property_name(name):
    """Custom property names a client may set."""
    if len(name) > 255:
        raise exception.BadRequest(
            'Property key is too long (max 255 characters): %s...'
            % name[:32])
    if any(c < ' ' or c == '\x7f' for c in name):
        # A key is an identifier: it is matched in filters, policies
        # and Nova's scheduler hints, and no control character belongs
        # in one.
        raise exception.BadRequest(
            'Property key %r contains control characters.' % name[:32])
    if is_reserved(name):
        raise exception.ReservedAttribute(attribute=name)


def stores_list(value):
    """Parse a comma-separated store list property."""
    return [s for s in (value or '').split(',') if s]


def stores_value(stores):
    """Format a store list property: sorted, comma-separated."""
    return ','.join(sorted(set(stores)))


# Import-method preconditions, in the order Glance checks them.
def check_import_allowed(image, method):
    """Raise 409 unless *image* is in a state *method* can import from."""
    if image.status == ACTIVE and method != 'copy-image':
        raise exception.Conflict(
            'Image with status active cannot be target for import')
    if image.status != ACTIVE and method == 'copy-image':
        raise exception.Conflict(
            'Only images with status active can be targeted for copying')
    if method in ('web-download', 'glance-download') and \
            image.status != QUEUED:
        raise exception.Conflict(
            "Image needs to be in 'queued' state to use '%s' method"
            % method)
    if method == 'glance-direct' and image.status != UPLOADING:
        raise exception.Conflict(
            "Image needs to be staged before 'glance-direct' method can be "
            "used")
    for attr in ('container_format', 'disk_format'):
        if not getattr(image, attr):
            raise exception.Conflict("'%s' needs to be set before import"
                                     % attr)

"""What a task is: its types, its statuses and the moves allowed between
them. Pure Python, beside the image state machine in glance_import.images."""

from glance_import import exception

# Task types, all run by the importer.
IMPORT = 'api_image_import'          # POST /v2/images/{id}/import
LEGACY_IMPORT = 'import'             # POST /v2/tasks (deprecated API)
LOCATION_IMPORT = 'location_import'  # POST /v2/images/{id}/locations
TYPES = (LEGACY_IMPORT, IMPORT, LOCATION_IMPORT)
RUNNABLE_TYPES = (IMPORT, LEGACY_IMPORT, LOCATION_IMPORT)
# Tasks run as a saved taskflow flow, which a crash may resume.
FLOW_TYPES = (IMPORT, LOCATION_IMPORT)

PENDING = 'pending'
PROCESSING = 'processing'
SUCCESS = 'success'
FAILURE = 'failure'

STATUSES = (PENDING, PROCESSING, SUCCESS, FAILURE)

# Each status and the statuses it may move to.
TRANSITIONS = {
    # A task may fail before it runs: not dispatched, or taken over.
    PENDING: {PROCESSING, FAILURE},
    PROCESSING: {SUCCESS, FAILURE},
    SUCCESS: set(),
    FAILURE: set(),
}


def can_transition(current, new):
    # An unknown *current* is a caller's bug: a KeyError, not a 409.
    return new in TRANSITIONS[current]


def check_transition(current, new):
    """Raise Conflict (409) unless a task may move from *current* to *new*."""
    if not can_transition(current, new):
        raise exception.Conflict(
            'Task status transition from %s to %s is not allowed'
            % (current, new))

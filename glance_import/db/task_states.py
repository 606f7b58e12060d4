"""The task status machine: task statuses and the moves allowed between
them. Pure Python, beside the image one in glance_import.images."""

from glance_import import exception

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

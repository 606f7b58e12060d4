"""The image list query language: filters (operators, ``in:`` lists,
times, ranges, booleans), sort keys and directions, limits and markers.

It turns GET /v2/images query parameters into the keyword arguments of
``db.image_lists.image_get_all`` and builds the page links.
"""

import datetime
import urllib.parse

from oslo_utils import timeutils

from glance_import import exception
from glance_import import images as image_domain
from glance_import.api import util
from glance_import.db import image_lists

_EQ_IN_COLUMNS = ('name', 'id', 'status', 'container_format', 'disk_format')
_TIME_COLUMNS = ('created_at', 'updated_at')
_TIME_OPS = ('gt', 'gte', 'lt', 'lte', 'eq', 'neq')
_TEXT_COLUMNS = ('owner', 'checksum', 'os_hash_algo', 'os_hash_value')
_INT_COLUMNS = ('size', 'virtual_size', 'min_disk', 'min_ram')
_RANGE_COLUMNS = {'%s_%s' % (col, end): (col, op)
                  for col in _INT_COLUMNS
                  for end, op in (('min', 'gte'), ('max', 'lte'))}
_NOT_FILTERS = ('limit', 'marker', 'sort', 'sort_key', 'sort_dir',
                'member_status', 'visibility', 'os_hidden', 'protected',
                'tag')
INT64_MAX = 2 ** 63 - 1


def _int_param(value, name, *, minimum=0):
    if not (value.isascii() and value.lstrip('-').isdigit()):
        raise exception.BadRequest('%s param must be an integer' % name)
    number = int(value)
    if number < minimum:
        raise exception.BadRequest('%s param must be positive' % name)
    if number > INT64_MAX:
        raise exception.BadRequest('%s param is too large' % name)
    return number


def split_in_list(text):
    """Values of an ``in:`` filter; double quotes protect commas."""
    values, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == ',' and not quoted:
            values.append(''.join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise exception.BadRequest(
            'Invalid in-list filter %r: unbalanced quotes.' % text)
    values.append(''.join(current))
    return values


def _split_op(value, allowed):
    """('op', 'operand') of a filter value such as ``gte:2020-01-01``."""
    op, sep, operand = value.partition(':')
    if not sep:
        return 'eq', value
    if op not in allowed:
        raise exception.BadRequest(
            "Unable to filter by unknown operator '%s'." % op)
    return op, operand


def _time_filter(key, value):
    """A created_at/updated_at filter, at the precision clients see.

    Times are shown to the second, so ``eq:T`` means "during second T"
    and the other operators compare against that whole second.
    """
    try:
        # A bare ISO 8601 time also contains ':'; it means equality.
        op, when = 'eq', _parse_time(value)
    except exception.BadRequest:
        op, operand = _split_op(value, _TIME_OPS)
        when = _parse_time(operand)
    try:
        end = when + datetime.timedelta(seconds=1)
    except OverflowError:
        end = None
    if when.microsecond or end is None:
        return key, op, when
    return {
        'eq': (key, 'within', (when, end)),
        'neq': (key, 'outside', (when, end)),
        'gt': (key, 'gte', end),
        'gte': (key, 'gte', when),
        'lt': (key, 'lt', when),
        'lte': (key, 'lt', end),
    }[op]


def _parse_time(text):
    try:
        when = timeutils.parse_isotime(text)
        return timeutils.normalize_time(when)
    except (ValueError, OverflowError):
        raise exception.BadRequest('Invalid time format: %s' % text)


def _column_filter(key, value):
    if key in _EQ_IN_COLUMNS:
        op, operand = _split_op(value, ('eq', 'in'))
        values = split_in_list(operand) if op == 'in' else [operand]
        if key == 'status':
            for status in values:
                if status not in image_domain.STATUSES:
                    raise exception.BadRequest(
                        'Invalid status value: %s' % status)
        return key, op, (values if op == 'in' else operand)
    if key in _TIME_COLUMNS:
        return _time_filter(key, value)
    if key in _RANGE_COLUMNS:
        column, op = _RANGE_COLUMNS[key]
        return column, op, _int_param(value, key)
    if key in _INT_COLUMNS:
        return key, 'eq', _int_param(value, key)
    return None


def parse_sorting(params):
    """(keys, dirs) from sort_key/sort_dir or from sort=key:dir,..."""
    sort = [v for k, v in params if k == 'sort']
    keys = [v for k, v in params if k == 'sort_key']
    dirs = [v for k, v in params if k == 'sort_dir']
    if sort and (keys or dirs):
        raise exception.BadRequest(
            'The sort parameter cannot be combined with sort_key or '
            'sort_dir.')
    if sort:
        keys, dirs = [], []
        for item in ','.join(sort).split(','):
            key, _, direction = item.strip().partition(':')
            keys.append(key.strip())
            dirs.append(direction.strip() or 'desc')
    else:
        keys = keys or ['created_at']
        if not dirs:
            dirs = ['desc'] * len(keys)
        elif len(dirs) == 1:
            dirs = dirs * len(keys)
        elif len(dirs) != len(keys):
            raise exception.BadRequest(
                'Number of sort dirs does not match the number of sort '
                'keys.')
    for key in keys:
        if key not in image_lists.SORT_KEYS:
            raise exception.BadRequest(
                'Invalid sort key: %s. It must be one of the following: %s.'
                % (key, ', '.join(image_lists.SORT_KEYS)))
    for direction in dirs:
        if direction not in ('asc', 'desc'):
            raise exception.BadRequest(
                'Invalid sort direction: %s. It must be asc or desc.'
                % direction)
    return keys, dirs


def parse_list_query(params, conf):
    """Keyword arguments for ``image_lists.image_get_all`` from the query."""
    single = {}
    for key, value in params:
        if key != 'tag' and key in single and key in _NOT_FILTERS \
                and key not in ('sort', 'sort_key', 'sort_dir'):
            raise exception.BadRequest(
                'Parameter %s may be given only once.' % key)
        single[key] = value
    if 'changes-since' in single:
        raise exception.BadRequest(
            'The changes-since filter is no longer available in v2.')
    kwargs = {'tags': [v for k, v in params if k == 'tag']}
    limit = conf.limit_param_default
    if 'limit' in single:
        limit = _int_param(single['limit'], 'limit')
    kwargs['limit'] = min(limit, conf.api_limit_max)
    kwargs['marker'] = single.get('marker')
    kwargs['sort_keys'], kwargs['sort_dirs'] = parse_sorting(params)
    member_status = single.get('member_status', 'accepted')
    if member_status not in (*image_domain.MEMBER_STATUSES, 'all'):
        raise exception.BadRequest(
            'Invalid status: %s. Member status must be one of pending, '
            'accepted, rejected or all.' % member_status)
    kwargs['member_status'] = member_status
    visibility = single.get('visibility')
    if visibility is not None and \
            visibility not in (*image_domain.VISIBILITIES, 'all'):
        raise exception.BadRequest('Invalid visibility value: %s'
                                   % visibility)
    kwargs['visibility'] = visibility
    # os_hidden is case-insensitive (clients send 'True'); protected is
    # not, as in Glance.
    hidden = single.get('os_hidden', 'false').lower()
    kwargs['os_hidden'] = util.bool_param(hidden, 'os_hidden')
    column_filters, properties = [], {}
    if 'protected' in single:
        column_filters.append(
            ('protected', 'eq', util.bool_param(single['protected'],
                                             'protected')))
    for key, value in params:
        if key in _NOT_FILTERS:
            continue
        parsed = _column_filter(key, value)
        if parsed is not None:
            column_filters.append(parsed)
        elif key in _TEXT_COLUMNS:
            column_filters.append((key, 'eq', value))
        else:
            properties[key] = value
    kwargs['column_filters'] = column_filters
    kwargs['properties'] = properties
    return kwargs


def page_link(params, marker=None):
    """The list URL of *params*, at *marker* when given (the next page)."""
    query = [(k, v) for k, v in params if k != 'marker']
    if marker is not None:
        query.append(('marker', marker))
    if not query:
        return '/v2/images'
    return '/v2/images?' + urllib.parse.urlencode(query)

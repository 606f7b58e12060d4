"""The image status machine and property rules, checked exhaustively."""

import itertools

import pytest

from glance_import import exception
from glance_import import images

# The transitions Glance allows (its Image.valid_state_targets), written
# out independently of images.TRANSITIONS so a change there is noticed.
EXPECTED = {
    'queued': {'saving', 'uploading', 'importing', 'active', 'deleted'},
    'saving': {'active', 'killed', 'deleted', 'queued'},
    'uploading': {'importing', 'queued', 'deleted'},
    'importing': {'active', 'deleted', 'queued'},
    'active': {'pending_delete', 'deleted', 'deactivated'},
    'killed': {'deleted'},
    'pending_delete': {'deleted', 'active'},
    'deactivated': {'active', 'deleted'},
    'deleted': set(),
}
PAIRS = list(itertools.product(images.STATUSES, repeat=2))


def test_table_covers_every_status():
    assert set(images.TRANSITIONS) == set(images.STATUSES)
    assert images.TRANSITIONS == EXPECTED


@pytest.mark.parametrize('current, new', PAIRS)
def test_can_transition(current, new):
    assert images.can_transition(current, new) == (new in EXPECTED[current])


@pytest.mark.parametrize('current, new', PAIRS)
def test_check_transition_with_formats(current, new):
    image = images.Image(id='i', status=current, disk_format='raw',
                         container_format='bare')
    if new in EXPECTED[current]:
        images.check_transition(image, new)
    else:
        with pytest.raises(exception.InvalidImageStatusTransition) as e:
            images.check_transition(image, new)
        assert e.value.status == 409
        assert current in e.value.msg and new in e.value.msg


@pytest.mark.parametrize('current, new', [
    (c, n) for c, n in PAIRS if n in EXPECTED[c]])
@pytest.mark.parametrize('formats', [(None, None), ('raw', None),
                                     (None, 'bare')])
def test_formats_needed_to_leave_queued_or_uploading(current, new, formats):
    image = images.Image(id='i', status=current, disk_format=formats[0],
                         container_format=formats[1])
    needs = current in ('queued', 'uploading') and new in (
        'saving', 'active', 'importing')
    if needs:
        with pytest.raises(exception.BadRequest) as e:
            images.check_transition(image, new)
        assert 'disk_format, container_format must be set' in e.value.msg
    else:
        images.check_transition(image, new)


@pytest.mark.parametrize('name', ['os_glance_import_task', 'os_glance',
                                  'os_glance_anything', 'location',
                                  'deleted', 'deleted_at'])
def test_reserved_property_names(name):
    assert images.is_reserved(name)
    with pytest.raises(exception.ReservedAttribute) as e:
        images.check_property_name(name)
    assert e.value.status == 403


@pytest.mark.parametrize('name', ['os_distro', 'glance', 'my_os_glance',
                                  'locations_hint', 'x' * 255])
def test_ordinary_property_names(name):
    assert not images.is_reserved(name)
    images.check_property_name(name)


def test_long_property_name():
    with pytest.raises(exception.BadRequest):
        images.check_property_name('x' * 256)


@pytest.mark.parametrize('name', ['a\x01b', 'tab\tname', 'line\n',
                                  '\x7f', 'os_glance\x1b'])
def test_property_names_with_control_characters(name):
    with pytest.raises(exception.BadRequest, match='control characters'):
        images.check_property_name(name)


def test_store_lists():
    assert images.stores_list('') == []
    assert images.stores_list(None) == []
    assert images.stores_list('b,a,,c') == ['b', 'a', 'c']
    assert images.stores_value(['b', 'a', 'b']) == 'a,b'


# Which statuses allow each change of locations, written out on its own
# so that a change of images.LOCATION_CHANGES is noticed.
LOCATION_STATUSES = {
    'add': {'queued', 'active'},
    'replace': {'queued', 'active'},
    'remove': {'active'},
}


def test_location_table():
    assert images.LOCATION_CHANGES == LOCATION_STATUSES


@pytest.mark.parametrize('change', sorted(LOCATION_STATUSES))
@pytest.mark.parametrize('status', images.STATUSES)
def test_check_location_change(change, status):
    image = images.Image(id='i', status=status)
    if status in LOCATION_STATUSES[change]:
        images.check_location_change(image, change)
    else:
        with pytest.raises(exception.Conflict) as e:
            images.check_location_change(image, change)
        assert e.value.status == 409
        assert e.value.msg == (
            "It's not allowed to %s locations if image status is %s."
            % (change, status))


@pytest.mark.parametrize('status', images.STATUSES)
def test_check_store_data_removal(status):
    image = images.Image(id='i', status=status)
    if status == 'active':
        images.check_store_data_removal(image)
    else:
        with pytest.raises(exception.Conflict) as e:
            images.check_store_data_removal(image)
        assert e.value.status == 409
        assert e.value.msg == (
            "It's not allowed to remove image data from store if image "
            "status is not 'active'")


@pytest.mark.parametrize('status', images.STATUSES)
def test_only_a_queued_image_is_activated_by_a_location(status):
    image = images.Image(id='i', status=status)
    assert images.location_activates(image) == (status == 'queued')


@pytest.mark.parametrize('status', images.STATUSES)
def test_only_deactivated_data_is_for_admins_only(status):
    image = images.Image(id='i', status=status)
    assert images.data_for_admins_only(image) == (status == 'deactivated')

"""Every option Glance 33 also has parses values as Glance parses them.

tests/unit/data/glance33_options.json holds the facts of Glance 33's
declarations (tools/glance_option_facts.py writes it from a Glance
installed in a throwaway virtualenv). From them each test rebuilds
Glance's value type and feeds it and ours the same strings: bracketed
and bare lists, quoted items, empty lists, dicts, integers around their
bounds, choices and their misspellings, Glance's documented examples.
Both must give the same value, or both must refuse it.
"""

import json
import os

import pytest
from oslo_config import cfg
from oslo_config import types

from glance_import import config
from glance_import import unsupported_options

FACTS_FILE = os.path.join(os.path.dirname(__file__), 'data',
                          'glance33_options.json')
with open(FACTS_FILE) as f:
    FACTS = json.load(f)
GLANCE_OPTIONS = {(o['group'], o['name']): o for o in FACTS['options']}

# Where we differ on purpose; doc/moving-from-glance.rst says why.
TYPE_DEVIATIONS = {
    # Glance declares it without bounds or quotes: "[admin]" is a role
    # named "[admin]" there, "'admin'" one with quotes in its name.
    ('inject_metadata_properties', 'ignore_user_roles'),
}
DEFAULT_DEVIATIONS = set()


def our_options():
    options = {}
    for group, opts in config.list_opts():
        for opt in opts:
            options[(group or 'DEFAULT', opt.dest)] = opt
    return options


OURS = our_options()
SHARED = sorted(set(OURS) & set(GLANCE_OPTIONS))


def glance_type(desc):
    """The oslo.config type object Glance declares, from its facts."""
    kind = desc['type']
    if kind == 'List':
        return types.List(glance_type(desc['item_type']),
                          bounds=desc['bounds'])
    if kind == 'Dict':
        return types.Dict(glance_type(desc['value_type']),
                          bounds=desc['bounds'])
    if kind == 'Port':
        return types.Port(min=desc['min'], max=desc['max'],
                          choices=desc['choices'])
    if kind == 'Integer':
        return types.Integer(min=desc['min'], max=desc['max'],
                             choices=desc['choices'])
    if kind == 'Float':
        return types.Float(min=desc['min'], max=desc['max'])
    if kind == 'Boolean':
        return types.Boolean()
    if kind == 'URI':
        return types.URI(max_length=desc['max_length'] or None,
                         schemes=desc['schemes'])
    if kind == 'HostAddress':
        return types.HostAddress()
    if kind == 'IPAddress':
        return types.IPAddress()
    if kind == 'String':
        return types.String(choices=desc['choices'], quotes=desc['quotes'],
                            regex=desc['regex'],
                            ignore_case=desc['ignore_case'],
                            max_length=desc['max_length'] or None)
    raise AssertionError('unknown type %s' % kind)


def scalar_samples(desc):
    kind = desc['type']
    if kind in ('Integer', 'Port'):
        low = desc.get('min')
        high = desc.get('max')
        values = ['0', '1', '-1', '8080', '65536', 'ten', '2.5', ' 7 ']
        for bound in (low, high):
            if bound is not None:
                values += [str(bound - 1), str(bound), str(bound + 1)]
        values += [str(c) for c in desc.get('choices') or []]
        return values
    if kind == 'Float':
        return ['0', '0.5', '-1', 'x']
    if kind == 'Boolean':
        return ['true', 'False', 'yes', 'off', '1', '0', 'maybe']
    if kind == 'HostAddress':
        return ['127.0.0.1', 'example.com', '::1', 'bad host!', '300.1.1.1']
    if kind == 'IPAddress':
        return ['127.0.0.1', '::1', 'example.com']
    if kind == 'URI':
        return ['http://example.com/', 'file:///tmp/staging/', 'not a uri']
    values = ['x', 'file:///tmp/staging/', "'quoted'", '"quoted"', "'open",
              'two words', '']
    choices = desc.get('choices') or []
    values += [str(c) for c in choices]
    values += [str(c).upper() for c in choices]
    values += ['%s-typo' % c for c in choices[:1]]
    return values


def list_samples(desc):
    items = [s for s in scalar_samples(desc['item_type'])
             if ',' not in s and s.strip()][:6]
    values = ['', '[]', '[ ]', ',', '[a', 'a]']
    for count in (1, 2):
        chosen = items[:count]
        values.append(','.join(chosen))
        values.append('[%s]' % ','.join(chosen))
        values.append('[ %s ]' % ' , '.join(chosen))
        values.append(', '.join("'%s'" % i for i in chosen))
        values.append('[%s]' % ', '.join("'%s'" % i for i in chosen))
        values.append('[%s]' % ', '.join('"%s"' % i for i in chosen))
    values += ['[%s]' % i for i in items]
    return values


def dict_samples(desc):
    return ['', 'k1:v1,k2:v2', 'k1:v1, k2:v2', 'key:value', 'k:',
            'novalue', 'a:b:c', '{k1:v1}', "'k':'v'", 'k1:v1,k1:v2']


def samples(opt_facts):
    desc = opt_facts['value_type']
    if desc['type'] == 'List':
        values = list_samples(desc)
    elif desc['type'] == 'Dict':
        values = dict_samples(desc)
    else:
        values = scalar_samples(desc)
    default = opt_facts['default']
    if isinstance(default, list):
        values.append(','.join(str(d) for d in default))
        values.append('[%s]' % ', '.join(str(d) for d in default))
    elif isinstance(default, dict):
        values.append(','.join('%s:%s' % kv for kv in default.items()))
    elif default is not None:
        values.append(str(default))
    return values


def parse(value_type, value):
    try:
        return ('ok', value_type(value))
    except ValueError:
        return ('refused', None)


def test_the_facts_are_glance_33():
    assert FACTS['glance'].split('.')[0] == '33'
    assert len(GLANCE_OPTIONS) > 50


def test_shared_options_are_the_ones_an_operator_sets():
    # A sanity check of the join: the import options are all shared.
    for key in [('DEFAULT', 'enabled_import_methods'),
                ('DEFAULT', 'node_staging_uri'),
                ('image_import_opts', 'image_import_plugins'),
                ('import_filtering_opts', 'allowed_ports'),
                ('import_filtering_opts', 'allowed_hosts'),
                ('inject_metadata_properties', 'inject'),
                ('inject_metadata_properties', 'ignore_user_roles')]:
        assert key in SHARED


@pytest.mark.parametrize('key', SHARED, ids='[%s] %s'.__mod__)
def test_same_option_class(key):
    assert isinstance(OURS[key], getattr(cfg, GLANCE_OPTIONS[key]['class']))


@pytest.mark.parametrize(
    'key', [k for k in SHARED if k not in TYPE_DEVIATIONS],
    ids='[%s] %s'.__mod__)
def test_values_parse_as_in_glance(key):
    facts = GLANCE_OPTIONS[key]
    theirs = glance_type(facts['value_type'])
    ours = OURS[key].type
    differences = []
    for value in samples(facts):
        expected, got = parse(theirs, value), parse(ours, value)
        if expected == got:
            continue
        # The one relaxation: a list Glance reads only in brackets is
        # read without them too, to the same items (doc/moving-from-
        # glance.rst).
        if (isinstance(ours, config.BracketsOptional)
                and facts['value_type'].get('bounds') and got[0] == 'ok'
                and got == parse(theirs, '[%s]' % value.strip().rstrip(','))):
            continue
        differences.append('%r: Glance %s, ours %s' % (value, expected, got))
    assert not differences, '\n'.join(differences)


def test_lists_glance_reads_in_brackets_are_read_without_them():
    key = ('DEFAULT', 'enabled_import_methods')
    theirs = glance_type(GLANCE_OPTIONS[key]['value_type'])
    with pytest.raises(ValueError):
        theirs('glance-direct,web-download')
    assert OURS[key].type('glance-direct,web-download') == \
        theirs('[glance-direct,web-download]')


@pytest.mark.parametrize('value, expected', [
    ('[admin]', ['admin']),
    ("['admin', 'operator']", ['admin', 'operator']),
    ('admin,operator', ['admin', 'operator']),
    ('[]', []),
])
def test_ignore_user_roles_reads_lists_as_written(value, expected):
    assert OURS[('inject_metadata_properties',
                 'ignore_user_roles')].type(value) == expected


@pytest.mark.parametrize(
    'key', [k for k in SHARED if k not in DEFAULT_DEVIATIONS],
    ids='[%s] %s'.__mod__)
def test_same_default(key):
    facts = GLANCE_OPTIONS[key]
    theirs, ours = facts['default'], OURS[key].default
    # A default may be written as the string the option would read.
    if isinstance(theirs, str):
        theirs = glance_type(facts['value_type'])(theirs)
    if isinstance(ours, str):
        ours = OURS[key].type(ours)
    if isinstance(ours, tuple):
        ours = list(ours)
    assert ours == theirs


def test_deviations_are_still_deviations():
    for key in TYPE_DEVIATIONS:
        facts = GLANCE_OPTIONS[key]
        theirs = glance_type(facts['value_type'])
        assert any(parse(theirs, v) != parse(OURS[key].type, v)
                   for v in samples(facts)), key
    for key in DEFAULT_DEVIATIONS:
        assert OURS[key].default != GLANCE_OPTIONS[key]['default'], key


def test_every_glance_option_is_served_or_warned_about():
    missing = []
    for key in GLANCE_OPTIONS:
        group, _ = key
        if (key in OURS or key in unsupported_options.UNSUPPORTED_OPTIONS
                or group in unsupported_options.UNSUPPORTED_SECTIONS):
            continue
        missing.append('[%s] %s' % key)
    assert not missing, 'Glance options we neither serve nor warn about: ' \
        + ', '.join(missing)


def test_a_glance_style_file_loads_with_bracketed_values(tmp_path):
    path = tmp_path / 'glance-api.conf'
    path.write_text(
        '[DEFAULT]\n'
        'enabled_import_methods = [glance-direct,web-download,copy-image]\n'
        '[image_import_opts]\n'
        "image_import_plugins = ['image_conversion', "
        "'inject_image_metadata']\n"
        '[import_filtering_opts]\n'
        'allowed_ports = []\n'
        'allowed_hosts = [127.0.0.1]\n'
        '[inject_metadata_properties]\n'
        'ignore_user_roles = [admin]\n'
        'inject = os_distro:cirros,hw_qemu_guest_agent:yes\n')
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], project='glance-import', default_config_files=[str(path)])
    assert conf.enabled_import_methods == ['glance-direct', 'web-download',
                                           'copy-image']
    assert conf.image_import_opts.image_import_plugins == [
        'image_conversion', 'inject_image_metadata']
    assert conf.import_filtering_opts.allowed_ports == []
    assert conf.import_filtering_opts.allowed_hosts == ['127.0.0.1']
    assert conf.inject_metadata_properties.ignore_user_roles == ['admin']
    assert conf.inject_metadata_properties.inject == {
        'os_distro': 'cirros', 'hw_qemu_guest_agent': 'yes'}

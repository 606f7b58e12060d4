"""Write the facts of Glance's option declarations as JSON.

Run with the interpreter of a throwaway virtualenv that has the Glance
release to compare with, from the top of the checkout::

    python3 -m venv /tmp/glance && /tmp/glance/bin/pip install glance==33.0.0
    /tmp/glance/bin/python tools/glance_option_facts.py \\
        > tests/unit/data/glance33_options.json

For every option glance-api reads (its oslo-config-generator lists plus
the import plugins' options) the file records group, name, option class,
value type (with item types, quotes, bounds, choices, min and max) and
default: what tests/unit/test_option_parity.py needs to rebuild Glance's
parser for each option and compare it with ours. No Glance code is kept.
"""

import json
import sys

from oslo_config import types


def describe_type(value_type):
    """A JSON description of an oslo.config type object."""
    if isinstance(value_type, types.List):
        return {'type': 'List', 'bounds': value_type.bounds,
                'item_type': describe_type(value_type.item_type)}
    if isinstance(value_type, types.Dict):
        return {'type': 'Dict', 'bounds': value_type.bounds,
                'value_type': describe_type(value_type.value_type)}
    if isinstance(value_type, types.Port):
        return {'type': 'Port', 'min': value_type.min,
                'max': value_type.max,
                'choices': _choices(value_type)}
    if isinstance(value_type, types.Integer):
        return {'type': 'Integer', 'min': value_type.min,
                'max': value_type.max,
                'choices': _choices(value_type)}
    if isinstance(value_type, types.Float):
        return {'type': 'Float', 'min': value_type.min,
                'max': value_type.max}
    if isinstance(value_type, types.Boolean):
        return {'type': 'Boolean'}
    if isinstance(value_type, types.URI):
        return {'type': 'URI', 'max_length': value_type.max_length,
                'schemes': sorted(value_type.schemes or []) or None}
    if isinstance(value_type, types.HostAddress):
        return {'type': 'HostAddress'}
    if isinstance(value_type, types.IPAddress):
        return {'type': 'IPAddress'}
    if isinstance(value_type, types.String):
        regex = value_type.regex.pattern if value_type.regex else None
        return {'type': 'String', 'quotes': value_type.quotes,
                'choices': _choices(value_type), 'regex': regex,
                'ignore_case': value_type.ignore_case,
                'max_length': value_type.max_length}
    raise TypeError('no description for %r' % value_type)


def _choices(value_type):
    choices = getattr(value_type, 'choices', None)
    return list(choices) if choices else None


def _default(opt):
    default = opt.default
    if isinstance(default, (list, tuple)):
        return list(default)
    return default


def option_facts():
    from glance import opts

    facts = []
    for lister in (opts.list_api_opts, opts.list_image_import_opts):
        for group, options in lister():
            for opt in options:
                facts.append({
                    'group': group or 'DEFAULT',
                    'name': opt.dest,
                    'class': type(opt).__name__,
                    'value_type': describe_type(opt.type),
                    'default': _default(opt),
                })
    facts.sort(key=lambda f: (f['group'], f['name']))
    return facts


def main():
    import glance

    release = getattr(glance, '__version__', None)
    if release is None:
        from importlib import metadata
        release = metadata.version('glance')
    json.dump({'glance': release, 'options': option_facts()},
              sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()

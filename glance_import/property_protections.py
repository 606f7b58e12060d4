"""Property protections: which callers may create, read, update and
delete which image properties, from Glance's ``property_protection_file``.

The file is an INI file whose section names are regular expressions
tried in file order against a property name (the first that matches
anywhere in the name decides); each section lists, for ``create``,
``read``, ``update`` and ``delete``, either roles (comma-separated;
``@`` anyone, ``!`` no one) or, with ``property_protection_rule_format =
policies``, the name of one rule of the policy file. A property that no
section matches may not be touched at all, and an operation left empty
is allowed to no one. The service's own ``os_glance*`` properties are
always open to it, before any section of the file.

Only custom properties are protected; base attributes keep their own
rules.
"""

import configparser
import dataclasses
import logging
import re

from oslo_policy import policy as oslo_policy

from glance_import import exception
from glance_import import policy

LOG = logging.getLogger(__name__)

OPERATIONS = ('create', 'read', 'update', 'delete')
RULE_FORMATS = ('roles', 'policies')
ANYONE = '@'
NO_ONE = '!'
# Checked before the operator's sections, which may not redefine it.
_SERVICE_SECTION = 'os_glance.*'
_SERVICE_PREFIX = 'os_glance'


@dataclasses.dataclass(frozen=True)
class Rule:
    """One section of the file: a pattern and who may do what."""
    expression: str
    pattern: re.Pattern
    permissions: dict      # operation -> tuple of roles, or a policy name


class PropertyRules:
    """The rules of one protection file, in file order."""

    def __init__(self, rules, rule_format):
        self.rules = list(rules)
        self.rule_format = rule_format

    @classmethod
    def from_file(cls, path, rule_format):
        """Parse *path*; InvalidConfiguration says what is wrong."""
        rule_format = (rule_format or 'roles').lower()
        if rule_format not in RULE_FORMATS:
            raise _invalid(path, "property_protection_rule_format must be "
                           "'roles' or 'policies', not %r" % rule_format)
        parser = configparser.ConfigParser()
        try:
            with open(path, encoding='utf-8') as f:
                parser.read_file(f)
        except (OSError, UnicodeDecodeError, configparser.Error) as e:
            raise _invalid(path, _one_line(e)) from None
        rules = [_service_rule()]
        for section in parser.sections():
            if section.startswith(_SERVICE_PREFIX):
                LOG.warning('Ignoring section [%s] of %s: os_glance '
                            'properties belong to the service', section,
                            path)
                continue
            rules.append(_parse_section(parser, path, section, rule_format))
        return cls(rules, rule_format)

    def rule_for(self, name):
        for rule in self.rules:
            if rule.pattern.search(name):
                return rule
        return None

    def allows(self, ctx, name, operation):
        """True when *ctx* may perform *operation* on property *name*."""
        rule = self.rule_for(name)
        if rule is None:
            return False
        granted = rule.permissions.get(operation)
        if not granted:
            return False
        if NO_ONE in granted:
            return False
        if ANYONE in granted:
            return True
        if self.rule_format == 'policies':
            return _policy_allows(ctx, granted[0])
        roles = set(ctx.roles or ()) | set(
            getattr(ctx, 'service_roles', None) or ())
        return bool(roles & {role.lower() for role in granted})

    def readable(self, ctx, properties):
        """The part of *properties* that *ctx* may read."""
        return {name: value for name, value in properties.items()
                if self.allows(ctx, name, 'read')}


def _service_rule():
    return Rule(_SERVICE_SECTION, re.compile(_SERVICE_SECTION),
                dict.fromkeys(OPERATIONS, (ANYONE,)))


def _parse_section(parser, path, section, rule_format):
    try:
        pattern = re.compile(section)
    except re.error as e:
        raise _invalid(path, 'section [%s] is not a valid regular '
                       'expression: %s' % (section, e)) from None
    permissions = {}
    for operation in OPERATIONS:
        try:
            text = parser.get(section, operation)
        except configparser.NoOptionError:
            raise _invalid(path, 'section [%s] has no %s permission (set '
                           'it empty to allow no one)'
                           % (section, operation)) from None
        except configparser.Error as e:
            raise _invalid(path, _one_line(e)) from None
        granted = tuple(p.strip() for p in text.split(',') if p.strip())
        if not granted:
            LOG.warning('Property protection on operation %s for rule %s '
                        'is not found. No role will be allowed to perform '
                        'this operation.', operation, section)
        elif rule_format == 'policies' and len(granted) > 1:
            raise _invalid(path, "[%s] %s names several policies (%s); "
                           "combine them in one rule of the policy file"
                           % (section, operation, text))
        elif ANYONE in granted and NO_ONE in granted:
            raise _invalid(path, "[%s] %s: '@' and '!' are mutually "
                           "exclusive" % (section, operation))
        permissions[operation] = granted
    return Rule(section, pattern, permissions)


def _policy_allows(ctx, rule_name):
    # As Glance: the operator's rule, checked as "rule:<name>" against
    # no target; a name the policy file lacks is judged by its default.
    enforcer = policy.get_enforcer()
    return enforcer.enforce(oslo_policy.RuleCheck('rule', rule_name), {},
                            ctx)


def _one_line(error):
    return ' '.join(str(error).split())


def _invalid(path, reason):
    return exception.InvalidConfiguration(
        'Invalid property protection file %s: %s' % (path, reason))


# The rules of this process -------------------------------------------------

_RULES = None


def configure(conf):
    """Load the operator's file, if any; a bad file stops the start-up."""
    global _RULES
    _RULES = None
    if not conf.property_protection_file:
        return None
    path = conf.find_file(conf.property_protection_file)
    if path is None:
        raise exception.InvalidConfiguration(
            'property_protection_file %s was not found'
            % conf.property_protection_file)
    _RULES = PropertyRules.from_file(path,
                                     conf.property_protection_rule_format)
    return _RULES


def rules():
    """The process's rules, or None when properties are unprotected."""
    return _RULES


def check(ctx, name, operation):
    """403 "Attribute 'name' is reserved." unless *operation* is allowed."""
    if _RULES is not None and not _RULES.allows(ctx, name, operation):
        raise exception.ReservedAttribute(attribute=name)


def readable(ctx, properties):
    """*properties* without those *ctx* may not read."""
    if _RULES is None:
        return properties
    return _RULES.readable(ctx, properties)

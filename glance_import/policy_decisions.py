"""Memoised policy decisions: each outcome kept under the caller's
credentials and the target fields its rule reads, until a rule changes."""

import re
import threading
import time

from oslo_policy import policy

_FIELD_RE = re.compile(r'%\(([^)]*)\)')
_MISSING = object()


def _parsed_class(rule_text):
    """The check class oslo.policy builds for *rule_text*."""
    return type(policy.Rules.from_dict({'probe': rule_text})['probe'])


# Leaf checks whose inputs are known: constants, and the role and generic
# (``field:value``) checks, which read only the target fields named in
# their match. Found through the public parser, so any other class (http,
# a registered plugin, a future kind) counts as unknowable.
_CONSTANT_CHECKS = (_parsed_class('@'), _parsed_class('!'))
_FIELD_CHECKS = (_parsed_class('role:probe'),
                 _parsed_class('glance_import_probe:probe'))


def _fingerprint(rules):
    # The text of every rule: equal texts make equal decisions.
    return {name: str(check) for name, check in rules.items()}


class Decisions:
    """Policy decisions, each rule prepared once and outcomes memoised.

    A rule's outcome depends only on the caller's credentials and on the
    target fields its checks interpolate (``project_id:%(project_id)s``),
    so decisions are kept under exactly those: a page of images sharing
    owner and visibility costs one real enforcement, not one per image.
    Rules with checks whose inputs cannot be known (``http:``, plugins)
    are keyed on the whole target. oslo.policy looks for a changed policy
    file on every call; here that happens at most once per
    ``RELOAD_INTERVAL`` seconds, and any change in the text of any rule
    (policy file, policy directories, rules set in code) drops everything
    remembered.
    """

    RELOAD_INTERVAL = 1.0
    MAX_DECISIONS = 20000

    def __init__(self, enforcer):
        self.enforcer = enforcer
        self._lock = threading.Lock()
        self._rules = enforcer.rules
        self._texts = _fingerprint(enforcer.rules)
        self._loaded_at = time.monotonic()
        self._fields = {}
        self._outcomes = {}

    def _reload(self):
        now = time.monotonic()
        if now - self._loaded_at < self.RELOAD_INTERVAL \
                and self._rules is self.enforcer.rules:
            return
        with self._lock:
            self.enforcer.load_rules()
            self._loaded_at = now
            texts = _fingerprint(self.enforcer.rules)
            if self._rules is not self.enforcer.rules \
                    or texts != self._texts:
                self._rules = self.enforcer.rules
                self._texts = texts
                self._fields = {}
                self._outcomes = {}

    def fields(self, rule):
        """Target fields *rule* reads, sorted; None for all of them."""
        try:
            return self._fields[rule]
        except KeyError:
            pass
        found = set()
        whole = not self._collect(self._lookup(rule), found, set())
        fields = None if whole else tuple(sorted(found))
        self._fields[rule] = fields
        return fields

    def _lookup(self, rule):
        # Indexing, as oslo.policy does: an unknown name means the
        # default rule.
        try:
            return self._rules[rule]
        except KeyError:
            return None

    def _collect(self, check, found, seen):
        """Add the fields *check* reads to *found*; False if unknowable."""
        kind = type(check)
        if check is None or kind in _CONSTANT_CHECKS:
            return True
        if kind is policy.NotCheck:
            return self._collect(check.rule, found, seen)
        if kind in (policy.AndCheck, policy.OrCheck):
            return all(self._collect(c, found, seen) for c in check.rules)
        if kind is policy.RuleCheck:
            if check.match in seen:
                return True
            seen.add(check.match)
            return self._collect(self._lookup(check.match), found, seen)
        if kind in _FIELD_CHECKS:
            found.update(_FIELD_RE.findall(check.match))
            return True
        return False

    def check(self, ctx, rule, target):
        self._reload()
        key = self._key(ctx, rule, target)
        if key is not None:
            try:
                return self._outcomes[key]
            except KeyError:
                pass
        try:
            allowed = self.enforcer.authorize(rule, target, ctx,
                                              do_raise=False)
        except policy.InvalidScope:
            allowed = False
        if key is not None:
            if len(self._outcomes) >= self.MAX_DECISIONS:
                self._outcomes = {}
            self._outcomes[key] = allowed
        return allowed

    def _key(self, ctx, rule, target):
        fields = self.fields(rule)
        if fields is None:
            picked = tuple(sorted(target.items()))
        else:
            picked = tuple(target.get(f, _MISSING) for f in fields)
        key = (rule, ctx.policy_key(), picked)
        try:
            hash(key)
        except TypeError:
            return None
        return key

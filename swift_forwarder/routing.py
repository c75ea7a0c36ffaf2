# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Which requests go to which target: the ``forward`` rules.  Pure.
"""

import collections

from swift_forwarder.paths import wsgi_to_str

__all__ = ['Rule', 'parse_forward', 'should_forward', 'is_auth_path',
           'routed_container', 'rules_overlap', 'rule_text', 'rule_matches',
           'names_account',
           'VERSIONS_PREFIX']

#: object_versioning keeps a container's versions in the reserved-name
#: container ``\x00versions\x00<container>`` (Swift's
#: ``get_reserved_name('versions', container)``): it goes where its
#: container goes.
VERSIONS_PREFIX = '\x00versions\x00'

#: ``forward`` rule: an account, optionally a container, and whether the
#: last part is a prefix (``AUTH_a/logs*``).  ``account=None`` is ``*``.
Rule = collections.namedtuple('Rule', 'account container prefix')


def parse_forward(value):
    """Parse ``forward``: ``*``, ``AUTH_a``, ``AUTH_a/cont``, ``AUTH_a/pre*``.

    :returns: a tuple of :class:`Rule`.
    """
    rules = []
    for word in str(value).split():
        account, sep, container = word.partition('/')
        prefix = word.endswith('*')
        if word == '*':
            rules.append(Rule(None, None, True))
            continue
        if prefix:
            if sep:
                container = container[:-1]
            else:
                account = account[:-1]
        if not account or '*' in account + container or '/' in container \
                or (sep and not container and not prefix):
            raise ValueError('expected *, ACCOUNT, ACCOUNT/CONTAINER or '
                             'ACCOUNT/PREFIX*, got %r' % (word,))
        # 'AUTH_a/*' is every container of AUTH_a: container prefix ''
        rules.append(Rule(account, container if sep else None, prefix))
    if not rules:
        raise ValueError('expected at least one rule such as *')
    return tuple(rules)


def rule_text(rule):
    """A rule as written in the conf file."""
    if rule.account is None:
        return '*'
    if rule.container is None:
        return rule.account + ('*' if rule.prefix else '')
    return '%s/%s%s' % (rule.account, rule.container,
                        '*' if rule.prefix else '')


def _names_overlap(a, a_prefix, b, b_prefix):
    """Can a name match both ``a`` and ``b`` (each a name, or a prefix)?"""
    if a_prefix and b_prefix:
        return a.startswith(b) or b.startswith(a)
    if a_prefix:
        return b.startswith(a)
    if b_prefix:
        return a.startswith(b)
    return a == b


def names_account(rule, account):
    """Does ``rule`` name ``account`` or containers in it?"""
    if rule.account is None:
        return True
    if rule.container is None and rule.prefix:
        return account.startswith(rule.account)
    return account == rule.account


def rules_overlap(a, b):
    """Is there a path that both rules match?"""
    if a.account is None or b.account is None:
        return True
    if not _names_overlap(a.account, a.prefix and a.container is None,
                          b.account, b.prefix and b.container is None):
        return False
    if a.container is None or b.container is None:
        return True
    return _names_overlap(a.container, a.prefix, b.container, b.prefix)


def rule_matches(rule, account, container):
    if rule.account is None:
        return True
    if rule.container is None:
        if rule.prefix:
            return account.startswith(rule.account)
        return account == rule.account
    if account != rule.account or container is None:
        return False
    if rule.prefix:
        return container.startswith(rule.container)
    return container == rule.container


def should_forward(path, rules):
    """Does this request (a :class:`RequestPath`) belong to the target?

    Only the Swift API (``/v1/<account>...``) is forwarded; ``/info``,
    ``/auth/...`` and anything else stay local.
    """
    if not path.is_swift_api:
        return False
    return any(rule_matches(rule, path.account, routed_container(path))
               for rule in rules)


def routed_container(path):
    """The container (text) whose route a request (a :class:`RequestPath`)
    takes: its own, or for a versions container the one it keeps the
    versions of; None for an account request.  Rules hold text from the
    conf file; '' (``/v1/a/``) is a container that a prefix rule
    ``AUTH_a/*`` takes."""
    container = path.segments[2]
    if container is None:
        return None
    container = wsgi_to_str(container)
    if container.startswith(VERSIONS_PREFIX):
        return container[len(VERSIONS_PREFIX):]
    return container


def is_auth_path(path_info):
    """An auth request (tempauth's ``/auth/v1.0``, ``/auth/v2.0``..., the
    old ``/v1.0``), forwarded in the gateway placement with forward_auth."""
    return path_info.startswith('/auth/') or path_info in ('/auth', '/v1.0') \
        or path_info.startswith('/v1.0/')

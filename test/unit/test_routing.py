# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.routing: the ``forward`` rules."""

import unittest

from swift_forwarder import routing
from swift_forwarder.paths import RequestPath
from swift_forwarder.routing import Rule

from test.unit.helpers import wsgi_path


def forwarded(path_info, rules):
    return routing.should_forward(RequestPath.from_environ(
        {'PATH_INFO': path_info}), rules)


class TestParseForward(unittest.TestCase):
    """The ``forward`` option's rule syntax."""

    def test_forms(self):
        """Each documented form becomes the matching Rule."""
        self.assertEqual((Rule(None, None, True),),
                         routing.parse_forward('*'))
        self.assertEqual((Rule('AUTH_a', None, False),),
                         routing.parse_forward('AUTH_a'))
        self.assertEqual((Rule('AUTH_a', 'cont', False),),
                         routing.parse_forward('AUTH_a/cont'))
        self.assertEqual((Rule('AUTH_a', 'logs', True),),
                         routing.parse_forward('AUTH_a/logs*'))
        self.assertEqual((Rule('AUTH_pre', None, True),),
                         routing.parse_forward('AUTH_pre*'))

    def test_several_rules(self):
        """Rules are space-separated, any whitespace."""
        self.assertEqual(
            (Rule('AUTH_a', None, False), Rule('AUTH_b', 'c', False),
             Rule('AUTH_c', 'x', True)),
            routing.parse_forward(' AUTH_a\tAUTH_b/c\n  AUTH_c/x* '))

    def test_unicode_rule(self):
        """Names in the conf file may be unicode."""
        self.assertEqual((Rule('AUTH_\u00e9', 'caf\u00e9', False),),
                         routing.parse_forward('AUTH_\u00e9/caf\u00e9'))

    def test_bad_forms(self):
        """Malformed rules are refused with the expected forms."""
        for value in ('', '   ', '*/c', 'AUTH_a/c/o', 'AUTH_*a', '/c',
                      'AUTH_a/*x', 'AUTH_a/c*d', '**', 'AUTH_a/'):
            with self.assertRaises(ValueError, msg=repr(value)) as caught:
                routing.parse_forward(value)
            self.assertIn('expected', str(caught.exception))

    def test_all_containers_of_one_account(self):
        """``AUTH_a/*`` is every container of AUTH_a, not every account
        whose name starts with AUTH_a."""
        rules = routing.parse_forward('AUTH_a/*')
        self.assertTrue(forwarded('/v1/AUTH_a/c', rules))
        self.assertTrue(forwarded('/v1/AUTH_a/c/o', rules))
        self.assertFalse(forwarded('/v1/AUTH_ab/c', rules))
        self.assertFalse(forwarded('/v1/AUTH_a', rules))


class TestShouldForward(unittest.TestCase):
    """Route matching on PATH_INFO."""

    def check(self, forward, expected):
        rules = routing.parse_forward(forward)
        for path, wanted in expected.items():
            self.assertEqual(wanted, forwarded(path, rules),
                             '%s with forward = %s' % (path, forward))

    def test_only_swift_api(self):
        """/info, /auth, /healthcheck and odd paths stay local."""
        self.check('*', {
            '/info': False, '/auth/v1.0': False, '/v1.0': False,
            '/healthcheck': False, '/': False, '': False, '/v1': False,
            '/v1/': False, '/v2/AUTH_a': False, '/v1//c': False,
            '/v1/AUTH_a': True, '/v1/AUTH_a/': True, '/v1/AUTH_a/c': True,
            '/v1/AUTH_a/c/o/with/slashes': True,
        })

    def test_account_rule(self):
        """An account rule matches that account exactly, at any depth."""
        self.check('AUTH_a', {
            '/v1/AUTH_a': True, '/v1/AUTH_a/c': True, '/v1/AUTH_a/c/o': True,
            '/v1/AUTH_ab': False, '/v1/AUTH_': False, '/v1/AUTH_b/c': False,
        })

    def test_account_prefix_rule(self):
        """``AUTH_pre*`` matches accounts starting with AUTH_pre."""
        self.check('AUTH_pre*', {
            '/v1/AUTH_pre': True, '/v1/AUTH_prefix/c': True,
            '/v1/AUTH_pr': False, '/v1/AUTH_xpre': False,
        })

    def test_container_rule(self):
        """A container rule matches that container and its objects only."""
        self.check('AUTH_a/c', {
            '/v1/AUTH_a/c': True, '/v1/AUTH_a/c/o': True,
            '/v1/AUTH_a/c/': True, '/v1/AUTH_a': False,
            '/v1/AUTH_a/cd': False, '/v1/AUTH_a/d/c': False,
            '/v1/AUTH_b/c': False,
        })

    def test_container_prefix_rule(self):
        """``AUTH_a/logs*`` matches containers starting with logs."""
        self.check('AUTH_a/logs*', {
            '/v1/AUTH_a/logs': True, '/v1/AUTH_a/logs-2024/o': True,
            '/v1/AUTH_a/log': False, '/v1/AUTH_a': False,
            '/v1/AUTH_b/logs': False,
        })

    def test_several_rules_any_match(self):
        """Any one matching rule forwards the request."""
        self.check('AUTH_a/c AUTH_b', {
            '/v1/AUTH_a/c/o': True, '/v1/AUTH_b/x': True,
            '/v1/AUTH_a/x': False, '/v1/AUTH_c': False,
        })

    def test_unicode_names(self):
        """Unicode rules match the latin-1 WSGI form of UTF-8 names."""
        self.check('AUTH_a/caf\u00e9 AUTH_\u2603*', {
            wsgi_path('/v1/AUTH_a/caf\u00e9/o'): True,
            wsgi_path('/v1/AUTH_a/cafe/o'): False,
            wsgi_path('/v1/AUTH_\u2603snow/c'): True,
            wsgi_path('/v1/AUTH_\u2604/c'): False,
        })


class TestVersionsContainer(unittest.TestCase):
    """object_versioning's reserved-name container goes where its
    container goes."""

    def test_follows_its_container(self):
        rules = routing.parse_forward('AUTH_a/fed*')
        for path in ('/v1/AUTH_a/\x00versions\x00fed-1',
                     '/v1/AUTH_a/\x00versions\x00fed-1/\x00o\x001'):
            self.assertTrue(forwarded(path, rules), path)
        for path in ('/v1/AUTH_a/\x00versions\x00loc',
                     '/v1/AUTH_a/\x00other\x00fed-1',
                     '/v1/AUTH_a/versions-fed'):
            self.assertFalse(forwarded(path, rules), path)

    def test_routed_container(self):
        def routed(path_info):
            return routing.routed_container(RequestPath.from_environ(
                {'PATH_INFO': path_info}))
        self.assertIsNone(routed('/v1/AUTH_a'))
        self.assertEqual('', routed('/v1/AUTH_a/'))
        self.assertEqual('caf\u00e9', routed(wsgi_path(
            '/v1/AUTH_a/\x00versions\x00caf\u00e9/o')))


class TestRuleRelations(unittest.TestCase):
    """How the config tells overlapping rules, and the account listings
    of migration mode tell which sources name an account."""

    def rule(self, text):
        (rule,) = routing.parse_forward(text)
        return rule

    def test_overlap(self):
        for a, b, overlap in (
                ('*', 'AUTH_a/c', True),
                ('AUTH_a', 'AUTH_a/c', True),
                ('AUTH_a', 'AUTH_b', False),
                ('AUTH_*', 'AUTH_b/c', True),
                ('AUTH_a*', 'AUTH_b*', False),
                ('AUTH_a*', 'AUTH_ab*', True),
                ('AUTH_a/c', 'AUTH_a/d', False),
                ('AUTH_a/c*', 'AUTH_a/cd', True),
                ('AUTH_a/c*', 'AUTH_a/d*', False),
                ('AUTH_a/c*', 'AUTH_b/c*', False),
                ('AUTH_a/*', 'AUTH_a/x', True)):
            self.assertEqual(overlap, routing.rules_overlap(
                self.rule(a), self.rule(b)), (a, b))
            self.assertEqual(overlap, routing.rules_overlap(
                self.rule(b), self.rule(a)), (b, a))

    def test_rule_text_round_trips(self):
        for text in ('*', 'AUTH_a', 'AUTH_a*', 'AUTH_a/c', 'AUTH_a/c*',
                     'AUTH_a/*'):
            self.assertEqual(text, routing.rule_text(self.rule(text)))

    def test_names_account(self):
        for text, account, named in (
                ('*', 'AUTH_z', True), ('AUTH_a', 'AUTH_a', True),
                ('AUTH_a', 'AUTH_ab', False), ('AUTH_a*', 'AUTH_ab', True),
                ('AUTH_a/c*', 'AUTH_a', True), ('AUTH_a/c', 'AUTH_b', False)):
            self.assertEqual(named, routing.names_account(
                self.rule(text), account), (text, account))


if __name__ == '__main__':
    unittest.main()

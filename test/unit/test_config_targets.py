# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for several targets: targets_conf and container-sync-realms.conf."""

import os
import tempfile
import textwrap
import time
import unittest
from unittest import mock

from swift_forwarder.config import ConfigError, parse_conf
from test.unit.helpers import keep_alive_handler, make_env
from test.unit.test_middleware import MiddlewareTestCase


class TestTargets(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        return path

    def test_inline_then_sections_in_order(self):
        """The inline target comes first, then the sections in file order,
        each with its own URL, TLS and forward rules."""
        path = self.write('t.conf', '''
            [target:east]
            target_url = https://east.example.com
            forward = AUTH_e
            insecure = true

            [target:west]
            target_url = http://west.example.com:8080
            ''')
        conf = parse_conf({'target_url': 'http://main', 'forward': 'AUTH_m',
                           'targets_conf': path})
        self.assertEqual(['default', 'east', 'west'], list(conf.targets))
        east = conf.targets['east']
        self.assertEqual(('https', 'east.example.com', 443, True),
                         (east.address.scheme, east.address.host,
                          east.address.port, east.address.insecure))
        self.assertEqual('AUTH_e', east.forward[0].account)
        self.assertEqual((), conf.targets['west'].forward)  # opt-in only
        self.assertEqual('AUTH_m', conf.targets['default'].forward[0].account)

    def test_verify_get_per_target(self):
        """verify_get is the filter's unless a section sets its own."""
        path = self.write('t.conf', '''
            [target:tls]
            target_url = https://tls.example.com
            verify_get = false

            [target:plain]
            target_url = http://plain.example.com
            ''')
        conf = parse_conf({'target_url': 'http://main', 'targets_conf': path})
        self.assertEqual({'default': True, 'tls': False, 'plain': True}, {
            name: t.verify_get for name, t in conf.targets.items()})
        conf = parse_conf({'target_url': 'http://main', 'targets_conf': path,
                           'verify_get': 'no'})
        self.assertEqual({'default': False, 'tls': False, 'plain': False}, {
            name: t.verify_get for name, t in conf.targets.items()})
        bad = self.write('bad.conf', '[target:x]\ntarget_url = http://x\n'
                         'verify_get = maybe\n')
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'targets_conf': bad})
        self.assertIn('[target:x]: verify_get', str(caught.exception))

    def test_parse_errors_never_show_a_line(self):
        """A line configparser cannot read may hold a key (the ``=``
        forgotten): the error names the file and line number only."""
        for text, expected in (
                ('[target:a]\ntarget_url = http://a\nauth_key s3cr3t\n',
                 'cannot parse line(s) 3'),
                ('auth_key = s3cr3t\n', 'line 1 is not in a [section]')):
            path = self.write('t.conf', text)
            with self.assertRaises(ConfigError) as caught:
                parse_conf({'targets_conf': path})
            self.assertIn(expected, str(caught.exception))
            self.assertNotIn('s3cr3t', str(caught.exception))

    def test_sections_only(self):
        """No inline target_url: the targets come from targets_conf."""
        path = self.write('t.conf', '[target:a]\ntarget_url = http://a\n')
        conf = parse_conf({'targets_conf': path})
        self.assertEqual(['a'], list(conf.targets))

    def test_section_errors_name_the_section(self):
        """Unknown options, a missing target_url, bad values, bad section
        names and duplicates are startup errors naming the section."""
        cases = [
            ('[target:a]\ntarget_url = http://a\npool_size = 3\n',
             '[target:a]: unknown option(s): pool_size'),
            ('[target:a]\nforward = AUTH_a\n', '[target:a]: target_url is '
             'required'),
            ('[target:a]\ntarget_url = ftp://a\n', '[target:a]: target_url:'),
            ('[a]\ntarget_url = http://a\n', 'expected sections [target:NAME]'),
            ('[target:default]\ntarget_url = http://a\n', 'used twice'),
            ('[target:a]\ntarget_url = http://a\ncert_file = %s\n' % __file__,
             'cert_file and key_file go together'),
        ]
        for text, message in cases:
            path = self.write('bad.conf', text)
            with self.assertRaises(ConfigError) as caught:
                parse_conf({'target_url': 'http://main', 'targets_conf': path})
            self.assertIn(message, str(caught.exception))

    def test_service_mode_auth_inherited_or_own(self):
        """Service mode: a section's credentials default to the filter's."""
        path = self.write('t.conf', '''
            [target:a]
            target_url = http://a
            [target:b]
            target_url = http://b
            auth_user = b:user
            account_map = AUTH_x:AUTH_y
            ''')
        conf = parse_conf({
            'target_url': 'http://main', 'targets_conf': path,
            'forward': 'AUTH_main', 'auth_mode': 'service',
            'auth_url': 'http://main/auth/v1.0', 'auth_user': 'main:user',
            'auth_key': 'k'})
        self.assertEqual('main:user', conf.targets['a'].auth['auth_user'])
        self.assertEqual('b:user', conf.targets['b'].auth['auth_user'])
        self.assertEqual('k', conf.targets['b'].auth['auth_key'])
        self.assertEqual({'AUTH_x': 'AUTH_y'},
                         conf.targets['b'].auth['account_map'])
        passthrough = parse_conf({'target_url': 'http://main',
                                  'targets_conf': path})
        self.assertIsNone(passthrough.targets['a'].auth)

    def test_realms_with_container_opt_in(self):
        """container-sync-realms.conf clusters become //REALM/CLUSTER
        targets (with container_opt_in), reachable at their host and port."""
        self.write('container-sync-realms.conf', '''
            [Realm1]
            key = secret
            cluster_East = https://east.example.com/v1/
            cluster_west = http://10.0.0.2:8080/v1/
            ''')
        conf = parse_conf({'target_url': 'http://main',
                           'container_opt_in': 'true'},
                          swift_dir=self.tmp.name)
        self.assertEqual(['default', '//REALM1/EAST', '//REALM1/WEST'],
                         list(conf.targets))
        west = conf.targets['//REALM1/WEST'].address
        self.assertEqual(('http', '10.0.0.2', 8080),
                         (west.scheme, west.host, west.port))
        self.assertEqual((), conf.targets['//REALM1/EAST'].forward)
        without = parse_conf({'target_url': 'http://main'},
                             swift_dir=self.tmp.name)
        self.assertEqual(['default'], list(without.targets))

    def test_no_target_at_all(self):
        with self.assertRaises(ConfigError) as caught:
            parse_conf({})
        self.assertIn('set target_url (or targets_conf)',
                      str(caught.exception))


class TestRoutingToTargets(MiddlewareTestCase):
    """The middleware with several targets (scripted servers)."""

    def test_rules_pick_the_target(self):
        """Each request goes to the first target whose rules match, over
        that target's own pool; the rest stays local."""
        other = self.start_server(keep_alive_handler(b'from other'))
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, 't.conf')
        with open(path, 'w') as f:
            f.write('[target:other]\ntarget_url = http://127.0.0.1:%d\n'
                    'forward = AUTH_b\n' % other.port)
        mw = self.middleware(keep_alive_handler(b'from default'),
                             forward='AUTH_a', targets_conf=path)
        self.addCleanup(mw.targets['other'].pool.close)
        for account, expected in (('AUTH_a', b'from default'),
                                  ('AUTH_b', b'from other'),
                                  ('AUTH_c', b'local response')):
            resp = self.call(mw, make_env(path='/v1/%s/c/o' % account))
            self.assertEqual(expected, resp.read())
        self.assertEqual((1, 1), (self.server.accepted, other.accepted))
        self.assertEqual(1, len(self.app.calls))

    def test_opt_in(self):
        """container_opt_in: the local container's Forward-To metadata
        routes object requests; setting an unknown name is refused."""
        import swift_forwarder.middleware as middleware
        infos = {'/v1/AUTH_x/optin': {'meta': {'forward-to': 'default'}}}

        lookups = []

        def fake_info(env, app, swift_source=None):
            path = '/'.join(env['PATH_INFO'].split('/')[:4])
            lookups.append(path)
            return dict(infos.get(path, {}), status=200 if path in infos
                        else 404)
        original = middleware.get_container_info
        middleware.get_container_info = fake_info
        self.addCleanup(setattr, middleware, 'get_container_info', original)
        mw = self.middleware(keep_alive_handler(b'remote'), forward='AUTH_z',
                             container_opt_in='true')
        self.assertEqual(b'remote', self.call(mw, make_env(
            path='/v1/AUTH_x/optin/o')).read())
        self.assertEqual(b'local response', self.call(mw, make_env(
            path='/v1/AUTH_x/other/o')).read())
        self.assertEqual(b'local response', self.call(mw, make_env(
            'HEAD', path='/v1/AUTH_x/optin')).read())
        resp = self.call(mw, make_env('POST', path='/v1/AUTH_x/new', headers={
            'X-Container-Meta-Forward-To': 'nowhere'}))
        self.assertEqual(400, resp.status_int)
        self.assertIn(b"no target named 'nowhere'", resp.read())
        resp = self.call(mw, make_env('POST', path='/v1/AUTH_x/new', headers={
            'X-Container-Meta-Forward-To': 'default'}))
        self.assertEqual(b'local response', resp.read())
        self.assertEqual(1, self.server.accepted)

        # cached: more object requests cost no more container lookups
        lookups[:] = []
        for _ in range(3):
            self.assertEqual(b'remote', self.call(mw, make_env(
                path='/v1/AUTH_x/optin/o')).read())
            self.assertEqual(b'local response', self.call(mw, make_env(
                path='/v1/AUTH_x/other/o')).read())
        self.assertEqual([], lookups)
        # ...until the container is changed through this worker, or the
        # cache time has passed
        infos['/v1/AUTH_x/other'] = {'meta': {'forward-to': 'default'}}
        self.call(mw, make_env('POST', path='/v1/AUTH_x/other')).read()
        self.assertEqual(b'remote', self.call(mw, make_env(
            path='/v1/AUTH_x/other/o')).read())
        self.assertEqual(['/v1/AUTH_x/other'], lookups)
        del infos['/v1/AUTH_x/optin']
        with mock.patch.object(middleware.time, 'monotonic',
                               return_value=time.monotonic() + 10.5):
            self.assertEqual(b'local response', self.call(mw, make_env(
                path='/v1/AUTH_x/optin/o')).read())
        self.assertEqual(['/v1/AUTH_x/other', '/v1/AUTH_x/optin'], lookups)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.backend: the signed environ state, and the
``forwarder_backend`` filter that restores it on the target."""

import json
import unittest
from unittest import mock

from swift_forwarder import backend
from swift_forwarder.exceptions import ConfigError

from test.unit.helpers import FakeApp, LeakTracker, make_env

NOW = 1800000000


def state_env(method='PUT', path='/v1/AUTH_t/c/o', key='k1',
              state=('content_type_overridden',), now=NOW, **kwargs):
    env = make_env(method, path, **kwargs)
    for name, value in backend.signed_headers(
            key, method, path.encode('latin-1'), state, now):
        env['HTTP_' + name.upper().replace('-', '_')] = value
    return env


class TestSignature(unittest.TestCase):

    def test_signed_headers_verify(self):
        """What signed_headers makes, verify takes, with either key."""
        headers = dict(backend.signed_headers(
            'k2', 'PUT', b'/v1/a/c/o', ['content_type_overridden'], NOW))
        self.assertEqual('content_type_overridden',
                         headers[backend.STATE_HEADER])
        stamp, digest = headers[backend.SIG_HEADER].split()
        self.assertEqual(str(NOW), stamp)
        self.assertEqual(64, len(digest))
        self.assertEqual(['content_type_overridden'], backend.verify(
            ['k1', 'k2'], 'PUT', b'/v1/a/c/o', 'content_type_overridden',
            headers[backend.SIG_HEADER], now=NOW + 10))

    def test_bound_to_method_path_state_time_and_key(self):
        sig = '%d %s' % (NOW, backend.sign('k', 'PUT', b'/v1/a/c/o',
                                           'content_type_overridden', NOW))
        good = ('PUT', b'/v1/a/c/o', 'content_type_overridden', sig)
        backend.verify(['k'], *good, now=NOW)
        for bad, reason in (
                (('POST',) + good[1:], 'bad signature'),
                ((good[0], b'/v1/a/c/p') + good[2:], 'bad signature'),
                (good[:2] + ('probe', sig), 'bad signature'),
                (good[:3] + ('%d %s' % (NOW + 1, sig.split()[1]),),
                 'bad signature'),
                (good[:3] + ('',), 'without'),
                (good[:3] + ('nodigits',), 'expected'),
                (good[:3] + ('12x abc',), 'expected')):
            with self.assertRaises(ValueError) as caught:
                backend.verify(['k'], *bad, now=NOW)
            self.assertIn(reason, str(caught.exception))
        with self.assertRaises(ValueError):
            backend.verify(['other'], *good, now=NOW)

    def test_time_window(self):
        sig = '%d %s' % (NOW, backend.sign('k', 'GET', b'/', 'probe', NOW))
        for now in (NOW - backend.MAX_SKEW, NOW + backend.MAX_SKEW):
            backend.verify(['k'], 'GET', b'/', 'probe', sig, now=now)
        for now in (NOW - backend.MAX_SKEW - 1, NOW + backend.MAX_SKEW + 1):
            with self.assertRaises(ValueError) as caught:
                backend.verify(['k'], 'GET', b'/', 'probe', sig, now=now)
            self.assertIn('clock', str(caught.exception))

    def test_unknown_state(self):
        """Signed, but not a state this filter knows: refused, named."""
        sig = '%d %s' % (NOW, backend.sign('k', 'GET', b'/', 'root', NOW))
        with self.assertRaises(ValueError) as caught:
            backend.verify(['k'], 'GET', b'/', 'root', sig, now=NOW)
        self.assertIn('unknown state root', str(caught.exception))


class TestBackendMiddleware(unittest.TestCase):

    def setUp(self):
        self.app = FakeApp()
        self.tracker = LeakTracker()
        seen = self.seen = []
        inner = self.app.__call__

        def app(env, start_response):
            seen.append(dict(env))
            return inner(env, start_response)
        self.mw = backend.BackendMiddleware(app, {'key': 'k1', 'key2': 'k2'})
        self.clock = mock.patch.object(backend.time, 'time',
                                       return_value=NOW)
        self.clock.start()
        self.addCleanup(self.clock.stop)

    def call(self, env):
        resp = self.tracker.call(self.mw, env)
        body = resp.read()
        return resp.status_int, body

    def test_key_required(self):
        for conf in ({}, {'key': ' '}, {'key2': 'k2'}):
            with self.assertRaises(ConfigError) as caught:
                backend.filter_factory({}, **conf)(self.app)
            self.assertIn('key is required', str(caught.exception))

    def test_no_state_passes_untouched(self):
        self.assertEqual((200, b'local response'), self.call(make_env()))
        self.assertNotIn('swift.content_type_overridden', self.seen[0])

    def test_signed_state_restored_headers_removed(self):
        for key in ('k1', 'k2'):
            self.assertEqual(200, self.call(state_env(key=key))[0])
        for env in self.seen:
            self.assertIs(True, env['swift.content_type_overridden'])
            self.assertFalse([k for k in env if 'FORWARDER_BACKEND' in k])

    def test_refused_401_and_nothing_reaches_the_app(self):
        """Unsigned, badly signed, signed with another key, stale, or a
        lone signature: 401 with the reason, and proxy-server never sees
        the request."""
        unsigned = make_env('PUT', headers={
            backend.STATE_HEADER: 'content_type_overridden'})
        lone = state_env()
        del lone['HTTP_X_FORWARDER_BACKEND_STATE']
        for env, reason in (
                (unsigned, b'without X-Forwarder-Backend-Sig'),
                (state_env(key='k3'), b'bad signature'),
                (state_env(now=NOW - 3600), b'clock'),
                (lone, b'Sig without X-Forwarder-Backend-State')):
            status, body = self.call(env)
            self.assertEqual(401, status, body)
            self.assertTrue(body.startswith(b'forwarder_backend: '), body)
            self.assertIn(reason, body)
        self.assertEqual([], self.seen)

    def test_probe_answered_here(self):
        """A signed probe says what the middlewares above asked of the
        request, and is not passed on."""
        env = state_env('GET', state=('probe',), headers={
            'X-Backend-Ignore-Range-If-Metadata-Present':
                'X-Static-Large-Object, X-Object-Sysmeta-Symlink-Target',
            backend.PROBE_HEADER: 'yes'})
        status, body = self.call(env)
        self.assertEqual(200, status)
        self.assertEqual({'forwarder_backend': True, 'backend_headers': True,
                          'ignore_range': [
                              'X-Object-Sysmeta-Symlink-Target',
                              'X-Static-Large-Object']}, json.loads(body))
        self.assertEqual([], self.seen)
        status, body = self.call(state_env('GET', state=('probe',)))
        self.assertEqual({'forwarder_backend': True, 'backend_headers': False,
                          'ignore_range': []}, json.loads(body))


if __name__ == '__main__':
    unittest.main()

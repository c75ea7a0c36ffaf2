# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.auth and the service mode of the middleware."""

import unittest

import eventlet

from swift_forwarder.auth import AuthError, TokenCache
from swift_forwarder.service import account_from_storage_url

from test.unit.helpers import FakeClock


class TestTokenCache(unittest.TestCase):

    def make(self, results, delay=0, interval=60):
        self.calls = 0
        self.clock = FakeClock()

        def fetch():
            self.calls += 1
            eventlet.sleep(delay)
            result = results.pop(0)
            if isinstance(result, Exception):
                raise result
            return result
        return TokenCache('t', fetch, interval, clock=self.clock)

    def test_cached_until_refresh_interval(self):
        """One fetch serves every request until the interval passes."""
        cache = self.make([('u', 'tk1'), ('u', 'tk2')])
        self.assertEqual(('u', 'tk1'), cache.get())
        self.clock.now += 59
        self.assertEqual(('u', 'tk1'), cache.get())
        self.clock.now += 2
        self.assertEqual(('u', 'tk2'), cache.get())
        self.assertEqual(2, self.calls)

    def test_single_flight(self):
        """Concurrent greenlets share one fetch."""
        cache = self.make([('u', 'tk1')], delay=0.05)
        threads = [eventlet.spawn(cache.get) for _ in range(10)]
        self.assertEqual([('u', 'tk1')] * 10, [t.wait() for t in threads])
        self.assertEqual(1, self.calls)

    def test_invalidate_only_the_refused_token(self):
        """A 401 on an old token doesn't throw away a newer one."""
        cache = self.make([('u', 'tk1'), ('u', 'tk2'), ('u', 'tk3')])
        cache.get()
        cache.invalidate('tk1')
        self.assertEqual(('u', 'tk2'), cache.get())
        cache.invalidate('tk1')  # a late 401 for the old token
        self.assertEqual(('u', 'tk2'), cache.get())
        self.assertEqual(2, self.calls)

    def test_failure_reaches_every_waiter(self):
        """A failed fetch is an AuthError (502) for each waiter, without
        the key or the exception's internals beyond its message."""
        cache = self.make([ValueError('refused'), ('u', 'tk2')], delay=0.05)
        threads = [eventlet.spawn(cache.get) for _ in range(3)]
        for thread in threads:
            with self.assertRaises(AuthError) as caught:
                thread.wait()
            self.assertEqual(502, caught.exception.status_hint)
        self.assertEqual(1, self.calls)
        self.assertEqual(('u', 'tk2'), cache.get())

    def test_account_from_storage_url(self):
        self.assertEqual('AUTH_a', account_from_storage_url(
            'http://t:8080/v1/AUTH_a'))
        self.assertEqual('AUTH_\u00e9', account_from_storage_url(
            'https://t/v1/AUTH_%C3%A9/'))
        with self.assertRaises(ValueError):
            account_from_storage_url('http://t/')


if __name__ == '__main__':
    unittest.main()

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.cache."""

import unittest

from swift_forwarder.cache import TTLCache

from test.unit.helpers import FakeClock


class TestTTLCache(unittest.TestCase):

    def setUp(self):
        self.clock = FakeClock()
        self.cache = TTLCache(10, 3, self.clock)

    def test_kept_for_ttl(self):
        self.cache.put('a', None)
        self.assertIsNone(self.cache.get('a', 'missing'))  # None is a value
        self.clock.now += 9.9
        self.assertIsNone(self.cache.get('a', 'missing'))
        self.clock.now += 0.1
        self.assertEqual('missing', self.cache.get('a', 'missing'))

    def test_bounded_expired_first(self):
        self.cache.put('old', 1)
        self.clock.now += 11
        self.cache.put('b', 2)
        self.cache.put('c', 3)
        self.cache.put('d', 4)  # full: the expired one goes
        self.assertEqual(3, len(self.cache))
        self.assertEqual((2, 3, 4), tuple(self.cache.get(k) for k in 'bcd'))

    def test_bounded_none_expired(self):
        for key in 'abc':
            self.cache.put(key, key)
        self.cache.put('a', 'again')  # a key it has: nothing dropped
        self.assertEqual(3, len(self.cache))
        self.cache.put('d', 'd')  # full, none expired: all go
        self.assertEqual(1, len(self.cache))
        self.assertEqual('d', self.cache.get('d'))

    def test_pop_and_clear(self):
        self.cache.put('a', 1)
        self.cache.put('b', 2)
        self.cache.pop('a')
        self.cache.pop('nope')
        self.assertIsNone(self.cache.get('a'))
        self.cache.clear()
        self.assertEqual(0, len(self.cache))

    def test_module_clock_by_default(self):
        """Without a clock of its own it reads time.monotonic each time
        (so a test patching it moves the cache's time)."""
        cache = TTLCache(10, 3)
        cache.put('a', 1)
        self.assertEqual(1, cache.get('a'))


if __name__ == '__main__':
    unittest.main()

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A small bounded cache whose entries expire, kept per worker."""

import time

__all__ = ['TTLCache']


class TTLCache(object):
    """At most ``maxsize`` entries, each kept ``ttl`` seconds.

    When it is full, expired entries go first; if none has, everything does
    (the entries are cheap to fetch again: a container's ACLs or its
    Forward-To setting).

    :param clock: ``time.monotonic`` (default), or a test's.
    """

    def __init__(self, ttl, maxsize, clock=None):
        self.ttl, self.maxsize = ttl, maxsize
        self._clock = clock
        self._entries = {}  # key: (stored at, value)

    def _now(self):
        return self._clock() if self._clock else time.monotonic()

    def __len__(self):
        return len(self._entries)

    def get(self, key, default=None):
        """The value kept for ``key``, or ``default`` if none is fresh."""
        entry = self._entries.get(key)
        if entry is None or self._now() - entry[0] >= self.ttl:
            return default
        return entry[1]

    def put(self, key, value):
        now = self._now()
        if key not in self._entries and len(self._entries) >= self.maxsize:
            self._entries = {k: v for k, v in self._entries.items()
                             if now - v[0] < self.ttl}
            if len(self._entries) >= self.maxsize:
                self._entries.clear()
        self._entries[key] = (now, value)

    def clear(self):
        self._entries.clear()

    def pop(self, key):
        """Forget ``key`` (something changed it)."""
        self._entries.pop(key, None)

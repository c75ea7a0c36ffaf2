# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""What crossed the wire toward the target: a :class:`RecordingRelay` (a
:class:`FaultProxy` that keeps the bytes it relays) and a parser of the
requests it recorded, so tests assert what the target was sent rather than
what a log says."""

import re
import threading
import time

from test.functional.faultproxy import FaultProxy

__all__ = ['RecordingRelay', 'Wire', 'parse_requests', 'with_txn']

#: A request line on the wire (the start of the next request).
_REQUEST_LINE = re.compile(rb'[A-Z]+ \S+ HTTP/1\.[01]\r\n')


class Wire(object):
    """One request as the target received it.

    :ivar key: (connection number, offset): unique within the relay.
    :ivar body_sent: False if the request announced a body (Expect:
        100-continue) but none of it followed.
    """

    def __init__(self, key, method, target, headers, body_sent):
        self.key, self.method, self.target = key, method, target
        self.headers, self.body_sent = headers, body_sent

    def values(self, name):
        """Every value of header ``name`` (case-insensitive)."""
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def value(self, name):
        values = self.values(name)
        assert len(values) <= 1, (name, values)
        return values[0] if values else None

    def names(self):
        return {n.lower() for n, _v in self.headers}

    def __repr__(self):
        return '<Wire %s %s %r>' % (self.method, self.target, self.headers)


def _chunked_end(data, pos):
    """Offset just past a chunked body starting at ``pos``, or None if it
    is not all there."""
    while True:
        eol = data.find(b'\r\n', pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b';')[0], 16)
        pos = eol + 2
        if size == 0:
            end = data.find(b'\r\n\r\n', pos - 2)
            return None if end < 0 else end + 4
        pos += size + 2
        if pos > len(data):
            return None


def parse_requests(conn, data):
    """The requests in one connection's request bytes, in order."""
    found, pos = [], 0
    while pos < len(data):
        end = data.find(b'\r\n\r\n', pos)
        if end < 0:
            break
        lines = bytes(data[pos:end]).decode('latin-1').split('\r\n')
        method, target, _version = lines[0].split(' ', 2)
        headers = [tuple(part.strip() for part in line.split(':', 1))
                   for line in lines[1:]]
        wire = Wire((conn, pos), method, target, headers, True)
        found.append(wire)
        pos = end + 4
        rest = data[pos:]
        length = wire.value('content-length')
        chunked = (wire.value('transfer-encoding') or '').lower() == 'chunked'
        if (wire.value('expect') and (chunked or length not in (None, '0'))
                and (not rest or _REQUEST_LINE.match(rest))):
            wire.body_sent = False  # refused before 100 Continue
            continue
        if chunked:
            body_end = _chunked_end(data, pos)
        else:
            body_end = pos + int(length or 0)
        if body_end is None or body_end > len(data):
            wire.body_sent = False  # cut short: the end of what we have
            break
        pos = body_end
    return found


class RecordingRelay(FaultProxy):
    """A :class:`FaultProxy` that also keeps every request byte it relays,
    per connection (and every response byte, with ``responses=True``).

    A byte is recorded as the relay passes it on, so once the forwarder has
    an answer to a request, that request's bytes are recorded: what is not
    recorded by then was never sent.
    """

    def __init__(self, *args, responses=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._record_lock = threading.Lock()
        self._directions = ('request', 'response') if responses else \
            ('request',)
        self._recorded = {}  # (relay, direction) -> bytearray, in order

    def _filter(self, relay, direction, data):
        data, action = super()._filter(relay, direction, data)
        if direction in self._directions:
            with self._record_lock:
                self._recorded.setdefault(
                    (relay, direction), bytearray()).extend(data)
        return data, action

    def streams(self, direction='request'):
        """The bytes relayed in ``direction``, one string per connection,
        in the order the connections first relayed something."""
        if direction not in self._directions:
            raise ValueError('%s bytes are not recorded' % direction)
        with self._record_lock:
            return [bytes(data) for (_relay, way), data
                    in self._recorded.items() if way == direction]

    def raw(self):
        """Every request byte relayed so far."""
        return b''.join(self.streams())

    def requests(self):
        """Every request relayed so far (as far as it got)."""
        return [wire for conn, data in enumerate(self.streams())
                for wire in parse_requests(conn, data)]

    def wait_for_txn(self, txn, timeout=10):
        """The requests that carried local transaction ``txn``, once there
        is one (a positive marker: [] after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = with_txn(self.requests(), txn)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def settle(self, quiet=0.3):
        assert self.wait_quiet(quiet, timeout=10)

    def since(self, seen):
        """Requests not among ``seen`` (a set of keys), once quiet."""
        self.settle()
        return [w for w in self.requests() if w.key not in seen]

    def mark(self):
        """Keys of every request so far, for :meth:`since`."""
        self.settle()
        return {w.key for w in self.requests()}


def with_txn(wires, txn):
    """The requests that carried local transaction ``txn``."""
    return [w for w in wires if w.value('x-trans-id-extra') == txn]

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A fault-injecting TCP proxy for the functional tests, on 127.0.0.1 only.

Put it between the forwarder and the target cluster's proxy::

    with FaultProxy('127.0.0.1', target_port) as fault:
        reconfigure(target_url=fault.url)
        fault.arm('cut_response', after=300000)   # the next GET breaks off
        ...

Bytes flow in two directions: ``request`` (client -> target) and
``response`` (target -> client).  A fault is *armed* for one direction and
applies to the next bytes flowing that way on any connection, counted from
the moment it is armed:

=================  ============================================================
``cut_response``   relay ``after`` more response bytes, then close both sides
``cut_request``    the same for request bytes
``stall_response`` relay ``after`` more response bytes, then relay nothing more
                   on that connection in that direction (sockets stay open;
                   what the target still sends is read and dropped)
``stall_request``  the same for request bytes
``flip_response``  XOR 0x01 into the response byte at offset ``at``
``flip_request``   the same for request bytes
=================  ============================================================

Each fault fires ``times`` times (default 1): after firing it re-arms itself,
counting again from the next byte in its direction.  ``fired`` counts what
fired, by kind.

:meth:`FaultProxy.blackhole` makes new connections *hang* in the kernel (the
listen backlog is shrunk to one and filled, so SYNs are dropped and the
client's connect times out; existing connections are dropped);
:meth:`FaultProxy.restore` undoes it.

Threads with blocking-style loops: one accepting thread and two pumps per
connection, every wait bounded (0.1 s polls), so :meth:`FaultProxy.stop`
returns promptly.  The proxy stops by itself after ``max_lifetime`` seconds
and refuses connections beyond ``max_connections``; :meth:`stop` closes every
socket it made.
"""

import collections
import select
import socket
import threading
import time

__all__ = ['FaultProxy', 'FAULTS']

#: kind -> (direction, action)
FAULTS = {
    'cut_response': ('response', 'cut'),
    'cut_request': ('request', 'cut'),
    'stall_response': ('response', 'stall'),
    'stall_request': ('request', 'stall'),
    'flip_response': ('response', 'flip'),
    'flip_request': ('request', 'flip'),
}

POLL = 0.1
CHUNK = 65536


class _Fault(object):
    """One armed fault: ``remaining`` bytes pass before it triggers."""

    def __init__(self, kind, offset, times):
        self.kind = kind
        self.direction, self.action = FAULTS[kind]
        self.offset = self.remaining = offset
        self.times = times

    def __repr__(self):
        return '<%s in %d, %d more time(s)>' % (
            self.kind, self.remaining, self.times)


class _Relay(object):
    """One accepted connection and its connection to the target."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.upstream = None
        self.lock = threading.Lock()
        self.aborted = False
        self.stalled = {'request': False, 'response': False}
        self.pumps_left = 2
        self.closed = False

    def socks(self):
        return [s for s in (self.client, self.upstream) if s is not None]

    def abort(self):
        """Both sides get a FIN now; the sockets are closed (RST if data is
        still unread) when both pumps have exited."""
        with self.lock:
            if self.aborted:
                return
            self.aborted = True
            for sock in self.socks():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def pump_done(self):
        with self.lock:
            self.pumps_left -= 1
            last = self.pumps_left <= 0
        if last:
            self.close()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.aborted = True
        for sock in self.socks():
            try:
                sock.close()
            except OSError:
                pass
        self.proxy._forget(self)


def _wait(sock, events, timeout=POLL):
    """True when ``sock`` is ready for ``events`` (poll, not select: no
    FD_SETSIZE limit)."""
    poller = select.poll()
    poller.register(sock.fileno(), events)
    return bool(poller.poll(timeout * 1000))


class FaultProxy(object):
    """A TCP proxy to ``target_host:target_port`` that injects faults.

    :param target_host: where to relay to (the target cluster's proxy).
    :param target_port: its port.
    :param max_lifetime: seconds after which the proxy stops itself.
    :param max_connections: connections beyond this many at once are
        closed at once.
    :param connect_timeout: timeout of each connect to the target.
    """

    def __init__(self, target_host, target_port, max_lifetime=900,
                 max_connections=512, connect_timeout=5):
        self.target = (target_host, target_port)
        self.max_lifetime = max_lifetime
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.accepted = 0
        self.refused = 0
        self.fired = collections.Counter()
        self.bytes = {'request': 0, 'response': 0}
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()
        self._armed = {'request': [], 'response': []}
        self._relays = set()
        self._threads = []
        self._fillers = []
        self._blackholed = False
        self._stopping = threading.Event()
        self._started = None
        self._acceptor = None

    # -- lifecycle

    def start(self):
        self._started = time.monotonic()
        self._acceptor = threading.Thread(target=self._accept_loop,
                                          name='faultproxy-accept',
                                          daemon=True)
        self._acceptor.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self, timeout=5):
        """Stop accepting, close every socket this proxy made, join its
        threads (bounded by ``timeout``).  Safe to call twice."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        me = threading.current_thread()
        if self._acceptor is not None and self._acceptor is not me:
            self._acceptor.join(timeout)
        with self._lock:
            relays = list(self._relays)
            fillers, self._fillers = self._fillers, []
            threads = list(self._threads)
        for relay in relays:
            relay.abort()
        for sock in fillers:
            sock.close()
        for thread in threads:
            if thread is not me:
                thread.join(max(0, deadline - time.monotonic()))
        for relay in relays:
            relay.close()
        self.listener.close()

    @property
    def active(self):
        """Connections open now."""
        with self._lock:
            return len(self._relays)

    def wait_idle(self, timeout=10):
        """Wait until no connection is open; returns how many still are."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.active

    def wait_quiet(self, quiet=0.2, timeout=5):
        """Wait until no byte has been relayed for ``quiet`` seconds, so a
        fault armed next applies to the next request, not to the tail of an
        earlier one.  Returns True if it got quiet within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                idle = time.monotonic() - self.last_activity
            if idle >= quiet:
                return True
            if time.monotonic() + quiet - idle > deadline:
                return False
            time.sleep(quiet - idle)

    # -- faults

    def arm(self, kind, after=None, at=None, times=1):
        """Arm a fault (see the module docstring).  ``after`` is for cut and
        stall faults, ``at`` for flips; both count bytes in the fault's
        direction from now, across connections."""
        if kind not in FAULTS:
            raise ValueError('unknown fault %r; expected one of %s'
                             % (kind, ', '.join(sorted(FAULTS))))
        offset = at if FAULTS[kind][1] == 'flip' else after
        if offset is None or offset < 0 or times < 1:
            raise ValueError('%s needs %s >= 0 and times >= 1' % (
                kind, 'at' if FAULTS[kind][1] == 'flip' else 'after'))
        fault = _Fault(kind, offset, times)
        with self._lock:
            self._armed[fault.direction].append(fault)
        return fault

    def disarm(self):
        """Forget every armed fault (stalled connections stay stalled)."""
        with self._lock:
            for faults in self._armed.values():
                del faults[:]

    @property
    def armed(self):
        with self._lock:
            return self._armed['request'] + self._armed['response']

    @property
    def faults_injected(self):
        return sum(self.fired.values())

    def blackhole(self, drop_existing=True):
        """New connects hang (kernel backlog full, SYNs dropped) until
        :meth:`restore`; existing connections are dropped."""
        with self._lock:
            if self._blackholed:
                return
            self._blackholed = True
            relays = list(self._relays) if drop_existing else []
        # the acceptor stops accepting within one poll; then shrink the
        # backlog to one (Linux re-reads it on a second listen()) and fill it
        time.sleep(2 * POLL)
        self.listener.listen(0)
        for _ in range(8):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(0.2)
            try:
                sock.connect(('127.0.0.1', self.port))
            except OSError:
                sock.close()
                break  # this one hung: the queue is full
            with self._lock:
                self._fillers.append(sock)
        else:
            raise AssertionError('could not fill the listen backlog')
        for relay in relays:
            relay.abort()

    def restore(self):
        """Serve connections again after :meth:`blackhole`; whatever queued
        meanwhile (the fillers) is dropped."""
        with self._lock:
            if not self._blackholed:
                return
            fillers, self._fillers = self._fillers, []
        self.listener.listen(128)
        for sock in fillers:
            sock.close()
        self.listener.setblocking(False)
        try:
            while True:
                try:
                    sock, _addr = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                sock.close()
        finally:
            self.listener.setblocking(True)
        with self._lock:
            self._blackholed = False

    # -- internals

    def _accept_loop(self):
        while not self._stopping.is_set():
            if time.monotonic() - self._started > self.max_lifetime:
                threading.Thread(target=self.stop, daemon=True).start()
                return
            with self._lock:
                blackholed = self._blackholed
            if blackholed:
                time.sleep(POLL / 2)
                continue
            try:
                if not _wait(self.listener, select.POLLIN):
                    continue
                with self._lock:
                    if self._blackholed:
                        continue
                self.listener.setblocking(False)
                try:
                    client, _addr = self.listener.accept()
                finally:
                    self.listener.setblocking(True)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            self._serve(client)

    def _serve(self, client):
        with self._lock:
            self.accepted += 1
            if len(self._relays) >= self.max_connections:
                self.refused += 1
                client.close()
                return
            relay = _Relay(self, client)
            self._relays.add(relay)
            self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._connect_and_pump, args=(relay,),
                                  name='faultproxy-relay', daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _forget(self, relay):
        with self._lock:
            self._relays.discard(relay)

    def _connect_and_pump(self, relay):
        try:
            upstream = socket.create_connection(self.target,
                                                self.connect_timeout)
        except OSError:
            relay.pumps_left = 1
            relay.pump_done()
            return
        with relay.lock:
            relay.upstream = upstream
            aborted = relay.aborted
        if aborted or self._stopping.is_set():
            relay.pumps_left = 1
            relay.pump_done()
            return
        for sock in relay.socks():
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        other = threading.Thread(
            target=self._pump, args=(relay, 'response', upstream,
                                     relay.client),
            name='faultproxy-response', daemon=True)
        with self._lock:
            self._threads.append(other)
        other.start()
        self._pump(relay, 'request', relay.client, upstream)

    def _pump(self, relay, direction, src, dst):
        try:
            while not self._stopping.is_set() and not relay.aborted:
                if not _wait(src, select.POLLIN):
                    continue
                try:
                    data = src.recv(CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:  # EOF: pass it on, keep the other direction
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                data, action = self._filter(relay, direction, data)
                if data and not self._send(relay, dst, data):
                    relay.abort()
                    return
                with self._lock:
                    self.bytes[direction] += len(data)
                    self.last_activity = time.monotonic()
                if action == 'cut':
                    relay.abort()
                    return
        except OSError:
            relay.abort()
        finally:
            relay.pump_done()

    def _send(self, relay, sock, data):
        view = memoryview(data)
        while view:
            if self._stopping.is_set() or relay.aborted:
                return False
            if not _wait(sock, select.POLLOUT):
                continue
            try:
                sent = sock.send(view)
            except (BlockingIOError, InterruptedError):
                continue
            view = view[sent:]
        return True

    def _filter(self, relay, direction, data):
        """Apply the armed faults to ``data``: returns (bytes to relay,
        None/'cut'/'stall')."""
        with self._lock:
            if relay.stalled[direction]:
                return b'', None
            faults = self._armed[direction]
            if not faults:
                return data, None
            out = bytearray(data)
            pos, size = 0, len(out)
            while True:
                due = [f for f in faults if f.remaining < size - pos or (
                    f.action != 'flip' and f.remaining == size - pos)]
                if not due:
                    for fault in faults:
                        fault.remaining -= size - pos
                    return bytes(out), None
                # earliest first; at the same offset a cut/stall (before the
                # byte) wins over a flip (of the byte)
                fault = min(due, key=lambda f: (f.remaining,
                                                f.action == 'flip'))
                step = fault.remaining
                for other in faults:
                    other.remaining -= step
                pos += step
                self.fired[fault.kind] += 1
                fault.times -= 1
                fault.remaining = fault.offset
                if fault.times <= 0:
                    faults.remove(fault)
                if fault.action == 'flip':
                    out[pos] ^= 0x01
                    for other in faults:
                        if other is not fault:
                            other.remaining -= 1
                    pos += 1
                    continue
                if fault.action == 'stall':
                    relay.stalled[direction] = True
                return bytes(out[:pos]), fault.action

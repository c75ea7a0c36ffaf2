# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The functional tests' fault-injecting proxy
(:mod:`test.functional.faultproxy`) itself, against tiny servers in this
process: no Swift clusters needed (``make unit`` runs these)."""

import http.client
import os
import socket
import threading
import time

import pytest

from test.functional.faultproxy import FaultProxy

DATA = bytes(range(256)) * 1024  # 256 KiB, every offset recognisable


class EchoServer(threading.Thread):
    """Echoes what each connection sends; remembers what it received."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.received = []  # one bytearray per connection
        self.socks = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                sock, _addr = self.listener.accept()
            except socket.timeout:
                continue
            got = bytearray()
            self.received.append(got)
            self.socks.append(sock)
            threading.Thread(target=self._echo, args=(sock, got),
                             daemon=True).start()

    def _echo(self, sock, got):
        sock.settimeout(10)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                got.extend(data)
                sock.sendall(data)
        except OSError:
            pass
        finally:
            sock.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(5)
        for sock in self.socks:
            sock.close()
        self.listener.close()


class BodyServer(threading.Thread):
    """A one-response-per-connection HTTP server: 200 with ``DATA``."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                sock, _addr = self.listener.accept()
            except socket.timeout:
                continue
            with sock:
                sock.settimeout(5)
                try:
                    sock.recv(65536)
                    sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n'
                                 b'Connection: close\r\n\r\n' % len(DATA) + DATA)
                except OSError:
                    pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(5)
        self.listener.close()


@pytest.fixture
def echo():
    with EchoServer() as server:
        yield server


def _socket_fds():
    found = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink('/proc/self/fd/' + fd).startswith('socket:'):
                found += 1
        except OSError:
            pass
    return found


def _exchange(port, data, expect=None, timeout=5):
    """Send ``data``, half-close, read until EOF or ``expect`` bytes."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    with sock:
        sock.sendall(data)
        got = bytearray()
        while expect is None or len(got) < expect:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got.extend(chunk)
        return bytes(got)


def _flipped(data, *offsets):
    out = bytearray(data)
    for offset in offsets:
        out[offset] ^= 0x01
    return bytes(out)


def test_relays_unchanged_and_counts(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        assert proxy.url == 'http://127.0.0.1:%d' % proxy.port
        for _ in range(3):
            assert _exchange(proxy.port, DATA, len(DATA)) == DATA
        assert proxy.accepted == 3
        assert proxy.wait_idle() == 0
        assert proxy.bytes == {'request': 3 * len(DATA),
                               'response': 3 * len(DATA)}
        assert proxy.faults_injected == 0


def test_flip_request_and_response(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('flip_request', at=1000)
        assert _exchange(proxy.port, DATA, len(DATA)) == _flipped(DATA, 1000)
        assert bytes(echo.received[-1]) == _flipped(DATA, 1000)
        proxy.arm('flip_response', at=70000)
        assert _exchange(proxy.port, DATA, len(DATA)) == _flipped(DATA, 70000)
        assert bytes(echo.received[-1]) == DATA
        # fired once each: the next exchange is clean
        assert _exchange(proxy.port, DATA, len(DATA)) == DATA
        assert proxy.fired == {'flip_request': 1, 'flip_response': 1}


def test_flip_times_rearms_from_the_next_byte(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('flip_response', at=100, times=3)
        assert _exchange(proxy.port, DATA, len(DATA)) == \
            _flipped(DATA, 100, 201, 302)
        assert proxy.fired['flip_response'] == 3 and not proxy.armed


def test_cut_response(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('cut_response', after=12345)
        assert _exchange(proxy.port, DATA) == DATA[:12345]
        assert proxy.wait_idle() == 0
        assert _exchange(proxy.port, DATA, len(DATA)) == DATA


def test_cut_request(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('cut_request', after=5000)
        got = _exchange(proxy.port, DATA)
        assert got == DATA[:len(got)] and len(got) <= 5000
        assert proxy.wait_idle() == 0
        deadline = time.time() + 5  # the echo server accepts in a thread
        while (not echo.received or len(echo.received[-1]) < 5000) and \
                time.time() < deadline:
            time.sleep(0.01)
        assert bytes(echo.received[-1]) == DATA[:5000]


def test_cut_times_applies_to_following_connections(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('cut_response', after=100, times=2)
        assert _exchange(proxy.port, DATA) == DATA[:100]
        assert _exchange(proxy.port, DATA) == DATA[:100]
        assert _exchange(proxy.port, DATA, len(DATA)) == DATA
        assert proxy.fired['cut_response'] == 2


def test_stall_response_keeps_the_connection_open(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        proxy.arm('stall_response', after=3000)
        sock = socket.create_connection(('127.0.0.1', proxy.port), timeout=5)
        with sock:
            sock.sendall(DATA)
            got = bytearray()
            sock.settimeout(0.5)
            with pytest.raises(socket.timeout):
                while True:
                    chunk = sock.recv(65536)
                    assert chunk, 'EOF: the stall closed the connection'
                    got.extend(chunk)
            assert bytes(got) == DATA[:3000]
            assert proxy.active == 1
        assert proxy.wait_idle() == 0  # the client closing ends it


def test_http_response_cut_is_an_incomplete_read():
    with BodyServer() as server, \
            FaultProxy('127.0.0.1', server.port) as proxy:
        proxy.arm('cut_response', after=100000)
        conn = http.client.HTTPConnection('127.0.0.1', proxy.port, timeout=5)
        conn.request('GET', '/')
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
        conn.close()
        conn = http.client.HTTPConnection('127.0.0.1', proxy.port, timeout=5)
        conn.request('GET', '/')
        assert conn.getresponse().read() == DATA
        conn.close()


def test_blackhole_makes_connects_hang_and_restore_serves_again(echo):
    with FaultProxy('127.0.0.1', echo.port) as proxy:
        held = socket.create_connection(('127.0.0.1', proxy.port), timeout=5)
        held.sendall(b'ping')
        assert held.recv(4) == b'ping'
        proxy.blackhole()
        assert held.recv(4) == b''  # existing connections are dropped
        held.close()
        sock = socket.socket()
        sock.settimeout(0.5)
        start = time.monotonic()
        with pytest.raises(socket.timeout):  # hangs, is not refused
            sock.connect(('127.0.0.1', proxy.port))
        assert time.monotonic() - start >= 0.45
        sock.close()
        accepted = proxy.accepted
        proxy.restore()
        assert _exchange(proxy.port, b'hello', 5) == b'hello'
        assert proxy.accepted == accepted + 1


def test_stop_closes_every_socket(echo):
    before = _socket_fds()
    proxy = FaultProxy('127.0.0.1', echo.port).start()
    open_socks = [socket.create_connection(('127.0.0.1', proxy.port),
                                           timeout=5) for _ in range(5)]
    for sock in open_socks:
        sock.sendall(b'x')
        assert sock.recv(1) == b'x'
    proxy.arm('stall_response', after=0)
    open_socks[0].sendall(b'y')
    proxy.stop()
    proxy.stop()  # twice is fine
    for sock in open_socks:
        assert sock.recv(1) == b''
        sock.close()
    deadline = time.time() + 5  # the echo server closes its ends too
    while _socket_fds() != before and time.time() < deadline:
        time.sleep(0.02)
    assert _socket_fds() == before
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', proxy.port), timeout=1)


def test_stops_by_itself_after_max_lifetime(echo):
    proxy = FaultProxy('127.0.0.1', echo.port, max_lifetime=0.3).start()
    assert _exchange(proxy.port, b'hi', 2) == b'hi'
    deadline = time.time() + 5
    while proxy.listener.fileno() != -1 and time.time() < deadline:
        time.sleep(0.05)
    assert proxy.listener.fileno() == -1


def test_wait_quiet(echo, monkeypatch):
    """wait_quiet returns once nothing was relayed for ``quiet`` seconds:
    never sooner, and after asking for no more sleep than the rest of the
    quiet period (the sleeps it asks for are counted, not timed: a loaded
    machine oversleeps)."""
    me, real_sleep, slept = threading.current_thread(), time.sleep, []

    def sleep(seconds):
        if threading.current_thread() is me:
            slept.append(seconds)
        real_sleep(seconds)

    with FaultProxy('127.0.0.1', echo.port) as proxy:
        assert _exchange(proxy.port, b'x' * 1000, 1000) == b'x' * 1000
        # the relay closed: its last activity is known (its pumps note it
        # after passing the bytes on, maybe after the client got them)
        assert proxy.wait_idle() == 0
        monkeypatch.setattr(time, 'sleep', sleep)
        idle = time.monotonic() - proxy.last_activity
        assert proxy.wait_quiet(quiet=0.3, timeout=5)
        assert time.monotonic() - proxy.last_activity >= 0.3
        # one sleep for the rest of the quiet period (none if a loaded
        # machine took that long already)
        assert len(slept) <= 1 and sum(slept) <= max(0, 0.3 - idle), \
            (idle, slept)
        # quiet already: no sleep at all
        del slept[:]
        assert proxy.wait_quiet(quiet=0.3, timeout=5)
        assert slept == []

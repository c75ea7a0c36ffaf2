# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.pool, on real loopback sockets."""

import errno
import shutil
import tempfile
import time
from unittest import mock

import eventlet

from swift_forwarder.bufferedhttp import BufferedHTTPConnection
from swift_forwarder.exceptions import PoolExhaustedError, \
    UpstreamConnectError

from test.unit.helpers import GreenTestCase, full_backlog_listener, \
    keep_alive_handler, make_cert, refused_port, tls_wrapper


def request(conn, path='/v1/AUTH_a'):
    """One GET on ``conn``, its body read to the end."""
    conn.send_head('GET', path, [('Host', 'target')])
    resp = conn.getresponse()
    body = resp.read()
    assert resp.complete()
    return body


class TestConnectionPool(GreenTestCase):

    def setUp(self):
        super().setUp()
        self.server = self.start_server(keep_alive_handler(b'ok'))

    def test_new_connection(self):
        """get() connects; the counters and repr show it in use."""
        pool = self.make_pool(self.server.port)
        self.assertStats(pool, in_use=0, idle=0, created=0)
        conn = pool.get()
        self.assertIsInstance(conn, BufferedHTTPConnection)
        self.assertIsNotNone(conn.sock)
        self.assertEqual(b'ok', request(conn))
        self.assertStats(pool, in_use=1, idle=0, created=1, reused=0,
                         discarded=0, exhausted=0, maxsize=4)
        self.assertEqual(
            '<ConnectionPool http://127.0.0.1:%d [1 in use, 0 idle | '
            'created 1, reused 0, discarded 0, exhausted 0]>'
            % self.server.port, repr(pool))
        pool.put(conn)
        self.assertStats(pool, in_use=0, idle=1, created=1)
        self.assertIn('[0 in use, 1 idle |', repr(pool))

    def test_reuse(self):
        """A connection put back serves the next request on the same
        socket."""
        pool = self.make_pool(self.server.port)
        conn = pool.get()
        request(conn)
        pool.put(conn)
        again = pool.get()
        self.assertIs(conn, again)
        self.assertEqual(b'ok', request(again, '/v1/AUTH_b'))
        pool.put(again)
        self.assertStats(pool, in_use=0, idle=1, created=1, reused=1)
        self.assertEqual(1, self.server.accepted)
        self.assertEqual(2, len(self.server.requests))

    def test_lifo(self):
        """The most recently used idle connection is reused first."""
        pool = self.make_pool(self.server.port)
        first, second = pool.get(), pool.get()
        for conn in (first, second):
            request(conn)
        pool.put(first)
        pool.put(second)
        self.assertIs(second, pool.get())
        self.assertIs(first, pool.get())
        self.assertStats(pool, in_use=2, idle=0, created=2, reused=2)
        pool.put(first)
        pool.put(second)

    def test_put_releases_response(self):
        """put() closes the finished response's file, which holds a
        reference to the socket (read1() leaves it open)."""
        pool = self.make_pool(self.server.port)
        conn = pool.get()
        conn.send_head('GET', '/', [('Host', 'target')])
        resp = conn.getresponse()
        self.assertEqual(b'ok', resp.read1(10))
        self.assertTrue(resp.complete())
        self.assertFalse(resp.isclosed())
        pool.put(conn)
        self.assertIsNone(conn.response)
        self.assertTrue(resp.isclosed())

    def test_get_fresh(self):
        """get(fresh=True) connects anew even with idle connections."""
        pool = self.make_pool(self.server.port)
        conn = pool.get()
        request(conn)
        pool.put(conn)
        fresh = pool.get(fresh=True)
        self.assertIsNot(conn, fresh)
        self.assertStats(pool, in_use=1, idle=1, created=2, reused=0)
        pool.put(fresh)
        self.wait_for(lambda: self.server.accepted == 2)

    def test_discard(self):
        """discard() closes the socket and frees the slot."""
        pool = self.make_pool(self.server.port, maxsize=1, pool_timeout=0.1)
        conn = pool.get()
        pool.discard(conn)
        self.assertIsNone(conn.sock)
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
        pool.discard(pool.get())  # the slot is free again
        self.assertStats(pool, in_use=0, idle=0, created=2, discarded=2,
                         exhausted=0)
        self.wait_for(lambda: self.server.accepted == 2)

    def test_bounded(self):
        """With pool_size connections held, get() waits pool_timeout and
        raises PoolExhaustedError, counting it."""
        pool = self.make_pool(self.server.port, maxsize=2, pool_timeout=0.2)
        held = [pool.get(), pool.get()]
        start = time.monotonic()
        with self.assertRaises(PoolExhaustedError) as caught:
            pool.get()
        waited = time.monotonic() - start
        self.assertGreaterEqual(waited, 0.19)
        self.assertLess(waited, 1.0)
        err = caught.exception
        self.assertEqual(503, err.status_hint)
        self.assertEqual(pool.name, err.target)
        self.assertIn('no free connection within 0.2s (pool_size 2)',
                      str(err))
        self.assertEqual((('Retry-After', '1'),), err.headers)
        self.assertStats(pool, in_use=2, idle=0, created=2, exhausted=1)
        for conn in held:
            pool.discard(conn)
        pool.discard(pool.get())
        self.assertStats(pool, in_use=0, created=3, exhausted=1)

    def test_extra_never_waits(self):
        """get(extra=True), for a request that holds a connection already:
        a free slot if there is one, else a connection over pool_size at
        once (never a wait for a slot it may hold itself), which is closed,
        not kept, when given back beyond pool_size."""
        pool = self.make_pool(self.server.port, maxsize=1, pool_timeout=0.5)
        held = pool.get()
        start = time.monotonic()
        extra = pool.get(extra=True)
        self.assertLess(time.monotonic() - start, 0.2)
        self.assertStats(pool, in_use=2, idle=0, created=2)
        pool.put(extra)  # beyond pool_size: closed
        self.assertStats(pool, in_use=1, idle=0, discarded=1)
        self.assertRaises(PoolExhaustedError, pool.get)  # took no slot
        pool.put(held)
        self.assertStats(pool, in_use=0, idle=1, exhausted=1)
        # a free slot is taken as usual, and the connection kept
        extra = pool.get(extra=True)
        self.assertRaises(PoolExhaustedError, pool.get)
        pool.put(extra)
        self.assertStats(pool, in_use=0, idle=1, exhausted=2, discarded=1)

    def test_waiter_gets_freed_slot(self):
        """A get() waiting for a slot gets the connection put back."""
        pool = self.make_pool(self.server.port, maxsize=1, pool_timeout=2)
        conn = pool.get()
        request(conn)

        def give_back():
            eventlet.sleep(0.05)
            pool.put(conn)
        putter = eventlet.spawn(give_back)
        start = time.monotonic()
        self.assertIs(conn, pool.get())
        self.assertLess(time.monotonic() - start, 1)
        putter.wait()
        self.assertStats(pool, in_use=1, created=1, reused=1, exhausted=0)
        pool.put(conn)

    def test_idle_expiry(self):
        """An idle connection older than max_idle_time is closed, not
        reused."""
        pool = self.make_pool(self.server.port, max_idle_time=0.05)
        conn = pool.get()
        request(conn)
        pool.put(conn)
        eventlet.sleep(0.1)
        fresh = pool.get()
        self.assertIsNot(conn, fresh)
        self.assertIsNone(conn.sock)
        self.assertStats(pool, in_use=1, idle=0, created=2, reused=0,
                         discarded=1)
        pool.put(fresh)

    def test_idle_not_expired(self):
        """Within max_idle_time the idle connection is reused."""
        pool = self.make_pool(self.server.port, max_idle_time=5)
        conn = pool.get()
        request(conn)
        pool.put(conn)
        eventlet.sleep(0.05)
        self.assertIs(conn, pool.get())
        pool.put(conn)

    def test_dropped_idle_socket_replaced(self):
        """An idle socket the target closed is detected before reuse and
        replaced by a new connection."""
        def handler(sock):
            sock.read_request()
            sock.respond(200, b'bye')  # then close, keep-alive or not
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        conn = pool.get()
        self.assertEqual(b'bye', request(conn))
        pool.put(conn)
        server.wait()  # the handler returned: the target closed it
        self.wait_for(conn.is_dropped)
        fresh = pool.get()
        self.assertIsNot(conn, fresh)
        self.assertEqual(b'bye', request(fresh))
        pool.put(fresh)
        self.assertStats(pool, in_use=0, idle=1, created=2, reused=0,
                         discarded=1)
        self.assertEqual(2, server.accepted)

    def test_close(self):
        """close() closes every idle connection."""
        pool = self.make_pool(self.server.port)
        conns = [pool.get(), pool.get()]
        for conn in conns:
            request(conn)
            pool.put(conn)
        pool.close()
        self.assertStats(pool, in_use=0, idle=0, created=2, discarded=2)
        self.assertEqual([None, None], [conn.sock for conn in conns])

    def test_fork_resets_pool(self):
        """In a forked child the pool starts empty and does not touch the
        parent's sockets."""
        pool = self.make_pool(self.server.port, maxsize=1, pool_timeout=0.1)
        inherited = pool.get()
        request(inherited)
        pool.put(inherited)
        self.addCleanup(inherited.close)
        with mock.patch('os.getpid', return_value=pool._pid + 1):
            conn = pool.get()
            self.assertIsNot(inherited, conn)
            self.assertIsNotNone(inherited.sock)  # not closed by the child
            self.assertStats(pool, in_use=1, idle=0, created=1, reused=0,
                             discarded=0)
            pool.discard(conn)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)


class TestConnectFailures(GreenTestCase):

    def test_connect_refused(self):
        """A refused connect fails fast with UpstreamConnectError (503)
        and frees the slot."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port, maxsize=1, pool_timeout=0.1,
                              conn_timeout=2)
        for _ in range(3):
            start = time.monotonic()
            with self.assertRaises(UpstreamConnectError) as caught:
                pool.get()
            self.assertLess(time.monotonic() - start, 0.5)
            self.assertEqual(503, caught.exception.status_hint)
            self.assertIn('connect failed', str(caught.exception))
            self.assertEqual(errno.ECONNREFUSED,
                             caught.exception.__cause__.errno)
            self.assertIn('http://127.0.0.1:%d' % port, str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, created=0, exhausted=0)

    def test_connect_timeout(self):
        """A connect that hangs (a full backlog) times out after
        conn_timeout: UpstreamConnectError, slot freed."""
        listener, fillers = full_backlog_listener()
        for sock in [listener] + fillers:
            self.closing(sock)
        pool = self.make_pool(listener.getsockname()[1], maxsize=1,
                              conn_timeout=0.2, pool_timeout=0.1)
        start = time.monotonic()
        with self.assertRaises(UpstreamConnectError) as caught:
            pool.get()
        waited = time.monotonic() - start
        self.assertGreaterEqual(waited, 0.19)
        self.assertLess(waited, 1.0)
        self.assertIn('connect timed out after 0.2s', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, created=0, exhausted=0)


class TestTLSPool(GreenTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp()
        # a certificate for another host name, signed by nobody we know
        cls.cert, cls.key = make_cert(cls.tmpdir, hosts=('www.example.com',),
                                      name='other')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    def test_https_target(self):
        """An https target gets TLS connections made with the target's
        settings: with insecure, a certificate for another name from an
        unknown CA is taken; without, the handshake refuses it."""
        server = self.start_server(keep_alive_handler(b'secret'),
                                   expect_errors=True,
                                   wrap=tls_wrapper(self.cert, self.key))
        pool = self.make_pool(server.port, scheme='https', insecure=True)
        self.assertEqual('https://127.0.0.1:%d' % server.port, pool.name)
        conn = pool.get()
        self.assertIn(conn.sock.version(), ('TLSv1.2', 'TLSv1.3'))
        self.assertEqual(b'secret', request(conn))
        pool.put(conn)
        verifying = self.make_pool(server.port, scheme='https')
        with self.assertRaises(UpstreamConnectError) as caught:
            verifying.get()
        self.assertIn('TLS handshake failed', str(caught.exception))

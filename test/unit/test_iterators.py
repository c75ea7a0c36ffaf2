# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.iterators, on real loopback sockets."""

import time

import eventlet

from swift_forwarder.exceptions import ClientDisconnect, ClientTimeout, \
    UpstreamBodyError, UpstreamTimeout
from swift_forwarder.iterators import RequestBody, ResponseBody

from test.unit.helpers import GreenTestCase, keep_alive_handler, \
    listen_zero


class TestRequestBody(GreenTestCase):
    """The client's upload, read from a real socket as wsgi.input."""

    def client_input(self, script):
        """A connected socket pair: ``script(client_sock)`` runs in a
        greenlet as the client; returns the server side's read file."""
        listener = self.closing(listen_zero())
        client = self.closing(eventlet.connect(listener.getsockname()))
        server_sock, _addr = listener.accept()
        self.closing(server_sock)
        wsgi_input = self.closing(server_sock.makefile('rb'))
        thread = eventlet.spawn(script, client)
        self.addCleanup(thread.kill)
        return wsgi_input

    def test_chunking(self):
        """Reads come in chunk_size pieces, never past Content-Length."""
        def client(sock):
            sock.sendall(b'x' * 25 + b'NEXT REQUEST')
        body = RequestBody(self.client_input(client), 25, 10, 1)
        chunks = list(body)
        self.assertEqual([10, 10, 5], [len(chunk) for chunk in chunks])
        self.assertEqual(b'x' * 25, b''.join(chunks))
        self.assertEqual(25, body.bytes_read)

    def test_chunked_input(self):
        """Without a length, reads go on until wsgi.input says EOF."""
        def client(sock):
            sock.sendall(b'y' * 12)
            sock.shutdown(eventlet.green.socket.SHUT_WR)
        body = RequestBody(self.client_input(client), None, 5, 1)
        self.assertEqual(b'y' * 12, b''.join(body))
        self.assertEqual(12, body.bytes_read)

    def test_short_body(self):
        """A client that closes before Content-Length bytes is a
        ClientDisconnect (499) saying how far it got."""
        def client(sock):
            sock.sendall(b'z' * 40)
            sock.close()
        body = RequestBody(self.client_input(client), 100, 16, 1)
        with self.assertRaises(ClientDisconnect) as caught:
            list(body)
        self.assertEqual(499, caught.exception.status_hint)
        self.assertIn('after 40 of 100 bytes', str(caught.exception))
        self.assertEqual(40, body.bytes_read)

    def test_stall(self):
        """A client that stops sending mid-body is a ClientTimeout (408)
        after client_timeout."""
        def client(sock):
            sock.sendall(b'a' * 10)
            eventlet.sleep(5)
        body = iter(RequestBody(self.client_input(client), 100, 10, 0.1))
        self.assertEqual(b'a' * 10, next(body))
        start = time.monotonic()
        with self.assertRaises(ClientTimeout) as caught:
            next(body)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual(408, caught.exception.status_hint)
        self.assertIn('within 0.1s after 10 bytes', str(caught.exception))

    def test_broken_input(self):
        """wsgi.input errors (a broken chunked body, a reset) are a
        ClientDisconnect."""
        class Broken(object):
            def __init__(self, err):
                self.err = err

            def read(self, size):
                raise self.err
        for err in (ValueError('invalid chunk size'),
                    ConnectionResetError('reset'), OSError('unexpected EOF')):
            body = RequestBody(Broken(err), None, 10, 1)
            with self.assertRaises(ClientDisconnect) as caught:
                list(body)
            self.assertIn(str(err), str(caught.exception))

    def test_zero_length(self):
        """A zero Content-Length reads nothing at all."""
        class NoRead(object):
            def read(self, size):
                raise AssertionError('read')
        self.assertEqual([], list(RequestBody(NoRead(), 0, 10, 1)))


class TestResponseBody(GreenTestCase):
    """The upstream response body over a pooled connection."""

    def response(self, handler, method='GET', chunk_size=4, node_timeout=1.0,
                 on_close=None):
        """Start ``handler``, send one request, return (pool, body)."""
        server = self.start_server(handler)
        pool = self.make_pool(server.port, node_timeout=node_timeout)
        conn = pool.get()
        conn.send_head(method, '/v1/AUTH_a/c/o', [('Host', 'target')])
        conn.getresponse()
        return server, pool, ResponseBody(pool, conn, chunk_size, on_close)

    def test_read_to_eof_pools_connection(self):
        """Read to its end, the connection goes back to the pool at the last
        byte, before close()."""
        closed = []
        server, pool, body = self.response(keep_alive_handler(b'0123456789'),
                                           on_close=closed.append)
        chunks = []
        for chunk in body:
            chunks.append(chunk)
            if len(b''.join(chunks)) == 10:
                self.assertTrue(body.complete)
                self.assertStats(pool, in_use=0, idle=1, discarded=0)
        self.assertEqual([b'0123', b'4567', b'89'], chunks)
        self.assertEqual(10, body.bytes_sent)
        self.assertEqual([body], closed)  # StopIteration closed it
        body.close()
        self.assertStats(pool, in_use=0, idle=1, created=1, discarded=0)
        conn = pool.get()  # and the next request reuses the socket
        conn.send_head('GET', '/again', [('Host', 'target')])
        self.assertEqual(b'0123456789', conn.getresponse().read())
        pool.put(conn)
        self.assertEqual(1, server.accepted)

    def test_close_before_eof_discards(self):
        """close() before the end closes the socket at once: the target
        sees EOF, the slot is free."""
        seen = []

        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123456789')
            seen.append(sock.read_to_eof())
        closed = []
        server, pool, body = self.response(handler, on_close=closed.append)
        self.assertEqual(b'0123', next(body))
        body.close()
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
        self.assertFalse(body.complete)
        self.assertEqual([body], closed)
        server.wait(timeout=1)
        self.assertEqual([b''], seen)  # while we still hold ``body``
        self.assertRaises(StopIteration, next, body)

    def test_discard_after_reuse(self):
        """A reused connection that is discarded really closes, even while
        the previous request's finished body is still referenced."""
        seen = []

        def handler(sock):
            sock.read_request()
            sock.respond(200, b'first')
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')
            seen.append(sock.read_to_eof())
        server, pool, first = self.response(handler, chunk_size=64)
        self.assertEqual(b'first', b''.join(first))
        self.assertStats(pool, in_use=0, idle=1)
        conn = pool.get()
        conn.send_head('GET', '/second', [('Host', 'target')])
        conn.getresponse()
        second = ResponseBody(pool, conn, 64)
        second.close()  # the client went away
        self.assertStats(pool, in_use=0, idle=0, reused=1, discarded=1)
        server.wait(timeout=1)
        self.assertEqual([b''], seen)  # ``first`` is still alive here
        self.assertTrue(first.complete)

    def test_close_twice(self):
        """close() is safe to repeat; on_close runs once."""
        closed = []
        server, pool, body = self.response(keep_alive_handler(b'x' * 20),
                                           on_close=closed.append)
        next(body)
        body.close()
        body.close()
        self.assertEqual([body], closed)
        self.assertStats(pool, in_use=0, discarded=1)

    def test_close_after_eof_keeps_connection(self):
        """close() after the last byte keeps the pooled connection."""
        server, pool, body = self.response(keep_alive_handler(b'abc'),
                                           chunk_size=3)
        self.assertEqual(b'abc', next(body))
        self.assertStats(pool, in_use=0, idle=1)
        body.close()
        body.close()
        self.assertStats(pool, in_use=0, idle=1, discarded=0)

    def test_truncated_content_length(self):
        """A body shorter than its Content-Length raises UpstreamBodyError
        (the client's stream is aborted, never cleanly short) and the
        socket is dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123456789')
        server, pool, body = self.response(handler, chunk_size=64)
        self.assertEqual(b'0123456789', next(body))
        with self.assertRaises(UpstreamBodyError) as caught:
            next(body)
        self.assertEqual(502, caught.exception.status_hint)
        self.assertIn('ended early after 10 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        self.assertRaises(StopIteration, next, body)
        body.close()
        self.assertStats(pool, in_use=0, discarded=1)

    def test_chunked(self):
        """A chunked body is relayed whole and the connection pooled."""
        def handler(sock):
            while sock.read_head():
                sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                             b'\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n')
        server, pool, body = self.response(handler, chunk_size=64)
        self.assertEqual(b'abcdefgh', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=1, discarded=0)

    def test_truncated_chunked(self):
        """A chunked body that breaks off raises UpstreamBodyError."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                         b'\r\n\r\n3\r\nabc\r\n5\r\nde')
        server, pool, body = self.response(handler, chunk_size=64)
        with self.assertRaises(UpstreamBodyError) as caught:
            b''.join(body)
        self.assertIn('broke off after 5 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_read_timeout(self):
        """A target that stalls mid-body: UpstreamTimeout after
        node_timeout, socket dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123')
            sock.read_to_eof()
        server, pool, body = self.response(handler, node_timeout=0.1)
        self.assertEqual(b'0123', next(body))
        start = time.monotonic()
        with self.assertRaises(UpstreamTimeout) as caught:
            next(body)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual(504, caught.exception.status_hint)
        self.assertIn('no data for 0.1s after 4 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        body.close()

    def test_connection_close_not_pooled(self):
        """A response with Connection: close is read whole but its socket
        is closed, not pooled."""
        server, pool, body = self.response(
            keep_alive_handler(b'bye', headers=[('Connection', 'close')]))
        self.assertEqual(b'bye', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_read_until_close(self):
        """No length and not chunked: the body ends when the target closes;
        complete, but the socket is not reusable."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\n\r\nuntil the end')
        server, pool, body = self.response(handler)
        self.assertEqual(b'until the end', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_no_body_responses(self):
        """HEAD, 204 and 304 have no body: nothing is read, the connection
        is pooled, even when the head says chunked."""
        responses = {
            '/head': b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
            '/head-chunked': b'HTTP/1.1 200 OK\r\n'
                             b'Transfer-Encoding: chunked\r\n\r\n',
            '/204': b'HTTP/1.1 204 No Content\r\n\r\n',
            '/304': b'HTTP/1.1 304 Not Modified\r\nEtag: x\r\n\r\n',
            '/304-chunked': b'HTTP/1.1 304 Not Modified\r\n'
                            b'Transfer-Encoding: chunked\r\n\r\n',
        }

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                sock.sendall(responses[request.path])
        server = self.start_server(handler)
        pool = self.make_pool(server.port, maxsize=1, node_timeout=0.5)
        for path in sorted(responses):
            conn = pool.get()
            method = 'HEAD' if path.startswith('/head') else 'GET'
            conn.send_head(method, path, [('Host', 'target')])
            conn.getresponse()
            body = ResponseBody(pool, conn, 64)
            self.assertEqual([], list(body), path)
            self.assertTrue(body.complete, path)
            self.assertStats(pool, in_use=0, idle=1, discarded=0)
        self.assertEqual(1, server.accepted)
        self.assertEqual(len(responses), len(server.requests))

    def test_error_reading(self):
        """Garbage where a chunk size should be is an UpstreamBodyError."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                         b'\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')
        server, pool, body = self.response(handler)
        with self.assertRaises(UpstreamBodyError):
            list(body)
        self.assertStats(pool, in_use=0, discarded=1)

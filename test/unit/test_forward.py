# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.forward: one round trip on real sockets."""

import io
import time
from unittest import mock

from swift_forwarder.exceptions import ClientDisconnect, UpstreamError, \
    UpstreamConnectError, UpstreamTimeout
from swift_forwarder.forward import UpstreamRequest, round_trip
from swift_forwarder.iterators import RequestBody, ResponseBody

from test.unit.helpers import GreenTestCase, keep_alive_handler, \
    refused_port

HEADERS = [('Host', 'target'), ('X-Auth-Token', 'AUTH_tk')]


class SpyInput(io.BytesIO):
    """wsgi.input that counts reads."""

    def __init__(self, data):
        super().__init__(data)
        self.reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)


def get_request(path='/v1/AUTH_a/c/o'):
    return UpstreamRequest('GET', path, HEADERS, None, None)


def put_request(data, content_length='auto', chunk_size=65536):
    """A PUT whose body is ``data``; returns it and its SpyInput."""
    if content_length == 'auto':
        content_length = len(data)
    spy = SpyInput(data)
    body = RequestBody(spy, content_length, chunk_size, 1)
    return UpstreamRequest('PUT', '/v1/AUTH_a/c/o', HEADERS, body,
                           content_length), spy


def finish(pool, conn):
    """Read the response body to its end, as the middleware would."""
    body = ResponseBody(pool, conn, 65536)
    try:
        return b''.join(body)
    finally:
        body.close()


class TestRoundTrip(GreenTestCase):

    def test_get(self):
        """A GET goes out with no body framing; the caller gets the
        connection with the response head read."""
        server = self.start_server(keep_alive_handler(b'object data'))
        pool = self.make_pool(server.port)
        conn = round_trip(pool, get_request(), 2)
        self.assertEqual(200, conn.response.status)
        self.assertStats(pool, in_use=1, created=1)
        self.assertEqual(b'object data', finish(pool, conn))
        self.assertStats(pool, in_use=0, idle=1, discarded=0)
        request = server.requests[0]
        self.assertEqual(('GET', '/v1/AUTH_a/c/o'),
                         (request.method, request.target))
        self.assertEqual(HEADERS, request.headers)

    def test_put_content_length(self):
        """A PUT with a length: Content-Length and Expect: 100-continue,
        then exactly the body bytes."""
        server = self.start_server(keep_alive_handler(b'', status=201))
        pool = self.make_pool(server.port)
        request, _spy = put_request(b'x' * 100, chunk_size=30)
        conn = round_trip(pool, request, 2)
        self.assertEqual(201, conn.response.status)
        finish(pool, conn)
        seen = server.requests[0]
        self.assertEqual(HEADERS + [('Content-Length', '100'),
                                    ('Expect', '100-continue')],
                         seen.headers)
        self.assertEqual(b'x' * 100, seen.body)
        self.assertEqual(100, request.body.bytes_read)
        self.assertStats(pool, in_use=0, idle=1)

    def test_zero_length_put(self):
        """Content-Length: 0 is sent as such, with no Expect."""
        server = self.start_server(keep_alive_handler(b'', status=201))
        pool = self.make_pool(server.port)
        request = UpstreamRequest('PUT', '/v1/AUTH_a/c', HEADERS, None, 0)
        finish(pool, round_trip(pool, request, 2))
        self.assertEqual(HEADERS + [('Content-Length', '0')],
                         server.requests[0].headers)

    def test_chunked_upload_framing(self):
        """A body of unknown length goes out chunked, one chunk per read,
        with the terminating zero chunk."""
        raw = []

        def handler(sock):
            sock.read_head()
            sock.send_continue()
            raw.append(sock.read_until(b'0\r\n\r\n'))
            sock.respond(201)
            sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        request, _spy = put_request(b'a' * 10 + b'b' * 10 + b'c' * 5,
                                    content_length=None, chunk_size=10)
        finish(pool, round_trip(pool, request, 2))
        self.assertEqual([b'a\r\naaaaaaaaaa\r\na\r\nbbbbbbbbbb\r\n'
                          b'5\r\nccccc\r\n0\r\n\r\n'], raw)
        seen = server.requests[0]
        self.assertEqual('chunked', seen.header('Transfer-Encoding'))
        self.assertEqual('100-continue', seen.header('Expect'))
        self.assertIsNone(seen.header('Content-Length'))

    def test_stale_connection_retried(self):
        """A reused connection the target closed as we sent on it is
        retried once, on a fresh connection."""
        def handler(sock):
            if sock.server.accepted <= 2:
                sock.read_request()
                sock.respond(200, b'first')
                sock.read_head()  # the retried request: hang up on it
                return
            keep_alive_handler(b'fresh')(sock)
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        idle = [round_trip(pool, get_request(), 2) for _ in range(2)]
        for conn in idle:
            finish(pool, conn)
        self.assertStats(pool, in_use=0, idle=2, created=2)
        conn = round_trip(pool, get_request('/v1/AUTH_a/c/again'), 2)
        self.assertEqual(b'fresh', finish(pool, conn))
        self.assertNotIn(conn, idle)
        self.assertEqual(3, server.accepted)
        self.assertStats(pool, in_use=0, created=3, reused=1, discarded=1)

    def test_stale_put_retried(self):
        """A reused connection closed before 100 Continue is retried too:
        no body byte was read from the client yet."""
        def handler(sock):
            if sock.server.accepted == 1:
                sock.read_request()
                sock.respond(200, b'first')
                sock.read_head()
                return
            keep_alive_handler(b'', status=201)(sock)
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        finish(pool, round_trip(pool, get_request(), 2))
        request, _spy = put_request(b'data')
        conn = round_trip(pool, request, 2)
        self.assertEqual(201, conn.response.status)
        finish(pool, conn)
        self.assertEqual(b'data', server.requests[-1].body)
        self.assertEqual(2, server.accepted)
        self.assertStats(pool, in_use=0, created=2, reused=1, discarded=1)

    def test_fresh_connection_closed_not_retried(self):
        """A new connection closed without an answer is not 'stale': 502,
        no retry."""
        def handler(sock):
            sock.read_head()
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        with self.assertRaises(UpstreamError) as caught:
            round_trip(pool, get_request(), 2)
        self.assertEqual(502, caught.exception.status_hint)
        self.assertIn('bad response', str(caught.exception))
        self.assertEqual(1, server.accepted)
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)

    def test_no_retry_once_body_read(self):
        """Once body bytes were read from the client, a connection that
        dies is not retried: the body cannot be replayed."""
        def handler(sock):
            if sock.server.accepted == 1:
                sock.read_request()
                sock.respond(200, b'first')
            request = sock.read_head()
            sock.send_continue()
            sock.read_body(request)  # then hang up without an answer
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        finish(pool, round_trip(pool, get_request(), 2))
        request, _spy = put_request(b'payload')
        with self.assertRaises(UpstreamError) as caught:
            round_trip(pool, request, 2)
        self.assertEqual(502, caught.exception.status_hint)
        self.assertEqual(7, request.body.bytes_read)
        self.assertEqual(1, server.accepted)
        self.assertEqual(b'payload', server.requests[-1].body)
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)

    def test_connect_refused_retries(self):
        """A refused connect is tried 1 + retries times, then 503."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port, conn_timeout=1)
        for retries in (0, 2):
            with mock.patch.object(pool, '_new_conn',
                                   wraps=pool._new_conn) as new_conn:
                start = time.monotonic()
                with self.assertRaises(UpstreamConnectError) as caught:
                    round_trip(pool, get_request(), retries)
                self.assertLess(time.monotonic() - start, 0.5)
            self.assertEqual(retries + 1, new_conn.call_count)
            self.assertEqual(503, caught.exception.status_hint)
        self.assertStats(pool, in_use=0, idle=0, created=0)

    def test_connect_retry_succeeds(self):
        """A connect that fails once and then works succeeds."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port)
        real_new_conn = pool._new_conn
        calls = []

        def flaky():
            calls.append(1)
            if len(calls) == 1:
                raise UpstreamConnectError(pool.name, 'connect failed')
            return real_new_conn()
        with mock.patch.object(pool, '_new_conn', flaky):
            conn = round_trip(pool, get_request(), 1)
        self.assertEqual(b'ok', finish(pool, conn))
        self.assertEqual(2, len(calls))

    def test_timeout_before_headers(self):
        """No response head within node_timeout: UpstreamTimeout (504),
        socket dropped."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port, node_timeout=0.1)
        start = time.monotonic()
        with self.assertRaises(UpstreamTimeout) as caught:
            round_trip(pool, get_request(), 2)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual(504, caught.exception.status_hint)
        self.assertIn('no response within 0.1s', str(caught.exception))
        self.assertEqual(1, server.accepted)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_timeout_waiting_for_continue(self):
        """No 100 Continue within node_timeout: 504, body never read."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port, node_timeout=0.1)
        request, spy = put_request(b'data')
        with self.assertRaises(UpstreamTimeout):
            round_trip(pool, request, 2)
        self.assertEqual(0, spy.reads)
        self.assertStats(pool, in_use=0, discarded=1)

    def test_garbage_response(self):
        """A response that is not HTTP: 502, socket dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'SSH-2.0-OpenSSH\r\n\r\n')
            sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        with self.assertRaises(UpstreamError) as caught:
            round_trip(pool, get_request(), 2)
        self.assertEqual(502, caught.exception.status_hint)
        self.assertIn('BadStatusLine', str(caught.exception))
        self.assertStats(pool, in_use=0, discarded=1)

    def test_early_response_before_continue(self):
        """A 401 instead of 100 Continue is relayed; the client's body is
        never read, and the connection is not reused."""
        after_head = []

        def handler(sock):
            sock.read_head()
            sock.respond(401, b'Unauthorized')
            after_head.append(sock.read_to_eof())
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        request, spy = put_request(b'secret body')
        conn = round_trip(pool, request, 2)
        self.assertEqual(401, conn.response.status)
        self.assertTrue(conn.response.will_close)
        self.assertEqual(b'Unauthorized', finish(pool, conn))
        self.assertEqual(0, request.body.bytes_read)
        self.assertEqual(0, spy.reads)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        server.wait()
        self.assertEqual([b''], after_head)  # no body byte on the wire

    def test_client_disconnect_mid_upload(self):
        """A client that goes away mid-upload: ClientDisconnect, and the
        target sees the connection close after a short body (so it stores
        nothing)."""
        received = []

        def handler(sock):
            sock.read_head()
            sock.send_continue()
            received.append(sock.read_to_eof())
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        body = RequestBody(io.BytesIO(b'only part'), 100, 4, 1)
        request = UpstreamRequest('PUT', '/v1/AUTH_a/c/o', HEADERS, body, 100)
        with self.assertRaises(ClientDisconnect):
            round_trip(pool, request, 2)
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
        server.wait()
        self.assertEqual([b'only part'], received)

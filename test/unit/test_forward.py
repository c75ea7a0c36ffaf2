# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.forward: one round trip on real sockets."""

import io
import shutil
import tempfile
import time
import unittest
from unittest import mock

import eventlet
import eventlet.event

from swift_forwarder import forward
from swift_forwarder.exceptions import ClientDisconnect, \
    ErrorLimitedError, PoolExhaustedError, ResponseReadError, \
    ResponseTooLarge, UpstreamError, UpstreamConnectError, UpstreamTimeout
from swift_forwarder.forward import ErrorLimiter, Upstream, \
    UpstreamRequest, round_trip
from swift_forwarder.iterators import RequestBody, ResponseBody
from swift_forwarder.paths import RequestPath

from test.unit.helpers import FakeClock, GreenTestCase, SpyInput, \
    keep_alive_handler, make_cert, refused_port, serving, tls_wrapper

HEADERS = [('Host', 'target'), ('X-Auth-Token', 'AUTH_tk')]


def get_request(path='/v1/AUTH_a/c/o'):
    return UpstreamRequest('GET', RequestPath.of(path), HEADERS, None, None)


def put_request(data, content_length='auto', chunk_size=65536):
    """A PUT whose body is ``data``; returns it and its SpyInput."""
    if content_length == 'auto':
        content_length = len(data)
    spy = SpyInput(data)
    body = RequestBody(spy, content_length, chunk_size, 1)
    return UpstreamRequest('PUT', RequestPath.of('/v1/AUTH_a/c/o'), HEADERS, body,
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
        request = UpstreamRequest('PUT', RequestPath.of('/v1/AUTH_a/c'), HEADERS, None, 0)
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

    def test_certificate_failure_not_retried(self):
        """A target whose certificate does not verify fails the same way
        every time: no retries, no pauses; 503 naming the TLS failure."""
        self.assertTlsRefusedOnce(client_ca=False)

    def assertTlsRefusedOnce(self, client_ca):
        """A GET to a TLS target that ``client_ca`` (a CA for client
        certificates it requires, or False: the pool trusts another CA)
        makes fail: one attempt, no pause, a 503 naming the TLS failure,
        nothing left in the pool."""
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        cert, key = make_cert(tmpdir)
        other, _key = make_cert(tmpdir, hosts=('client',), name='other')
        server = self.start_server(keep_alive_handler(b'x'),
                                   expect_errors=True,
                                   wrap=tls_wrapper(cert, key, client_ca=(
                                       other if client_ca else None)))
        pool = self.make_pool(server.port, scheme='https',
                              ca_certs=cert if client_ca else other)
        with mock.patch.object(forward, 'sleep') as sleep, \
                mock.patch.object(pool, 'get', wraps=pool.get) as get:
            with self.assertRaises(UpstreamConnectError) as caught:
                round_trip(pool, get_request(), 2)
        self.assertIn('TLS handshake failed', str(caught.exception))
        self.assertEqual(503, caught.exception.status_hint)
        self.assertEqual((1, 0), (get.call_count, sleep.call_count))
        self.assertStats(pool, in_use=0, idle=0)

    def test_client_certificate_refused(self):
        """A target that wants a client certificate we do not present: with
        TLS 1.3 its refusal comes with the first read, after our side of
        the handshake; still a 503 naming the TLS failure, not retried,
        the connection dropped."""
        self.assertTlsRefusedOnce(client_ca=True)

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
        request = UpstreamRequest('PUT', RequestPath.of('/v1/AUTH_a/c/o'), HEADERS, body, 100)
        with self.assertRaises(ClientDisconnect):
            round_trip(pool, request, 2)
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
        server.wait()
        self.assertEqual([b'only part'], received)


class TestErrorLimiter(unittest.TestCase):
    """The limiter alone, with an injected clock: no sockets."""

    def limiter(self, limit=3, window=10, interval=30):
        self.clock = FakeClock()
        return ErrorLimiter(limit, window, interval, clock=self.clock)

    def fail_at(self, limiter, *offsets):
        """Failures at these times (from the clock's start); the results."""
        start = self.clock.now
        results = []
        for offset in offsets:
            self.clock.now = start + offset
            results.append(limiter.failure())
        return results

    def suppress(self, limiter):
        """Suppress it now: ``limit`` failures at once."""
        self.assertTrue(self.fail_at(limiter, *[0] * limiter.limit)[-1])

    def test_allowed_until_limit(self):
        """Fewer than ``limit`` failures in the window: requests go, and
        none of them is a probe."""
        limiter = self.limiter()
        self.assertEqual([False, False], self.fail_at(limiter, 0, 1))
        self.assertIs(False, limiter.allow())
        self.assertIs(False, limiter.allow())

    def test_suppressed_after_limit_in_window(self):
        """The limit-th failure within the window suppresses the target:
        requests fail fast with 503 and Retry-After."""
        limiter = self.limiter(limit=3, window=10, interval=30)
        self.assertEqual([False, False, True],
                         self.fail_at(limiter, 0, 5, 9.9))
        with self.assertRaises(ErrorLimitedError) as caught:
            limiter.allow()
        err = caught.exception
        self.assertEqual(503, err.status_hint)
        self.assertEqual((('Retry-After', '1'),), err.headers)
        self.assertIn('error-limited after 3 failures in 10s', str(err))
        self.assertIn('retrying in 30s', str(err))

    def test_failures_spread_wider_than_window(self):
        """Failures further apart than the window never add up, however
        many there are; one exactly ``window`` old has expired."""
        limiter = self.limiter(limit=3, window=10, interval=30)
        self.assertEqual([False] * 6,
                         self.fail_at(limiter, 0, 6, 12, 18, 24, 30))
        self.assertIs(False, limiter.allow())
        limiter = self.limiter(limit=3, window=10, interval=30)
        self.assertEqual([False, False, False],
                         self.fail_at(limiter, 0, 5, 10))
        self.assertIs(False, limiter.allow())

    def test_fail_fast_for_the_interval(self):
        """Suppressed for exactly ``interval`` seconds, then a probe."""
        limiter = self.limiter(interval=30)
        self.suppress(limiter)
        start = self.clock.now
        for offset in (0, 1, 29.9):
            self.clock.now = start + offset
            self.assertRaises(ErrorLimitedError, limiter.allow)
        self.clock.now = start + 30
        self.assertIs(True, limiter.allow())

    def test_one_probe_at_a_time(self):
        """After the interval exactly one request goes (the probe); the
        others are refused while it is in flight."""
        limiter = self.limiter(interval=30)
        self.suppress(limiter)
        self.clock.now += 30
        self.assertIs(True, limiter.allow())
        for _ in range(3):
            with self.assertRaises(ErrorLimitedError):
                limiter.allow()
        self.clock.now += 100  # however long it takes
        self.assertRaises(ErrorLimitedError, limiter.allow)

    def test_probe_success_clears(self):
        """The probe succeeds: no longer suppressed, no more probes, and
        it takes ``limit`` new failures to suppress it again."""
        limiter = self.limiter(limit=3, interval=30)
        self.suppress(limiter)
        self.clock.now += 30
        self.assertIs(True, limiter.allow())
        limiter.finish(True, True)
        self.assertIs(False, limiter.allow())
        self.assertIs(False, limiter.allow())
        self.assertEqual([False, False, True],
                         self.fail_at(limiter, 0, 0, 0))

    def test_probe_failure_resuppresses_at_once(self):
        """A single failure of the probe suppresses the target again for a
        whole interval; then another probe goes."""
        limiter = self.limiter(limit=3, interval=30)
        self.suppress(limiter)
        self.clock.now += 30
        self.assertIs(True, limiter.allow())
        self.assertIs(True, limiter.failure())
        limiter.finish(True, False)
        start = self.clock.now
        self.assertRaises(ErrorLimitedError, limiter.allow)
        self.clock.now = start + 29.9
        self.assertRaises(ErrorLimitedError, limiter.allow)
        self.clock.now = start + 30
        self.assertIs(True, limiter.allow())

    def test_finish_none_releases_probe(self):
        """A probe that gave up for reasons of its own (``ok`` None: pool
        exhausted, client gone) frees the probe slot without clearing: the
        next request is the probe."""
        limiter = self.limiter(interval=30)
        self.suppress(limiter)
        self.clock.now += 30
        self.assertIs(True, limiter.allow())
        self.assertRaises(ErrorLimitedError, limiter.allow)
        limiter.finish(True, None)
        self.assertIs(True, limiter.allow())
        self.assertRaises(ErrorLimitedError, limiter.allow)

    def test_finish_not_probe(self):
        """``finish`` of an ordinary request changes nothing."""
        limiter = self.limiter(interval=30)
        self.suppress(limiter)
        limiter.finish(False, True)
        self.assertRaises(ErrorLimitedError, limiter.allow)
        self.clock.now += 30
        self.assertIs(True, limiter.allow())
        limiter.finish(False, True)
        self.assertRaises(ErrorLimitedError, limiter.allow)

    def test_failure_while_suppressed_is_not_a_new_suppression(self):
        """Failures of requests still in flight while the target is
        suppressed extend it, but are not counted as new suppressions."""
        limiter = self.limiter(limit=2, interval=30)
        self.suppress(limiter)
        start = self.clock.now
        self.clock.now = start + 10
        self.assertIs(False, limiter.failure())
        self.clock.now = start + 39.9  # 30s from the last failure
        self.assertRaises(ErrorLimitedError, limiter.allow)
        self.clock.now = start + 40
        self.assertIs(True, limiter.allow())


def upstream_for(pool, retries=0, limit=2, window=60, interval=30):
    """An :class:`Upstream` whose limiter runs on a :class:`FakeClock`."""
    clock = FakeClock()
    return Upstream(pool, retries, ErrorLimiter(limit, window, interval,
                                                clock=clock)), clock


class FlakyConnects(object):
    """``pool._new_conn`` that fails while :attr:`down`, or for the next
    :attr:`failures` calls; counts calls."""

    def __init__(self, pool):
        self.pool = pool
        self.real = pool._new_conn
        self.down = False
        self.failures = 0
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.down or self.failures > 0:
            self.failures -= 1
            raise UpstreamConnectError(self.pool.name, 'connect failed')
        return self.real()


class TestSideRequest(GreenTestCase):
    """Upstream.side_request: a request of the forwarder's own, read whole;
    the connection is disposed of inside, whatever happens."""

    def upstream(self, answer, handler=None):
        requests = []

        def record(sock, request):
            requests.append(request)
            answer(sock, request)
        server = self.start_server(handler or serving(record))
        pool = self.make_pool(server.port)
        return Upstream(pool, 0, ErrorLimiter(10, 60, 60), 'target:8080',
                        'forwarder/1'), requests

    def test_read_whole_and_pooled(self):
        upstream, requests = self.upstream(
            lambda sock, request: sock.respond(200, b'{"a": 1}', [
                ('X-Thing', 'yes')]))
        resp = upstream.side_request('GET', '/v1/AUTH_a/c%20d/o?x=1',
                                     max_body=100)
        self.assertEqual((200, 'OK', 'yes', b'{"a": 1}'), (
            resp.status, resp.reason, resp.headers.get('x-thing'),
            resp.body))
        [request] = requests
        self.assertEqual(('GET', '/v1/AUTH_a/c%20d/o?x=1'),
                         (request.method, request.target))
        self.assertEqual(('target:8080', 'forwarder/1'), (
            request.header('Host'), request.header('User-Agent')))
        self.assertEqual((0, 1), (upstream.pool.in_use, upstream.pool.idle))
        # the next one reuses it
        upstream.side_request('HEAD', '/v1/AUTH_a/c')
        self.assertEqual(1, upstream.pool.reused)

    def test_own_headers_win(self):
        upstream, requests = self.upstream(
            lambda sock, request: sock.respond(204, b''))
        upstream.side_request('HEAD', '/v1/AUTH_a', [
            ('User-Agent', 'checker/2'), ('X-Auth-Token', 'tk')])
        [request] = requests
        self.assertEqual(['checker/2'], [
            value for name, value in request.headers
            if name.lower() == 'user-agent'])
        self.assertEqual('tk', request.header('X-Auth-Token'))

    def test_too_large_discarded(self):
        upstream, _requests = self.upstream(
            lambda sock, request: sock.respond(200, b'x' * 500))
        with self.assertRaises(ResponseTooLarge) as caught:
            upstream.side_request('GET', '/v1/AUTH_a/c/o', max_body=100)
        self.assertIn('larger than 100 bytes', str(caught.exception))
        self.assertEqual((0, 0, 1), (upstream.pool.in_use, upstream.pool.idle,
                                     upstream.pool.discarded))

    def test_body_cut_discarded(self):
        def cut(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
        upstream, _requests = self.upstream(None, handler=cut)
        with self.assertRaises(ResponseReadError) as caught:
            upstream.side_request('GET', '/v1/AUTH_a/c/o', max_body=100)
        self.assertIn('reading the response', str(caught.exception))
        self.assertEqual((0, 0), (upstream.pool.in_use, upstream.pool.idle))

    def test_send_is_the_callers(self):
        """``send`` (service mode's round trip) sends it; ``extra`` is
        passed on."""
        upstream, requests = self.upstream(
            lambda sock, request: sock.respond(204, b''))
        seen = []

        def send(request, extra):
            seen.append((request.path.quoted, extra))
            return upstream.round_trip(request._replace(
                headers=request.headers + [('X-Auth-Token', 'svc')]), extra)
        upstream.side_request('HEAD', '/v1/AUTH_l/c', extra=True, send=send)
        self.assertEqual([('/v1/AUTH_l/c', True)], seen)
        self.assertEqual('svc', requests[0].header('X-Auth-Token'))


class TestUpstream(GreenTestCase):
    """Upstream.round_trip: the pool under the error limiter, counters."""

    def counters(self, upstream, *names):
        return dict((name, upstream.counters[name]) for name in names)

    def flaky(self, pool):
        flaky = FlakyConnects(pool)
        patcher = mock.patch.object(pool, '_new_conn', flaky)
        patcher.start()
        self.addCleanup(patcher.stop)
        return flaky

    def test_counters_start_at_zero(self):
        """Every documented counter exists, at zero."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port)
        upstream, _clock = upstream_for(pool)
        self.assertEqual(pool.name, upstream.name)
        self.assertEqual(dict.fromkeys(forward.COUNTERS, 0),
                         upstream.counters)
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))
        self.assertEqual(dict.fromkeys(forward.COUNTERS, 0),
                         upstream.counters)

    def test_refused_target_suppressed(self):
        """Connect failures to a refused port (retries included) suppress
        the target after error_limit; then requests fail fast with 503,
        without touching the network."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port)
        upstream, clock = upstream_for(pool, retries=1, limit=4)
        with mock.patch.object(forward, 'sleep') as sleep, \
                mock.patch.object(pool, 'get', wraps=pool.get) as get:
            for _ in range(2):  # 2 attempts each: 4 failures
                with self.assertRaises(UpstreamConnectError):
                    upstream.round_trip(get_request())
            self.assertEqual(4, get.call_count)
            self.assertEqual(2, sleep.call_count)
            self.assertEqual({'retries': 2, 'suppressions': 1,
                              'error_limited': 0},
                             self.counters(upstream, 'retries',
                                           'suppressions', 'error_limited'))
            for count in (1, 2, 3):
                with self.assertRaises(ErrorLimitedError) as caught:
                    upstream.round_trip(get_request())
                self.assertEqual(count, upstream.counters['error_limited'])
            # fast: no connect attempt and no pause for a suppressed target
            self.assertEqual(4, get.call_count)
            self.assertEqual(2, sleep.call_count)
        err = caught.exception
        self.assertEqual(503, err.status_hint)
        self.assertEqual((('Retry-After', '1'),), err.headers)
        self.assertTrue(str(err).startswith(pool.name + ': error-limited'),
                        str(err))
        self.assertEqual(1, upstream.counters['suppressions'])
        self.assertStats(pool, in_use=0, idle=0, created=0)

    def test_below_limit_not_suppressed(self):
        """Failures below the limit leave the target alone; a request
        after them goes through."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port)
        upstream, _clock = upstream_for(pool, limit=3)
        flaky = self.flaky(pool)
        flaky.failures = 2
        for _ in range(2):
            self.assertRaises(UpstreamConnectError, upstream.round_trip,
                              get_request())
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))
        self.assertEqual(0, upstream.counters['suppressions'])

    def test_bad_answers_count(self):
        """A timeout or a bad answer is a target failure too."""
        def handler(sock):
            sock.read_head()
            if sock.server.accepted == 1:
                sock.read_to_eof()  # stall: 504
            else:
                sock.sendall(b'garbage\r\n\r\n')  # 502
                sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port, node_timeout=0.1)
        upstream, _clock = upstream_for(pool, limit=2)
        self.assertRaises(UpstreamTimeout, upstream.round_trip, get_request())
        self.assertEqual(0, upstream.counters['suppressions'])
        with self.assertRaises(UpstreamError) as caught:
            upstream.round_trip(get_request())
        self.assertEqual(502, caught.exception.status_hint)
        self.assertEqual(1, upstream.counters['suppressions'])
        self.assertRaises(ErrorLimitedError, upstream.round_trip,
                          get_request())
        self.assertEqual(2, server.accepted)

    def test_client_errors_do_not_count(self):
        """A client that goes away mid-upload is not the target's fault."""
        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                sock.send_continue()
                sock.read_to_eof()
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        upstream, _clock = upstream_for(pool, limit=1)
        for _ in range(2):
            body = RequestBody(io.BytesIO(b'part'), 100, 10, 1)
            request = UpstreamRequest('PUT', RequestPath.of('/v1/AUTH_a/c/o'), HEADERS,
                                      body, 100)
            self.assertRaises(ClientDisconnect, upstream.round_trip, request)
        self.assertEqual(0, upstream.counters['suppressions'])
        self.assertEqual(2, server.accepted)

    def test_stale_keep_alive_not_a_target_failure(self):
        """A pooled socket the target closed while idle is retried (and
        counted as a retry) but is not a failure toward error_limit: a
        burst after an idle spell must not suppress a healthy target."""
        def handler(sock):
            sock.read_request()
            sock.respond(200, b'ok')
            if sock.server.accepted <= 3:
                sock.read_head()  # the next request on it: hang up
                return
            keep_alive_handler(b'ok')(sock)
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        upstream, _clock = upstream_for(pool, limit=1)
        held = [upstream.round_trip(get_request()) for _ in range(3)]
        for conn in held:
            finish(pool, conn)
        # three at once, each on one of the dead sockets, then a fresh one
        burst = [upstream.round_trip(get_request()) for _ in range(3)]
        self.assertEqual([b'ok'] * 3, [finish(pool, conn) for conn in burst])
        self.assertEqual({'retries': 3, 'suppressions': 0},
                         self.counters(upstream, 'retries', 'suppressions'))
        self.assertIs(False, upstream.limiter.allow())
        self.assertEqual(6, server.accepted)

    def test_pool_exhausted_not_a_target_failure(self):
        """PoolExhaustedError is ours, not the target's: it does not count
        toward error_limit."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port, maxsize=1, pool_timeout=0.05)
        upstream, _clock = upstream_for(pool, limit=1)
        held = upstream.round_trip(get_request())
        for _ in range(3):
            with self.assertRaises(PoolExhaustedError):
                upstream.round_trip(get_request())
        self.assertEqual(3, pool.exhausted)
        self.assertEqual(dict.fromkeys(forward.COUNTERS, 0),
                         upstream.counters)
        finish(pool, held)
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))

    def test_pool_exhausted_probe_releases_slot(self):
        """A probe that finds the pool exhausted gives the probe slot back:
        the next request probes."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port, maxsize=1, pool_timeout=0.05)
        upstream, clock = upstream_for(pool, limit=1, interval=30)
        held = upstream.round_trip(get_request())
        upstream.limiter.failure()
        clock.now += 30
        self.assertRaises(PoolExhaustedError, upstream.round_trip,
                          get_request())
        finish(pool, held)
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))
        self.assertIs(False, upstream.limiter.allow())  # cleared

    def test_probe_after_interval(self):
        """Suppressed: fail fast for the interval; then one probe, whose
        failure suppresses again at once and whose success clears."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port)
        upstream, clock = upstream_for(pool, limit=2, interval=30)
        flaky = self.flaky(pool)
        flaky.down = True
        for _ in range(2):
            self.assertRaises(UpstreamConnectError, upstream.round_trip,
                              get_request())
        self.assertEqual(1, upstream.counters['suppressions'])
        clock.now += 29.9
        self.assertRaises(ErrorLimitedError, upstream.round_trip,
                          get_request())
        self.assertEqual(2, flaky.calls)
        clock.now += 0.1
        self.assertRaises(UpstreamConnectError, upstream.round_trip,
                          get_request())  # the probe, still down
        self.assertEqual(3, flaky.calls)
        self.assertEqual(2, upstream.counters['suppressions'])
        self.assertRaises(ErrorLimitedError, upstream.round_trip,
                          get_request())
        flaky.down = False
        clock.now += 30
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))
        for _ in range(3):
            self.assertEqual(b'ok', finish(pool, upstream.round_trip(
                get_request())))
        self.assertEqual({'suppressions': 2, 'error_limited': 2},
                         self.counters(upstream, 'suppressions',
                                       'error_limited'))
        self.assertEqual(4, flaky.calls)  # then pooled
        self.assertEqual(1, server.accepted)

    def test_probe_in_flight_refuses_others(self):
        """While the probe waits for the target's answer, a second request
        fails fast instead of joining it."""
        release = eventlet.event.Event()

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                if request.path == '/probe':
                    release.wait()
                sock.respond(200, b'ok')
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        upstream, clock = upstream_for(pool, limit=1, interval=30)
        upstream.limiter.failure()
        clock.now += 30
        self.addCleanup(lambda: release.ready() or release.send())
        probe = eventlet.spawn(upstream.round_trip, get_request('/probe'))
        self.addCleanup(probe.kill)
        self.wait_for(lambda: len(server.requests) == 1)
        with self.assertRaises(ErrorLimitedError):
            upstream.round_trip(get_request('/other'))
        release.send()
        self.assertEqual(b'ok', finish(pool, probe.wait()))
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request('/other'))))
        self.assertEqual(['/probe', '/other'],
                         [request.path for request in server.requests])
        self.assertEqual(1, upstream.counters['error_limited'])

    def test_probe_succeeding_after_a_retry_clears(self):
        """A probe whose first connect fails and whose retry gets an
        answer clears the suppression: the target did answer."""
        server = self.start_server(keep_alive_handler(b'ok'))
        pool = self.make_pool(server.port)
        upstream, clock = upstream_for(pool, retries=2, limit=1,
                                       interval=30)
        upstream.limiter.failure()
        clock.now += 30
        flaky = self.flaky(pool)
        flaky.failures = 1
        with mock.patch.object(forward, 'sleep'):
            self.assertEqual(b'ok', finish(pool, upstream.round_trip(
                get_request())))
        self.assertEqual(1, upstream.counters['retries'])
        self.assertEqual(b'ok', finish(pool, upstream.round_trip(
            get_request())))
        self.assertEqual(0, upstream.counters['error_limited'])

    def test_failed_probe_with_retries_is_one_suppression(self):
        """A probe that fails every attempt counts one suppression, not
        one per attempt."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port)
        upstream, clock = upstream_for(pool, retries=2, limit=3)
        with mock.patch.object(forward, 'sleep'):
            self.assertRaises(UpstreamConnectError, upstream.round_trip,
                              get_request())
            self.assertEqual({'retries': 2, 'suppressions': 1},
                             self.counters(upstream, 'retries',
                                           'suppressions'))
            clock.now += 30
            self.assertRaises(UpstreamConnectError, upstream.round_trip,
                              get_request())
        self.assertEqual({'retries': 4, 'suppressions': 2},
                         self.counters(upstream, 'retries', 'suppressions'))
        self.assertRaises(ErrorLimitedError, upstream.round_trip,
                          get_request())


class TestBackoff(GreenTestCase):
    """Connect retries pause a jittered, growing, bounded time."""

    def test_pauses_bounded(self):
        """The n-th retry pauses uniform(0, min(cap, base * 2**n)); no
        pause before the first attempt nor after the last."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port)
        retried = []
        with mock.patch.object(forward.random, 'uniform',
                               side_effect=lambda low, high: high) as uniform, \
                mock.patch.object(forward, 'sleep') as sleep:
            with self.assertRaises(UpstreamConnectError):
                round_trip(pool, get_request(), 8, on_retry=retried.append)
        self.assertEqual([mock.call(0, bound) for bound in (
            0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0)], uniform.call_args_list)
        self.assertEqual([mock.call(bound) for bound in (
            0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0)], sleep.call_args_list)
        self.assertEqual(8, len(retried))
        self.assertTrue(all(isinstance(err, UpstreamConnectError)
                            for err in retried))

    def test_jitter_in_range(self):
        """Real random pauses stay within [0, bound], and vary."""
        for attempt in range(12):
            bound = min(forward.BACKOFF_CAP,
                        forward.BACKOFF_BASE * 2 ** attempt)
            pauses = [forward._backoff(attempt) for _ in range(50)]
            self.assertTrue(all(0 <= pause <= bound for pause in pauses),
                            (attempt, pauses))
            self.assertGreater(len(set(pauses)), 1)
        # however many attempts, a pause is at most a second
        self.assertLessEqual(max(forward._backoff(60) for _ in range(200)),
                             1.0)

    def test_no_pause_without_retries(self):
        """retries = 0: one attempt, no pause."""
        sock, port = refused_port()
        self.closing(sock)
        pool = self.make_pool(port)
        with mock.patch.object(forward, 'sleep') as sleep:
            self.assertRaises(UpstreamConnectError, round_trip, pool,
                              get_request(), 0)
        self.assertEqual([], sleep.call_args_list)

    def test_stale_retry_no_pause(self):
        """A dead pooled socket is retried at once: on_retry is told, but
        there is no pause (the target is not known to be down)."""
        def handler(sock):
            if sock.server.accepted == 1:
                sock.read_request()
                sock.respond(200, b'first')
                sock.read_head()
                return
            keep_alive_handler(b'fresh')(sock)
        server = self.start_server(handler)
        pool = self.make_pool(server.port)
        finish(pool, round_trip(pool, get_request(), 2))
        retried = []
        with mock.patch.object(forward, 'sleep') as sleep:
            conn = round_trip(pool, get_request(), 2, on_retry=retried.append)
        self.assertEqual(b'fresh', finish(pool, conn))
        self.assertEqual(1, len(retried))
        self.assertEqual([], sleep.call_args_list)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.middleware, over real loopback sockets.

The test plays the WSGI server (:class:`LeakTracker`): every body the
middleware returns must be closed, and the pool must end with nothing in
use, or the test fails.
"""

import hashlib
import io
import json
import os
import re
import tempfile
import textwrap
import time
import unittest
from unittest import mock

import eventlet
from paste.deploy import loadapp

from swift_forwarder import __version__
from swift_forwarder.exceptions import ConfigError, EtagMismatch, \
    UpstreamBodyError
from swift_forwarder.iterators import ResponseBody
from swift_forwarder.middleware import INFO_OPTIONS, ForwarderMiddleware, \
    filter_factory

from test.unit.helpers import FakeApp, FakeLogger, GreenTestCase, \
    LeakTracker, SpyInput, keep_alive_handler, make_env, refused_port, \
    serving


#: The figures of an access line that vary from run to run.
_TIMINGS = re.compile(r'\b(ttfb|time)=\d+\.\d{4}\b')


class MiddlewareTestCase(GreenTestCase):

    def setUp(self):
        super().setUp()
        self.tracker = LeakTracker()
        self.app = FakeApp()
        self.logger = FakeLogger()

    def middleware(self, handler=None, port=None, **options):
        """A middleware whose target is a scripted server (or ``port``)."""
        if handler is not None:
            self.server = self.start_server(handler)
            port = self.server.port
        conf = {'target_url': 'http://127.0.0.1:%d' % port,
                'forwarder_id': 'fwd-test', 'conn_timeout': '0.5',
                'node_timeout': '1', 'pool_timeout': '1',
                'client_timeout': '1'}
        conf.update(options)
        mw = ForwarderMiddleware(self.app, conf, logger=self.logger)
        self.addCleanup(self.check_no_leaks, mw)
        return mw

    def check_no_leaks(self, mw):
        unclosed = self.tracker.unclosed() + self.app.unclosed()
        pool = self.target(mw).pool
        in_use = pool.in_use
        pool.close()
        self.assertEqual([], unclosed, 'response bodies left unclosed')
        self.assertEqual(0, in_use, repr(pool))

    def target(self, mw):
        """The middleware's inline target (``target_url``), with its
        ``pool`` and ``upstream``."""
        return mw.targets['default']

    def counters(self, mw):
        return self.target(mw).upstream.counters

    def assertPool(self, mw, **expected):
        """Assert some of the target pool's stats."""
        pool = self.target(mw).pool
        stats = pool.stats()
        self.assertEqual(expected, dict((name, stats[name])
                                        for name in expected), repr(pool))

    def call(self, mw, env):
        return self.tracker.call(mw, env)

    def read_aborted(self, resp, error):
        """Read ``resp``'s body until it raises ``error`` (it must);
        returns (the bytes received before, the exception)."""
        received = []
        with self.assertRaises(error) as caught:
            for chunk in resp.body:
                received.append(chunk)
        resp.body.close()
        return b''.join(received), caught.exception

    def access_lines(self):
        """Every line logged, as ``(level, text)``, with the ``ttfb=`` and
        ``time=`` figures (seconds, four decimals) replaced by ``T``; a
        ``ttfb=-`` (no response head) stays."""
        return [(level, _TIMINGS.sub(r'\1=T', text))
                for level, text in self.logger.lines]


class TestPassThrough(MiddlewareTestCase):

    def test_not_matching_untouched(self):
        """A request outside ``forward`` reaches the local app as the same
        environ, unchanged, and its response comes back as is."""
        mw = self.middleware(keep_alive_handler(), forward='AUTH_fwd')
        env = make_env('PUT', '/v1/AUTH_local/c/o', body=b'local data',
                       headers={'X-Forwarder-Hops': 'fwd-test',
                                'X-Bad': 'a\r\nb'})
        before = dict(env)
        resp = self.call(mw, env)
        self.assertIs(self.app.bodies[0], resp.inner)
        self.assertEqual([env], self.app.calls)
        self.assertIs(env, self.app.calls[0])
        self.assertEqual(before, env)
        self.assertEqual('200 OK', resp.status)
        self.assertEqual(b'local response', resp.read())
        self.assertEqual(0, self.server.accepted)
        self.assertEqual([], self.logger.lines)

    def test_info_and_auth_stay_local(self):
        """Only /v1/<account> is forwarded: /info, /auth, /healthcheck
        and the like stay local even with forward = *."""
        mw = self.middleware(keep_alive_handler())
        for path in ('/info', '/auth/v1.0', '/v1.0', '/healthcheck', '/',
                     '/v1', '/v1/', '/crossdomain.xml'):
            self.call(mw, make_env(path=path)).read()
        self.assertEqual(8, len(self.app.calls))
        self.assertEqual(0, self.server.accepted)

    def test_healthcheck_path_off_by_default(self):
        """Without healthcheck_path no path is special."""
        mw = self.middleware(keep_alive_handler())
        self.call(mw, make_env(path='/forwarder/healthcheck')).read()
        self.assertEqual(1, len(self.app.calls))


class TestForwarding(MiddlewareTestCase):

    def test_get(self):
        """A forwarded GET: the target gets the request as documented and
        the client gets the target's answer, hop-by-hop headers dropped."""
        mw = self.middleware(keep_alive_handler(
            b'remote data', headers=[('X-Trans-Id', 'txTARGET'),
                                     ('Connection', 'keep-alive'),
                                     ('Etag', 'abc')]))
        env = make_env(path='/v1/AUTH_a/c/a%2Fb%20caf%C3%A9',
                       query='multipart-manifest=get&x=%2F',
                       headers={'X-Auth-Token': 'AUTH_tk',
                                'Connection': 'keep-alive',
                                'Host': 'local.example.com'},
                       **{'swift.trans_id': 'tx123'})
        resp = self.call(mw, env)
        self.assertEqual('200 OK', resp.status)
        self.assertEqual([('X-Forwarder-Trans-Id', 'txTARGET'),
                          ('Etag', 'abc'), ('Content-Length', '11')],
                         resp.headers)
        self.assertEqual(b'remote data', resp.read())
        self.assertEqual([], self.app.calls)
        upstream = self.server.requests[0]
        self.assertEqual('GET /v1/AUTH_a/c/a%2Fb%20caf%C3%A9'
                         '?multipart-manifest=get&x=%2F',
                         '%s %s' % (upstream.method, upstream.target))
        self.assertEqual([
            ('Host', '127.0.0.1:%d' % self.server.port),
            ('X-Forwarder-Hops', 'fwd-test'),
            ('X-Auth-Token', 'AUTH_tk'),
            ('X-Forwarded-For', '127.0.0.2'),
            ('Via', '1.1 fwd-test (swift_forwarder/%s)' % __version__),
            ('X-Trans-Id-Extra', 'tx123')], upstream.headers)

    def test_put(self):
        """A forwarded PUT streams the client's body in client_chunk_size
        pieces; the target's 201 comes back."""
        data = os.urandom(100000)
        mw = self.middleware(keep_alive_handler(b'', status=201),
                             client_chunk_size='8192')
        spy = SpyInput(data)
        env = make_env('PUT', headers={'Content-Type': 'application/x-raw',
                                       'Content-Length': str(len(data))})
        env['wsgi.input'] = spy
        resp = self.call(mw, env)
        self.assertEqual('201 Created', resp.status)
        self.assertEqual(b'', resp.read())
        upstream = self.server.requests[0]
        self.assertEqual(data, upstream.body)
        self.assertEqual('application/x-raw', upstream.header('Content-Type'))
        self.assertEqual(str(len(data)), upstream.header('Content-Length'))
        self.assertEqual(13, spy.reads)  # 12 full chunks and the rest
        self.assertEqual({'in_use': 0, 'idle': 1},
                         {k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle')})

    def test_chunked_put(self):
        """A chunked upload is forwarded chunked."""
        mw = self.middleware(keep_alive_handler(b'', status=201))
        env = make_env('PUT', headers={'Transfer-Encoding': 'chunked'},
                       body=b'chunked data')
        del env['CONTENT_LENGTH']
        resp = self.call(mw, env)
        self.assertEqual('201 Created', resp.status)
        resp.read()
        upstream = self.server.requests[0]
        self.assertEqual('chunked', upstream.header('Transfer-Encoding'))
        self.assertEqual(b'chunked data', upstream.body)

    def test_upstream_status_passes_through(self):
        """Statuses from the target are relayed unchanged, with bodies."""
        for status, reason in ((404, 'Not Found'), (507, 'Insufficient'),
                               (202, 'Accepted')):
            def handler(sock, status=status, reason=reason):
                sock.read_request()
                sock.respond(status, b'from target', reason=reason)
            mw = self.middleware(handler)
            resp = self.call(mw, make_env(path='/v1/AUTH_a/c'))
            self.assertEqual('%d %s' % (status, reason), resp.status)
            self.assertEqual(b'from target', resp.read())

    def test_small_body_read_at_once(self):
        """A body up to client_chunk_size is read before the client sees
        anything: the connection is back in the pool already."""
        mw = self.middleware(keep_alive_handler(b'x' * 64),
                             client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertIsInstance(resp.inner, list)
        self.assertEqual({'in_use': 0, 'idle': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle')})
        self.assertEqual(b'x' * 64, resp.read())

    def test_big_body_streamed(self):
        """A longer body streams in chunks; the connection is released at
        the last byte."""
        data = os.urandom(1000)
        mw = self.middleware(keep_alive_handler(data),
                             client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertIsInstance(resp.inner, ResponseBody)
        self.assertEqual(1, mw.targets['default'].pool.in_use)
        chunks = list(resp.body)
        self.assertTrue(all(len(chunk) <= 64 for chunk in chunks))
        self.assertGreaterEqual(len(chunks), 16)
        self.assertEqual(data, b''.join(chunks))
        self.assertEqual({'in_use': 0, 'idle': 1, 'discarded': 0}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle', 'discarded')})
        resp.body.close()

    def test_client_closes_mid_body(self):
        """A client gone mid-body: the upstream socket is closed (the
        target sees EOF), never pooled, and the request's one access line
        says so, at info level."""
        seen = []

        def handler(sock):
            sock.read_head()
            sock.respond(200, b'y' * 1000)
            seen.append(sock.read_to_eof())
        mw = self.middleware(handler, client_chunk_size='64')
        resp = self.call(mw, make_env(**{'swift.trans_id': 'txGONE'}))
        self.assertEqual(64, len(next(resp.body)))
        resp.body.close()
        self.assertEqual({'in_use': 0, 'idle': 0, 'discarded': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle', 'discarded')})
        self.server.wait(timeout=1)
        self.assertEqual([b''], seen)
        self.assertEqual([('info', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=64 '
                           'ttfb=T time=T: client closed the response early; '
                           'upstream connection closed (txn: txGONE)')],
                         self.access_lines())

    def test_bodiless_released_at_once(self):
        """HEAD, 204 and 304 release the connection before the client
        reads anything."""
        responses = {'/v1/AUTH_a/head': (200, [('Content-Length', '5')]),
                     '/v1/AUTH_a/head-chunked': (
                         200, [('Transfer-Encoding', 'chunked')]),
                     '/v1/AUTH_a/204': (204, []),
                     '/v1/AUTH_a/304': (304, [('Etag', 'x')])}

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                status, headers = responses[request.path]
                sock.respond(status, b'', headers, content_length=False)
        mw = self.middleware(handler, pool_size='1')
        for path, (status, _headers) in sorted(responses.items()):
            method = 'HEAD' if '/head' in path else 'GET'
            resp = self.call(mw, make_env(method, path))
            self.assertEqual(status, resp.status_int)
            self.assertEqual({'in_use': 0, 'idle': 1}, {
                k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle')}, path)
            self.assertEqual(b'', resp.read())
        self.assertEqual(1, self.server.accepted)

    def test_target_dies_mid_body(self):
        """A target that dies mid-body aborts the client's stream with an
        error (never a clean short body); the socket is dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'
                         + b'z' * 100)
        mw = self.middleware(handler, client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertEqual('200 OK', resp.status)
        with self.assertRaises(UpstreamBodyError):
            list(resp.body)
        resp.body.close()
        self.assertEqual({'in_use': 0, 'idle': 0, 'discarded': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle', 'discarded')})
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=100 '
                           'ttfb=T time=T: response body aborted: '
                           'http://127.0.0.1:%d: response body ended early '
                           'after 100 bytes' % self.server.port)],
                         self.access_lines())

    def test_early_401_body_not_read(self):
        """The target refuses before 100 Continue: the 401 is relayed and
        the client's body is never read."""
        def handler(sock):
            sock.read_head()
            sock.respond(401, b'Unauthorized')
            sock.read_to_eof()
        mw = self.middleware(handler)
        spy = SpyInput(b'big upload' * 1000)
        env = make_env('PUT', headers={'Content-Length': '10000'})
        env['wsgi.input'] = spy
        resp = self.call(mw, env)
        self.assertEqual('401 Unauthorized', resp.status)
        self.assertEqual(b'Unauthorized', resp.read())
        self.assertEqual(0, spy.reads)
        self.assertEqual({'in_use': 0, 'idle': 0, 'discarded': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle', 'discarded')})

    def test_host_header(self):
        """Host names the target: the port unless it is the scheme's
        default, IPv6 addresses in brackets."""
        for url, netloc in (('http://t', 't'), ('http://t:8080', 't:8080'),
                            ('https://t', 't'), ('http://t:443', 't:443'),
                            ('https://t:80', 't:80'),
                            ('http://[::1]:81', '[::1]:81'),
                            ('https://[::1]', '[::1]')):
            mw = ForwarderMiddleware(self.app, {'target_url': url},
                                     logger=self.logger)
            self.assertEqual(netloc, mw.targets['default'].netloc, url)


class TestAuthForwarding(MiddlewareTestCase):
    """forward_auth: auth requests go to the target, and the storage URL
    they answer points at this proxy as the client reached it."""

    def handler(self, sock):
        while True:
            request = sock.read_head()
            if request is None:
                return
            sock.respond(200, b'', [
                ('X-Storage-Url', 'http://10.0.0.9:8080/v1/AUTH_t%C3%A9?x=1'),
                ('X-Auth-Token', 'AUTH_tk')])

    def storage_url(self, mw, **env_options):
        env = make_env(path='/auth/v1.0', headers={'X-Auth-User': 't:u'})
        env.update(env_options)
        resp = self.call(mw, env)
        resp.read()
        return resp.header('X-Storage-Url')

    def test_rewritten_as_the_client_came(self):
        mw = self.middleware(self.handler, forward='AUTH_none',
                             forward_auth='true')
        self.assertEqual('http://proxy.example.com/v1/AUTH_t%C3%A9?x=1',
                         self.storage_url(
                             mw, HTTP_HOST='proxy.example.com'))
        self.assertEqual('https://127.0.0.1:8080/v1/AUTH_t%C3%A9?x=1',
                         self.storage_url(mw, **{'wsgi.url_scheme': 'https'}))
        self.assertEqual('https://127.0.0.1/v1/AUTH_t%C3%A9?x=1',
                         self.storage_url(mw, SERVER_PORT='443', **{
                             'wsgi.url_scheme': 'https'}))

    def test_storage_url_scheme(self):
        """Behind a TLS terminator: the client used https, we see http."""
        mw = self.middleware(self.handler, forward='AUTH_none',
                             forward_auth='true', storage_url_scheme='https')
        self.assertEqual('https://proxy.example.com/v1/AUTH_t%C3%A9?x=1',
                         self.storage_url(
                             mw, HTTP_HOST='proxy.example.com'))


class TestStartResponseRaises(MiddlewareTestCase):
    """A start_response that raises (a middleware before us refusing the
    headers) leaves no connection held: the body is closed at once."""

    def test_streaming_body_closed(self):
        mw = self.middleware(keep_alive_handler(b'x' * 200000))

        def start_response(status, headers, exc_info=None):
            raise ValueError('refused by the middleware before us')
        with self.assertRaises(ValueError):
            mw(make_env(), start_response)
        self.assertPool(mw, in_use=0, discarded=1)


class TestErrors(MiddlewareTestCase):
    """Every ForwarderError becomes a short text/plain answer, logged with
    the transaction id; nothing is sent upstream for bad input."""

    def assertError(self, resp, status, text):
        self.assertEqual(status, resp.status)
        body = resp.read()
        self.assertEqual('text/plain; charset=UTF-8',
                         resp.header('Content-Type'))
        self.assertEqual(str(len(body)), resp.header('Content-Length'))
        self.assertIn(text, body.decode('utf-8'))
        self.assertTrue(body.endswith(b'\n'))
        self.assertLess(len(body), 300)
        return body

    def env(self, *args, **kwargs):
        kwargs.setdefault('swift.trans_id', 'txERR')
        return make_env(*args, **kwargs)

    def test_bad_input(self):
        """Bad input: 4xx with the reason, logged with the txn id; the
        target never hears of it."""
        mw = self.middleware(keep_alive_handler())
        cases = [
            (self.env(headers={'X-Object-Meta-A': 'x\r\nX-Evil: 1'}),
             '400 Bad Request', 'Invalid character in header '
             'X-Object-Meta-A'),
            (self.env('PUT', headers={'Content-Length': '-5'}),
             '400 Bad Request', "Invalid Content-Length '-5'"),
            (self.env('PUT', headers={'Content-Length': '5',
                                      'Transfer-Encoding': 'chunked'}),
             '400 Bad Request', 'Content-Length and Transfer-Encoding'),
            (self.env('PUT', headers={'Transfer-Encoding': 'gzip'}),
             '400 Bad Request', 'Transfer-Encoding gzip is not'),
            (self.env(path='/v1/AUTH_a/c/%00'),
             '412 Precondition Failed', 'Invalid UTF8 or contains NULL'),
            (self.env(path='/v1/AUTH_a/c/%FF'),
             '412 Precondition Failed', 'Invalid UTF8 or contains NULL'),
        ]
        for env, status, text in cases:
            self.assertError(self.call(mw, env), status, text)
        line = ('forwarded to default: %s %s %d bytes_up=0 bytes_down=0 '
                'ttfb=- time=T: %s (txn: txERR)')
        self.assertEqual([  # 4xx: info
            ('info', line % ('GET', '/v1/AUTH_test/c/o', 400,
                             'Invalid character in header X-Object-Meta-A')),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             "Invalid Content-Length '-5'")),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             'Content-Length and Transfer-Encoding are both '
                             'set')),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             'Transfer-Encoding gzip is not supported')),
            ('info', line % ('GET', '/v1/AUTH_a/c/%00', 412,
                             'Invalid UTF8 or contains NULL')),
            ('info', line % ('GET', '/v1/AUTH_a/c/%FF', 412,
                             'Invalid UTF8 or contains NULL')),
        ], self.access_lines())
        self.assertEqual(0, self.server.accepted)
        self.assertEqual([], self.app.calls)

    def test_method_not_allowed(self):
        """405 with an Allow header."""
        mw = self.middleware(keep_alive_handler())
        resp = self.call(mw, self.env('PATCH'))
        self.assertError(resp, '405 Method Not Allowed',
                         'Method PATCH is not allowed')
        self.assertEqual('COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT',
                         resp.header('Allow'))
        self.assertEqual([('info', 'forwarded to default: PATCH '
                           '/v1/AUTH_test/c/o 405 bytes_up=0 bytes_down=0 '
                           'ttfb=- time=T: Method PATCH is not allowed '
                           '(txn: txERR)')], self.access_lines())

    LOOP_LINE = ('forwarded to default: GET /v1/AUTH_test/c/o 508 '
                 'bytes_up=0 bytes_down=0 ttfb=- time=T: Loop detected: this '
                 'request already passed through forwarder fwd-test '
                 '(txn: txERR)')

    def loop(self):
        mw = self.middleware(keep_alive_handler())
        resp = self.call(mw, self.env(headers={
            'X-Forwarder-Hops': 'other, fwd-test'}))
        self.assertError(resp, '508 Loop Detected', 'forwarder fwd-test')
        return mw

    def test_loop(self):
        """A request that already passed this forwarder: 508, one access
        line with the reason, counted; nothing sent."""
        mw = self.loop()
        self.assertEqual([self.LOOP_LINE],
                         [text for _level, text in self.access_lines()])
        self.assertEqual(1, self.counters(mw)['loop_refusals'])
        self.assertEqual(0, self.server.accepted)

    def test_loop_logged_at_info(self):
        """A loop is refused by the forwarder, like bad input: info level
        (the design: "Forwarder-made 4xx (bad input, 508 loop...) are
        info"), not error."""
        self.loop()
        self.assertEqual([('info', self.LOOP_LINE)], self.access_lines())

    def test_connect_refused(self):
        """A target that refuses connections: 503 naming it, logged as an
        error."""
        sock, port = refused_port()
        self.closing(sock)
        mw = self.middleware(port=port, retries='1')
        resp = self.call(mw, self.env())
        self.assertError(resp, '503 Service Unavailable',
                         'Target default: connect failed: '
                         'Connection refused')
        self.assertIsNone(resp.header('Retry-After'))
        # 'Connection refused' however eventlet's connect found out (its
        # own errors say 'ECONNREFUSED')
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 503 bytes_up=0 bytes_down=0 '
                           'ttfb=- time=T: http://127.0.0.1:%d: connect '
                           'failed: Connection refused (txn: txERR)' % port)],
                         self.access_lines())

    def test_pool_exhausted(self):
        """No free connection within pool_timeout: 503 with Retry-After."""
        mw = self.middleware(keep_alive_handler(b'q' * 1000), pool_size='1',
                             pool_timeout='0.1', client_chunk_size='64')
        first = self.call(mw, self.env())
        self.assertEqual(1, mw.targets['default'].pool.in_use)
        resp = self.call(mw, self.env())
        self.assertError(resp, '503 Service Unavailable',
                         'no free connection within 0.1s (pool_size 1)')
        self.assertEqual('1', resp.header('Retry-After'))
        self.assertEqual(1, mw.targets['default'].pool.exhausted)
        self.assertEqual(b'q' * 1000, first.read())
        self.assertEqual(1, self.server.accepted)
        self.assertEqual([
            ('error', 'forwarded to default: GET /v1/AUTH_test/c/o 503 '
             'bytes_up=0 bytes_down=0 ttfb=- time=T: http://127.0.0.1:%d: '
             'no free connection within 0.1s (pool_size 1) (txn: txERR)'
             % self.server.port),
            ('info', 'forwarded to default: GET /v1/AUTH_test/c/o 200 '
             'bytes_up=0 bytes_down=1000 ttfb=T time=T (txn: txERR)'),
        ], self.access_lines())

    def test_head_error_has_no_body(self):
        """A HEAD gets the error status and a Content-Length, but no body
        (Swift's catch_errors turns a HEAD body into a 500)."""
        mw = self.middleware(keep_alive_handler(b'q' * 1000), pool_size='1',
                             pool_timeout='0.1', client_chunk_size='64')
        first = self.call(mw, self.env())
        resp = self.call(mw, self.env('HEAD'))
        self.assertEqual('503 Service Unavailable', resp.status)
        self.assertEqual(b'', resp.read())
        self.assertGreater(int(resp.header('Content-Length')), 0)
        self.assertEqual(b'q' * 1000, first.read())

    def test_timeout(self):
        """No response head within node_timeout: 504."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        mw = self.middleware(handler, node_timeout='0.1')
        resp = self.call(mw, self.env())
        self.assertError(resp, '504 Gateway Timeout',
                         'no response within 0.1s')
        self.assertEqual({'in_use': 0, 'discarded': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'discarded')})
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 504 bytes_up=0 bytes_down=0 '
                           'ttfb=- time=T: http://127.0.0.1:%d: no response '
                           'within 0.1s (txn: txERR)' % self.server.port)],
                         self.access_lines())

    def test_short_body_timeout(self):
        """A short body that stalls is an error response too: the
        connection is dropped and the client gets 504, not a short body."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab')
            sock.read_to_eof()
        mw = self.middleware(handler, node_timeout='0.1')
        resp = self.call(mw, self.env())
        self.assertError(resp, '504 Gateway Timeout', 'after 2 bytes')
        self.assertEqual(1, mw.targets['default'].pool.discarded)
        [(level, line)] = self.access_lines()
        self.assertEqual('error', level)
        self.assertTrue(line.startswith(
            'forwarded to default: GET /v1/AUTH_test/c/o 504 bytes_up=0 '
            'bytes_down=0 ttfb=T time=T: http://127.0.0.1:%d: no data for '
            '0.1s after 2 bytes' % self.server.port), line)

    def test_client_disconnect(self):
        """A client that goes away mid-upload gets 499; the target sees
        the connection close, not a complete body."""
        received = []

        def handler(sock):
            sock.read_head()
            sock.send_continue()
            received.append(sock.read_to_eof())
        mw = self.middleware(handler)
        env = self.env('PUT', headers={'Content-Length': '100'})
        env['wsgi.input'] = io.BytesIO(b'partial')
        resp = self.call(mw, env)
        self.assertError(resp, '499 Client Disconnect',
                         'after 7 of 100 bytes')
        self.server.wait()
        self.assertEqual([b'partial'], received)
        self.assertEqual(1, mw.targets['default'].pool.discarded)
        self.assertEqual([('info', 'forwarded to default: PUT '
                           '/v1/AUTH_test/c/o 499 bytes_up=7 bytes_down=0 '
                           'ttfb=- time=T: Client disconnected after 7 of '
                           '100 bytes (txn: txERR)')], self.access_lines())

    def test_client_stall(self):
        """A client that stalls mid-upload gets 408 after client_timeout;
        the upload is aborted upstream."""
        received = []

        class StallingInput(object):
            def __init__(self):
                self.sent = False

            def read(self, size):
                if not self.sent:
                    self.sent = True
                    return b'start'
                eventlet.sleep(2)
                return b'too late'

        def handler(sock):
            sock.read_head()
            sock.send_continue()
            received.append(sock.read_to_eof())
        mw = self.middleware(handler, client_timeout='0.1')
        env = self.env('PUT', headers={'Content-Length': '100'})
        env['wsgi.input'] = StallingInput()
        resp = self.call(mw, env)
        self.assertError(resp, '408 Request Timeout',
                         'no data from the client within 0.1s after 5 bytes')
        self.server.wait()
        self.assertEqual([b'start'], received)
        self.assertEqual(1, mw.targets['default'].pool.discarded)
        self.assertEqual([('info', 'forwarded to default: PUT '
                           '/v1/AUTH_test/c/o 408 bytes_up=5 bytes_down=0 '
                           'ttfb=- time=T: Request timeout: no data from the '
                           'client within 0.1s after 5 bytes (txn: txERR)')],
                         self.access_lines())


class TestHealthcheck(MiddlewareTestCase):
    """healthcheck_path: each target probed (``GET /healthcheck`` on a
    connection of its own), with the pool state and counters, as JSON."""

    ZERO_COUNTERS = {'retries': 0, 'resumes': 0, 'etag_mismatches': 0,
                     'error_limited': 0, 'suppressions': 0,
                     'loop_refusals': 0}

    def healthcheck(self, mw, query=''):
        """:returns: ``(status, JSON)`` of the healthcheck at ``/hc``."""
        resp = self.call(mw, make_env(path='/hc', query=query))
        self.assertEqual('application/json', resp.header('Content-Type'))
        body = resp.read()
        self.assertEqual(str(len(body)), resp.header('Content-Length'))
        return resp.status, json.loads(body)

    def test_healthcheck(self):
        """A target that answers its probe: 200, with the probe's status
        and time, this worker's pool state and the counters.  The probe
        neither uses nor counts a pooled connection, and logs nothing."""
        mw = self.middleware(keep_alive_handler(b'ok'),
                             healthcheck_path='/forwarder/healthcheck')
        self.call(mw, make_env()).read()
        resp = self.call(mw, make_env(path='/forwarder/healthcheck'))
        self.assertEqual('200 OK', resp.status)
        self.assertEqual('application/json', resp.header('Content-Type'))
        body = resp.read()
        self.assertEqual(str(len(body)), resp.header('Content-Length'))
        health = json.loads(body)
        time_ms = health['targets']['default'].pop('time_ms')
        self.assertIsInstance(time_ms, float)
        self.assertTrue(0 < time_ms < 1000, time_ms)
        self.assertEqual({'pid': os.getpid(), 'status': 'OK', 'targets': {
            'default': {
                'url': 'http://127.0.0.1:%d' % self.server.port,
                'pool': {'in_use': 0, 'idle': 1, 'created': 1, 'reused': 0,
                         'discarded': 0, 'exhausted': 0, 'maxsize': 20},
                'counters': self.ZERO_COUNTERS, 'error_limited': False,
                'reachable': True, 'status': 200}}}, health)
        self.assertEqual([], self.app.calls)
        self.assertEqual(2, self.server.accepted)  # the probe's own
        get, probe = self.server.requests
        self.assertEqual(('GET', '/healthcheck'), (probe.method, probe.target))
        self.assertEqual([
            ('Host', '127.0.0.1:%d' % self.server.port),
            ('User-Agent', '1.1 fwd-test (swift_forwarder/%s)' % __version__),
        ], probe.headers)
        self.assertEqual(1, len(self.logger.lines))  # the GET's line only

    def test_refused(self):
        """A target refusing connections: 503 (status FAIL), not
        reachable, the error says so; no counter or pool state moves."""
        sock, port = refused_port()
        self.closing(sock)
        mw = self.middleware(port=port, healthcheck_path='/hc')
        status, health = self.healthcheck(mw)
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual('FAIL', health['status'])
        target = health['targets']['default']
        self.assertEqual({
            'url': 'http://127.0.0.1:%d' % port,
            'pool': {'in_use': 0, 'idle': 0, 'created': 0, 'reused': 0,
                     'discarded': 0, 'exhausted': 0, 'maxsize': 20},
            'counters': self.ZERO_COUNTERS, 'error_limited': False,
            'reachable': False, 'error': 'http://127.0.0.1:%d: connect '
            'failed: Connection refused' % port}, target)
        self.assertEqual([], self.logger.lines)

    def test_target_answers_5xx(self):
        """A target whose own healthcheck answers 503 said it cannot
        serve: not reachable, and the healthcheck is 503."""
        def handler(sock):
            sock.read_request()
            sock.respond(503, b'DISABLED BY FILE')
        mw = self.middleware(handler, healthcheck_path='/hc')
        status, health = self.healthcheck(mw)
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual('FAIL', health['status'])
        target = health['targets']['default']
        self.assertEqual((False, 503), (target['reachable'], target['status']))
        self.assertIn('time_ms', target)
        self.assertNotIn('error', target)

    def test_target_answers_4xx(self):
        """Any answer below 500 is reachable (a target without the
        healthcheck middleware answers 404 or 401)."""
        def handler(sock):
            sock.read_request()
            sock.respond(401, b'')
        mw = self.middleware(handler, healthcheck_path='/hc')
        status, health = self.healthcheck(mw)
        self.assertEqual('200 OK', status)
        target = health['targets']['default']
        self.assertEqual((True, 401), (target['reachable'], target['status']))

    def test_no_answer(self):
        """A target that takes the request but never answers: not
        reachable, timed out (node_timeout bounds the wait)."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        mw = self.middleware(handler, healthcheck_path='/hc',
                             node_timeout='0.1')
        status, health = self.healthcheck(mw)
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual({'reachable': False, 'error': 'timed out'}, {
            key: health['targets']['default'].get(key)
            for key in ('reachable', 'error')})

    def test_probe_bounded(self):
        """A target trickling its answer, each read within node_timeout:
        the probe still gives up after conn_timeout + node_timeout."""
        def handler(sock):
            sock.read_head()
            try:
                sock.sendall(b'HTTP/1.1 200 OK\r\n')
                for _ in range(24):
                    eventlet.sleep(0.05)
                    sock.sendall(b'X-Slow: 1\r\n')
            except OSError:
                pass  # the probe hung up
        mw = self.middleware(handler, healthcheck_path='/hc',
                             conn_timeout='0.1', node_timeout='0.5')
        started = time.monotonic()
        status, health = self.healthcheck(mw)
        elapsed = time.monotonic() - started
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual('timed out', health['targets']['default']['error'])
        self.assertGreater(elapsed, 0.55)
        self.assertLess(elapsed, 1.1)  # the trickle lasts 1.2s

    def test_probe_lets_a_foreign_timeout_through(self):
        """A Timeout that is not the probe's own (a caller's deadline)
        propagates, as in Swift (``except Timeout as t: if t is not
        my_timeout: raise``); it is not the target's failure."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        mw = self.middleware(handler, healthcheck_path='/hc')
        outer = eventlet.Timeout(0.05)
        try:
            with self.assertRaises(eventlet.Timeout) as caught:
                mw.targets['default'].probe()
            self.assertIs(outer, caught.exception)
        finally:
            outer.cancel()

    def test_probe_no(self):
        """``?probe=no`` (or ``probe=0``): the state only, always 200, and
        no connection is made, not even to a target that is down."""
        mw = self.middleware(keep_alive_handler(), healthcheck_path='/hc')
        for query in ('probe=no', 'probe=0'):
            status, health = self.healthcheck(mw, query)
            self.assertEqual('200 OK', status)
            self.assertEqual('OK', health['status'])
            self.assertEqual(['counters', 'error_limited', 'pool', 'url'],
                             sorted(health['targets']['default']))
        self.assertEqual(0, self.server.accepted)
        sock, port = refused_port()
        self.closing(sock)
        mw = self.middleware(port=port, healthcheck_path='/hc')
        status, health = self.healthcheck(mw, 'probe=no')
        self.assertEqual(('200 OK', 'OK'), (status, health['status']))

    def test_every_target_probed(self):
        """Several targets: each is probed; one unreachable makes it 503,
        and the JSON says which."""
        sock, port = refused_port()
        self.closing(sock)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'targets.conf')
            with open(path, 'w') as fp:
                fp.write('[target:east]\ntarget_url = http://127.0.0.1:%d\n'
                         % port)
            mw = self.middleware(keep_alive_handler(), targets_conf=path,
                                 healthcheck_path='/hc')
        status, health = self.healthcheck(mw)
        self.assertEqual(('503 Service Unavailable', 'FAIL'),
                         (status, health['status']))
        targets = health['targets']
        self.assertEqual((True, False), (targets['default']['reachable'],
                                         targets['east']['reachable']))
        self.assertEqual('http://127.0.0.1:%d' % port, targets['east']['url'])
        self.assertEqual(1, self.server.accepted)

    def test_targets_probed_at_once(self):
        """Three targets that never answer cost one probe timeout, not
        three."""
        def handler(sock):
            sock.read_head()
            sock.read_to_eof()
        server = self.start_server(handler)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'targets.conf')
            with open(path, 'w') as fp:
                for name in ('east', 'west'):
                    fp.write('[target:%s]\ntarget_url = http://127.0.0.1:%d\n'
                             % (name, server.port))
            mw = self.middleware(port=server.port, targets_conf=path,
                                 node_timeout='0.3', healthcheck_path='/hc')
        started = time.monotonic()
        status, health = self.healthcheck(mw)
        elapsed = time.monotonic() - started
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual({'default': 'timed out', 'east': 'timed out',
                          'west': 'timed out'}, {
            name: target['error'] for name, target in health['targets'].items()})
        self.assertLess(elapsed, 0.6)

    def test_error_limited(self):
        """A suppressed target shows ``error_limited``; the probe still
        goes out (it is how an operator sees the target is back)."""
        mw = self.middleware(keep_alive_handler(), healthcheck_path='/hc')
        self.target(mw).upstream.limiter.suppressed_until = \
            time.monotonic() + 60
        status, health = self.healthcheck(mw)
        self.assertEqual('200 OK', status)
        target = health['targets']['default']
        self.assertEqual((True, True), (target['error_limited'],
                                        target['reachable']))

    def test_counters(self):
        """The counters reflect resumes and ETag mismatches."""
        mw = self.middleware(resume_and_mismatch_handler(),
                             healthcheck_path='/hc', client_chunk_size='64')
        resp = self.call(mw, make_env(path='/v1/AUTH_a/c/bad'))
        self.assertEqual(502, resp.status_int)
        resp.read()
        resp = self.call(mw, make_env(path='/v1/AUTH_a/c/cut'))
        self.assertEqual(RESUMED_DATA, resp.read())
        _status, health = self.healthcheck(mw, 'probe=no')
        self.assertEqual(dict(self.ZERO_COUNTERS, resumes=1,
                              etag_mismatches=1),
                         health['targets']['default']['counters'])


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


WRONG_ETAG = md5_hex(b'not what was sent')


def put_handler(etag, delete_status=204):
    """Answers PUTs with 201 and ``etag`` (no ETag header if None), and
    DELETEs with ``delete_status``, keep-alive."""
    def answer(sock, request):
        if request.method == 'PUT':
            sock.respond(201, b'', [('Etag', etag)] if etag else [])
        else:
            sock.respond(delete_status, b'')
    return serving(answer)


def response_head(status, headers):
    lines = ['HTTP/1.1 %s' % status] + ['%s: %s' % pair for pair in headers]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


#: The body :func:`resume_and_mismatch_handler` serves.
RESUMED_DATA = bytes(range(256)) * 4


def resume_and_mismatch_handler():
    """A target whose ``.../bad`` object has a wrong ETag (64 bytes: read at
    once, a 502), and whose other objects break off after 300 of 1024 bytes
    and serve the rest to a Range request (one resume)."""
    etag = md5_hex(RESUMED_DATA)

    def handler(sock):
        request = sock.read_head()
        if request.path.endswith('/bad'):
            sock.respond(200, RESUMED_DATA[:64], [('Etag', WRONG_ETAG)])
        elif request.header('Range'):
            sock.respond(206, RESUMED_DATA[300:], [
                ('Etag', etag), ('Content-Range', 'bytes 300-1023/1024')])
        else:
            sock.sendall(response_head('200 OK', [
                ('Content-Length', 1024), ('Etag', etag)]) + RESUMED_DATA[:300])
            return
        sock.read_to_eof()
    return handler


class TestPutEtag(MiddlewareTestCase):
    """After a forwarded PUT the target's ETag is compared with the MD5 of
    the bytes sent; etag_mismatch_policy says what a mismatch does."""

    DATA = b'uploaded object data' * 100

    def put(self, mw, path='/v1/AUTH_a/c/o', data=DATA, chunked=False,
            headers=None, query=''):
        all_headers = {'X-Auth-Token': 'AUTH_tk'}
        if chunked:
            all_headers['Transfer-Encoding'] = 'chunked'
        all_headers.update(headers or {})
        env = make_env('PUT', path, headers=all_headers, body=data,
                       query=query, **{'swift.trans_id': 'txPUT'})
        if chunked:
            del env['CONTENT_LENGTH']
        return self.call(mw, env)

    PUT_LINE = ('forwarded to default: PUT /v1/AUTH_a/c/o 201 bytes_up=2000 '
                'bytes_down=0 ttfb=T time=T (txn: txPUT)')

    def assertMismatch(self, resp, outcome):
        self.assertEqual('502 Bad Gateway', resp.status)
        body = resp.read().decode('utf-8')
        self.assertIn('ETag mismatch on PUT: sent MD5 %s, target ETag %s'
                      % (md5_hex(self.DATA), WRONG_ETAG), body)
        self.assertIn(outcome, body)
        # the client learns the target's name, not its address
        self.assertTrue(body.startswith('Target default: '), body)
        self.assertNotIn(str(self.server.port), body)
        return body

    def test_raise(self):
        """raise: 502 naming both values, object kept (no DELETE sent),
        logged with the txn id and counted."""
        mw = self.middleware(put_handler(WRONG_ETAG),
                             etag_mismatch_policy='raise')
        self.assertMismatch(self.put(mw), '; object kept')
        self.assertEqual(['PUT'], [r.method for r in self.server.requests])
        self.assertEqual(self.DATA, self.server.requests[0].body)
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])
        self.assertEqual([('error', 'forwarded to default: PUT '
                           '/v1/AUTH_a/c/o 502 bytes_up=2000 bytes_down=0 '
                           'ttfb=T time=T: http://127.0.0.1:%d: ETag mismatch '
                           'on PUT: sent MD5 %s, target ETag %s; object kept '
                           '(txn: txPUT)' % (self.server.port,
                                             md5_hex(self.DATA), WRONG_ETAG))],
                         self.access_lines())
        self.assertPool(mw, in_use=0, idle=1, discarded=0)

    def test_raise_is_the_default(self):
        mw = self.middleware(put_handler(WRONG_ETAG))
        self.assertMismatch(self.put(mw), '; object kept')
        self.assertEqual(1, len(self.server.requests))

    def test_raise_and_delete(self):
        """raise_and_delete: a DELETE of the same path with the client's
        token (no body, no conditions, no expiry), then 502."""
        mw = self.middleware(put_handler(WRONG_ETAG),
                             etag_mismatch_policy='raise_and_delete')
        path = '/v1/AUTH_a/c/caf%C3%A9%20d%2Fo'
        resp = self.put(mw, path, query='x=1', headers={
            'Content-Type': 'text/plain', 'X-Delete-After': '60',
            'If-None-Match': '*', 'X-Object-Meta-Color': 'blue'})
        self.assertMismatch(resp, '; object deleted')
        put, delete = self.server.requests
        self.assertEqual(('PUT', path + '?x=1'), (put.method, put.target))
        self.assertEqual(('DELETE', path), (delete.method, delete.target))
        self.assertEqual('AUTH_tk', delete.header('X-Auth-Token'))
        self.assertEqual(put.header('Host'), delete.header('Host'))
        self.assertEqual('fwd-test', delete.header('X-Forwarder-Hops'))
        for name in ('content-length', 'transfer-encoding', 'expect',
                     'content-type', 'x-delete-after', 'if-none-match',
                     'etag'):
            self.assertNotIn(name, delete.header_names())
        self.assertEqual(b'', delete.body)
        self.assertEqual(1, self.server.accepted)  # one keep-alive socket
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])

    def test_raise_and_delete_statuses(self):
        """A DELETE answered 404 also leaves no object; anything else is
        reported."""
        for status, outcome in ((200, '; object deleted'),
                                (404, '; object deleted'),
                                (409, '; DELETE got 409'),
                                (503, '; DELETE got 503')):
            mw = self.middleware(put_handler(WRONG_ETAG, status),
                                 etag_mismatch_policy='raise_and_delete')
            self.assertMismatch(self.put(mw), outcome)
            self.assertEqual(['PUT', 'DELETE'],
                             [r.method for r in self.server.requests])

    def test_log(self):
        """log: the target's 201 is relayed; an error line says ETag
        mismatch; counted."""
        mw = self.middleware(put_handler(WRONG_ETAG),
                             etag_mismatch_policy='log')
        resp = self.put(mw)
        self.assertEqual('201 Created', resp.status)
        self.assertEqual(WRONG_ETAG, resp.header('Etag'))
        self.assertEqual(b'', resp.read())
        self.assertEqual([
            ('error', 'PUT /v1/AUTH_a/c/o: ETag mismatch on PUT: sent MD5 '
             '%s, target ETag %s (txn: txPUT)'
             % (md5_hex(self.DATA), WRONG_ETAG)),
            ('info', self.PUT_LINE)], self.access_lines())
        self.assertEqual(['PUT'], [r.method for r in self.server.requests])
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])

    def test_matching_etag_passes(self):
        """A matching ETag, bare or quoted, from a sized or a chunked
        upload: 201, nothing counted, and nothing logged but each PUT's
        access line, under every policy."""
        for policy in ('raise', 'raise_and_delete', 'log'):
            for etag in (md5_hex(self.DATA), '"%s"' % md5_hex(self.DATA)):
                for chunked in (False, True):
                    mw = self.middleware(put_handler(etag),
                                         etag_mismatch_policy=policy,
                                         client_chunk_size='256')
                    resp = self.put(mw, chunked=chunked)
                    self.assertEqual('201 Created', resp.status)
                    resp.read()
                    self.assertEqual(['PUT'], [
                        r.method for r in self.server.requests])
                    self.assertEqual(0,
                                     self.counters(mw)['etag_mismatches'])
        self.assertEqual([('info', self.PUT_LINE)] * 12, self.access_lines())

    def test_chunked_mismatch(self):
        """A chunked upload is checked too."""
        mw = self.middleware(put_handler(WRONG_ETAG),
                             client_chunk_size='256')
        self.assertMismatch(self.put(mw, chunked=True), '; object kept')
        self.assertEqual(self.DATA, self.server.requests[0].body)

    def test_missing_etag_passes(self):
        """No ETag in the answer (not Swift): nothing to compare."""
        mw = self.middleware(put_handler(None))
        resp = self.put(mw)
        self.assertEqual('201 Created', resp.status)
        resp.read()
        self.assertEqual([('info', self.PUT_LINE)], self.access_lines())
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])

    def test_unchecked_puts(self):
        """SLO manifests, copies, symlinks and client-supplied ETags are
        relayed whatever the target's ETag."""
        mw = self.middleware(put_handler(WRONG_ETAG))
        for kwargs in ({'query': 'multipart-manifest=put'},
                       {'headers': {'X-Copy-From': 'c/src'}},
                       {'headers': {'X-Symlink-Target': 'c/t'}},
                       {'headers': {'Etag': md5_hex(self.DATA)}}):
            resp = self.put(mw, **kwargs)
            self.assertEqual('201 Created', resp.status, kwargs)
            resp.read()
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])
        # never the query string (multipart-manifest=put) on the line
        self.assertEqual([('info', self.PUT_LINE)] * 4, self.access_lines())

    def test_error_answer_not_checked(self):
        """A non-2xx answer is relayed as is: nothing was stored."""
        def handler(sock):
            request = sock.read_head()
            sock.send_continue()
            sock.read_body(request)
            sock.respond(503, b'busy', [('Etag', WRONG_ETAG)])
        mw = self.middleware(handler)
        resp = self.put(mw)
        self.assertEqual('503 Service Unavailable', resp.status)
        self.assertEqual(b'busy', resp.read())
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])


class TestGetEtag(MiddlewareTestCase):
    """A whole plain-object GET body is checked against its ETag."""

    def test_small_body_mismatch(self):
        """A body read at once that does not match: 502, counted."""
        data = b's' * 64
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', WRONG_ETAG)]), client_chunk_size='64')
        resp = self.call(mw, make_env(**{'swift.trans_id': 'txGET'}))
        self.assertEqual('502 Bad Gateway', resp.status)
        body = resp.read().decode('utf-8')
        self.assertIn('ETag mismatch: body MD5 %s, ETag %s'
                      % (md5_hex(data), WRONG_ETAG), body)
        self.assertNotIn(data.decode('ascii'), body)
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 502 bytes_up=0 bytes_down=0 '
                           'ttfb=T time=T: http://127.0.0.1:%d: ETag mismatch: '
                           'body MD5 %s, ETag %s; stream aborted (txn: txGET)'
                           % (self.server.port, md5_hex(data), WRONG_ETAG))],
                         self.access_lines())
        self.assertPool(mw, in_use=0, idle=0, discarded=1)

    def check_verify_get_off(self, size):
        """verify_get = false: the body is relayed unchecked (a target
        reached over TLS, where CPU is short)."""
        data = os.urandom(size)
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', WRONG_ETAG)]), client_chunk_size='64',
            verify_get='false')
        resp = self.call(mw, make_env())
        self.assertEqual('200 OK', resp.status)
        self.assertEqual(data, resp.read())
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])
        self.assertPool(mw, in_use=0, idle=1, discarded=0)

    def test_verify_get_off_small_body(self):
        self.check_verify_get_off(64)  # read at once

    def test_verify_get_off_streamed_body(self):
        self.check_verify_get_off(1000)

    def test_small_body_match(self):
        data = b's' * 64
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', '"%s"' % md5_hex(data))]),
            client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertEqual('200 OK', resp.status)
        self.assertEqual(data, resp.read())
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])

    def test_large_body_mismatch_aborts_stream(self):
        """A streamed body that does not match: the stream is aborted
        before its last chunk, the socket dropped, logged and counted."""
        data = os.urandom(1000)
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', WRONG_ETAG)]), client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertEqual('200 OK', resp.status)
        received, _err = self.read_aborted(resp, EtagMismatch)
        self.assertEqual(data[:960], received)
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=960 '
                           'ttfb=T time=T: response body aborted: '
                           'http://127.0.0.1:%d: ETag mismatch: body MD5 %s, '
                           'ETag %s; stream aborted' % (
                               self.server.port, md5_hex(data), WRONG_ETAG))],
                         self.access_lines())
        self.assertPool(mw, in_use=0, idle=0, discarded=1)

    def test_large_body_match(self):
        data = os.urandom(1000)
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', md5_hex(data))]), client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertEqual(data, resp.read())
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])
        self.assertEqual([('info', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=1000 '
                           'ttfb=T time=T')], self.access_lines())

    def test_not_checked(self):
        """Range answers, manifests and HEAD are relayed unchecked."""
        data = b'r' * 100
        cases = [({'Range': 'bytes=0-99'}, 206,
                  [('Content-Range', 'bytes 0-99/1000')]),
                 ({}, 200, [('X-Static-Large-Object', 'True')]),
                 ({}, 200, [('X-Object-Manifest', 'c/seg')])]
        for headers, status, extra in cases:
            mw = self.middleware(keep_alive_handler(
                data, status, [('Etag', WRONG_ETAG)] + extra),
                client_chunk_size='64')
            resp = self.call(mw, make_env(headers=headers))
            self.assertEqual(status, resp.status_int)
            self.assertEqual(data, resp.read())
            resp = self.call(mw, make_env('HEAD'))
            self.assertEqual(b'', resp.read())
            self.assertEqual(0, self.counters(mw)['etag_mismatches'])


class TestResume(MiddlewareTestCase):
    """A GET body that breaks off is asked for again from the next byte,
    with Range and pinned with If-Match, up to ``retries`` times."""

    DATA = bytes(range(256)) * 4
    ETAG = '"%s"' % md5_hex(DATA)

    def handler(self, *scripts):
        """Connection n runs ``scripts[n - 1](sock, request)``."""
        def handler(sock):
            request = sock.read_head()
            scripts[sock.server.accepted - 1](sock, request)
        return handler

    def cut(self, first, last, size, status='200 OK', total=None):
        """Send bytes first..last of DATA with ``status``, but only
        ``size`` of them, then hang up."""
        headers = [('Content-Length', last - first + 1),
                   ('Etag', self.ETAG)]
        if status.startswith('206'):
            headers.append(('Content-Range', 'bytes %d-%d/%d' % (
                first, last, total or len(self.DATA))))

        def script(sock, request):
            sock.sendall(response_head(status, headers) +
                         self.DATA[first:first + size])
        return script

    def rest(self, last=None):
        """Answer the Range asked for with a 206, then keep the socket."""
        def script(sock, request):
            spec = request.header('Range')[len('bytes='):]
            first, _sep, end = spec.partition('-')
            first, end = int(first), int(end or len(self.DATA) - 1)
            self.cut(first, end, end - first + 1, '206 Partial Content')(
                sock, request)
            sock.read_to_eof()
        return script

    def get(self, mw, headers=None):
        all_headers = {'X-Auth-Token': 'AUTH_tk',
                       'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT'}
        all_headers.update(headers or {})
        return self.call(mw, make_env(headers=all_headers, **{
            'swift.trans_id': 'txRES'}))

    def test_resume(self):
        """The target hangs up after 300 bytes: the rest is asked for
        from byte 300 with If-Match on the target's ETag; the client gets
        exactly the body, and one resume is counted."""
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300), self.rest()), client_chunk_size='64')
        resp = self.get(mw)
        self.assertEqual('200 OK', resp.status)
        self.assertEqual(self.DATA, resp.read())
        first, second = self.server.requests
        self.assertEqual(('GET', '/v1/AUTH_test/c/o'),
                         (second.method, second.target))
        self.assertEqual('bytes=300-1023', second.header('Range'))
        self.assertEqual(self.ETAG, second.header('If-Match'))
        self.assertEqual('AUTH_tk', second.header('X-Auth-Token'))
        self.assertEqual(first.header('Host'), second.header('Host'))
        self.assertIsNone(second.header('If-Modified-Since'))
        self.assertEqual(1, second.header_names().count('range'))
        self.assertEqual(1, self.counters(mw)['resumes'])
        self.assertEqual(0, self.counters(mw)['etag_mismatches'])
        self.assertEqual([
            ('warning', 'Resuming GET /v1/AUTH_test/c/o at byte 300 '
             '(txn: txRES)'),
            ('info', 'forwarded to default: GET /v1/AUTH_test/c/o 200 '
             'bytes_up=0 bytes_down=1024 ttfb=T time=T (txn: txRES)'),
        ], self.access_lines())
        self.assertPool(mw, in_use=0, idle=1, discarded=1)

    def test_resume_line_has_no_query(self):
        """The resume warning, like every line, leaves the query string
        out: a tempurl GET carries its signature there."""
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300), self.rest()), client_chunk_size='64')
        resp = self.call(mw, make_env(
            query='temp_url_sig=SIGSECRET&temp_url_expires=1700000000',
            **{'swift.trans_id': 'txRES'}))
        self.assertEqual(self.DATA, resp.read())
        self.assertEqual('/v1/AUTH_test/c/o?temp_url_sig=SIGSECRET&'
                         'temp_url_expires=1700000000',
                         self.server.requests[1].target)  # it resumed
        self.assertEqual(['Resuming GET /v1/AUTH_test/c/o at byte 300 '
                          '(txn: txRES)'], self.logger.get_lines('warning'))

    def test_resume_client_range(self):
        """A client Range (206 bytes 100-199) resumes within it: bytes
        (100 + sent)-199."""
        mw = self.middleware(self.handler(
            self.cut(100, 199, 40, '206 Partial Content'), self.rest()),
            client_chunk_size='16')
        resp = self.get(mw, {'Range': 'bytes=100-199'})
        self.assertEqual(206, resp.status_int)
        self.assertEqual(self.DATA[100:200], resp.read())
        first, second = self.server.requests
        self.assertEqual('bytes=100-199', first.header('Range'))
        self.assertEqual('bytes=140-199', second.header('Range'))
        self.assertEqual(1, second.header_names().count('range'))
        self.assertEqual(self.ETAG, second.header('If-Match'))
        self.assertEqual(1, self.counters(mw)['resumes'])

    def test_resume_refused(self):
        """A resume answered 412 (the object changed) or 200 without a
        Content-Range is a failed resume; when they run out the client's
        stream is aborted and every connection dropped."""
        def precondition_failed(sock, request):
            sock.respond(412, b'Precondition Failed')
            sock.read_to_eof()

        def whole(sock, request):
            sock.respond(200, self.DATA, [('Etag', self.ETAG)])
            sock.read_to_eof()
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300), precondition_failed, whole),
            client_chunk_size='64', retries='2')
        resp = self.get(mw)
        received, err = self.read_aborted(resp, UpstreamBodyError)
        self.assertIn('resume at byte 300 got 200 without Content-Range',
                      str(err))
        self.assertEqual(self.DATA[:300], received)
        self.assertEqual(['bytes=300-1023'] * 2, [
            r.header('Range') for r in self.server.requests[1:]])
        self.assertEqual(2, self.counters(mw)['resumes'])
        resuming = ('warning', 'Resuming GET /v1/AUTH_test/c/o at byte 300 '
                    '(txn: txRES)')
        self.assertEqual([resuming, resuming, (
            'error', 'forwarded to default: GET /v1/AUTH_test/c/o 200 '
            'bytes_up=0 bytes_down=300 ttfb=T time=T: response body aborted: '
            'http://127.0.0.1:%d: resume at byte 300 got 200 without '
            'Content-Range (txn: txRES)'
            % self.server.port)], self.access_lines())
        self.assertPool(mw, in_use=0, idle=0, discarded=3)

    def test_resume_wrong_span(self):
        """A resume must carry exactly the bytes asked for: a 206 that
        starts right but ends short, or that starts elsewhere, is a failed
        resume, never spliced in."""
        def span(first, last):
            def script(sock, request):
                self.cut(first, last, last - first + 1,
                         '206 Partial Content')(sock, request)
                sock.read_to_eof()
            return script
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300), span(300, 999), span(200, 1023)),
            client_chunk_size='64', retries='2')
        resp = self.get(mw)
        received, err = self.read_aborted(resp, UpstreamBodyError)
        self.assertIn('resume at byte 300 got 206 bytes 200-1023/1024',
                      str(err))
        self.assertEqual(self.DATA[:300], received)
        self.assertEqual(2, self.counters(mw)['resumes'])
        # neither the short span nor the misplaced one was relayed
        self.assertEqual(['bytes=300-1023'] * 2, [
            r.header('Range') for r in self.server.requests[1:]])
        self.assertPool(mw, in_use=0, idle=0, discarded=3)

    def multipart(self, boundary, spans):
        """A multipart/byteranges body of DATA's ``spans``, as Swift
        frames it."""
        body = b''
        for first, last in spans:
            body += (b'--%s\r\nContent-Type: application/octet-stream\r\n'
                     b'Content-Range: bytes %d-%d/%d\r\n\r\n%s\r\n' % (
                         boundary, first, last, len(self.DATA),
                         self.DATA[first:last + 1]))
        return body + b'--%s--' % boundary

    def test_resume_multirange(self):
        """A multi-range GET breaks off: the same ranges are asked for
        again, pinned to the ETag; the new answer (a new boundary of the
        same length) is spliced on, boundary rewritten, so the client gets
        exactly the body it started to get."""
        spans = [(0, 99), (500, 899), (1000, 1023)]
        first = self.multipart(b'a' * 32, spans)
        second = self.multipart(b'b' * 32, spans)

        def answer(body, size, boundary):
            def script(sock, request):
                sock.sendall(response_head('206 Partial Content', [
                    ('Content-Length', len(body)), ('Etag', self.ETAG),
                    ('Content-Type', 'multipart/byteranges;boundary=%s'
                     % boundary), ('Connection', 'close')]) + body[:size])
            return script
        cuts = (50, 200, len(first) - 20, len(first) - 3)
        scripts = []
        for cut in cuts:  # connection 2n breaks off, 2n + 1 has it all
            scripts += [answer(first, cut, 'a' * 32),
                        answer(second, len(second), 'b' * 32)]
        mw = self.middleware(self.handler(*scripts), client_chunk_size='64')
        for n, cut in enumerate(cuts):
            resp = self.get(mw, {'Range': 'bytes=0-99,500-899,1000-'})
            self.assertEqual(206, resp.status_int)
            self.assertEqual(first, resp.read(), cut)
            again = self.server.requests[2 * n + 1]
            self.assertEqual('bytes=0-99,500-899,1000-', again.header('Range'))
            self.assertEqual(self.ETAG, again.header('If-Match'))
            self.assertEqual(1, again.header_names().count('range'))
        self.assertEqual(len(cuts), self.counters(mw)['resumes'])
        self.assertPool(mw, in_use=0, idle=0, discarded=2 * len(cuts))

    def test_resume_multirange_refused(self):
        """An answer that is not the same ranges (another length, no
        multipart) is never spliced on: the stream is aborted."""
        spans = [(0, 99), (500, 899)]
        first = self.multipart(b'a' * 32, spans)

        def cut(sock, request):
            sock.sendall(response_head('206 Partial Content', [
                ('Content-Length', len(first)), ('Etag', self.ETAG),
                ('Content-Type', 'multipart/byteranges; boundary="%s"'
                 % ('a' * 32))]) + first[:150])

        def other(sock, request):
            body = self.multipart(b'b' * 32, [(0, 99)])
            sock.respond(206, body, [
                ('Etag', self.ETAG), ('Content-Type',
                                      'multipart/byteranges;boundary=' +
                                      'b' * 32)])
            sock.read_to_eof()
        mw = self.middleware(self.handler(cut, other), client_chunk_size='64',
                             retries='1')
        resp = self.get(mw, {'Range': 'bytes=0-99,500-899'})
        received, err = self.read_aborted(resp, UpstreamBodyError)
        self.assertEqual(first[:150], received)
        self.assertIn('not the same ranges', str(err))
        self.assertPool(mw, in_use=0, idle=0, discarded=2)

    def test_resume_412_then_206(self):
        """One failed resume uses one retry; the next may succeed."""
        def precondition_failed(sock, request):
            sock.respond(412, b'')
            sock.read_to_eof()
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300), precondition_failed, self.rest()),
            client_chunk_size='64', retries='2')
        self.assertEqual(self.DATA, self.get(mw).read())
        self.assertEqual(2, self.counters(mw)['resumes'])

    def test_resumes_exhausted(self):
        """Every connection breaks off: after ``retries`` resumes the
        stream is aborted; all connections are dropped."""
        mw = self.middleware(self.handler(
            self.cut(0, 1023, 300),
            self.cut(300, 1023, 100, '206 Partial Content')),
            client_chunk_size='64', retries='1')
        resp = self.get(mw)
        received, _err = self.read_aborted(resp, UpstreamBodyError)
        self.assertEqual(self.DATA[:400], received)
        self.assertEqual(1, self.counters(mw)['resumes'])
        self.assertPool(mw, in_use=0, idle=0, discarded=2)

    def test_no_resume_without_etag(self):
        """Nothing to pin the object with: no resume, the stream aborts."""
        def no_etag(sock, request):
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n'
                         + self.DATA[:300])
        mw = self.middleware(self.handler(no_etag), client_chunk_size='64')
        resp = self.get(mw)
        with self.assertRaises(UpstreamBodyError):
            list(resp.body)
        resp.body.close()
        self.assertEqual(1, self.server.accepted)
        self.assertEqual(0, self.counters(mw)['resumes'])


class TestErrorLimiting(MiddlewareTestCase):

    def test_refused_target_error_limited(self):
        """After error_limit connect failures the client gets a fast 503
        with Retry-After naming the target; the counters show it."""
        sock, port = refused_port()
        self.closing(sock)
        mw = self.middleware(port=port, retries='1', error_limit='2',
                             healthcheck_path='/hc')
        resp = self.call(mw, make_env())
        self.assertEqual('503 Service Unavailable', resp.status)
        self.assertIn(b'connect failed', resp.read())
        resp = self.call(mw, make_env())
        self.assertEqual('503 Service Unavailable', resp.status)
        self.assertEqual('1', resp.header('Retry-After'))
        body = resp.read()
        self.assertIn(b'Target default: error-limited after 2 failures', body)
        self.assertNotIn(b'%d' % port, body)
        resp = self.call(mw, make_env(path='/hc'))
        self.assertEqual('503 Service Unavailable', resp.status)
        health = json.loads(resp.read())['targets']['default']
        self.assertEqual({'retries': 1, 'resumes': 0, 'etag_mismatches': 0,
                          'error_limited': 1, 'suppressions': 1,
                          'loop_refusals': 0}, health['counters'])
        self.assertEqual((True, False),
                         (health['error_limited'], health['reachable']))
        line = ('forwarded to default: GET /v1/AUTH_test/c/o 503 bytes_up=0 '
                'bytes_down=0 ttfb=- time=T: http://127.0.0.1:%d: ' % port)
        self.assertEqual([
            ('error', line + 'connect failed: Connection refused'),
            ('error', line + 'error-limited after 2 failures in 60s; '
             'retrying in 60s')], self.access_lines())


class TestRefusals(MiddlewareTestCase):
    """The forwarder's own refusals: nothing goes upstream."""

    def test_refused_before_upstream(self):
        mw = self.middleware(keep_alive_handler())
        for env, status, text in (
                (make_env('PUT', body=b'12345', headers={
                    'Expect': '200-ok'}), 417, "Expectation '200-ok'"),
                (make_env(path='/v1/AUTH_a/c/../o'), 400, "'..' segments"),
                (make_env(path='/v1/AUTH_a/%2e/o'), 400, "'..' segments"),
                (make_env('PUT', body=b'12345', headers={
                    'Transfer-Encoding': 'chunked'}), 400,
                 'Content-Length and Transfer-Encoding')):
            resp = self.call(mw, env)
            self.assertEqual(status, resp.status_int)
            self.assertIn(text, resp.read().decode('utf-8'))
        self.assertEqual(0, self.server.accepted)
        self.assertEqual([], self.app.calls)


class TestFilterFactory(unittest.TestCase):
    """Startup through paste.deploy (Swift's logger: no socket checks)."""

    def test_paste_style_call(self):
        """filter_factory(global_conf, **local_conf)(app), as paste calls
        it; [DEFAULT] options such as user are not refused."""
        factory = filter_factory({'__file__': '/etc/swift/proxy.conf',
                                  'here': '/etc/swift', 'user': 'swift'},
                                 target_url='http://127.0.0.1:1',
                                 pool_size='7', log_name='fwd')
        app = FakeApp()
        mw = factory(app)
        self.assertIsInstance(mw, ForwarderMiddleware)
        self.assertIs(app, mw.app)
        self.assertEqual(7, mw.conf.pool_size)
        self.assertEqual(7, mw.targets['default'].pool.maxsize)
        self.assertEqual('127.0.0.1:1', mw.targets['default'].netloc)

    def registry(self):
        """Swift's /info registry, emptied for this test and restored."""
        from swift.common import registry
        for info in (registry._swift_info, registry._swift_admin_info):
            patcher = mock.patch.dict(info, clear=True)
            patcher.start()
            self.addCleanup(patcher.stop)
        return registry

    def test_register_info(self):
        """The filter shows in /info: its version, the target names and
        the non-secret options; the target URLs only in the admin section.
        No credential, user or address is public."""
        registry = self.registry()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'targets.conf')
            with open(path, 'w') as fp:
                fp.write('[target:east]\n'
                         'target_url = https://east.example.com:8443\n'
                         'forward = AUTH_e\n'
                         'auth_key = EAST-SECRET-KEY\n')
            filter_factory(
                {'user': 'swift'}, target_url='http://127.0.0.1:1',
                targets_conf=path, auth_mode='service',
                auth_url='http://127.0.0.1:1/auth/v1.0',
                auth_user='svc:forwarder', auth_key='SECRET-KEY-77',
                account_map='AUTH_local:AUTH_remote', pool_size='7',
                etag_mismatch_policy='log')(FakeApp())
        info = registry.get_swift_info(admin=True)
        public = info['forwarder']
        self.assertEqual({'version', 'targets'} | set(INFO_OPTIONS),
                         set(public))
        self.assertEqual({
            'version': __version__, 'targets': ['default', 'east'],
            'auth_mode': 'service', 'forward_auth': False,
            'container_opt_in': False, 'max_hops': 3,
            'etag_mismatch_policy': 'log', 'pool_size': 7,
            'pool_timeout': 30.0, 'conn_timeout': 0.5, 'node_timeout': 60.0,
            'client_timeout': 60.0, 'retries': 2, 'client_chunk_size': 65536,
        }, {key: public[key] for key in (
            'version', 'targets', 'auth_mode', 'forward_auth',
            'container_opt_in', 'max_hops', 'etag_mismatch_policy',
            'pool_size', 'pool_timeout', 'conn_timeout', 'node_timeout',
            'client_timeout', 'retries', 'client_chunk_size')})
        for name in INFO_OPTIONS:  # never a credential, account or address
            self.assertFalse(name.startswith(('auth_', 'os_')) and
                             name != 'auth_mode', name)
            self.assertNotIn(name, ('account_map', 'target_url',
                                    'targets_conf', 'cert_file', 'key_file',
                                    'ca_certs', 'forward', 'forwarder_id'))
        self.assertEqual({'target_urls': {
            'default': 'http://127.0.0.1:1',
            'east': 'https://east.example.com:8443'}},
            info['admin']['forwarder'])
        everything = json.dumps(info)  # what /info can show at all
        for secret in ('SECRET-KEY-77', 'EAST-SECRET-KEY', 'svc:forwarder',
                       '/auth/v1.0', 'AUTH_local', 'AUTH_remote'):
            self.assertNotIn(secret, everything)
        public_json = json.dumps(registry.get_swift_info())
        for address in ('127.0.0.1', 'east.example.com'):
            self.assertNotIn(address, public_json)

    def test_no_register_info_without_swift(self):
        """Where Swift cannot be imported, nothing is registered (and
        nothing fails)."""
        import swift_forwarder.middleware as middleware
        registry = self.registry()
        with mock.patch.object(middleware, 'register_swift_info', None):
            mw = filter_factory({}, target_url='http://127.0.0.1:1')(
                FakeApp())
        self.assertIsInstance(mw, ForwarderMiddleware)
        self.assertEqual({}, registry.get_swift_info())

    def test_unknown_option(self):
        """An unknown option fails at startup, naming it."""
        with self.assertRaises(ConfigError) as caught:
            filter_factory({'user': 'swift'}, target_url='http://t',
                           pool_sizee='7')
        self.assertIn('unknown option(s): pool_sizee', str(caught.exception))

    def loadapp(self, filter_options):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'proxy-server.conf')
            with open(path, 'w') as fp:
                fp.write(textwrap.dedent('''\
                    [DEFAULT]
                    user = swift
                    log_name = proxy

                    [pipeline:main]
                    pipeline = forwarder app

                    [filter:forwarder]
                    use = egg:swift_forwarder#forwarder
                    ''') + filter_options + textwrap.dedent('''

                    [app:app]
                    use = call:test.unit.helpers:app_factory
                    '''))
            return loadapp('config:' + path)

    def test_paste_deploy_pipeline(self):
        """The egg entry point loads in a real paste.deploy pipeline."""
        app = self.loadapp('target_url = http://127.0.0.1:1\n'
                           'forward = AUTH_a\n')
        self.assertIsInstance(app, ForwarderMiddleware)
        self.assertIsInstance(app.app, FakeApp)
        self.assertEqual('AUTH_a', app.conf.forward[0].account)

    def test_swift_loadapp(self):
        """Swift's own loadapp (which adds ``__name__`` to each section's
        options) loads the filter."""
        from swift.common import wsgi
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'proxy-server.conf')
            with open(path, 'w') as fp:
                fp.write(textwrap.dedent('''\
                    [DEFAULT]
                    user = swift

                    [pipeline:main]
                    pipeline = forwarder app

                    [filter:forwarder]
                    use = egg:swift_forwarder#forwarder
                    target_url = http://127.0.0.1:1

                    [app:app]
                    use = call:test.unit.helpers:app_factory
                    '''))
            app = wsgi.loadapp(path)
        self.assertIsInstance(app, ForwarderMiddleware)

    def test_paste_deploy_unknown_option(self):
        """An unknown option in the filter section stops loadapp."""
        with self.assertRaises(ConfigError) as caught:
            self.loadapp('target_url = http://127.0.0.1:1\n'
                         'node_timout = 5\n')
        self.assertIn('node_timout', str(caught.exception))

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.middleware, over real loopback sockets.

The test plays the WSGI server (:class:`LeakTracker`): every body the
middleware returns must be closed, and the pool must end with nothing in
use, or the test fails.
"""

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
from swift_forwarder.exceptions import ConfigError, UpstreamBodyError
from swift_forwarder.integrity import READ_AHEAD
from swift_forwarder.iterators import ResponseBody
from swift_forwarder.middleware import INFO_OPTIONS, ForwarderMiddleware, \
    filter_factory

from test.unit.helpers import RESUMED_DATA, FakeApp, MiddlewareTestCase, \
    SpyInput, keep_alive_handler, make_env, refused_port, \
    resume_and_mismatch_handler


#: The figures of an access line that vary from run to run.


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
        anything: the connection is back in the pool already.  Its line is
        logged when the server closes the body, after the client got it."""
        mw = self.middleware(keep_alive_handler(b'x' * 64),
                             client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertIsInstance(resp.inner, list)
        self.assertEqual({'in_use': 0, 'idle': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle')})
        self.assertEqual([b'x' * 64], list(resp.body))
        self.assertEqual([], self.access_lines())
        resp.body.close()
        expected = [('info', 'forwarded to default: GET /v1/AUTH_test/c/o 200 '
                     'bytes_up=0 bytes_down=64 ttfb=T time=T')]
        self.assertEqual(expected, self.access_lines())
        resp.body.close()  # once
        self.assertEqual(expected, self.access_lines())

    def test_start_response_fails(self):
        """When the response head cannot be started (start_response raises),
        the connection is freed and the request still gets its log line, a
        short body (read whole already) as a streamed one."""
        def refusing(status, headers, exc_info=None):
            raise ValueError('head refused')
        for size, outcome in ((64, ''), (5000, ': client closed the response '
                                         'early; upstream connection closed')):
            mw = self.middleware(keep_alive_handler(b'x' * size),
                                 client_chunk_size='64')
            del self.logger.lines[:]
            with self.assertRaises(ValueError):
                mw(make_env(), refusing)
            self.assertEqual([('info', 'forwarded to default: GET '
                               '/v1/AUTH_test/c/o 200 bytes_up=0 '
                               'bytes_down=%d ttfb=T time=T%s' % (
                                   size if size == 64 else 0, outcome))],
                             self.access_lines(), size)
            self.assertEqual(0, mw.targets['default'].pool.in_use)

    def test_big_body_streamed(self):
        """A longer body streams in chunks (what has arrived, up to
        READ_AHEAD client_chunk_size at a time); the connection is released
        at the last byte."""
        data = os.urandom(1000 * READ_AHEAD)
        mw = self.middleware(keep_alive_handler(data),
                             client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertIsInstance(resp.inner, ResponseBody)
        self.assertEqual(1, mw.targets['default'].pool.in_use)
        chunks = list(resp.body)
        self.assertTrue(all(len(chunk) <= 64 * READ_AHEAD for chunk in chunks))
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
            sock.respond(200, b'y' * 5000)
            seen.append(sock.read_to_eof())
        mw = self.middleware(handler, client_chunk_size='64')
        resp = self.call(mw, make_env(**{'swift.trans_id': 'txGONE'}))
        self.assertEqual(64 * READ_AHEAD, len(next(resp.body)))
        resp.body.close()
        self.assertEqual({'in_use': 0, 'idle': 0, 'discarded': 1}, {
            k: mw.targets['default'].pool.stats()[k] for k in ('in_use', 'idle', 'discarded')})
        self.server.wait(timeout=1)
        self.assertEqual([b''], seen)
        self.assertEqual([('info', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=%d '
                           'ttfb=T time=T: client closed the response early; '
                           'upstream connection closed (txn: txGONE)'
                           % (64 * READ_AHEAD))], self.access_lines())

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


class TestGateway(MiddlewareTestCase):
    """forward_auth (the gateway placement): the target answers every path
    under /v1, /info and auth, however malformed; /info shows the
    target's sections and this filter's own."""

    INFO = {'swift': {'version': '2.38.3'}, 'tempauth': {}}

    def handler(self, sock):
        while True:
            request = sock.read_head()
            if request is None:
                return
            self.seen.append(request.target)
            body = json.dumps(self.INFO).encode() \
                if request.target == '/info' else b'target'
            sock.respond(200, body, [('Content-Type', 'application/json')])

    def setUp(self):
        super().setUp()
        self.seen = []

    def test_malformed_paths_go_to_the_target(self):
        mw = self.middleware(self.handler, forward_auth='true')
        for path, target in (('/v1', '/v1'), ('/v1/', '/v1/'),
                             ('/v1//c/o', '/v1//c/o'),
                             ('/v1///o', '/v1///o'),
                             ('/v1/a//o', '/v1/a//o'),
                             ('//v1/AUTH_a', '//v1/AUTH_a'), ('/', '/'),
                             ('/info%20asdf', '/info%20asdf')):
            self.assertEqual(b'target', self.call(mw, make_env(
                path=path)).read(), path)
            self.assertEqual(target, self.seen[-1])
        self.assertEqual([], self.app.calls)

    def test_malformed_paths_stay_local_without_forward_auth(self):
        """Federation (and core) placement: as before, the local pipeline
        answers them."""
        mw = self.middleware(self.handler)
        for path in ('/v1', '/v1/', '/v1//c/o', '/info', '/info%20asdf'):
            self.assertEqual(b'local response', self.call(mw, make_env(
                path=path)).read(), path)
        self.assertEqual([], self.seen)

    def test_info_has_the_forwarder_section(self):
        mw = self.middleware(self.handler, forward_auth='true')
        resp = self.call(mw, make_env(path='/info'))
        body = resp.read()
        info = json.loads(body)
        self.assertEqual(self.INFO['swift'], info['swift'])
        self.assertEqual({}, info['tempauth'])
        self.assertEqual(['default'], info['forwarder']['targets'])
        self.assertEqual(__version__, info['forwarder']['version'])
        self.assertIs(True, info['forwarder']['forward_auth'])
        self.assertEqual(set(INFO_OPTIONS) | {'version', 'targets'},
                         set(info['forwarder']))
        self.assertEqual(str(len(body)), resp.header('Content-Length'))
        self.assertEqual(['/info'], self.seen)


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
        two_lengths = self.env('PUT', headers={'Content-Length': '5'},
                               body=b'hello')
        two_lengths['headers_raw'] = (('Content-Length', '5'),
                                      ('Content-Length', '50'))
        cases = [
            (self.env(headers={'X-Object-Meta-A': 'x\r\nX-Evil: 1'}),
             '400 Bad Request', 'Invalid character in header '
             'X-Object-Meta-A'),
            (self.env(headers={'X-Object-Meta-A': 'a\x01\x7fb'}),
             '400 Bad Request', 'Invalid character in header '
             'X-Object-Meta-A'),
            (self.env('PUT', headers={'Content-Length': '-5'}),
             '400 Bad Request', "Invalid Content-Length '-5'"),
            (self.env('PUT', headers={'Content-Length': '5',
                                      'Transfer-Encoding': 'chunked'}),
             '400 Bad Request', 'Content-Length and Transfer-Encoding'),
            (two_lengths, '400 Bad Request',
             'Content-Length given twice with different values'),
        ]
        for env, status, text in cases:
            self.assertError(self.call(mw, env), status, text)
        line = ('forwarded to default: %s %s %d bytes_up=0 bytes_down=0 '
                'ttfb=- time=T: %s (txn: txERR)')
        self.assertEqual([  # 4xx: info
            ('info', line % ('GET', '/v1/AUTH_test/c/o', 400,
                             'Invalid character in header X-Object-Meta-A')),
            ('info', line % ('GET', '/v1/AUTH_test/c/o', 400,
                             'Invalid character in header X-Object-Meta-A')),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             "Invalid Content-Length '-5'")),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             'Content-Length and Transfer-Encoding are both '
                             'set')),
            ('info', line % ('PUT', '/v1/AUTH_test/c/o', 400,
                             'Content-Length given twice with different '
                             'values')),
        ], self.access_lines())
        self.assertEqual(0, self.server.accepted)
        self.assertEqual([], self.app.calls)

    def test_swift_answers_byte_for_byte(self):
        """Where Swift itself refuses the request, the answer is Swift's
        to the byte: status, body (no newline added) and Content-Type."""
        mw = self.middleware(keep_alive_handler())
        utf8 = (412, b'Invalid UTF8 or contains NULL',
                'text/html; charset=UTF-8')
        for env, (status, body, content_type) in (
                (self.env(path='/v1/AUTH_a/c/%00'), utf8),
                (self.env(path='/v1/AUTH_a/c/%FF'), utf8),
                (self.env('PUT', headers={'Transfer-Encoding': 'gzip'}),
                 (400, b'Invalid Transfer-Encoding header value',
                  'text/plain')),
                (self.env('PUT', headers={'Transfer-Encoding':
                                          'gzip,chunked'}),
                 (501, b'Unsupported Transfer-Coding header value '
                  b'specified in Transfer-Encoding header', 'text/plain'))):
            resp = self.call(mw, env)
            self.assertEqual((status, body, content_type, str(len(body))), (
                resp.status_int, resp.read(), resp.header('Content-Type'),
                resp.header('Content-Length')))
        self.assertEqual([412, 412, 400, 501], [
            int(re.search(r' (\d{3}) bytes_up', text).group(1))
            for _level, text in self.access_lines()])
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
        the probe still gives up after conn_timeout + node_timeout (never
        sooner: a timeout does not fire early), long before the trickle
        ends."""
        trickle = {'lines': 0, 'hung_up': False}

        def handler(sock):
            sock.read_head()
            try:
                sock.sendall(b'HTTP/1.1 200 OK\r\n')
                for _ in range(200):  # 10 s
                    eventlet.sleep(0.05)
                    sock.sendall(b'X-Slow: 1\r\n')
                    trickle['lines'] += 1
            except OSError:
                trickle['hung_up'] = True  # the probe hung up
        mw = self.middleware(handler, healthcheck_path='/hc',
                             conn_timeout='0.1', node_timeout='0.5')
        started = time.monotonic()
        status, health = self.healthcheck(mw)
        elapsed = time.monotonic() - started
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual('timed out', health['targets']['default']['error'])
        self.assertGreaterEqual(elapsed, 0.6)
        for _ in range(100):  # the handler sees the hang-up at its next send
            if trickle['hung_up']:
                break
            eventlet.sleep(0.05)
        self.assertTrue(trickle['hung_up'])
        self.assertLess(trickle['lines'], 100)

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
        three: the three probes are all waiting at the same time."""
        waiting, most = [0], [0]

        def handler(sock):
            sock.read_head()
            waiting[0] += 1
            most[0] = max(most[0], waiting[0])
            try:
                sock.read_to_eof()
            finally:
                waiting[0] -= 1
        server = self.start_server(handler)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'targets.conf')
            with open(path, 'w') as fp:
                for name in ('east', 'west'):
                    fp.write('[target:%s]\ntarget_url = http://127.0.0.1:%d\n'
                             % (name, server.port))
            mw = self.middleware(port=server.port, targets_conf=path,
                                 node_timeout='0.3', healthcheck_path='/hc')
        status, health = self.healthcheck(mw)
        self.assertEqual('503 Service Unavailable', status)
        self.assertEqual({'default': 'timed out', 'east': 'timed out',
                          'west': 'timed out'}, {
            name: target['error'] for name, target in health['targets'].items()})
        self.assertEqual(3, most[0])

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


class TestRoutingToTargets(MiddlewareTestCase):
    """The middleware with several targets (scripted servers)."""

    def test_rules_pick_the_target(self):
        """Each request goes to the first target whose rules match, over
        that target's own pool; the rest stays local."""
        other = self.start_server(keep_alive_handler(b'from other'))
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, 't.conf')
        with open(path, 'w') as f:
            f.write('[target:other]\ntarget_url = http://127.0.0.1:%d\n'
                    'forward = AUTH_b\n' % other.port)
        mw = self.middleware(keep_alive_handler(b'from default'),
                             forward='AUTH_a', targets_conf=path)
        self.addCleanup(mw.targets['other'].pool.close)
        for account, expected in (('AUTH_a', b'from default'),
                                  ('AUTH_b', b'from other'),
                                  ('AUTH_c', b'local response')):
            resp = self.call(mw, make_env(path='/v1/%s/c/o' % account))
            self.assertEqual(expected, resp.read())
        self.assertEqual((1, 1), (self.server.accepted, other.accepted))
        self.assertEqual(1, len(self.app.calls))

    def test_opt_in(self):
        """container_opt_in: the local container's Forward-To metadata
        routes object requests; setting an unknown name is refused."""
        import swift_forwarder.middleware as middleware
        infos = {'/v1/AUTH_x/optin': {'meta': {'forward-to': 'default'}}}

        lookups = []

        def fake_info(env, app, swift_source=None):
            path = '/'.join(env['PATH_INFO'].split('/')[:4])
            lookups.append(path)
            return dict(infos.get(path, {}), status=200 if path in infos
                        else 404)
        original = middleware.get_container_info
        middleware.get_container_info = fake_info
        self.addCleanup(setattr, middleware, 'get_container_info', original)
        mw = self.middleware(keep_alive_handler(b'remote'), forward='AUTH_z',
                             container_opt_in='true')
        self.assertEqual(b'remote', self.call(mw, make_env(
            path='/v1/AUTH_x/optin/o')).read())
        self.assertEqual(b'local response', self.call(mw, make_env(
            path='/v1/AUTH_x/other/o')).read())
        self.assertEqual(b'local response', self.call(mw, make_env(
            'HEAD', path='/v1/AUTH_x/optin')).read())
        resp = self.call(mw, make_env('POST', path='/v1/AUTH_x/new', headers={
            'X-Container-Meta-Forward-To': 'nowhere'}))
        self.assertEqual(400, resp.status_int)
        self.assertIn(b"no target named 'nowhere'", resp.read())
        resp = self.call(mw, make_env('POST', path='/v1/AUTH_x/new', headers={
            'X-Container-Meta-Forward-To': 'default'}))
        self.assertEqual(b'local response', resp.read())
        self.assertEqual(1, self.server.accepted)

        # cached: more object requests cost no more container lookups
        lookups[:] = []
        for _ in range(3):
            self.assertEqual(b'remote', self.call(mw, make_env(
                path='/v1/AUTH_x/optin/o')).read())
            self.assertEqual(b'local response', self.call(mw, make_env(
                path='/v1/AUTH_x/other/o')).read())
        self.assertEqual([], lookups)
        # ...until the container is changed through this worker, or the
        # cache time has passed
        infos['/v1/AUTH_x/other'] = {'meta': {'forward-to': 'default'}}
        self.call(mw, make_env('POST', path='/v1/AUTH_x/other')).read()
        self.assertEqual(b'remote', self.call(mw, make_env(
            path='/v1/AUTH_x/other/o')).read())
        self.assertEqual(['/v1/AUTH_x/other'], lookups)
        del infos['/v1/AUTH_x/optin']
        with mock.patch.object(middleware.time, 'monotonic',
                               return_value=time.monotonic() + 10.5):
            self.assertEqual(b'local response', self.call(mw, make_env(
                path='/v1/AUTH_x/optin/o')).read())
        self.assertEqual(['/v1/AUTH_x/other', '/v1/AUTH_x/optin'], lookups)


class TestInfoRequests(MiddlewareTestCase):
    """Core placement: Swift's get_container_info() skips to the
    pipeline's request-logging proxy-logging in front of proxy-server; the
    forwarder puts itself behind it, as Swift's loadapp hands it over."""

    class Logging(object):
        def __init__(self, app):
            self.app = app

    def mw(self):
        return self.middleware(port=9)  # never connected to

    def test_right_before_proxy_server(self):
        mw = self.mw()
        with self.assertRaises(AttributeError):  # as for an unloaded app
            mw._pipeline_request_logging_app
        logging_app = self.Logging(self.app)
        mw._pipeline_request_logging_app = logging_app
        self.assertIs(mw, logging_app.app)
        self.assertIs(logging_app, mw._pipeline_request_logging_app)

    def test_elsewhere_untouched(self):
        """Not right before proxy-server (the gateway and federation
        placements), or no proxy-logging: nothing changes."""
        mw = self.mw()
        logging_app = self.Logging(FakeApp())
        for value in (logging_app, self.app):
            mw._pipeline_request_logging_app = value
            self.assertIs(value, mw._pipeline_request_logging_app)
        self.assertIsNot(mw, logging_app.app)

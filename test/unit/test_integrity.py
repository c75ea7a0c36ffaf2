# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.integrity: ETag checks, resumes, the PUT policy."""

import os
import unittest

from swift_forwarder import integrity
from swift_forwarder.exceptions import EtagMismatch, UpstreamBodyError
from swift_forwarder.integrity import READ_AHEAD, SplicedResponse
from swift_forwarder.paths import RequestPath

from test.unit.helpers import WRONG_ETAG, MiddlewareTestCase, \
    keep_alive_handler, make_env, md5_hex, put_handler, response_head, \
    serving


MD5 = '0123456789abcdef0123456789abcdef'


class FakeResponse(object):
    """What routing reads of an upstream response: status and headers."""

    def __init__(self, status=200, headers=()):
        self.status = status
        self.headers = dict((name.lower(), value) for name, value in headers)

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class TestPutEtagCheckable(unittest.TestCase):
    """Is the target's ETag the MD5 of the bytes a PUT sends?"""

    def checkable(self, method='PUT', path='/v1/AUTH_a/c/o', **kwargs):
        env = make_env(method, path, **kwargs)
        return integrity.put_etag_checkable(env, RequestPath.from_environ(env))

    def test_object_put(self):
        """A plain object PUT, names with slashes and unicode included."""
        for path in ('/v1/AUTH_a/c/o', '/v1/AUTH_a/c/d/e/f',
                     '/v1/AUTH_a/c/caf%C3%A9', '/v1/AUTH_a/c/a%2Fb'):
            self.assertTrue(self.checkable(path=path), path)
        self.assertTrue(self.checkable(headers={
            'Transfer-Encoding': 'chunked', 'X-Object-Meta-A': 'b'}))
        self.assertTrue(self.checkable(query='x=1'))

    def test_not_an_object(self):
        """Account and container PUTs, and other methods: no."""
        for path in ('/v1/AUTH_a', '/v1/AUTH_a/c', '/v1/AUTH_a/c/',
                     '/v1//c/o', '/v2/AUTH_a/c/o', '/info'):
            self.assertFalse(self.checkable(path=path), path)
        for method in ('POST', 'GET', 'COPY', 'DELETE'):
            self.assertFalse(self.checkable(method), method)

    def test_etag_not_the_body_md5(self):
        """SLO manifests, copies, symlinks, and PUTs whose ETag the client
        supplied (the target checks that one itself): no."""
        self.assertFalse(self.checkable(query='multipart-manifest=put'))
        self.assertFalse(self.checkable(
            query='heartbeat=on&multipart-manifest=put'))
        self.assertFalse(self.checkable(headers={'X-Copy-From': 'c/src'}))
        self.assertFalse(self.checkable(headers={
            'X-Symlink-Target': 'c/target'}))
        self.assertFalse(self.checkable(headers={'Etag': MD5}))


class TestBodyEtag(unittest.TestCase):
    """The MD5 a GET response body must have, or None."""

    def etag(self, status=200, headers=(('Etag', MD5),), method='GET',
             target='/v1/AUTH_a/c/o'):
        return integrity.body_etag(method, RequestPath.of(target),
                                   FakeResponse(status, headers))

    def test_plain_object(self):
        """A whole (200) plain object with an MD5 ETag, quoted or not."""
        self.assertEqual(MD5, self.etag())
        self.assertEqual(MD5, self.etag(headers=[('Etag', '"%s"' % MD5)]))
        self.assertEqual(MD5, self.etag(target='/v1/AUTH_a/c/a%2Fb?x=1'))

    def test_not_checkable(self):
        """206, other statuses, HEAD, SLO and DLO, ETags that are not an
        MD5, no ETag, and containers: None."""
        cases = {
            'partial': self.etag(206, [('Etag', MD5), (
                'Content-Range', 'bytes 0-9/100')]),
            '304': self.etag(304),
            '404': self.etag(404),
            'head': self.etag(method='HEAD'),
            'slo': self.etag(headers=[('Etag', MD5), (
                'X-Static-Large-Object', 'True')]),
            'dlo': self.etag(headers=[('Etag', MD5), (
                'X-Object-Manifest', 'c/seg_')]),
            'short': self.etag(headers=[('Etag', 'abc')]),
            'upper': self.etag(headers=[('Etag', MD5.upper())]),
            'not hex': self.etag(headers=[('Etag', 'g' * 32)]),
            'slo-etag': self.etag(headers=[('Etag', '"%s-3"' % MD5)]),
            'none': self.etag(headers=[]),
            'container': self.etag(target='/v1/AUTH_a/c'),
            'container/': self.etag(target='/v1/AUTH_a/c/'),
            'account': self.etag(target='/v1/AUTH_a'),
        }
        self.assertEqual(dict.fromkeys(cases), cases)


class TestResumableSpan(unittest.TestCase):
    """Which bytes a GET response carries, to ask for the rest."""

    def span(self, status=200, headers=(), method='GET'):
        return integrity.resumable_span(method, FakeResponse(status, headers))

    def test_whole_body(self):
        """200: from byte 0 to Content-Length - 1, or to the end."""
        self.assertEqual((0, 999, '"%s"' % MD5), self.span(headers=[
            ('Etag', '"%s"' % MD5), ('Content-Length', '1000')]))
        self.assertEqual((0, None, MD5), self.span(headers=[('Etag', MD5)]))
        self.assertEqual((0, None, MD5), self.span(headers=[
            ('Etag', MD5), ('Content-Length', 'x')]))

    def test_single_range(self):
        """206 with one Content-Range: that span."""
        self.assertEqual((100, 199, MD5), self.span(206, [
            ('Etag', MD5), ('Content-Range', 'bytes 100-199/1000'),
            ('Content-Length', '100')]))
        self.assertEqual((5, 9, MD5), self.span(206, [
            ('Etag', MD5), ('Content-Range', 'bytes 5-9/*')]))

    def test_odd_digits(self):
        """A Content-Length or Content-Range of digits int() does not
        take ('\u00b2') is no length, not an exception."""
        self.assertEqual((0, None, MD5), self.span(headers=[
            ('Etag', MD5), ('Content-Length', '\u00b2')]))
        self.assertIsNone(self.span(206, [
            ('Etag', MD5), ('Content-Range', 'bytes 0-\u00b2/9')]))

    def test_not_resumable(self):
        """No ETag to pin, multipart ranges, other statuses, HEAD: None."""
        cases = {
            'no etag': self.span(headers=[('Content-Length', '10')]),
            'empty etag': self.span(headers=[('Etag', '')]),
            'multipart': self.span(206, [
                ('Etag', MD5), ('Content-Type',
                                'multipart/byteranges; boundary=x')]),
            'bad range': self.span(206, [
                ('Etag', MD5), ('Content-Range', 'bytes */1000')]),
            'other unit': self.span(206, [
                ('Etag', MD5), ('Content-Range', 'items 1-2/5')]),
            '404': self.span(404, [('Etag', MD5)]),
            'head': self.span(headers=[('Etag', MD5)], method='HEAD'),
        }
        self.assertEqual(dict.fromkeys(cases), cases)


class TestContentRange(unittest.TestCase):
    """The span of a single-range 206."""

    def span(self, status, headers):
        return integrity.content_range(FakeResponse(status, headers))

    def test_span(self):
        self.assertEqual((140, 199), self.span(206, [
            ('Content-Range', 'bytes 140-199/1000')]))
        self.assertEqual((0, 0), self.span(206, [
            ('Content-Range', 'bytes 0-0/1')]))
        self.assertEqual((5, 9), self.span(206, [
            ('Content-Range', 'bytes 5-9/*')]))

    def test_none(self):
        """Not a 206, no or a malformed Content-Range: None."""
        for status, headers in (
                (200, [('Content-Range', 'bytes 140-199/1000')]),
                (200, []), (412, []), (206, []),
                (206, [('Content-Type', 'multipart/byteranges')]),
                (206, [('Content-Range', 'bytes 140-/1000')]),
                (206, [('Content-Range', 'bytes -5-10/1000')]),
                (206, [('Content-Range', 'bytes=140-199/1000')])):
            self.assertIsNone(self.span(status, headers),
                              (status, headers))


class TestDroppedHeaders(unittest.TestCase):
    """Headers a resume or a raise_and_delete DELETE leaves out."""

    def test_resume_sets_its_own_conditions(self):
        for name in ('range', 'if-match', 'if-none-match', 'if-range',
                     'if-modified-since', 'if-unmodified-since'):
            self.assertIn(name, integrity.RESUME_DROPPED)
        self.assertNotIn('x-auth-token', integrity.RESUME_DROPPED)

    def test_delete_has_no_body_nor_conditions(self):
        for name in ('content-length', 'transfer-encoding', 'expect', 'etag',
                     'content-type', 'x-delete-at', 'x-delete-after',
                     'if-none-match', 'range'):
            self.assertIn(name, integrity.DELETE_DROPPED)
        for name in ('x-auth-token', 'host', 'x-forwarder-hops'):
            self.assertNotIn(name, integrity.DELETE_DROPPED)


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
        chunk = 64 * READ_AHEAD  # what each read takes, all there at once
        data = os.urandom(chunk * 2 + 952)
        mw = self.middleware(keep_alive_handler(
            data, headers=[('Etag', WRONG_ETAG)]), client_chunk_size='64')
        resp = self.call(mw, make_env())
        self.assertEqual('200 OK', resp.status)
        received, _err = self.read_aborted(resp, EtagMismatch)
        self.assertEqual(data[:chunk * 2], received)
        self.assertEqual(1, self.counters(mw)['etag_mismatches'])
        self.assertEqual([('error', 'forwarded to default: GET '
                           '/v1/AUTH_test/c/o 200 bytes_up=0 bytes_down=%d '
                           'ttfb=T time=T: response body aborted: '
                           'http://127.0.0.1:%d: ETag mismatch: body MD5 %s, '
                           'ETag %s; stream aborted' % (
                               chunk * 2, self.server.port, md5_hex(data),
                               WRONG_ETAG))],
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


class Pieces(object):
    """A response whose read1() hands out ``data`` in pieces of the given
    sizes (cycled), then b''."""

    def __init__(self, data, sizes):
        self.data, self.sizes, self.n = data, sizes, 0
        self.closed = False

    def read1(self, size):
        piece = min(self.sizes[self.n % len(self.sizes)], size)
        self.n += 1
        chunk, self.data = self.data[:piece], self.data[piece:]
        return chunk

    def complete(self):
        return not self.data

    def close(self):
        self.closed = True


class TestSplicedResponse(unittest.TestCase):
    """The second answer to a multi-range GET, made to continue the first:
    its boundary rewritten to the first's, its first bytes skipped."""

    ORIGINAL = b'--AAAA\r\npart one\r\n--AAAA\r\npart two\r\n--AAAA--'
    AGAIN = ORIGINAL.replace(b'AAAA', b'BBBB')

    def read_all(self, resp):
        out = b''
        while True:
            chunk = resp.read1(5)
            if not chunk:
                return out
            out += chunk

    def test_boundaries_across_pieces(self):
        for sizes in ([1], [2, 3], [7], [4, 1, 9], [100]):
            for skip in (0, 1, 5, 17, len(self.ORIGINAL) - 1,
                         len(self.ORIGINAL)):
                resp = SplicedResponse(Pieces(self.AGAIN, sizes), b'BBBB',
                                       b'AAAA', skip)
                self.assertFalse(resp.complete())
                self.assertEqual(self.ORIGINAL[skip:], self.read_all(resp),
                                 (sizes, skip))
                self.assertTrue(resp.complete())

    def test_the_rest_is_the_wrapped_response(self):
        inner = Pieces(self.AGAIN, [3])
        resp = SplicedResponse(inner, b'BBBB', b'AAAA', 0)
        resp.close()
        self.assertTrue(inner.closed)
        self.assertRaises(ValueError, SplicedResponse, inner, b'BBB',
                          b'AAAA', 0)


#: Swift's own bodies for these answers.
PRECONDITION_BODY = b'<html><h1>Precondition Failed</h1><p>A precondition ' \
    b'for this request was not met.</p></html>'
NOT_FOUND_BODY = b'<html><h1>Not Found</h1><p>The resource could not be ' \
    b'found.</p></html>'

#: path -> (status, reason, body) answered by the scripted target.
ANSWERS = {
    '/v1/AUTH_test/c/changed': (412, 'Precondition Failed',
                                PRECONDITION_BODY),
    '/v1/AUTH_test/c/missing': (404, 'Not Found', NOT_FOUND_BODY),
    '/v1/AUTH_test/c/changed-empty': (412, 'Precondition Failed', b''),
}


def answer_by_path(sock, request):
    status, reason, body = ANSWERS[request.path]
    sock.respond(status, body, [('Content-Type', 'text/html; charset=UTF-8'),
                                ('X-Trans-Id', 'txTARGET')], reason=reason)


class TestShortErrorBodyReleased(MiddlewareTestCase):

    def released_before_read(self, mw, path, headers, status, body):
        """GET ``path``: the answer is ``status`` with ``body``, already read
        whole and its connection idle before the client touches the body;
        then the client reads it all."""
        resp = self.call(mw, make_env('GET', path, headers=headers))
        self.assertEqual(status, resp.status_int)
        self.assertEqual(str(len(body)), resp.header('Content-Length'))
        # nothing read or closed by the client yet ...
        self.assertFalse(resp.body.closed)
        # ... and the connection is back in the pool, the body in memory
        self.assertPool(mw, in_use=0, idle=1, discarded=0)
        self.assertEqual([body], resp.inner)
        self.assertEqual(body, resp.read())
        self.assertPool(mw, in_use=0, idle=1, discarded=0)

    def test_412_and_404_short_bodies(self):
        """A failed If-Match (412) and a missing object (404): each short
        body is read at once and the one connection serves them all."""
        mw = self.middleware(serving(answer_by_path), pool_size='1')
        self.released_before_read(
            mw, '/v1/AUTH_test/c/changed', {'If-Match': '"nomatch"'}, 412,
            PRECONDITION_BODY)
        self.released_before_read(
            mw, '/v1/AUTH_test/c/missing', {}, 404, NOT_FOUND_BODY)
        self.released_before_read(
            mw, '/v1/AUTH_test/c/changed-empty',
            {'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT'}, 412,
            b'')
        self.assertEqual(1, self.server.accepted)
        self.assertEqual(['"nomatch"', None,
                          'Thu, 01 Jan 1970 00:00:00 GMT'],
                         [request.header('If-Match') or
                          request.header('If-Unmodified-Since')
                          for request in self.server.requests])
        self.assertPool(mw, created=1, reused=2, discarded=0)

    def test_body_of_client_chunk_size_still_read_at_once(self):
        """A 404 body exactly client_chunk_size long is still short."""
        mw = self.middleware(serving(answer_by_path), pool_size='1',
                             client_chunk_size=str(len(NOT_FOUND_BODY)))
        self.released_before_read(
            mw, '/v1/AUTH_test/c/missing', {}, 404, NOT_FOUND_BODY)

    def test_client_closes_without_reading(self):
        """A client that closes the short 404 body unread changes nothing:
        the connection was released already, and stays pooled."""
        mw = self.middleware(serving(answer_by_path), pool_size='1')
        resp = self.call(mw, make_env('GET', '/v1/AUTH_test/c/missing'))
        self.assertEqual(404, resp.status_int)
        self.assertPool(mw, in_use=0, idle=1, discarded=0)
        resp.body.close()
        self.assertPool(mw, in_use=0, idle=1, discarded=0)
        second = self.call(mw, make_env('GET', '/v1/AUTH_test/c/changed',
                                        headers={'If-Match': '"x"'}))
        self.assertEqual(412, second.status_int)
        self.assertEqual(PRECONDITION_BODY, second.read())
        self.assertEqual(1, self.server.accepted)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.migrate: migration mode through the whole
middleware, between a fake local cluster (the next app: proxy-server) and
a source on a scripted loopback socket (its backend endpoint).

test/functional/test_migrate.py runs the happy paths on real clusters.
These make happen what real clusters cannot easily: a newer local object
appearing between the local miss and the restore (a 202), a local PUT that
stops reading or dies, a body that breaks off mid-restore, a tombstone of
exactly the source's timestamp, a source that answers a listing with 503 or
garbage, more pages of other containers than an account listing may read.
Each test asserts what the client got, what the source was sent, and what
the local cluster was called with.
"""

import json
import socket
import time
import unittest
import urllib.parse
from unittest import mock

import eventlet

from swift_forwarder import listing
from swift_forwarder.exceptions import EtagMismatch, UpstreamBodyError

from test.unit.helpers import LeakTrackingIter, ServiceModeTestCase, \
    md5_hex, recording, response_head
from test.unit.test_metrics import StatsLogger

#: The source's account, as account_map has it.
REMOTE = '/v1/AUTH_remote'

#: A plain object's body: 13 chunks of the client_chunk_size used here, more
#: than a restore's queue holds.
DATA = bytes(range(200))

#: A timestamp as Swift sends it in X-Timestamp (and X-Backend-Timestamp).
STAMP = '1700000000.12345'


def older(stamp):
    return '%.5f' % (float(stamp) - 1)


def newer(stamp):
    return '%.5f' % (float(stamp) + 1)


def object_headers(data=DATA, **extra):
    """The source's answer to a backend GET of a plain object: as stored,
    with the headers a restore must not copy."""
    headers = [('Etag', md5_hex(data)), ('X-Timestamp', STAMP),
               ('Content-Type', 'image/x-test'),
               ('X-Object-Meta-Color', 'red'),
               ('X-Object-Sysmeta-Test', 'kept'),
               ('Content-Encoding', 'gzip'),
               ('X-Backend-Timestamp', STAMP),
               ('Last-Modified', 'Tue, 14 Nov 2023 22:13:20 GMT'),
               ('X-Trans-Id', 'txSOURCE'),
               ('X-Container-Sysmeta-Stray', 'dropped')]
    return headers + list(extra.items())


def chunked(data=DATA, headers=None):
    """A source answer with ``data`` sent chunked, no Content-Length."""
    def answer(sock, request):
        sock.sendall(response_head('200 OK', (
            object_headers(data) if headers is None else headers) + [
                ('Transfer-Encoding', 'chunked')]) +
            b'%x\r\n%s\r\n0\r\n\r\n' % (len(data), data))
    return answer


class LocalRequest(object):
    """One request the local cluster got: its environ as received."""

    def __init__(self, env):
        self.env = env
        self.method = env['REQUEST_METHOD']
        self.path = env['PATH_INFO']
        self.body = None   # what was read of wsgi.input (read_body)
        self.error = None  # what wsgi.input.read raised, if it did

    def header(self, name):
        key = name.upper().replace('-', '_')
        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            key = 'HTTP_' + key
        return self.env.get(key)

    def read_body(self):
        """Read ``wsgi.input`` as proxy-server does: chunks until ``b''``,
        an IOError or ValueError ending the upload (its 499).  Returns
        True if the whole body was read."""
        parts = []
        try:
            while True:
                chunk = self.env['wsgi.input'].read(65536)
                if not chunk:
                    break
                parts.append(chunk)
        except (IOError, ValueError) as err:
            self.error = err
        self.body = b''.join(parts)
        return self.error is None

    def __repr__(self):
        return '<LocalRequest %s %s>' % (self.method, self.path)


def _read_and_store(request):
    if not request.read_body():
        return '499 Client Disconnect', [], b''
    return '201 Created', [], b''


class LocalCluster(object):
    """The local proxy-server: answers each request with ``answers[method]``
    (a function of the :class:`LocalRequest`, returning ``(status,
    headers, body)``), and records every request in :attr:`requests`.  By
    default a GET or HEAD is a 404 (not here yet), a PUT reads its whole
    body and answers 201 (499 if wsgi.input raised), a POST 202, a DELETE
    204.  Bodies are leak-tracked."""

    def __init__(self):
        self.requests = []
        self.bodies = []
        self.answers = {
            'GET': lambda request: ('404 Not Found', [], b''),
            'HEAD': lambda request: ('404 Not Found', [], b''),
            'PUT': _read_and_store,
            'POST': lambda request: ('202 Accepted', [], b''),
            'DELETE': lambda request: ('204 No Content', [], b'')}

    def __call__(self, env, start_response):
        request = LocalRequest(env)
        self.requests.append(request)
        status, headers, body = self.answers[request.method](request)
        start_response(status, list(headers) + [
            ('Content-Length', str(len(body)))])
        tracked = LeakTrackingIter([body])
        self.bodies.append(tracked)
        return tracked

    def answer(self, method, status, headers=(), body=b''):
        self.answers[method] = lambda request: (status, list(headers), body)

    def calls(self):
        return [(request.method, request.path) for request in self.requests]

    def only(self, method):
        found = [request for request in self.requests
                 if request.method == method]
        assert len(found) == 1, self.requests
        return found[0]

    def unclosed(self):
        return [body for body in self.bodies if not body.closed]


class MigrateTestCase(ServiceModeTestCase):
    """A middleware whose target is the source of ``AUTH_local/mig*``: a
    backend endpoint in service mode (AUTH_local maps onto AUTH_remote),
    read in chunks of 16 bytes.  The local container exists unless
    :attr:`info` says otherwise."""

    path = '/v1/AUTH_local/mig/o'

    def setUp(self):
        super().setUp()
        self.logger = StatsLogger()
        self.app = self.local = LocalCluster()
        self.info = {'status': 204, 'read_acl': None, 'write_acl': None}
        patcher = mock.patch('swift_forwarder.migrate.get_container_info',
                             lambda env, app, swift_source: self.info)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.patch_swob()

    def source(self, *answers, **options):
        """The middleware over a source answering ``answers`` in turn (each
        ``(status, body, headers)``, or a function of the scripted socket
        and the request); returns ``(mw, requests)``."""
        requests = []
        queue = list(answers)

        def answer(sock, request):
            step = queue.pop(0)
            if callable(step):
                step(sock, request)
            else:
                sock.respond(*step)
        conf = dict(backend_endpoint='true', backend_key='bk',
                    migrate='AUTH_local/mig*', client_chunk_size='16')
        conf.update(options)
        return self.service_mw(recording(answer, requests), **conf), requests

    def migrate_counts(self):
        """The ``migrate.*`` counters sent, by name."""
        prefix = 'default.migrate.'
        return dict((name[len(prefix):], value) for name, value in
                    self.logger.counts().items() if name.startswith(prefix))

    def sent(self, requests):
        return [(r.method, r.target) for r in requests]


# -- restore on read --------------------------------------------------------

class TestRestore(MigrateTestCase):
    """migrate_on_read: the local PUT of what the client streams."""

    def on_read(self, *answers, **options):
        return self.source(*answers, migrate_on_read='true', **options)

    def test_local_put_gets_what_was_streamed_as_stored(self):
        """The local PUT reads exactly the bytes the client got, with the
        source's X-Timestamp, ETag, Content-Type, metadata, sysmeta and
        Content-Length, and none of its other headers; it is a
        pre-authorized subrequest of the same path, without the client's
        query."""
        mw, requests = self.on_read((200, DATA, object_headers()))
        resp = self.call(mw, self.env('GET', self.path, query='a=b'))
        self.assertEqual(200, resp.status_int)
        self.assertEqual(DATA, resp.read())
        self.assertEqual([('GET', REMOTE + '/mig/o?a=b')],
                         self.sent(requests))
        self.assertEqual([('GET', self.path), ('PUT', self.path)],
                         self.local.calls())
        put = self.local.only('PUT')
        self.assertEqual((DATA, None), (put.body, put.error))
        self.assertEqual({
            'CONTENT_TYPE': 'image/x-test', 'CONTENT_LENGTH': '200',
            'HTTP_ETAG': md5_hex(DATA), 'HTTP_X_TIMESTAMP': STAMP,
            'HTTP_X_OBJECT_META_COLOR': 'red',
            'HTTP_X_OBJECT_SYSMETA_TEST': 'kept',
            'HTTP_CONTENT_ENCODING': 'gzip'}, dict(
                (key, value) for key, value in put.env.items()
                if key.startswith(('HTTP_', 'CONTENT_')) and
                key != 'HTTP_USER_AGENT'))
        self.assertEqual('', put.env['QUERY_STRING'])
        self.assertEqual('FWD_RESTORE', put.env['swift.source'])
        self.assertTrue(put.env['swift.authorize_override'])
        self.assertIsNone(put.env['swift.authorize'](None))
        self.assertEqual({'read_through': 1, 'restored': 1},
                         self.migrate_counts())
        self.assertIn('migrate: restore of /v1/AUTH_local/mig/o from '
                      'default: 201 Created', self.logger.get_lines('info'))

    def test_container_made_while_the_client_reads(self):
        """A container only the source has: the restore makes it first,
        with a connection of its own while the client's GET holds one
        (a full pool does not make it wait for a slot the client
        holds)."""
        self.info = {'status': 404}
        mw, requests = self.on_read(
            (200, DATA, object_headers()),
            (204, b'', [('X-Container-Meta-Color', 'blue')]),
            pool_size='1', pool_timeout='3', client_timeout='3')
        body, elapsed = self.timed_read(mw)
        self.assertEqual(DATA, body)
        self.assertLess(elapsed, 1.5)
        self.assertEqual([('GET', REMOTE + '/mig/o'), ('HEAD', REMOTE +
                                                       '/mig')],
                         self.sent(requests))
        self.assertEqual([('GET', self.path), ('PUT', '/v1/AUTH_local/mig'),
                          ('PUT', self.path)], self.local.calls())
        self.assertEqual({'read_through': 1, 'containers_made': 1,
                          'restored': 1}, self.migrate_counts())

    def test_closed_twice_counted_once(self):
        """A body closed twice (a wrapper above, then the server): the
        restore is counted and logged once."""
        mw, _requests = self.on_read((200, DATA, object_headers()))
        resp = self.call(mw, self.env('GET', self.path))
        self.assertEqual(DATA, b''.join(resp.body))
        resp.inner.close()
        resp.body.close()
        self.assertEqual({'read_through': 1, 'restored': 1},
                         self.migrate_counts())
        self.assertEqual(1, len([line for line in self.logger.get_lines(
            'info') if line.startswith('migrate: restore of')]))

    def test_input_stays_at_its_end(self):
        """The local PUT's wsgi.input, once it gave ``b''`` (or raised),
        gives ``b''`` (or raises) again, at once: a file at its end, not
        a wait of client_timeout for what will never come."""
        mw, _requests = self.on_read((200, DATA, object_headers()),
                                     (200, DATA, object_headers()),
                                     client_timeout='2')
        self.call(mw, self.env('GET', self.path)).read()
        resp = self.call(mw, self.env('GET', self.path))
        next(resp.body)
        resp.body.close()
        whole, abandoned = [request.env['wsgi.input'] for request in
                            self.local.requests if request.method == 'PUT']
        started = time.monotonic()
        self.assertEqual(b'', whole.read(16))
        self.assertEqual(b'', whole.read())
        with self.assertRaises(IOError):
            abandoned.read(16)
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertEqual({'read_through': 2, 'restored': 1,
                          'restore_failed': 1}, self.migrate_counts())

    def test_source_body_without_content_length(self):
        """A source body sent chunked: the local PUT is chunked too (no
        Content-Length claiming an empty body) and reads it all."""
        mw, _requests = self.on_read(chunked())
        resp = self.call(mw, self.env('GET', self.path))
        self.assertEqual(DATA, resp.read())
        put = self.local.only('PUT')
        self.assertEqual((DATA, None), (put.body, put.error))
        self.assertEqual('chunked', put.header('Transfer-Encoding'))
        self.assertIsNone(put.header('Content-Length'))
        self.assertEqual({'read_through': 1, 'restored': 1},
                         self.migrate_counts())

    def test_client_gone_before_the_end_stores_nothing(self):
        """The client closes after two chunks: the local PUT got those two,
        then its wsgi.input raised IOError (so proxy-server hangs up on the
        object servers and stores nothing)."""
        # more than one read takes (16 x client_chunk_size, all arrived)
        big = DATA * 8
        mw, _requests = self.on_read((200, big, object_headers(big)))
        resp = self.call(mw, self.env('GET', self.path))
        got = next(resp.body) + next(resp.body)
        self.assertLess(len(got), len(big))
        self.assertEqual(big[:len(got)], got)
        resp.body.close()
        put = self.local.only('PUT')
        self.assertEqual(got, put.body)
        self.assertIsInstance(put.error, IOError)
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())

    def test_body_breaking_off_stores_nothing(self):
        """The source breaks off after 48 of 200 bytes (no resume): the
        client's body raises, and the local PUT's wsgi.input raised
        IOError after the bytes the client got."""
        def short(sock, request):
            sock.sendall(response_head('200 OK', [
                ('Content-Length', '200')] + object_headers()[1:]) +
                DATA[:48])
            sock.sock.shutdown(socket.SHUT_WR)  # then nothing more
        mw, _requests = self.on_read(short, retries='0')
        resp = self.call(mw, self.env('GET', self.path))
        received, _err = self.read_aborted(resp, UpstreamBodyError)
        self.assertEqual(DATA[:48], received)
        put = self.local.only('PUT')
        self.assertEqual(DATA[:48], put.body)
        self.assertIsInstance(put.error, IOError)
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())

    def test_etag_mismatch_at_the_end_stores_nothing(self):
        """Every byte came, but not the ETag's: the client's body raises
        before its last bytes (held back until the MD5 is checked), and
        the local PUT's wsgi.input raises IOError after the same bytes."""
        mw, _requests = self.on_read((200, DATA, [
            ('Etag', md5_hex(b'other'))] + object_headers()[1:]))
        resp = self.call(mw, self.env('GET', self.path))
        received, _err = self.read_aborted(resp, EtagMismatch)
        self.assertLess(len(received), len(DATA))
        put = self.local.only('PUT')
        self.assertEqual(received, put.body)
        self.assertIsInstance(put.error, IOError)
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())

    def answer_put_at_once(self, status):
        """The local PUT answers ``status`` before reading any of its
        body, as proxy-server does when the object servers refuse it
        before 100 Continue."""
        self.local.answer('PUT', status)

    def timed_read(self, mw):
        started = time.monotonic()
        resp = self.call(mw, self.env('GET', self.path))
        body = resp.read()
        return body, time.monotonic() - started

    def test_newer_local_object_meanwhile_is_skipped(self):
        """The race: a newer object written here between the local miss
        and the restore; the local PUT gets 202 (proxy-server's answer to
        the object servers' 409).  Counted as skipped, and the client's
        stream does not wait for a PUT that is over."""
        self.answer_put_at_once('202 Accepted')
        mw, _requests = self.on_read((200, DATA, object_headers()),
                                     client_timeout='3')
        body, elapsed = self.timed_read(mw)
        self.assertEqual(DATA, body)
        self.assertLess(elapsed, 1.5)
        self.assertEqual({'read_through': 1, 'restore_skipped': 1},
                         self.migrate_counts())

    def test_local_put_refused_is_a_failure(self):
        """Any other answer than 201 or 202 (here a 503 before reading the
        body): restore_failed; the client's stream does not wait."""
        self.answer_put_at_once('503 Service Unavailable')
        mw, _requests = self.on_read((200, DATA, object_headers()),
                                     client_timeout='3')
        body, elapsed = self.timed_read(mw)
        self.assertEqual(DATA, body)
        self.assertLess(elapsed, 1.5)
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())
        self.assertIn('migrate: restore of /v1/AUTH_local/mig/o from '
                      'default: 503 Service Unavailable',
                      self.logger.get_lines('info'))

    def test_local_put_that_dies_is_a_failure(self):
        """The local PUT raises mid-body: restore_failed, logged with the
        error; the client gets its whole body."""
        def dies(request):
            request.env['wsgi.input'].read(16)
            raise RuntimeError('proxy-server blew up')
        self.local.answers['PUT'] = dies
        mw, _requests = self.on_read((200, DATA, object_headers()))
        self.assertEqual(DATA, self.call(mw, self.env('GET', self.path))
                         .read())
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())
        self.assertIn('migrate: restore of /v1/AUTH_local/mig/o from '
                      'default: failed: proxy-server blew up',
                      self.logger.get_lines('info'))

    def test_stuck_local_put_never_holds_the_client(self):
        """A local PUT that stops reading: the client waits at most
        client_timeout for it while streaming, and no longer than
        client_timeout + node_timeout when it closes; then the PUT is
        abandoned (its green thread killed), a failure."""
        ended = []

        def stuck(request):
            try:
                eventlet.sleep(30)
            finally:
                ended.append(request)
            return '201 Created', [], b''
        self.local.answers['PUT'] = stuck
        mw, _requests = self.on_read((200, DATA, object_headers()),
                                     client_timeout='0.2',
                                     node_timeout='0.5')
        body, elapsed = self.timed_read(mw)
        self.assertEqual(DATA, body)
        self.assertLess(elapsed, 2 * 0.2 + 0.5 + 1)
        self.assertEqual(1, len(ended))
        self.assertEqual({'read_through': 1, 'restore_failed': 1},
                         self.migrate_counts())

    def test_only_whole_gets_of_plain_objects(self):
        """No restore for a HEAD, a Range GET, an SLO or DLO manifest, a
        symlink; nor without migrate_on_read."""
        slo = [('X-Static-Large-Object', 'True')]
        dlo = [('X-Object-Manifest', 'segs/o')]
        symlink = [('X-Object-Sysmeta-Symlink-Target', 'mig/t')]
        cases = [
            ('HEAD', {}, (200, b'', object_headers()), {}),
            ('GET', {'Range': 'bytes=0-9'}, (206, DATA[:10], [
                ('Content-Range', 'bytes 0-9/200'), ('X-Timestamp', STAMP),
                ('Etag', md5_hex(DATA))]), {}),
            ('GET', {}, (200, DATA, object_headers() + slo), {}),
            ('GET', {}, (200, DATA, object_headers() + dlo), {}),
            ('GET', {}, (200, DATA, object_headers() + symlink), {}),
            ('GET', {}, (200, DATA, object_headers()),
             {'migrate_on_read': 'false'})]
        for method, headers, answer, options in cases:
            with self.subTest(method=method, headers=headers, answer=answer):
                mw, _requests = self.source(answer, **dict(dict(
                    migrate_on_read='true'), **options))
                self.local.requests[:] = []
                resp = self.call(mw, self.env(method, self.path,
                                              headers=headers))
                self.assertEqual(answer[0], resp.status_int)
                self.assertEqual(b'' if method == 'HEAD' else answer[1],
                                 resp.read())
                self.assertEqual([(method, self.path)], self.local.calls())
        self.assertNotIn('restored', self.migrate_counts())
        self.assertNotIn('restore_failed', self.migrate_counts())


# -- POST: the object copied first ------------------------------------------

MANIFEST = json.dumps([{'name': '/segs/1', 'hash': md5_hex(b'x'),
                        'bytes': 12345}]).encode('ascii')


class TestCopyObject(MigrateTestCase):
    """A POST of an object only the source has: copied as stored (with
    its timestamp), then the POST applies locally.  The local POST is a
    404, then (after the copy) a 202."""

    def setUp(self):
        super().setUp()
        self.local.answers['POST'] = _answers(
            ('404 Not Found', [], b''), ('202 Accepted', [], b''))

    def post(self, mw):
        resp = self.call(mw, self.env('POST', self.path, headers={
            'X-Object-Meta-New': 'yes'}))
        return resp, resp.read()

    def test_copied_then_posted(self):
        """An SLO manifest: the local PUT has the source's headers, its
        Content-Type with swift_bytes (and swift.content_type_overridden,
        else proxy-server refuses it), the manifest as body; then the
        client's POST."""
        mw, requests = self.source((200, MANIFEST, [
            ('Etag', md5_hex(MANIFEST)), ('X-Timestamp', STAMP),
            ('Content-Type', 'text/plain'),
            ('X-Static-Large-Object', 'True'),
            ('X-Object-Sysmeta-Slo-Size', '12345'),
            ('X-Object-Sysmeta-Slo-Etag', 'abc')]))
        resp, body = self.post(mw)
        self.assertEqual(202, resp.status_int)
        self.assertEqual([('GET', REMOTE + '/mig/o')], self.sent(requests))
        self.assertEqual([('POST', self.path), ('PUT', self.path),
                          ('POST', self.path)], self.local.calls())
        put = self.local.only('PUT')
        self.assertEqual(MANIFEST, put.body)
        self.assertEqual('text/plain;swift_bytes=12345',
                         put.header('Content-Type'))
        self.assertTrue(put.env.get('swift.content_type_overridden'))
        self.assertEqual((STAMP, 'True', str(len(MANIFEST)), 'FWD_MIGRATE'),
                         (put.header('X-Timestamp'),
                          put.header('X-Static-Large-Object'),
                          put.header('Content-Length'),
                          put.env['swift.source']))
        self.assertIsNone(put.header('X-Object-Meta-New'))
        self.assertEqual('yes', self.local.requests[2].header(
            'X-Object-Meta-New'))
        self.assertEqual({'copied': 1}, self.migrate_counts())

    def test_container_made_first(self):
        """The container only the source has: made here first, from the
        source's (its metadata and ACLs, marked as migrated from it, as
        its owner), then the object copied into it."""
        self.info = {'status': 404}
        mw, requests = self.source(
            (204, b'', [('X-Container-Meta-Color', 'blue'),
                        ('X-Container-Read', '.r:*'),
                        ('X-Container-Sync-Key', 'secret'),
                        ('X-Container-Object-Count', '7')]),
            (200, DATA, object_headers()))
        self.assertEqual(202, self.post(mw)[0].status_int)
        self.assertEqual([('HEAD', REMOTE + '/mig'),
                          ('GET', REMOTE + '/mig/o')], self.sent(requests))
        self.assertEqual([('POST', self.path), ('PUT', '/v1/AUTH_local/mig'),
                          ('PUT', self.path), ('POST', self.path)],
                         self.local.calls())
        made = self.local.requests[1]
        self.assertEqual({
            'HTTP_X_CONTAINER_META_COLOR': 'blue',
            'HTTP_X_CONTAINER_READ': '.r:*',
            'HTTP_X_CONTAINER_SYSMETA_FORWARDER_MIGRATED_FROM': 'default',
            'CONTENT_LENGTH': '0'}, dict(
                (key, value) for key, value in made.env.items()
                if key.startswith(('HTTP_', 'CONTENT_')) and
                key != 'HTTP_USER_AGENT'))
        self.assertTrue(made.env['swift_owner'])
        self.assertEqual({'containers_made': 1, 'copied': 1},
                         self.migrate_counts())

    def test_plain_object_not_overridden(self):
        mw, _requests = self.source((200, DATA, object_headers()))
        self.assertEqual(202, self.post(mw)[0].status_int)
        put = self.local.only('PUT')
        self.assertEqual((DATA, 'image/x-test'),
                         (put.body, put.header('Content-Type')))
        self.assertNotIn('swift.content_type_overridden', put.env)

    def test_source_body_without_content_length(self):
        """A source body sent chunked: so is the local PUT (not a
        Content-Length of 0 with a body)."""
        mw, _requests = self.source(chunked())
        self.assertEqual(202, self.post(mw)[0].status_int)
        put = self.local.only('PUT')
        self.assertEqual((DATA, None), (put.body, put.error))
        self.assertEqual('chunked', put.header('Transfer-Encoding'))
        self.assertIsNone(put.header('Content-Length'))

    def test_newer_local_object_meanwhile_is_skipped(self):
        """The local PUT gets 202 (a newer object written here since the
        POST's 404): copy_skipped, and the POST applies."""
        self.local.answer('PUT', '202 Accepted')
        mw, _requests = self.source((200, DATA, object_headers()))
        self.assertEqual(202, self.post(mw)[0].status_int)
        self.assertEqual(['POST', 'PUT', 'POST'],
                         [method for method, _path in self.local.calls()])
        self.assertEqual({'copy_skipped': 1}, self.migrate_counts())

    def test_source_error_is_503(self):
        """The source's GET is neither 200 nor 404: 503 naming the source,
        nothing written here."""
        mw, _requests = self.source((500, b'oops'))
        resp, body = self.post(mw)
        self.assertEqual(503, resp.status_int)
        self.assertEqual(b'Target default: GET on the source got 500\n',
                         body)
        self.assertEqual([('POST', self.path)], self.local.calls())
        self.assertEqual({'source_errors': 1}, self.migrate_counts())

    def test_on_neither_side(self):
        """The source has no such object either: the local 404."""
        mw, _requests = self.source((404, b''))
        resp, _body = self.post(mw)
        self.assertEqual(404, resp.status_int)
        self.assertEqual([('POST', self.path)], self.local.calls())
        self.assertEqual({}, self.migrate_counts())

    def test_local_put_failing_is_503(self):
        self.local.answer('PUT', '503 Service Unavailable')
        mw, _requests = self.source((200, DATA, object_headers()))
        resp, body = self.post(mw)
        self.assertEqual(503, resp.status_int)
        self.assertIn(b'got 503 Service Unavailable', body)
        self.assertEqual(['POST', 'PUT'],
                         [method for method, _path in self.local.calls()])


def _answers(*answers):
    """A :class:`LocalCluster` answer giving ``answers`` in turn."""
    queue = list(answers)
    return lambda request: queue.pop(0)


# -- tombstones ---------------------------------------------------------------

class TestTombstones(MigrateTestCase):
    """A local 404 with X-Backend-Timestamp (a tombstone, as proxy-server
    passes it on from the object servers) against the source's object."""

    def tombstone(self, method, stamp):
        self.local.answer(method, '404 Not Found',
                          [('X-Backend-Timestamp', stamp)])

    def test_read_tombstone_at_least_as_new_keeps_the_404(self):
        """Newer than the source's object, or of its very timestamp: the
        local 404, after a HEAD on the source (never a GET)."""
        for stamp in (newer(STAMP), STAMP):
            with self.subTest(stamp=stamp):
                self.tombstone('GET', stamp)
                mw, requests = self.source((200, b'', object_headers()))
                resp = self.call(mw, self.env('GET', self.path))
                self.assertEqual((404, b''), (resp.status_int, resp.read()))
                self.assertEqual(stamp, resp.header('X-Backend-Timestamp'))
                self.assertEqual([('HEAD', REMOTE + '/mig/o')],
                                 self.sent(requests))
        self.assertEqual({}, self.migrate_counts())

    def test_read_older_tombstone_reads_through(self):
        """Older than the source's object (its X-Timestamp, here without
        an X-Backend-Timestamp): read through."""
        self.tombstone('GET', older(STAMP))
        mw, requests = self.source((200, b'', [('X-Timestamp', STAMP)]),
                                   (200, DATA, object_headers()))
        resp = self.call(mw, self.env('GET', self.path))
        self.assertEqual((200, DATA), (resp.status_int, resp.read()))
        self.assertEqual([('HEAD', REMOTE + '/mig/o'),
                          ('GET', REMOTE + '/mig/o')], self.sent(requests))
        self.assertEqual({'read_through': 1}, self.migrate_counts())

    def test_read_tombstone_source_gone_or_failing(self):
        """The source has no such object: the local 404; its HEAD fails:
        503 (it may well be there)."""
        self.tombstone('HEAD', STAMP)
        for answer, status in (((404, b''), 404), ((503, b''), 503)):
            with self.subTest(answer=answer):
                mw, requests = self.source(answer)
                resp = self.call(mw, self.env('HEAD', self.path))
                resp.read()
                self.assertEqual(status, resp.status_int)
                self.assertEqual(['HEAD'], [r.method for r in requests])

    def test_post_tombstone(self):
        """A POST on a deleted object: at least as new, the local 404 and
        no copy; older, copied first."""
        for stamp, copied in ((newer(STAMP), False), (STAMP, False),
                              (older(STAMP), True)):
            with self.subTest(stamp=stamp):
                self.local.requests[:] = []
                self.local.answers['POST'] = _answers(
                    ('404 Not Found', [('X-Backend-Timestamp', stamp)], b''),
                    ('202 Accepted', [], b''))
                mw, requests = self.source((200, b'', object_headers()),
                                           (200, DATA, object_headers()))
                resp = self.call(mw, self.env('POST', self.path))
                resp.read()
                self.assertEqual(202 if copied else 404, resp.status_int)
                self.assertEqual(['HEAD', 'GET'] if copied else ['HEAD'],
                                 [r.method for r in requests])
                self.assertEqual(['POST', 'PUT', 'POST'] if copied else
                                 ['POST'], [method for method, _path in
                                            self.local.calls()])


# -- DELETE on both sides -----------------------------------------------------

class TestDelete(MigrateTestCase):

    def delete(self, local_status, *answers):
        self.local.answer('DELETE', local_status)
        mw, requests = self.source(*answers)
        resp = self.call(mw, self.env('DELETE', self.path))
        return resp, resp.read(), requests

    def test_success_on_either_side(self):
        """Deleted here and not there, or there and not here: 204."""
        for local_status, source_status in (('204 No Content', 404),
                                            ('404 Not Found', 204)):
            with self.subTest(local=local_status, source=source_status):
                resp, _body, requests = self.delete(
                    local_status, (source_status, b''))
                self.assertEqual(204, resp.status_int)
                self.assertEqual([('DELETE', REMOTE + '/mig/o')],
                                 self.sent(requests))

    def test_on_neither_side_is_404(self):
        resp, _body, requests = self.delete('404 Not Found', (404, b''))
        self.assertEqual(404, resp.status_int)
        self.assertEqual(['DELETE'], [r.method for r in requests])

    def test_source_failing_is_503_to_retry(self):
        """Deleted here, the source answers 503: the client is told so,
        and to retry (else the source's copy would come back once the
        tombstone is reclaimed)."""
        resp, body, _requests = self.delete('204 No Content', (503, b''))
        self.assertEqual(503, resp.status_int)
        self.assertIn(b'Target default: DELETE on the source got 503', body)
        self.assertIn(b'retry', body)
        self.assertEqual({'source_errors': 1}, self.migrate_counts())

    def test_refused_locally_never_reaches_the_source(self):
        """The local auth refuses, and the container is here: its answer,
        and nothing sent to the source."""
        for status in ('401 Unauthorized', '403 Forbidden'):
            with self.subTest(status=status):
                resp, _body, requests = self.delete(status)
                self.assertEqual(status, resp.status)
                self.assertEqual([], requests)
                self.assertEqual(0, self.server.accepted)

    def test_local_failure_relayed(self):
        """A local 5xx: relayed, the source not asked (nothing would say
        the local object is gone)."""
        resp, _body, requests = self.delete('503 Service Unavailable')
        self.assertEqual(503, resp.status_int)
        self.assertEqual([], requests)


# -- listings -----------------------------------------------------------------

def _names(body):
    return [entry.get('name', entry.get('subdir'))
            for entry in json.loads(body)]


def _entries(*names):
    return [{'name': name, 'hash': 'h', 'bytes': 1, 'content_type': 't',
             'last_modified': '2026-01-01T00:00:00.000000'}
            for name in names]


def _query(request):
    """A request's query, as a dict of lists."""
    return urllib.parse.parse_qs(request.target.partition('?')[2],
                                 keep_blank_values=True)


class TestContainerListing(MigrateTestCase):

    path = '/v1/AUTH_local/mig'

    def local_listing(self, *names):
        self.local.answer('GET', '200 OK', [
            ('Content-Type', 'application/json; charset=utf-8'),
            ('X-Container-Object-Count', str(len(names)))],
            listing.encode(_entries(*names)))

    def get(self, mw, query='format=json'):
        resp = self.call(mw, self.env('GET', self.path, query=query))
        return resp, resp.read()

    def test_merged_with_json_and_the_local_limit(self):
        """The source is asked the client's query with format=json and the
        local limit said outright (the client's, else Swift's default),
        each once."""
        for query, limit in (('format=json&limit=3&prefix=o', '3'),
                             ('prefix=o', '10000')):
            with self.subTest(query=query):
                self.local_listing('o1', 'o3')
                mw, requests = self.source((200, listing.encode(
                    _entries('o2', 'o4'))))
                resp, body = self.get(mw, query)
                self.assertEqual(200, resp.status_int)
                expected = ['o1', 'o2', 'o3', 'o4'][:int(limit)]
                self.assertEqual(expected, _names(body))
                self.assertEqual('application/json; charset=utf-8',
                                 resp.header('Content-Type'))
                self.assertEqual(str(len(body)),
                                 resp.header('Content-Length'))
                self.assertEqual(REMOTE + '/mig', requests[0].path)
                self.assertEqual({'format': ['json'], 'limit': [limit],
                                  'prefix': ['o']}, _query(requests[0]))
        self.assertEqual({'listing_merges': 2}, self.migrate_counts())

    def test_source_failing_is_503(self):
        """A 5xx or a body that is not JSON: 503, never a short
        listing."""
        for answer in ((503, b'busy'), (200, b'<html>not json')):
            with self.subTest(answer=answer):
                self.local_listing('o1')
                mw, _requests = self.source(answer)
                resp, body = self.get(mw)
                self.assertEqual(503, resp.status_int)
                self.assertTrue(body.startswith(b'Target default: '), body)
        self.assertEqual({'source_errors': 2}, self.migrate_counts())

    def test_local_listing_not_json_is_503(self):
        self.local.answer('GET', '200 OK', [], b'<html>')
        mw, requests = self.source()
        resp, body = self.get(mw)
        self.assertEqual(503, resp.status_int)
        self.assertIn(b'a local listing that is not JSON', body)
        self.assertEqual([], requests)

    def test_source_without_the_container(self):
        """The source has no such container: the local listing as it
        was, byte for byte."""
        self.local_listing('o1', 'o2')
        mw, _requests = self.source((404, b''))
        resp, body = self.get(mw)
        self.assertEqual(200, resp.status_int)
        self.assertEqual(listing.encode(_entries('o1', 'o2')), body)
        self.assertEqual('2', resp.header('X-Container-Object-Count'))
        self.assertEqual({}, self.migrate_counts())


class TestAccountListing(MigrateTestCase):
    """An account listing: the source's containers that the migrate rules
    name (``mig*``), more pages read until there is a page's worth."""

    path = '/v1/AUTH_local'

    def test_other_containers_skipped_more_pages_read(self):
        self.local.answer('GET', '200 OK', [
            ('Content-Type', 'application/json; charset=utf-8')],
            listing.encode(_entries('local')))
        mw, requests = self.source(
            (200, listing.encode(_entries('aaa', 'bbb'))),
            (200, listing.encode(_entries('mig1', 'nope'))),
            (200, listing.encode(_entries('mig2'))))
        resp = self.call(mw, self.env('GET', self.path,
                                      query='format=json&limit=2'))
        body = resp.read()
        self.assertEqual(200, resp.status_int)
        self.assertEqual(['local', 'mig1'], _names(body))
        self.assertEqual([REMOTE] * 3, [r.path for r in requests])
        self.assertEqual([None, ['bbb'], ['nope']],
                         [_query(r).get('marker') for r in requests])
        self.assertEqual([['2']] * 3, [_query(r)['limit'] for r in requests])
        self.assertEqual({'listing_merges': 1}, self.migrate_counts())

    def test_source_short_page_ends_it(self):
        """A page shorter than the limit is the source's last."""
        self.local.answer('GET', '200 OK', [], b'[]')
        mw, requests = self.source(
            (200, listing.encode(_entries('aaa', 'mig1'))))
        resp = self.call(mw, self.env('GET', self.path, query='format=json'))
        self.assertEqual(['mig1'], _names(resp.read()))
        self.assertEqual(1, len(requests))

    def test_delimiter_roll_ups(self):
        """With a delimiter, a roll-up is kept if it may hold a container
        the rules name (``mig-`` holds ``mig*`` ones; ``a-`` cannot)."""
        self.local.answer('GET', '200 OK', [], b'[]')
        mw, _requests = self.source((200, json.dumps(
            [{'subdir': 'a-'}] + _entries('mig') + [{'subdir': 'mig-'}] +
            _entries('other') + [{'subdir': 'x-'}]).encode('ascii')))
        resp = self.call(mw, self.env('GET', self.path,
                                      query='format=json&delimiter=-'))
        self.assertEqual(['mig', 'mig-'], _names(resp.read()))

    def test_too_many_pages_of_other_containers_is_503(self):
        """MAX_ACCOUNT_PAGES pages without a page's worth of migrating
        containers: 503, no further page read."""
        self.local.answer('GET', '200 OK', [], b'[]')
        pages = [(200, listing.encode(_entries('a%d-1' % n, 'a%d-2' % n)))
                 for n in range(4)]
        with mock.patch('swift_forwarder.migrate.MAX_ACCOUNT_PAGES', 3):
            mw, requests = self.source(*pages)
            resp = self.call(mw, self.env('GET', self.path,
                                          query='format=json&limit=2'))
            body = resp.read()
        self.assertEqual(503, resp.status_int)
        self.assertIn(b'more than 3 listing pages', body)
        self.assertEqual(3, len(requests))
        self.assertEqual({'source_errors': 1}, self.migrate_counts())


if __name__ == '__main__':
    unittest.main()

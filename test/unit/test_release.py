# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Error answers with a short body release their connection at once.

A conditional GET that fails (412) or a GET of a missing object (404) gets a
short body from Swift.  The middleware reads it whole before the client sees
anything, so the upstream connection is idle in the pool while the client
has not read, or closed, a byte of it.
"""

from test.unit.helpers import make_env, serving
from test.unit.test_middleware import MiddlewareTestCase

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

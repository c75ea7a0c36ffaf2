# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.validation: input checks, no I/O."""

import unittest

from swift_forwarder import validation
from swift_forwarder.exceptions import BadRequest, ForwarderError, \
    LoopDetected, SwiftError

from test.unit.helpers import make_env


class TestCheckRequest(unittest.TestCase):
    """Input validation before anything goes upstream."""

    def assertRefused(self, env, status, reason):
        with self.assertRaises(ForwarderError) as caught:
            validation.check_request(env)
        self.assertEqual(status, caught.exception.status_hint)
        self.assertIn(reason, str(caught.exception))
        return caught.exception

    def test_allowed_methods(self):
        """Every Swift API method passes."""
        for method in sorted(validation.ALLOWED_METHODS):
            self.assertEqual((False, None),
                             validation.check_request(make_env(method)))

    def test_method_not_allowed(self):
        """Other methods get 405 with an Allow header, as from Swift."""
        for method in ('PATCH', 'TRACE', 'CONNECT', 'get'):
            err = self.assertRefused(make_env(method), 405,
                                     'Method %s is not allowed' % method)
            allow = dict(err.headers)['Allow']
            self.assertEqual(sorted(validation.ALLOWED_METHODS),
                             allow.split(', '))

    def test_nul_in_path(self):
        """NUL in a name: 412 like Swift, not sent upstream."""
        self.assertRefused(make_env(path='/v1/AUTH_a/c/o%00x'), 412,
                           'Invalid UTF8 or contains NULL')

    def test_reserved_names_to_a_backend_endpoint(self):
        """A NUL in a name (Swift's reserved names: object versioning's
        versions container) goes to a backend endpoint when the request
        allows reserved names, as the local proxy-server takes it; never
        otherwise, and never invalid UTF-8."""
        path = '/v1/AUTH_a/%00versions%00c/%00o%001'
        allowed = {'X-Backend-Allow-Reserved-Names': 'true'}
        self.assertEqual((False, None), validation.check_request(
            make_env(path=path, headers=allowed), backend=True))
        for env, backend in ((make_env(path=path), True),
                             (make_env(path=path, headers=allowed), False),
                             (make_env(path=path, headers={
                                 'X-Backend-Allow-Reserved-Names': 'no'}),
                              True),
                             (make_env(path='/v1/AUTH_a/c/%FF',
                                       headers=allowed), True)):
            with self.assertRaises(SwiftError) as caught:
                validation.check_request(env, backend)
            self.assertEqual(412, caught.exception.status_hint)

    def test_content_length_as_an_int(self):
        """Swift's bulk middleware (slo's manifest delete) sets an int."""
        self.assertEqual((False, 0), validation.check_request(make_env(
            'DELETE', CONTENT_LENGTH=0)))

    def test_invalid_utf8_in_path(self):
        """Bytes that are not UTF-8: 412 like Swift."""
        for path in ('/v1/AUTH_a/c/%FF', '/v1/AUTH_a/%C3%28/o',
                     '/v1/AUTH_a/c/%ED%A0%80'):
            self.assertRefused(make_env(path=path), 412,
                               'Invalid UTF8 or contains NULL')

    def test_valid_names_pass(self):
        """Spaces, unicode and %2F in names are valid Swift names."""
        for path in ('/v1/AUTH_a/c/my%20file.txt',
                     '/v1/AUTH_a/c/caf%C3%A9/%E2%98%83',
                     '/v1/AUTH_a/c/a%2Fb', '/v1/AUTH_a/c/tab%09name',
                     '/v1/AUTH_a/c/line%0Abreak'):
            self.assertEqual((False, None),
                             validation.check_request(make_env(path=path)),
                             path)

    def test_bad_characters_in_raw_url(self):
        """CR, LF or NUL in the query string: 400.  (A path with such
        bytes is quoted anew: see test_paths.)"""
        for env in (make_env(query='a=b\r\nX-Evil: 1'),
                    make_env(query='a=b\0')):
            err = self.assertRefused(env, 400,
                                     'Invalid character in the request URL')
            self.assertIsInstance(err, BadRequest)
        for env in (make_env(path='/v1/AUTH_a/c/o', RAW_PATH_INFO='/v1/a b'),
                    make_env(path='/info', RAW_PATH_INFO='/info asdf'),
                    make_env(query='a=b c')):
            self.assertEqual((False, None), validation.check_request(env))

    def test_control_characters_in_header_values(self):
        """Control characters but HTAB (RFC 9110 5.5): 400 naming the
        header; HTAB and obs-text pass."""
        for value in ('a\x01b', 'a\x7fb', 'a\x1bb', 'a\x00b'):
            self.assertRefused(make_env(headers={'X-Object-Meta-A': value}),
                               400, 'Invalid character in header '
                               'X-Object-Meta-A')
        for value in ('a\tb', 'caf\xc3\xa9'):
            self.assertEqual((False, None), validation.check_request(
                make_env(headers={'X-Object-Meta-A': value})))

    def test_content_length_twice(self):
        """Two differing Content-Length headers (the WSGI server keeps the
        first; ``headers_raw`` has both): 400.  Identical ones pass."""
        env = make_env('PUT', body=b'hello')
        env['headers_raw'] = (('Content-Length', '5'), ('content-length', '6'))
        self.assertRefused(env, 400, 'Content-Length given twice with '
                           'different values')
        env['headers_raw'] = (('Content-Length', '5'), ('Content-Length', '5'))
        self.assertEqual((True, 5), validation.check_request(env))

    def test_crlf_in_header_value(self):
        """CR, LF or NUL in a header value: 400 naming the header."""
        for value in ('a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b'):
            env = make_env(headers={'X-Object-Meta-Color': value})
            self.assertRefused(env, 400,
                               'Invalid character in header '
                               'X-Object-Meta-Color')

    def test_content_length(self):
        """A valid Content-Length says whether there is a body."""
        self.assertEqual((True, 5), validation.check_request(
            make_env('PUT', headers={'Content-Length': '5'})))
        self.assertEqual((True, 5), validation.check_request(
            make_env('PUT', headers={'Content-Length': ' 5 '})))
        self.assertEqual((False, 0), validation.check_request(
            make_env('PUT', headers={'Content-Length': '0'})))
        self.assertEqual((False, None), validation.check_request(
            make_env('PUT')))

    def test_bad_content_length(self):
        """Negative, fractional or non-numeric Content-Length: 400."""
        for value in ('-1', '1.5', 'abc', '0x10', '+5', '5 5',
                      '\u00b2', '\u00b9\u00b2'):
            env = make_env('PUT', headers={'Content-Length': value})
            err = self.assertRefused(env, 400, 'Invalid Content-Length')
            self.assertIsInstance(err, BadRequest)

    def test_chunked(self):
        """Transfer-Encoding: chunked is a body of unknown length."""
        for value in ('chunked', 'Chunked', ' chunked '):
            env = make_env('PUT', headers={'Transfer-Encoding': value})
            self.assertEqual((True, None), validation.check_request(env))

    def test_content_length_and_transfer_encoding(self):
        """Both framing headers at once: 400 (request smuggling)."""
        env = make_env('PUT', headers={'Transfer-Encoding': 'chunked',
                                       'Content-Length': '5'})
        self.assertRefused(env, 400, 'Content-Length and Transfer-Encoding')

    def test_expect(self):
        """Only 100-continue is an expectation we meet; others get 417."""
        env = make_env('PUT', headers={'Expect': '100-Continue',
                                       'Content-Length': '5'})
        self.assertEqual((True, 5), validation.check_request(env))
        env = make_env('PUT', headers={'Expect': 'teapot',
                                       'Content-Length': '5'})
        self.assertRefused(env, 417, "Expectation 'teapot' is not supported")

    def test_dot_segments(self):
        """'.' and '..' path segments (raw or %-encoded) get 400."""
        for path in ('/v1/AUTH_a/c/../o', '/v1/AUTH_a/../c', '/v1/AUTH_a/./c',
                     '/v1/AUTH_a/c/%2e%2E/o', '/v1/AUTH_a/c/o/..'):
            env = make_env(path=path)
            self.assertRefused(env, 400, "'.' and '..' segments")
        for path in ('/v1/AUTH_a/c/...', '/v1/AUTH_a/c/a..b', '/v1/AUTH_a/c/.o'):
            self.assertEqual((False, None),
                             validation.check_request(make_env(path=path)))

    def test_other_transfer_encoding(self):
        """Transfer codings other than chunked get Swift's own answers:
        400 for one, 501 for a list (swob's message_length())."""
        for value, status, reason in (
                ('gzip', 400, 'Invalid Transfer-Encoding header value'),
                ('identity', 400, 'Invalid Transfer-Encoding header value'),
                ('gzip, chunked', 501, 'Unsupported Transfer-Coding header '
                 'value specified in Transfer-Encoding header'),
                ('gzip,chunked', 501, 'Unsupported Transfer-Coding')):
            env = make_env('PUT', headers={'Transfer-Encoding': value})
            err = self.assertRefused(env, status, reason)
            self.assertIsInstance(err, SwiftError)

    def test_header_names(self):
        """A header name that isn't a token (a space before the colon, a
        space inside) is refused; token characters are fine."""
        for key in ('HTTP_X_OBJECT_META_A ', 'HTTP_X OBJECT', 'HTTP_X(Y)'):
            env = make_env()
            env[key] = 'v'
            self.assertRefused(env, 400, 'Invalid header name')
        env = make_env()
        env['HTTP_X_OBJECT_META_A.B~C'] = 'v'
        self.assertEqual((False, None), validation.check_request(env))


class TestCheckLoop(unittest.TestCase):
    """The X-Forwarder-Hops loop guard."""

    def test_first_hop(self):
        """No hops yet: the header becomes our id."""
        self.assertEqual('me', validation.check_loop(make_env(), 'me', 3))

    def test_appends(self):
        """Earlier hops are kept in order, ours appended."""
        env = make_env(headers={'X-Forwarder-Hops': 'a, b'})
        self.assertEqual('a, b, me', validation.check_loop(env, 'me', 3))

    def test_own_id(self):
        """Our own id in the header: 508."""
        env = make_env(headers={'X-Forwarder-Hops': 'a,me'})
        with self.assertRaises(LoopDetected) as caught:
            validation.check_loop(env, 'me', 10)
        self.assertEqual(508, caught.exception.status_hint)
        self.assertIn('forwarder me', str(caught.exception))

    def test_max_hops(self):
        """max_hops other forwarders already: 508."""
        env = make_env(headers={'X-Forwarder-Hops': 'a, b, c'})
        with self.assertRaises(LoopDetected) as caught:
            validation.check_loop(env, 'me', 3)
        self.assertEqual(508, caught.exception.status_hint)
        self.assertIn('more than 3 forwarder hops', str(caught.exception))
        self.assertEqual('a, b, c, me', validation.check_loop(env, 'me', 4))


if __name__ == '__main__':
    unittest.main()

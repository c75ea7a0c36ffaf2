# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.paths: the request target, parsed once."""

import unittest
import urllib.parse

from swift_forwarder import paths, service
from swift_forwarder.paths import RequestPath

from test.unit.helpers import make_env, wsgi_path


def upstream_path(env):
    return RequestPath.from_environ(env).target


class TestUpstreamPath(unittest.TestCase):
    """The request target sent upstream."""

    def test_quoted_exactly_as_received(self):
        """%2F, unicode escapes (any hex case) and odd quoting are kept."""
        for raw in ('/v1/AUTH_a/c/a%2Fb', '/v1/AUTH_a/c/caf%C3%A9',
                    '/v1/AUTH_a/c/caf%c3%a9', '/v1/AUTH_a/c/%61bc',
                    '/v1/AUTH_a/c/o~x', '/v1/AUTH_a/c/%E2%98%83%20x'):
            self.assertEqual(raw, upstream_path(make_env(path=raw)))

    def test_query_kept_exactly(self):
        """The query string goes out byte for byte."""
        env = make_env(path='/v1/AUTH_a/c', query='prefix=a%2Fb&format=json'
                       '&marker=caf%C3%A9&delimiter=/')
        self.assertEqual('/v1/AUTH_a/c?prefix=a%2Fb&format=json'
                         '&marker=caf%C3%A9&delimiter=/',
                         upstream_path(env))

    def test_rewritten_path_requoted(self):
        """PATH_INFO rewritten by an earlier middleware is quoted anew."""
        env = make_env(path='/v1/AUTH_a/c/a%2Fb', query='x=1')
        env['PATH_INFO'] = wsgi_path('/v1/AUTH_b/c/new name \u2603')
        self.assertEqual('/v1/AUTH_b/c/new%20name%20%E2%98%83?x=1',
                         upstream_path(env))

    def test_no_raw_path(self):
        """Without RAW_PATH_INFO (other WSGI servers) PATH_INFO is quoted."""
        env = make_env(path='/v1/AUTH_a/c/caf%C3%A9%20%3F')
        del env['RAW_PATH_INFO']
        quoted = upstream_path(env)
        self.assertEqual('/v1/AUTH_a/c/caf%C3%A9%20%3F', quoted)
        self.assertEqual(env['PATH_INFO'], urllib.parse.unquote(
            quoted, encoding='latin-1'))

    def test_unsafe_bytes_quoted(self):
        """A path or query holding bytes that may not go on a request line
        verbatim (Swift's own server takes a space) is quoted: the target
        reads the same names and parameters."""
        env = make_env(path='/info')
        env.update(PATH_INFO='/info asdf', RAW_PATH_INFO='/info asdf')
        self.assertEqual('/info%20asdf', upstream_path(env))
        env = make_env(path='/v1/AUTH_a/c', query='prefix=a b&x=\t')
        self.assertEqual('/v1/AUTH_a/c?prefix=a%20b&x=%09', upstream_path(env))
        self.assertEqual('a b', RequestPath.from_environ(env).param('prefix'))

    def test_script_name(self):
        """SCRIPT_NAME is part of the path."""
        env = make_env(path='/AUTH_a/c')
        env['SCRIPT_NAME'] = '/v1'
        del env['RAW_PATH_INFO']
        self.assertEqual('/v1/AUTH_a/c', upstream_path(env))


class TestRequestPath(unittest.TestCase):
    """The parts of PATH_INFO, and paths derived from the request's."""

    def test_parts(self):
        path = RequestPath.from_environ(make_env(
            path='/v1/AUTH_a/caf%C3%A9/d/e%2Ff', query='x=1'))
        self.assertEqual(('v1', 'AUTH_a', 'caf\u00e9', 'd/e/f'), (
            path.version, path.account, path.container, path.obj))
        self.assertEqual('AUTH_a', path.quoted_account)
        self.assertTrue(path.is_swift_api)
        self.assertEqual('/v1/AUTH_a/caf%C3%A9/d/e%2Ff?x=1', path.target)

    def test_missing_and_empty_parts(self):
        for path_info, expected, api in (
                ('/v1/AUTH_a', ('AUTH_a', None, None), True),
                ('/v1/AUTH_a/', ('AUTH_a', None, None), True),
                ('/v1/AUTH_a/c/', ('AUTH_a', 'c', None), True),
                ('/v1//c/o', (None, 'c', 'o'), False),
                ('/v1', (None, None, None), False),
                ('/info', (None, None, None), False)):
            path = RequestPath.from_environ({'PATH_INFO': path_info})
            self.assertEqual(expected, (path.account, path.container,
                                        path.obj), path_info)
            self.assertEqual(api, path.is_swift_api, path_info)
        self.assertEqual(('v1', 'AUTH_a', '', None), RequestPath.from_environ(
            {'PATH_INFO': '/v1/AUTH_a/'}).segments)

    def test_of_a_built_target(self):
        path = RequestPath.of('/v1/AUTH_a/c%20d/o?multipart-manifest=get')
        self.assertEqual('/v1/AUTH_a/c d/o', path.path_info)
        self.assertEqual(('c d', 'o'), (path.container, path.obj))
        self.assertEqual('get', path.param('multipart-manifest'))
        self.assertEqual('/v1/AUTH_a/c%20d/o', path.with_query('').target)

    def test_object_path(self):
        self.assertEqual('/v1/AUTH_%C3%A9/c%20d/caf%C3%A9/x', paths.object_path(
            'AUTH_%C3%A9', 'c d', wsgi_path('caf\u00e9/x')))


class TestDerivedPaths(unittest.TestCase):
    """The mapped account, references, query parameters."""

    def test_map_account(self):
        for target, expected in (
                ('/v1/AUTH_l/c/o%2Fx?a=/b', '/v1/AUTH_t/c/o%2Fx?a=/b'),
                ('/v1/AUTH_l?prefix=a/b', '/v1/AUTH_t?prefix=a/b'),
                ('/v1/AUTH_l', '/v1/AUTH_t'),
                ('/v1/AUTH_l/', '/v1/AUTH_t/')):
            self.assertEqual(expected, RequestPath.of(target).with_account(
                'AUTH_t').target)
        self.assertEqual('/v1/AUTH_%C3%A9/c', RequestPath.of(
            '/v1/AUTH_l/c').with_account('AUTH_\u00e9').target)

    def test_reference(self):
        for value, expected in (
                ('c/o', ('c', 'o')), ('/c/o/p', ('c', 'o/p')),
                ('c/', ('c', '')), ('c%20d/o%2Fp', ('c d', 'o/p')),
                ('caf\xc3\xa9/o', ('caf\xc3\xa9', 'o')),
                ('caf%C3%A9/o', ('caf\xc3\xa9', 'o')),
                ('c', None), ('', None), ('/', None), ('c%2Fd/o', None),
                ('%2Fc/o', None)):
            self.assertEqual(expected, paths.reference(value), value)

    def test_query_param(self):
        """As swob's req.params: the last value wins; a bare name is ''."""
        for query, expected in (
                ('multipart-manifest=get', 'get'),
                ('multipart-manifest=get&multipart-manifest=x', 'x'),
                ('a=1&multipart-manifest', ''), ('a=1', None),
                ('multipart%2Dmanifest=get', 'get')):
            self.assertEqual(expected, RequestPath.from_environ(make_env(
                query=query)).param('multipart-manifest'), query)

    def test_without_params(self):
        names = service.TEMPURL_PARAMS
        for target, expected in (
                ('/v1/a/c/o?temp_url_sig=s&temp_url_expires=1&x=%2F',
                 '/v1/a/c/o?x=%2F'),
                ('/v1/a/c/o?temp_url_sig=s&temp_url_expires=1',
                 '/v1/a/c/o'),
                ('/v1/a/c/o?inline&temp%5Furl%5Fsig=s', '/v1/a/c/o?inline'),
                ('/v1/a/c/o', '/v1/a/c/o'), ('/v1/a/c/o?', '/v1/a/c/o')):
            self.assertEqual(expected, RequestPath.of(target).without_params(
                names).target)


if __name__ == '__main__':
    unittest.main()

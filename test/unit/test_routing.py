# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.routing: pure request logic, no I/O."""

import unittest
import urllib.parse

from swift_forwarder import routing
from swift_forwarder.exceptions import BadRequest, ForwarderError, \
    LoopDetected
from swift_forwarder.routing import Rule

from test.unit.helpers import make_env


def wsgi_path(text):
    """The PATH_INFO form (latin-1 str of UTF-8 bytes) of a unicode path."""
    return text.encode('utf-8').decode('latin-1')


class TestParseForward(unittest.TestCase):
    """The ``forward`` option's rule syntax."""

    def test_forms(self):
        """Each documented form becomes the matching Rule."""
        self.assertEqual((Rule(None, None, True),),
                         routing.parse_forward('*'))
        self.assertEqual((Rule('AUTH_a', None, False),),
                         routing.parse_forward('AUTH_a'))
        self.assertEqual((Rule('AUTH_a', 'cont', False),),
                         routing.parse_forward('AUTH_a/cont'))
        self.assertEqual((Rule('AUTH_a', 'logs', True),),
                         routing.parse_forward('AUTH_a/logs*'))
        self.assertEqual((Rule('AUTH_pre', None, True),),
                         routing.parse_forward('AUTH_pre*'))

    def test_several_rules(self):
        """Rules are space-separated, any whitespace."""
        self.assertEqual(
            (Rule('AUTH_a', None, False), Rule('AUTH_b', 'c', False),
             Rule('AUTH_c', 'x', True)),
            routing.parse_forward(' AUTH_a\tAUTH_b/c\n  AUTH_c/x* '))

    def test_unicode_rule(self):
        """Names in the conf file may be unicode."""
        self.assertEqual((Rule('AUTH_\u00e9', 'caf\u00e9', False),),
                         routing.parse_forward('AUTH_\u00e9/caf\u00e9'))

    def test_bad_forms(self):
        """Malformed rules are refused with the expected forms."""
        for value in ('', '   ', '*/c', 'AUTH_a/c/o', 'AUTH_*a', '/c',
                      'AUTH_a/*x', 'AUTH_a/c*d', '**', 'AUTH_a/'):
            with self.assertRaises(ValueError, msg=repr(value)) as caught:
                routing.parse_forward(value)
            self.assertIn('expected', str(caught.exception))

    def test_all_containers_of_one_account(self):
        """``AUTH_a/*`` is every container of AUTH_a, not every account
        whose name starts with AUTH_a."""
        rules = routing.parse_forward('AUTH_a/*')
        self.assertTrue(routing.should_forward('/v1/AUTH_a/c', rules))
        self.assertTrue(routing.should_forward('/v1/AUTH_a/c/o', rules))
        self.assertFalse(routing.should_forward('/v1/AUTH_ab/c', rules))
        self.assertFalse(routing.should_forward('/v1/AUTH_a', rules))


class TestShouldForward(unittest.TestCase):
    """Route matching on PATH_INFO."""

    def check(self, forward, expected):
        rules = routing.parse_forward(forward)
        for path, wanted in expected.items():
            self.assertEqual(wanted, routing.should_forward(path, rules),
                             '%s with forward = %s' % (path, forward))

    def test_only_swift_api(self):
        """/info, /auth, /healthcheck and odd paths stay local."""
        self.check('*', {
            '/info': False, '/auth/v1.0': False, '/v1.0': False,
            '/healthcheck': False, '/': False, '': False, '/v1': False,
            '/v1/': False, '/v2/AUTH_a': False, '/v1//c': False,
            '/v1/AUTH_a': True, '/v1/AUTH_a/': True, '/v1/AUTH_a/c': True,
            '/v1/AUTH_a/c/o/with/slashes': True,
        })

    def test_account_rule(self):
        """An account rule matches that account exactly, at any depth."""
        self.check('AUTH_a', {
            '/v1/AUTH_a': True, '/v1/AUTH_a/c': True, '/v1/AUTH_a/c/o': True,
            '/v1/AUTH_ab': False, '/v1/AUTH_': False, '/v1/AUTH_b/c': False,
        })

    def test_account_prefix_rule(self):
        """``AUTH_pre*`` matches accounts starting with AUTH_pre."""
        self.check('AUTH_pre*', {
            '/v1/AUTH_pre': True, '/v1/AUTH_prefix/c': True,
            '/v1/AUTH_pr': False, '/v1/AUTH_xpre': False,
        })

    def test_container_rule(self):
        """A container rule matches that container and its objects only."""
        self.check('AUTH_a/c', {
            '/v1/AUTH_a/c': True, '/v1/AUTH_a/c/o': True,
            '/v1/AUTH_a/c/': True, '/v1/AUTH_a': False,
            '/v1/AUTH_a/cd': False, '/v1/AUTH_a/d/c': False,
            '/v1/AUTH_b/c': False,
        })

    def test_container_prefix_rule(self):
        """``AUTH_a/logs*`` matches containers starting with logs."""
        self.check('AUTH_a/logs*', {
            '/v1/AUTH_a/logs': True, '/v1/AUTH_a/logs-2024/o': True,
            '/v1/AUTH_a/log': False, '/v1/AUTH_a': False,
            '/v1/AUTH_b/logs': False,
        })

    def test_several_rules_any_match(self):
        """Any one matching rule forwards the request."""
        self.check('AUTH_a/c AUTH_b', {
            '/v1/AUTH_a/c/o': True, '/v1/AUTH_b/x': True,
            '/v1/AUTH_a/x': False, '/v1/AUTH_c': False,
        })

    def test_unicode_names(self):
        """Unicode rules match the latin-1 WSGI form of UTF-8 names."""
        self.check('AUTH_a/caf\u00e9 AUTH_\u2603*', {
            wsgi_path('/v1/AUTH_a/caf\u00e9/o'): True,
            wsgi_path('/v1/AUTH_a/cafe/o'): False,
            wsgi_path('/v1/AUTH_\u2603snow/c'): True,
            wsgi_path('/v1/AUTH_\u2604/c'): False,
        })


class TestCheckRequest(unittest.TestCase):
    """Input validation before anything goes upstream."""

    def assertRefused(self, env, status, reason):
        with self.assertRaises(ForwarderError) as caught:
            routing.check_request(env)
        self.assertEqual(status, caught.exception.status_hint)
        self.assertIn(reason, str(caught.exception))
        return caught.exception

    def test_allowed_methods(self):
        """Every Swift API method passes."""
        for method in sorted(routing.ALLOWED_METHODS):
            self.assertEqual((False, None),
                             routing.check_request(make_env(method)))

    def test_method_not_allowed(self):
        """Other methods get 405 with an Allow header, as from Swift."""
        for method in ('PATCH', 'TRACE', 'CONNECT', 'get'):
            err = self.assertRefused(make_env(method), 405,
                                     'Method %s is not allowed' % method)
            allow = dict(err.headers)['Allow']
            self.assertEqual(sorted(routing.ALLOWED_METHODS),
                             allow.split(', '))

    def test_nul_in_path(self):
        """NUL in a name: 412 like Swift, not sent upstream."""
        self.assertRefused(make_env(path='/v1/AUTH_a/c/o%00x'), 412,
                           'Invalid UTF8 or contains NULL')

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
                             routing.check_request(make_env(path=path)),
                             path)

    def test_bad_characters_in_raw_url(self):
        """Raw control characters or spaces in the request line: 400."""
        for env in (
                make_env(path='/v1/AUTH_a/c/o', RAW_PATH_INFO='/v1/a b'),
                make_env(path='/v1/AUTH_a/c/o', RAW_PATH_INFO='/v1/a\r\nb'),
                make_env(query='a=b\r\nX-Evil: 1'),
                make_env(query='a=b c')):
            err = self.assertRefused(env, 400,
                                     'Invalid character in the request URL')
            self.assertIsInstance(err, BadRequest)

    def test_crlf_in_header_value(self):
        """CR, LF or NUL in a header value: 400 naming the header."""
        for value in ('a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b'):
            env = make_env(headers={'X-Object-Meta-Color': value})
            self.assertRefused(env, 400,
                               'Invalid character in header '
                               'X-Object-Meta-Color')

    def test_content_length(self):
        """A valid Content-Length says whether there is a body."""
        self.assertEqual((True, 5), routing.check_request(
            make_env('PUT', headers={'Content-Length': '5'})))
        self.assertEqual((True, 5), routing.check_request(
            make_env('PUT', headers={'Content-Length': ' 5 '})))
        self.assertEqual((False, 0), routing.check_request(
            make_env('PUT', headers={'Content-Length': '0'})))
        self.assertEqual((False, None), routing.check_request(
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
            self.assertEqual((True, None), routing.check_request(env))

    def test_content_length_and_transfer_encoding(self):
        """Both framing headers at once: 400 (request smuggling)."""
        env = make_env('PUT', headers={'Transfer-Encoding': 'chunked',
                                       'Content-Length': '5'})
        self.assertRefused(env, 400, 'Content-Length and Transfer-Encoding')

    def test_expect(self):
        """Only 100-continue is an expectation we meet; others get 417."""
        env = make_env('PUT', headers={'Expect': '100-Continue',
                                       'Content-Length': '5'})
        self.assertEqual((True, 5), routing.check_request(env))
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
                             routing.check_request(make_env(path=path)))

    def test_other_transfer_encoding(self):
        """Transfer codings other than chunked: 400, as from Swift."""
        for value in ('gzip', 'gzip, chunked', 'identity'):
            env = make_env('PUT', headers={'Transfer-Encoding': value})
            self.assertRefused(env, 400, 'Transfer-Encoding %s is not '
                               'supported' % value)

    def test_header_names(self):
        """A header name that isn't a token (a space before the colon, a
        space inside) is refused; token characters are fine."""
        for key in ('HTTP_X_OBJECT_META_A ', 'HTTP_X OBJECT', 'HTTP_X(Y)'):
            env = make_env()
            env[key] = 'v'
            self.assertRefused(env, 400, 'Invalid header name')
        env = make_env()
        env['HTTP_X_OBJECT_META_A.B~C'] = 'v'
        self.assertEqual((False, None), routing.check_request(env))


class TestCheckLoop(unittest.TestCase):
    """The X-Forwarder-Hops loop guard."""

    def test_first_hop(self):
        """No hops yet: the header becomes our id."""
        self.assertEqual('me', routing.check_loop(make_env(), 'me', 3))

    def test_appends(self):
        """Earlier hops are kept in order, ours appended."""
        env = make_env(headers={'X-Forwarder-Hops': 'a, b'})
        self.assertEqual('a, b, me', routing.check_loop(env, 'me', 3))

    def test_own_id(self):
        """Our own id in the header: 508."""
        env = make_env(headers={'X-Forwarder-Hops': 'a,me'})
        with self.assertRaises(LoopDetected) as caught:
            routing.check_loop(env, 'me', 10)
        self.assertEqual(508, caught.exception.status_hint)
        self.assertIn('forwarder me', str(caught.exception))

    def test_max_hops(self):
        """max_hops other forwarders already: 508."""
        env = make_env(headers={'X-Forwarder-Hops': 'a, b, c'})
        with self.assertRaises(LoopDetected) as caught:
            routing.check_loop(env, 'me', 3)
        self.assertEqual(508, caught.exception.status_hint)
        self.assertIn('more than 3 forwarder hops', str(caught.exception))
        self.assertEqual('a, b, c, me', routing.check_loop(env, 'me', 4))


class TestUpstreamPath(unittest.TestCase):
    """The request target sent upstream."""

    def test_quoted_exactly_as_received(self):
        """%2F, unicode escapes (any hex case) and odd quoting are kept."""
        for raw in ('/v1/AUTH_a/c/a%2Fb', '/v1/AUTH_a/c/caf%C3%A9',
                    '/v1/AUTH_a/c/caf%c3%a9', '/v1/AUTH_a/c/%61bc',
                    '/v1/AUTH_a/c/o~x', '/v1/AUTH_a/c/%E2%98%83%20x'):
            self.assertEqual(raw, routing.upstream_path(make_env(path=raw)))

    def test_query_kept_exactly(self):
        """The query string goes out byte for byte."""
        env = make_env(path='/v1/AUTH_a/c', query='prefix=a%2Fb&format=json'
                       '&marker=caf%C3%A9&delimiter=/')
        self.assertEqual('/v1/AUTH_a/c?prefix=a%2Fb&format=json'
                         '&marker=caf%C3%A9&delimiter=/',
                         routing.upstream_path(env))

    def test_rewritten_path_requoted(self):
        """PATH_INFO rewritten by an earlier middleware is quoted anew."""
        env = make_env(path='/v1/AUTH_a/c/a%2Fb', query='x=1')
        env['PATH_INFO'] = wsgi_path('/v1/AUTH_b/c/new name \u2603')
        self.assertEqual('/v1/AUTH_b/c/new%20name%20%E2%98%83?x=1',
                         routing.upstream_path(env))

    def test_no_raw_path(self):
        """Without RAW_PATH_INFO (other WSGI servers) PATH_INFO is quoted."""
        env = make_env(path='/v1/AUTH_a/c/caf%C3%A9%20%3F')
        del env['RAW_PATH_INFO']
        quoted = routing.upstream_path(env)
        self.assertEqual('/v1/AUTH_a/c/caf%C3%A9%20%3F', quoted)
        self.assertEqual(env['PATH_INFO'], urllib.parse.unquote(
            quoted, encoding='latin-1'))

    def test_script_name(self):
        """SCRIPT_NAME is part of the path."""
        env = make_env(path='/AUTH_a/c')
        env['SCRIPT_NAME'] = '/v1'
        del env['RAW_PATH_INFO']
        self.assertEqual('/v1/AUTH_a/c', routing.upstream_path(env))


class TestUpstreamHeaders(unittest.TestCase):
    """The end-to-end headers sent upstream."""

    def headers(self, env, hops='me', txn_id='tx123', via='1.1 me (x)'):
        return routing.upstream_headers(env, 'target:8080', hops, txn_id, via)

    def test_set_by_forwarder(self):
        """Host, hops, XFF, Via and X-Trans-Id-Extra are ours."""
        headers = self.headers(make_env(headers={
            'Host': 'local:8080', 'X-Forwarder-Hops': 'spoofed',
            'X-Trans-Id-Extra': 'client-extra', 'Expect': '100-continue',
            'Content-Length': '5'}))
        self.assertEqual([
            ('Host', 'target:8080'), ('X-Forwarder-Hops', 'me'),
            ('X-Forwarded-For', '127.0.0.2'), ('Via', '1.1 me (x)'),
            ('X-Trans-Id-Extra', 'tx123')], headers)

    def test_extends_xff_and_via(self):
        """Existing X-Forwarded-For and Via are extended, not replaced."""
        headers = dict(self.headers(make_env(headers={
            'X-Forwarded-For': '198.51.100.7', 'Via': '1.0 lb'})))
        self.assertEqual('198.51.100.7, 127.0.0.2',
                         headers['X-Forwarded-For'])
        self.assertEqual('1.0 lb, 1.1 me (x)', headers['Via'])

    def test_no_txn_id(self):
        """Without a transaction id, no X-Trans-Id-Extra."""
        names = [name for name, _value in
                 self.headers(make_env(), txn_id=None)]
        self.assertNotIn('X-Trans-Id-Extra', names)

    def test_hop_by_hop_dropped(self):
        """Hop-by-hop headers and Proxy-* never go upstream."""
        env = make_env(headers={
            'Connection': 'keep-alive', 'Keep-Alive': 'timeout=5',
            'TE': 'trailers', 'Trailer': 'X-Foo', 'Upgrade': 'h2c',
            'Transfer-Encoding': 'chunked', 'Proxy-Authorization': 'basic',
            'Proxy-Connection': 'keep-alive', 'Proxy-Foo': 'bar',
            'X-Auth-Token': 'AUTH_tk'})
        names = [name.lower() for name, _value in self.headers(env)]
        for name in ('connection', 'keep-alive', 'te', 'trailer', 'upgrade',
                     'transfer-encoding', 'proxy-authorization',
                     'proxy-connection', 'proxy-foo'):
            self.assertNotIn(name, names)
        self.assertIn('x-auth-token', names)

    def test_headers_named_in_connection_dropped(self):
        """Headers the client named in Connection are hop-by-hop too."""
        env = make_env(headers={'Connection': 'close, X-Secret ,X-Other',
                                'X-Secret': 's', 'X-Other': 'o',
                                'X-Kept': 'k'})
        names = [name for name, _value in self.headers(env)]
        self.assertNotIn('X-Secret', names)
        self.assertNotIn('X-Other', names)
        self.assertIn('X-Kept', names)

    def test_end_to_end_kept(self):
        """End-to-end headers (auth, metadata, range, type) go upstream."""
        env = make_env('PUT', headers={
            'X-Auth-Token': 'AUTH_tk', 'X-Object-Meta-Color': 'blue',
            'Range': 'bytes=0-9', 'Etag': 'abc', 'If-None-Match': '*',
            'Content-Type': 'text/plain', 'X-Delete-After': '60'})
        headers = self.headers(env)
        for pair in (('Content-Type', 'text/plain'),
                     ('X-Auth-Token', 'AUTH_tk'),
                     ('X-Object-Meta-Color', 'blue'), ('Range', 'bytes=0-9'),
                     ('Etag', 'abc'), ('If-None-Match', '*'),
                     ('X-Delete-After', '60')):
            self.assertIn(pair, headers)


class TestResponseHeaders(unittest.TestCase):
    """The target's response headers as the client sees them."""

    def test_filtering(self):
        """Hop-by-hop dropped, X-Trans-Id renamed, the rest kept in order."""
        headers = routing.response_headers([
            ('Content-Length', '5'), ('Connection', 'keep-alive'),
            ('Keep-Alive', 'timeout=60'), ('Transfer-Encoding', 'chunked'),
            ('Trailer', 'X-Foo'), ('Upgrade', 'h2c'),
            ('Proxy-Authenticate', 'Basic'), ('Proxy-Foo', 'x'),
            ('X-Trans-Id', 'txTARGET'), ('X-Openstack-Request-Id', 'txT'),
            ('Etag', 'abc'), ('X-Timestamp', '1.0'),
            ('X-Object-Meta-Color', 'blue')])
        self.assertEqual([
            ('Content-Length', '5'), ('X-Forwarder-Trans-Id', 'txTARGET'),
            ('Etag', 'abc'), ('X-Timestamp', '1.0'),
            ('X-Object-Meta-Color', 'blue')], headers)

    def test_connection_tokens(self):
        """Headers the target's Connection header names are hop-by-hop
        too, in any case."""
        self.assertEqual([('Etag', 'abc')], routing.response_headers([
            ('Connection', 'close, X-Hop'), ('connection', 'x-other '),
            ('x-hop', '1'), ('X-Other', '2'), ('Etag', 'abc')]))


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
        return routing.put_etag_checkable(make_env(method, path, **kwargs))

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
        return routing.body_etag(method, target,
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
        return routing.resumable_span(method, FakeResponse(status, headers))

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
        return routing.content_range(FakeResponse(status, headers))

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


class TestServicePaths(unittest.TestCase):
    """Service mode: the mapped path, and the containers a request names."""

    def test_map_account(self):
        for target, expected in (
                ('/v1/AUTH_l/c/o%2Fx?a=/b', '/v1/AUTH_t/c/o%2Fx?a=/b'),
                ('/v1/AUTH_l?prefix=a/b', '/v1/AUTH_t?prefix=a/b'),
                ('/v1/AUTH_l', '/v1/AUTH_t'),
                ('/v1/AUTH_l/', '/v1/AUTH_t/')):
            self.assertEqual(expected, routing.map_account(target, 'AUTH_t'))
        self.assertEqual('/v1/AUTH_%C3%A9/c', routing.map_account(
            '/v1/AUTH_l/c', 'AUTH_\u00e9'))

    def test_reference(self):
        for value, expected in (
                ('c/o', ('c', 'o')), ('/c/o/p', ('c', 'o/p')),
                ('c/', ('c', '')), ('c%20d/o%2Fp', ('c d', 'o/p')),
                ('caf\xc3\xa9/o', ('caf\xc3\xa9', 'o')),
                ('caf%C3%A9/o', ('caf\xc3\xa9', 'o')),
                ('c', None), ('', None), ('/', None), ('c%2Fd/o', None),
                ('%2Fc/o', None)):
            self.assertEqual(expected, routing.reference(value), value)

    def test_manifest_segments(self):
        """Both forms: a client's PUT (path) and a stored manifest's (name,
        sub_slo); names as WSGI strings; inline data names nothing."""
        self.assertEqual([('b', '1', False), ('a', '2/x', False),
                          ('c', 'caf\xc3\xa9', True)],
                         routing.manifest_segments(
            b'[{"path": "/b/1"}, {"path": "a/2/x"}, {"data": "AAAA"}, '
            b'{"name": "/c/caf\\u00e9", "sub_slo": true}]'))
        self.assertEqual([], routing.manifest_segments(b'[]'))
        for data in (b'{}', b'[1]', b'[{"path": "/c"}]', b'[{"path": 1}]',
                     b'nope', b'\xff'):
            self.assertRaises(ValueError, routing.manifest_segments, data)

    def test_query_param(self):
        """As swob's req.params: the last value wins; a bare name is ''."""
        for query, expected in (
                ('multipart-manifest=get', 'get'),
                ('multipart-manifest=get&multipart-manifest=x', 'x'),
                ('a=1&multipart-manifest', ''), ('a=1', None),
                ('multipart%2Dmanifest=get', 'get')):
            self.assertEqual(expected, routing.query_param(
                make_env(query=query), 'multipart-manifest'), query)

    def test_without_params(self):
        names = routing.TEMPURL_PARAMS
        for target, expected in (
                ('/v1/a/c/o?temp_url_sig=s&temp_url_expires=1&x=%2F',
                 '/v1/a/c/o?x=%2F'),
                ('/v1/a/c/o?temp_url_sig=s&temp_url_expires=1',
                 '/v1/a/c/o'),
                ('/v1/a/c/o?inline&temp%5Furl%5Fsig=s', '/v1/a/c/o?inline'),
                ('/v1/a/c/o', '/v1/a/c/o'), ('/v1/a/c/o?', '/v1/a/c/o')):
            self.assertEqual(expected, routing.without_params(target, names))

    def check_path(self, path):
        env = make_env(path=path)
        routing.check_service_path(env, routing.upstream_path(env))

    def test_check_service_path(self):
        self.check_path('/v1/AUTH_a/c/o%2Fp')
        self.check_path('/v1/AUTH_%61/c%20d')
        for path in ('/v1/AUTH_a%2Fc/o', '/v1/AUTH_a/c%2fd/o',
                     '/v1/AUTH_a%2F'):
            with self.assertRaises(BadRequest):
                self.check_path(path)

    def test_manifest_put(self):
        self.assertTrue(routing.is_manifest_put(make_env(
            'PUT', query='multipart-manifest=put')))
        self.assertTrue(routing.is_manifest_put(make_env(
            'PUT', query='heartbeat=on&multipart-manifest=put')))
        self.assertFalse(routing.is_manifest_put(make_env(
            'GET', query='multipart-manifest=put')))
        self.assertFalse(routing.is_manifest_put(make_env(
            'PUT', query='multipart-manifest=get')))


class TestDroppedHeaders(unittest.TestCase):
    """Headers a resume or a raise_and_delete DELETE leaves out."""

    def test_resume_sets_its_own_conditions(self):
        for name in ('range', 'if-match', 'if-none-match', 'if-range',
                     'if-modified-since', 'if-unmodified-since'):
            self.assertIn(name, routing.RESUME_DROPPED)
        self.assertNotIn('x-auth-token', routing.RESUME_DROPPED)

    def test_delete_has_no_body_nor_conditions(self):
        for name in ('content-length', 'transfer-encoding', 'expect', 'etag',
                     'content-type', 'x-delete-at', 'x-delete-after',
                     'if-none-match', 'range'):
            self.assertIn(name, routing.DELETE_DROPPED)
        for name in ('x-auth-token', 'host', 'x-forwarder-hops'):
            self.assertNotIn(name, routing.DELETE_DROPPED)


if __name__ == '__main__':
    unittest.main()

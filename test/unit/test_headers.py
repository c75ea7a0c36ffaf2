# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.headers: what crosses, both ways."""

import unittest

from swift_forwarder import headers as hdr

from test.unit.helpers import make_env


class TestUpstreamHeaders(unittest.TestCase):
    """The end-to-end headers sent upstream."""

    def headers(self, env, hops='me', txn_id='tx123', via='1.1 me (x)'):
        return hdr.upstream_headers(env, 'target:8080', hops, txn_id, via)

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


class TestBackendHeaders(unittest.TestCase):
    """Service mode toward a backend endpoint (core placement)."""

    ENV = {'X-Backend-Allow-Reserved-Names': 'true', 'X-Timestamp': '1.5',
           'X-Object-Sysmeta-Slo-Etag': 'e', 'X-Container-Sysmeta-V': 'v',
           'X-Account-Sysmeta-A': 'a', 'X-Object-Transient-Sysmeta-T': 't',
           'X-Auth-Token': 'AUTH_tkLOCAL', 'X-Service-Token': 'AUTH_tkS',
           'X-Storage-Token': 'AUTH_tkS2', 'X-Roles': 'admin',
           'X-User-Id': 'u', 'Authorization': 'AWS x',
           'X-Forwarded-Host': 'evil', 'X-Forwarder-Backend-State': 'x',
           'X-Forwarder-Backend-Sig': '1 abc', 'X-Object-Meta-M': 'm'}

    def names(self, **kwargs):
        return {name.lower() for name, _value in hdr.upstream_headers(
            make_env(headers=self.ENV), 't', 'me', None, 'v', **kwargs)}

    def test_cluster_headers_cross_identities_never(self):
        names = self.names(service=True, backend=True)
        for kept in ('x-backend-allow-reserved-names', 'x-timestamp',
                     'x-object-sysmeta-slo-etag', 'x-container-sysmeta-v',
                     'x-account-sysmeta-a', 'x-object-transient-sysmeta-t',
                     'x-object-meta-m'):
            self.assertIn(kept, names)
        for dropped in ('x-auth-token', 'x-service-token', 'x-storage-token',
                        'x-roles', 'x-user-id', 'authorization',
                        'x-forwarded-host', 'x-forwarder-backend-state',
                        'x-forwarder-backend-sig'):
            self.assertNotIn(dropped, names)

    def test_other_service_targets_unchanged(self):
        names = self.names(service=True)
        self.assertEqual({'host', 'x-forwarder-hops', 'x-forwarded-for',
                          'via', 'x-object-meta-m'}, names)
        self.assertFalse(hdr.is_cluster_only('x-object-meta-m', True))
        self.assertTrue(hdr.is_cluster_only('x-timestamp'))
        self.assertFalse(hdr.is_cluster_only('x-timestamp', True))

    def test_backend_state_never_from_the_client(self):
        """Whatever the mode, the signed state is the forwarder's own."""
        self.assertNotIn('x-forwarder-backend-state', self.names())


class TestResponseHeaders(unittest.TestCase):
    """The target's response headers as the client sees them."""

    def test_filtering(self):
        """Hop-by-hop dropped, X-Trans-Id renamed, the rest kept in order."""
        headers = hdr.response_headers([
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

    def test_same_every_time(self):
        """What each name becomes is remembered: the same answer again, and
        the same as with a Connection header that names nothing more."""
        headers = [('X-Trans-Id', 'tx'), ('Proxy-Foo', 'x'), ('', 'odd'),
                   ('Keep-Alive', '5'), ('Etag', 'abc')]
        expected = [('X-Forwarder-Trans-Id', 'tx'), ('', 'odd'),
                    ('Etag', 'abc')]
        for _ in range(3):
            self.assertEqual(expected, hdr.response_headers(headers))
        self.assertEqual(expected, hdr.response_headers(
            headers + [('Connection', 'keep-alive')]))

    def test_connection_tokens(self):
        """Headers the target's Connection header names are hop-by-hop
        too, in any case."""
        headers = [('Connection', 'close, X-Hop'), ('connection', 'x-other '),
                   ('x-hop', '1'), ('X-Other', '2'), ('Etag', 'abc'),
                   ('X-Trans-Id', 'tx')]
        expected = [('Etag', 'abc'), ('X-Forwarder-Trans-Id', 'tx')]
        self.assertEqual(expected, hdr.response_headers(headers))
        # the Connection value given (as the response's getheader joins it)
        self.assertEqual(expected, hdr.response_headers(
            headers, 'close, X-Hop, x-other '))
        self.assertEqual(expected[:1], hdr.response_headers(
            headers, 'close, X-Hop, x-other, X-Trans-ID'))
        self.assertEqual(headers[2:4] + expected, hdr.response_headers(
            headers[2:], ''))


MD5 = '0123456789abcdef0123456789abcdef'

if __name__ == '__main__':
    unittest.main()


class TestRewriteLocation(unittest.TestCase):
    """A redirect the target built from the Host it was sent points at
    this proxy; others stay."""

    def test_rewritten(self):
        headers = [('Location', 'http://target:8080/v1/AUTH_a/c/?x=1'),
                   ('Content-Location', 'http://target:8080/v1/AUTH_a/o')]
        self.assertEqual([
            ('Location', 'https://proxy.example.com/v1/AUTH_a/c/?x=1'),
            ('Content-Location', 'http://target:8080/v1/AUTH_a/o')],
            hdr.rewrite_location(headers, 'target:8080',
                                 'https://proxy.example.com'))

    def test_others_kept(self):
        # (a Location urllib cannot split is relayed as it came)
        for value in ('http://elsewhere/v1/AUTH_a/c/', '/v1/AUTH_a/c/',
                      'http://target:8081/x', 'http://[bad'):
            self.assertEqual([('Location', value)], hdr.rewrite_location(
                [('Location', value)], 'target:8080', 'http://proxy'))

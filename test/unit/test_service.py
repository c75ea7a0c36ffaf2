# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.service: the service mode's checks, over real
loopback sockets."""

import email.message
import io
import json
import time
import unittest
from unittest import mock

from swift_forwarder import backend, service
from swift_forwarder.auth import TokenCache
from swift_forwarder.exceptions import BadRequest, UpstreamError
from swift_forwarder.forward import SideResponse
from swift_forwarder.paths import RequestPath

from test.unit.helpers import RESUMED_DATA, FakeClock, WRONG_ETAG, \
    FakeSwobRequest, ServiceModeTestCase, forbidden, make_env, md5_hex, recording, \
    response_head, serving


def manifest_put(env):
    return service.is_manifest_put(env, RequestPath.from_environ(env))


class TestServicePaths(unittest.TestCase):
    """Service mode: the names checked, and the containers a request
    names."""

    def test_manifest_segments(self):
        """Both forms: a client's PUT (path) and a stored manifest's (name,
        sub_slo); names as WSGI strings; inline data names nothing."""
        self.assertEqual([('b', '1', False), ('a', '2/x', False),
                          ('c', 'caf\xc3\xa9', True)],
                         service.manifest_segments(
            b'[{"path": "/b/1"}, {"path": "a/2/x"}, {"data": "AAAA"}, '
            b'{"name": "/c/caf\\u00e9", "sub_slo": true}]'))
        self.assertEqual([], service.manifest_segments(b'[]'))
        for data in (b'{}', b'[1]', b'[{"path": "/c"}]', b'[{"path": 1}]',
                     b'nope', b'\xff'):
            self.assertRaises(ValueError, service.manifest_segments, data)

    def check_path(self, path):
        env = make_env(path=path)
        service.check_names(env, RequestPath.from_environ(env))

    def test_check_service_path(self):
        self.check_path('/v1/AUTH_a/c/o%2Fp')
        self.check_path('/v1/AUTH_%61/c%20d')
        for path in ('/v1/AUTH_a%2Fc/o', '/v1/AUTH_a/c%2fd/o',
                     '/v1/AUTH_a%2F'):
            with self.assertRaises(BadRequest):
                self.check_path(path)

    def test_manifest_put(self):
        self.assertTrue(manifest_put(make_env(
            'PUT', query='multipart-manifest=put')))
        self.assertTrue(manifest_put(make_env(
            'PUT', query='heartbeat=on&multipart-manifest=put')))
        self.assertFalse(manifest_put(make_env(
            'GET', query='multipart-manifest=put')))
        self.assertFalse(manifest_put(make_env(
            'PUT', query='multipart-manifest=get')))


class TestServiceMode(ServiceModeTestCase):
    """The service mode's requests to the target."""

    def test_headers_and_mapping(self):
        """The target sees the mapped account and the service token; no
        cluster-only header of the client crosses."""
        self.patch_swob()
        handler, requests = self.acl_then([(200, b'data')])
        mw = self.service_mw(handler)
        env = self.env(headers={
            'X-Auth-Token': 'AUTH_tkLOCAL', 'X-Service-Token': 'AUTH_tkX',
            'X-Backend-Storage-Policy-Index': '1', 'X-Timestamp': '1',
            'X-Object-Sysmeta-Foo': 'x', 'X-Container-Sysmeta-Foo': 'x',
            'X-Account-Sysmeta-Foo': 'x', 'X-Forwarded-For': '6.6.6.6',
            'X-Forwarded-Host': 'evil', 'X-Roles': 'admin',
            'X-User-Id': 'u', 'X-Storage-Token': 'AUTH_tkS',
            'X-Object-Transient-Sysmeta-Crypto': 'x', 'X-Auth-User': 'u',
            'X-Auth-Key': 'k', 'X-Cluster-Client-Ip': '6.6.6.7',
            'Forwarded': 'for=6.6.6.8', 'Authorization': 'AWS4 creds',
            'X-Object-Meta-Keep': 'yes', 'X-Storage-Policy': 'gold'})
        resp = self.call(mw, env)
        self.assertEqual((200, b'data'), (resp.status_int, resp.read()))
        acl_head, get = requests
        self.assertEqual(('HEAD', '/v1/AUTH_remote/c'),
                         (acl_head.method, acl_head.path))
        self.assertEqual('/v1/AUTH_remote/c/o', get.path)
        names = [name.lower() for name in get.header_names()]
        for dropped in ('x-service-token', 'x-backend-storage-policy-index',
                        'x-timestamp', 'x-object-sysmeta-foo',
                        'x-container-sysmeta-foo', 'x-account-sysmeta-foo',
                        'x-forwarded-host', 'x-roles', 'x-user-id',
                        'x-storage-token', 'x-object-transient-sysmeta-crypto',
                        'x-auth-user', 'x-auth-key', 'x-cluster-client-ip',
                        'forwarded', 'authorization'):
            self.assertNotIn(dropped, names)
        self.assertEqual('AUTH_tkSERVICE', get.header('X-Auth-Token'))
        self.assertEqual(['AUTH_tkSERVICE'], [
            v for k, v in get.headers if k.lower() == 'x-auth-token'])
        self.assertEqual('127.0.0.2', get.header('X-Forwarded-For'))
        self.assertEqual('yes', get.header('X-Object-Meta-Keep'))
        self.assertEqual('gold', get.header('X-Storage-Policy'))
        self.assertEqual([('/v1/AUTH_local/c/o', 'local:reader')],
                         self.authorized)

    def test_write_acl_for_writes_refusal_sends_nothing(self):
        """A refused PUT: the local auth's 403, and only the ACL HEAD went
        to the target; the client's body is never read."""
        self.patch_swob()
        handler, requests = self.acl_then([])
        mw = self.service_mw(handler)
        env = self.env('PUT', allow=False, body=b'intruder')
        resp = self.call(mw, env)
        self.assertEqual((403, b'Forbidden'), (resp.status_int, resp.read()))
        self.assertEqual(['HEAD'], [r.method for r in requests])
        self.assertEqual([('/v1/AUTH_local/c/o', 'local:writer')],
                         self.authorized)
        self.assertEqual(0, env['wsgi.input'].tell())

    def test_account_writes_refused(self):
        """PUT/POST/DELETE on the account: 403 unless allowed."""
        self.patch_swob()
        handler, requests = self.acl_then([(204, b'')])
        mw = self.service_mw(handler)
        resp = self.call(mw, self.env('POST', '/v1/AUTH_local'))
        self.assertEqual(403, resp.status_int)
        self.assertIn(b'allow_account_requests', resp.read())
        self.assertEqual([], requests)
        mw = self.service_mw(handler, allow_account_requests='true')
        resp = self.call(mw, self.env('POST', '/v1/AUTH_local'))
        self.assertEqual(204, resp.status_int)
        resp.read()

    def test_no_local_auth_refused(self):
        """Service mode without a local auth before it: 401, nothing sent."""
        self.patch_swob()
        handler, requests = self.acl_then([])
        mw = self.service_mw(handler)
        env = self.env()
        del env['swift.authorize']
        resp = self.call(mw, env)
        self.assertEqual(401, resp.status_int)
        resp.read()
        self.assertEqual([], requests)

    def test_401_reauth_and_retry(self):
        """The target refuses the service token: one re-auth, one retry."""
        self.patch_swob()
        handler, requests = self.acl_then([(401, b''), (200, b'ok')])
        mw = self.service_mw(handler)
        tokens = iter(['AUTH_tk1', 'AUTH_tk2'])
        mw.targets['default'].service.tokens._fetch = lambda: ('http://t/v1/AUTH_s', next(tokens))
        mw.targets['default'].service.acls.put(('AUTH_remote', 'c'), (None, None))
        resp = self.call(mw, self.env())
        self.assertEqual((200, b'ok'), (resp.status_int, resp.read()))
        self.assertEqual(['AUTH_tk1', 'AUTH_tk2'],
                         [r.header('X-Auth-Token') for r in requests])

    def test_401_twice_is_502(self):
        """Refused also after re-auth: 502, the target's 401 isn't relayed
        (the client was authorized locally)."""
        self.patch_swob()
        handler, requests = self.acl_then([(401, b''), (401, b'')])
        mw = self.service_mw(handler)
        mw.targets['default'].service.acls.put(('AUTH_remote', 'c'), (None, None))
        resp = self.call(mw, self.env())
        self.assertEqual(502, resp.status_int)
        self.assertIn(b'refused the service token', resp.read())

    def test_raise_and_delete_in_the_mapped_account(self):
        """raise_and_delete: the DELETE of the corrupt object goes where
        the PUT went, the mapped account, with the service token."""
        self.patch_swob()
        requests = []

        def respond(sock, request):
            if request.header('X-Auth-Token') != 'AUTH_tkSERVICE':
                sock.respond(401, b'')
            elif request.method == 'PUT':
                sock.respond(201, b'', [('Etag', WRONG_ETAG)])
            else:
                sock.respond(204, b'')
        mw = self.service_mw(recording(respond, requests),
                             etag_mismatch_policy='raise_and_delete')
        mw.targets['default'].service.acls.put(('AUTH_remote', 'c'), (None, None))
        resp = self.call(mw, self.env('PUT', body=b'x' * 100, headers={
            'X-Auth-Token': 'AUTH_tkLOCAL'}))
        self.assertEqual(502, resp.status_int)
        self.assertIn(b'; object deleted', resp.read())
        self.assertEqual([
            ('PUT', '/v1/AUTH_remote/c/o', 'AUTH_tkSERVICE'),
            ('DELETE', '/v1/AUTH_remote/c/o', 'AUTH_tkSERVICE'),
        ], [(r.method, r.path, r.header('X-Auth-Token')) for r in requests])

    def test_resume_in_the_mapped_account(self):
        """A GET resume goes to the mapped account with the service
        token, and re-authenticates on a 401 like any request."""
        self.patch_swob()
        etag = md5_hex(RESUMED_DATA)
        requests = []

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                requests.append(request)
                # the token expires between the GET and its resume
                if request.header('X-Auth-Token') != (
                        'AUTH_tk2' if request.header('Range') else 'AUTH_tk1'):
                    sock.respond(401, b'')
                elif request.header('Range'):
                    sock.respond(206, RESUMED_DATA[300:], [
                        ('Etag', etag),
                        ('Content-Range', 'bytes 300-1023/1024')])
                else:  # break off after 300 bytes
                    sock.sendall(response_head('200 OK', [
                        ('Content-Length', 1024), ('Etag', etag)]) +
                        RESUMED_DATA[:300])
                    return
        mw = self.service_mw(handler, client_chunk_size='64')
        tokens = iter(['AUTH_tk1', 'AUTH_tk2'])
        service = mw.targets['default'].service
        service.tokens._fetch = lambda: ('http://t/v1/AUTH_s', next(tokens))
        service.acls.put(('AUTH_remote', 'c'), (None, None))
        resp = self.call(mw, self.env(headers={
            'X-Auth-Token': 'AUTH_tkLOCAL'}))
        self.assertEqual((200, RESUMED_DATA), (resp.status_int, resp.read()))
        self.assertEqual([
            ('/v1/AUTH_remote/c/o', None, 'AUTH_tk1'),
            ('/v1/AUTH_remote/c/o', 'bytes=300-1023', 'AUTH_tk1'),
            ('/v1/AUTH_remote/c/o', 'bytes=300-1023', 'AUTH_tk2'),
        ], [(r.path, r.header('Range'), r.header('X-Auth-Token'))
            for r in requests])
        self.assertEqual(1, self.counters(mw)['resumes'])

    def test_401_after_the_body_is_502(self):
        """A 401 that comes after the target took the body (it sent 100
        Continue): the body is gone, so no retry; 502, and the next request
        gets a new token."""
        self.patch_swob()
        requests = []
        mw = self.service_mw(recording(lambda sock, request: sock.respond(
            401 if request.method == 'PUT' else 200, b''), requests))
        tokens = iter(['AUTH_tk1', 'AUTH_tk2'])
        service = mw.targets['default'].service
        service.tokens._fetch = lambda: ('http://t/v1/AUTH_s', next(tokens))
        service.acls.put(('AUTH_remote', 'c'), (None, None))
        resp = self.call(mw, self.env('PUT', body=b'x' * 100))
        self.assertEqual(502, resp.status_int)
        self.assertIn(b'refused the service token mid-upload', resp.read())
        self.assertEqual(['PUT'], [r.method for r in requests])
        resp = self.call(mw, self.env())
        self.assertEqual(200, resp.status_int)
        resp.read()
        self.assertEqual('AUTH_tk2', requests[-1].header('X-Auth-Token'))

    def test_bad_input_before_acl_lookup(self):
        """Bad input is refused before anything, the ACL HEAD included,
        goes to the target."""
        self.patch_swob()
        handler, requests = self.acl_then([])
        mw = self.service_mw(handler)
        resp = self.call(mw, self.env('PUT', headers={
            'Content-Length': '5', 'Transfer-Encoding': 'chunked'}))
        self.assertEqual(400, resp.status_int)
        resp.read()
        self.assertEqual([], requests)
        self.assertEqual([], self.authorized)


class TestServiceReferences(ServiceModeTestCase):
    """Service mode: whatever the target would read or write with the
    forwarder's identity is authorized as the client first: the request's
    own container, and every container a header or an SLO manifest names.
    The client ``local:u`` may read and write container ``shared`` (its
    target ACLs say so) and nothing in container ``private``."""

    ACLS = {'shared': ('local:u', 'local:u'), 'private': (None, None)}

    def setUp(self):
        super().setUp()
        self.patch_swob()
        self.sent = []

        def respond(sock, request):
            if request.method == 'HEAD' and request.path.count('/') == 3:
                read, write = self.ACLS[request.path.split('/')[3]]
                sock.respond(204, b'', [
                    (name, value) for name, value in (
                        ('X-Container-Read', read),
                        ('X-Container-Write', write)) if value])
            elif request.header('X-Forwarder-Hops') is None:
                # the forwarder's own checks (no loop-guard header)
                self.aux.append(request)
                sock.respond(*self.replies.get(
                    (request.method, request.target), (200, b'')))
            else:
                self.sent.append(request)
                sock.respond(*self.replies.get(request.target, (201, b'')))
        self.replies = {}  # request target: (status, body, headers)
        self.aux = []  # the forwarder's HEADs and manifest GETs
        self.respond = respond
        self.mw = self.service_mw(serving(respond), forward='*')

    def request(self, method='PUT', path='/v1/AUTH_local/shared/o',
                headers=None, body=b'', owner=False, **kwargs):
        env = make_env(method, path, headers=headers, body=body, **kwargs)
        if 'chunked' in (headers or {}).values():
            del env['CONTENT_LENGTH']  # eventlet de-chunks wsgi.input

        def authorize(req):
            """tempauth's way: the owner, or a user in the ACL; else
            refused."""
            self.authorized.append((req.environ['REQUEST_METHOD'],
                                    req.environ['PATH_INFO'], req.acl))
            if owner or 'local:u' in (req.acl or ''):
                return None
            return forbidden
        env['swift.authorize'] = authorize
        resp = self.call(self.mw, env)
        return resp.status_int, resp.read()

    def test_copy_from_needs_read_on_the_source(self):
        status, _body = self.request(headers={
            'X-Copy-From': 'private/secret'})
        self.assertEqual(403, status)
        self.assertEqual([], self.sent)
        self.assertEqual([
            ('PUT', '/v1/AUTH_local/shared/o', 'local:u'),
            ('GET', '/v1/AUTH_local/private/secret', None),
        ], self.authorized)
        status, _body = self.request(headers={
            'X-Copy-From': '/shared/%6Fther'})
        self.assertEqual(201, status)
        self.assertEqual('/shared/%6Fther',
                         self.sent[0].header('X-Copy-From'))

    def test_each_reference_header(self):
        """Copy's Destination (write), a symlink's target and a DLO's
        segments (read), in a container the client may not use: 403 and
        nothing sent; in its own container, forwarded."""
        for method, name, private, shared in (
                ('COPY', 'Destination', 'private/o', 'shared/o2'),
                ('PUT', 'X-Symlink-Target', 'private/o', 'shared/o2'),
                ('PUT', 'X-Object-Manifest', 'private/seg-', 'shared/seg-'),
                ('POST', 'X-Object-Manifest', 'private/', 'shared/')):
            self.sent[:] = []
            status, _body = self.request(method, headers={name: private})
            self.assertEqual((403, []), (status, self.sent), name)
            status, _body = self.request(method, headers={name: shared})
            self.assertEqual(201, status, name)
            self.assertEqual([(method, '/v1/AUTH_remote/shared/o', shared)],
                             [(r.method, r.path, r.header(name))
                              for r in self.sent])

    def test_copy_reads_its_source_and_writes_its_destination(self):
        self.ACLS = {'shared': ('local:u', None), 'private': (None, None),
                     'w': (None, 'local:u')}
        self.assertEqual(201, self.request('COPY', headers={
            'Destination': 'w/o'})[0])
        self.assertEqual([
            ('COPY', '/v1/AUTH_local/shared/o', 'local:u'),  # the read ACL
            ('PUT', '/v1/AUTH_local/w/o', 'local:u'),  # the write ACL
        ], self.authorized)

    def test_malformed_reference(self):
        """A reference naming no container, or one with an encoded '/':
        400, nothing sent."""
        for value in ('justanobject', '', '/', 'sha%2Fred/o', '%2Fshared/o'):
            status, body = self.request(headers={'X-Copy-From': value})
            self.assertEqual(400, status, value)
            self.assertIn(b'X-Copy-From must be of the form', body)
        self.assertEqual([], self.sent)

    def test_account_references(self):
        """Another account: 403.  The request's own: forwarded, the header
        dropped (the target's default is the mapped account)."""
        for name in ('X-Copy-From-Account', 'Destination-Account',
                     'X-Symlink-Target-Account'):
            status, body = self.request(headers={
                name: 'AUTH_other', 'X-Copy-From': 'shared/a'})
            self.assertEqual(403, status, name)
            self.assertIn(b'a reference to another account', body)
            self.assertEqual([], self.sent)
            status, _body = self.request(headers={
                name: 'AUTH_%6Cocal', 'X-Copy-From': 'shared/a'})
            self.assertEqual(201, status)
            self.assertNotIn(name.lower(), [
                n.lower() for n in self.sent[0].header_names()])
            self.sent[:] = []

    def manifest(self, *paths):
        return json.dumps([{'path': path, 'etag': None, 'size_bytes': None}
                           for path in paths] + [{'data': 'AAAA'}]).encode()

    def test_slo_manifest_segments(self):
        """Each segment's container is authorized for reading; the
        manifest then goes to the target as sent, also when it came
        chunked."""
        body = self.manifest('/shared/s1', '/private/s2')
        status, _body = self.request(body=body,
                                     query='multipart-manifest=put')
        self.assertEqual((403, []), (status, self.sent))
        self.assertEqual(('GET', '/v1/AUTH_local/private/.', None),
                         self.authorized[-1])
        body = self.manifest('/shared/s1', 'shared/s2')
        status, _body = self.request(body=body,
                                     query='multipart-manifest=put')
        self.assertEqual(201, status)
        env_chunked = dict(headers={'Transfer-Encoding': 'chunked'})
        status, _body = self.request(
            body=body, query='multipart-manifest=put', **env_chunked)
        self.assertEqual(201, status)
        self.assertEqual([body, body], [r.body for r in self.sent])
        self.assertEqual([str(len(body))] * 2, [
            r.header('Content-Length') for r in self.sent])

    def test_slo_manifest_refusals(self):
        """Not a manifest: 400; larger than Swift's limit: 413; nothing
        sent."""
        for body in (b'{"path": "/shared/s"}', b'not json', b'[1]',
                     b'[{"path": "nocontainer"}]', b'[{"path": 5}]',
                     b'\xff'):
            status, text = self.request(body=body,
                                        query='multipart-manifest=put')
            self.assertEqual(400, status, body)
            self.assertIn(b'Invalid SLO manifest', text)
        with mock.patch('swift_forwarder.service.MAX_MANIFEST_SIZE', 10):
            status, text = self.request(body=self.manifest('/shared/s'),
                                        query='multipart-manifest=put')
        self.assertEqual(413, status)
        self.assertEqual([], self.sent)

    def test_reading_through_references(self):
        """A GET the target answers by following a symlink, a DLO or an
        SLO into a container the reader may not read: 403, as from Swift
        alone (which checks each of those reads against the reader); one
        the reader may read: relayed."""
        manifest = self.manifest('/shared/s1', '/private/s2')
        self.replies = {
            '/v1/AUTH_remote/shared/sym': (200, b'secret', [
                ('Content-Location', '/v1/AUTH_remote/private/secret')]),
            '/v1/AUTH_remote/shared/sym-ok': (200, b'fine', [
                ('Content-Location', '/v1/AUTH_remote/shared/o%20k')]),
            '/v1/AUTH_remote/shared/sym-away': (200, b'secret', [
                ('Content-Location', '/v1/AUTH_elsewhere/shared/o')]),
            '/v1/AUTH_remote/shared/dlo': (200, b'secret', [
                ('X-Object-Manifest', 'private/seg-')]),
            '/v1/AUTH_remote/shared/dlo-ok': (200, b'fine', [
                ('X-Object-Manifest', 'shared/seg-')]),
            '/v1/AUTH_remote/shared/slo': (200, b'secret', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/slo?multipart-manifest=get'):
                (200, manifest, []),
        }
        for name, expected in (('sym', 403), ('sym-ok', 200),
                               ('sym-away', 403), ('dlo', 403),
                               ('dlo-ok', 200), ('slo', 409)):
            for method in ('GET', 'HEAD'):
                if (name, method) == ('slo', 'HEAD'):
                    continue  # the manifest's own metadata: no segment read
                status, body = self.request(
                    method, path='/v1/AUTH_local/shared/' + name)
                self.assertEqual(expected, status, (name, method))
                if method == 'GET':
                    self.assertNotEqual(b'secret', body, name)
        self.assertEqual(('GET', '/v1/AUTH_local/private/.', None),
                         self.authorized[-1])  # the SLO's private segment
        # a manifest that cannot be read: 502, nothing relayed, no leak
        self.replies.update({
            '/v1/AUTH_remote/shared/slo-bad': (200, b'secret', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/slo-bad?multipart-manifest=get'):
                (500, b'oops', [])})
        status, body = self.request('GET', path='/v1/AUTH_local/shared/slo-bad')
        self.assertEqual(502, status)
        self.assertIn(b'cannot read the SLO manifest', body)
        # reading the manifest itself reads no segment
        self.replies['/v1/AUTH_remote/shared/slo?multipart-manifest=get'] = \
            (200, manifest, [])
        status, body = self.request('GET', path='/v1/AUTH_local/shared/slo',
                                    query='multipart-manifest=get')
        self.assertEqual((200, manifest), (status, body))
        # ...but only if that is what the target reads (the last value)
        self.replies['/v1/AUTH_remote/shared/slo?multipart-manifest=get&'
                     'multipart-manifest=no'] = self.replies[
                         '/v1/AUTH_remote/shared/slo']
        status, body = self.request(
            'GET', path='/v1/AUTH_local/shared/slo',
            query='multipart-manifest=get&multipart-manifest=no')
        self.assertEqual(409, status)
        self.assertPool(self.mw, in_use=0)

    def test_copy_of_a_reference(self):
        """A copy reads its source as a GET would: a source that is a
        symlink, DLO or SLO into a container the client may not read is
        refused (a HEAD of it shows what it refers to), and nothing is
        copied.  Copying the reference itself (symlink=get,
        multipart-manifest=get) makes a reference, checked when read."""
        self.replies = {
            ('HEAD', '/v1/AUTH_remote/shared/sym'): (200, b'', [
                ('Content-Location', '/v1/AUTH_remote/private/secret')]),
            ('HEAD', '/v1/AUTH_remote/shared/dlo'): (200, b'', [
                ('X-Object-Manifest', 'private/seg-')]),
            ('HEAD', '/v1/AUTH_remote/shared/slo'): (200, b'', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/slo?multipart-manifest=get'): (
                200, self.manifest('/private/s'), []),
        }
        for name, status in (('sym', 403), ('dlo', 403), ('slo', 409),
                             ('plain', 201)):
            self.assertEqual(status, self.request(headers={
                'X-Copy-From': 'shared/' + name})[0], name)
            self.assertEqual(status, self.request(
                'COPY', path='/v1/AUTH_local/shared/' + name,
                headers={'Destination': 'shared/copy'})[0], name)
        self.assertEqual(['PUT', 'COPY'], [r.method for r in self.sent])
        self.aux[:] = []
        self.assertEqual(201, self.request(query='symlink=get', headers={
            'X-Copy-From': 'shared/sym'})[0])
        self.assertEqual(201, self.request(
            query='multipart-manifest=get',
            headers={'X-Copy-From': 'shared/slo'})[0])
        self.assertEqual([], self.aux)  # no HEAD of the source

    def test_manifest_delete_needs_write_on_every_segment(self):
        """``?multipart-manifest=delete`` deletes the segments too, nested
        manifests' included: the client must be allowed to write each of
        their containers."""
        self.ACLS = dict(self.ACLS, ro=('local:u', None))
        self.replies = {
            ('HEAD', '/v1/AUTH_remote/shared/m'): (200, b'', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/m?multipart-manifest=get'): (
                200, json.dumps([
                    {'name': '/shared/s1'},
                    {'name': '/shared/sub', 'sub_slo': True}]).encode(), []),
            ('GET', '/v1/AUTH_remote/shared/sub?multipart-manifest=get'): (
                200, json.dumps([{'name': '/ro/victim'}]).encode(), []),
        }
        status, _body = self.request('DELETE', path='/v1/AUTH_local/shared/m',
                                     query='multipart-manifest=delete')
        self.assertEqual((403, []), (status, self.sent))
        self.assertEqual(('DELETE', '/v1/AUTH_local/ro/.', None),
                         self.authorized[-1])
        self.ACLS['ro'] = ('local:u', 'local:u')
        self.mw.targets['default'].service.acls.clear()  # ACL cache
        status, _body = self.request('DELETE', path='/v1/AUTH_local/shared/m',
                                     query='multipart-manifest=delete')
        self.assertEqual(201, status)
        self.assertEqual(['DELETE'], [r.method for r in self.sent])
        # a plain DELETE, or one of a plain object, reads no manifest
        self.aux[:] = []
        self.request('DELETE', path='/v1/AUTH_local/shared/m')
        self.assertEqual([], [r for r in self.aux if r.method == 'GET'])

    def test_nested_manifest_read_through(self):
        """An SLO whose segment is an SLO with a segment the reader may
        not read: 409."""
        self.replies = {
            '/v1/AUTH_remote/shared/outer': (200, b'secret', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/outer?multipart-manifest=get'): (
                200, json.dumps([{'name': '/shared/inner',
                                  'sub_slo': True}]).encode(), []),
            ('GET', '/v1/AUTH_remote/shared/inner?multipart-manifest=get'): (
                200, json.dumps([{'name': '/private/s'}]).encode(), []),
        }
        status, body = self.request('GET', path='/v1/AUTH_local/shared/outer')
        self.assertEqual(409, status)
        self.assertNotEqual(b'secret', body)

    def test_reference_checks_never_wait_on_their_own_pool(self):
        """pool_size 1: the GET holds the only connection while its
        reference's ACLs and manifest are read; those take one more instead
        of waiting for it (a 503 after pool_timeout)."""
        self.mw = self.service_mw(serving(self.respond), forward='*',
                                  pool_size='1', pool_timeout='0.5')
        pool = self.mw.targets['default'].pool
        self.replies = {
            '/v1/AUTH_remote/shared/sym': (200, b'fine', [
                ('Content-Location', '/v1/AUTH_remote/other/o')]),
            '/v1/AUTH_remote/shared/slo': (200, b'fine', [
                ('X-Static-Large-Object', 'True')]),
            ('GET', '/v1/AUTH_remote/shared/slo?multipart-manifest=get'): (
                200, self.manifest('/other/s'), []),
        }
        self.ACLS = dict(self.ACLS, other=('local:u', None))
        for name in ('sym', 'slo'):
            self.ACLS = dict(self.ACLS)  # never cached: new containers
            self.mw.targets['default'].service.acls.clear()
            started = time.monotonic()
            self.assertEqual((200, b'fine'), self.request(
                'GET', path='/v1/AUTH_local/shared/' + name), name)
            self.assertLess(time.monotonic() - started, 0.5)
        self.assertPool(self.mw, in_use=0)
        self.assertLessEqual(pool.idle, 1)

    def test_tempurl_params_stay_here(self):
        """The local tempurl middleware checked the signature; the target
        would check it against its own account's keys."""
        self.request('GET', query='temp_url_sig=abc&temp_url_expires=9&'
                     'inline', owner=True)
        self.assertEqual('/v1/AUTH_remote/shared/o?inline',
                         self.sent[-1].target)

    def test_bulk_operations_refused(self):
        """bulk-delete and extract-archive name objects of any container
        in their body: refused, whatever the path, nothing sent."""
        for method, path, query in (
                ('DELETE', '/v1/AUTH_local/shared/o', 'bulk-delete'),
                ('POST', '/v1/AUTH_local/shared', 'bulk-delete=1'),
                ('PUT', '/v1/AUTH_local/shared', 'extract-archive=tar'),
                ('PUT', '/v1/AUTH_local/shared/o', 'x=1&extract-archive=tar.gz')):
            status, body = self.request(method, path=path, query=query,
                                        body=b'/private/secret\n', owner=True)
            self.assertEqual(403, status, query)
            self.assertIn(b'is not forwarded in service mode', body)
        self.assertEqual(0, self.server.accepted)

    def test_unmapped_account_refused(self):
        """With account_map, a local account not in it: 403, nothing
        reaches the target (not even the ACL HEAD)."""
        status, body = self.request(path='/v1/AUTH_stranger/shared/o')
        self.assertEqual(403, status)
        self.assertIn(b'AUTH_stranger is not forwarded', body)
        self.assertEqual(0, self.server.accepted)

    def test_encoded_slash_in_account_or_container(self):
        """``AUTH_local%2Fshared`` would be authorized as one container and
        reach the target as another: 400, nothing sent."""
        for path in ('/v1/AUTH_local%2Fprivate/shared/o',
                     '/v1/AUTH_local/shared%2Fx/o', '/v1/AUTH_local%2Fshared'):
            status, body = self.request('POST', path=path)
            self.assertEqual(400, status, path)
            self.assertIn(b"encoded '/'", body)
        self.assertEqual(0, self.server.accepted)
        # in the object name it is just a name
        self.assertEqual(201, self.request(
            path='/v1/AUTH_local/shared/a%2Fb')[0])
        self.assertEqual('/v1/AUTH_remote/shared/a%2Fb', self.sent[0].path)

    def test_query_with_slash_in_account_request(self):
        """An account GET whose query holds '/' keeps its path and query."""
        status, _body = self.request(
            'GET', path='/v1/AUTH_local', query='prefix=a/b&delimiter=/',
            owner=True)
        self.assertEqual(201, status)
        self.assertEqual('/v1/AUTH_remote?prefix=a/b&delimiter=/',
                         self.sent[0].target)


class TestAclCache(unittest.TestCase):
    """The target containers' ACLs, read with a side request answered
    ``status`` with no ACL, as the local auth is given them."""

    def setUp(self):
        patcher = mock.patch.object(service, 'Request', FakeSwobRequest)
        patcher.start()
        self.addCleanup(patcher.stop)

    def service_mode(self, status):
        heads = []

        class Upstream(object):
            name = 'http://t'

            @staticmethod
            def side_request(method, target, headers=(), max_body=0,
                             extra=False, send=None):
                heads.append((method, target))
                return SideResponse(status, 'Reason', email.message.Message(),
                                    b'')

        tokens = TokenCache('t', lambda: ('http://t/v1/AUTH_s', 'tk'), 60)
        return service.ServiceMode(Upstream(), tokens, {}, False, None,
                                   clock=FakeClock()), heads

    def authorize(self, mode, container):
        """The ACL the local auth saw for a read of ``container``."""
        seen = []
        env = {'PATH_INFO': '/v1/AUTH_l/%s/o' % container,
               'REQUEST_METHOD': 'GET',
               'swift.authorize': lambda req: seen.append(req.acl)}
        mode.authorize_reference(env, container, 'o')
        return seen

    def test_acl_errors(self):
        """A target error while reading ACLs is a 5xx, not an allow."""
        mode, _heads = self.service_mode(500)
        with self.assertRaises(UpstreamError):
            self.authorize(mode, 'c')

    def test_acl_cache_bounded(self):
        """Requests for ever new container names (anonymous ones too)
        never grow the ACL cache past ACL_CACHE_SIZE."""
        mode, heads = self.service_mode(404)
        with mock.patch('swift_forwarder.service.ACL_CACHE_SIZE', 5):
            mode.acls.maxsize = service.ACL_CACHE_SIZE
            for n in range(12):
                self.assertEqual([None], self.authorize(mode, 'c%d' % n))
                self.assertLessEqual(len(mode.acls), 5)
            self.authorize(mode, 'c11')  # still cached
        self.assertEqual([('HEAD', '/v1/AUTH_l/c%d' % n) for n in range(12)],
                         heads)


if __name__ == '__main__':
    unittest.main()


class TestBackendEndpoint(ServiceModeTestCase):
    """Service mode toward a backend endpoint (core placement): the
    request's own container is authorized as proxy-server does, what the
    local middlewares tell proxy-server goes along, signed."""

    def backend_mw(self, handler):
        return self.service_mw(handler, backend_endpoint='true',
                               backend_key='bk')

    def answering(self, *responses):
        requests = []
        answers = list(responses)
        return recording(lambda sock, request: sock.respond(
            *answers.pop(0)), requests), requests

    def test_owner_costs_no_acl_read(self):
        """The local auth allows (an owner, a pre-authorized subrequest's
        no-op authorize): no ACL HEAD, asked once without an ACL."""
        self.patch_swob()
        handler, requests = self.answering((200, b'data'))
        resp = self.call(self.backend_mw(handler), self.env())
        self.assertEqual((200, b'data'), (resp.status_int, resp.read()))
        self.assertEqual([('GET', '/v1/AUTH_remote/c/o')],
                         [(r.method, r.path) for r in requests])
        self.assertEqual([('/v1/AUTH_local/c/o', None)], self.authorized)

    def test_refused_then_asked_with_the_acl(self):
        """Refused without an ACL, asked again with the target container's
        (read for a GET, write for a PUT): allowed by it, forwarded; refused
        by it too, the local auth's 403 and nothing but the ACL HEAD."""
        self.patch_swob()
        for method, acl, allowed in (('GET', 'local:reader', True),
                                     ('PUT', 'local:writer', True),
                                     ('GET', 'local:reader', False)):
            del self.authorized[:]
            handler, requests = self.acl_then([(201, b'')])
            env = self.env(method, body=b'x' if method == 'PUT' else None)

            def authorize(req):
                self.authorized.append(req.acl)
                return None if allowed and req.acl else forbidden
            env['swift.authorize'] = authorize
            resp = self.call(self.backend_mw(handler), env)
            resp.read()
            self.assertEqual([None, acl], self.authorized)
            self.assertEqual(['HEAD', method] if allowed else ['HEAD'],
                             [r.method for r in requests])
            self.assertEqual(201 if allowed else 403, resp.status_int)

    def test_no_authorize_no_check(self):
        """As in proxy-server: a request without swift.authorize is not
        checked (in federation it gets 401)."""
        handler, requests = self.answering((200, b'data'))
        env = self.env()
        del env['swift.authorize']
        resp = self.call(self.backend_mw(handler), env)
        self.assertEqual((200, b'data'), (resp.status_int, resp.read()))

    def test_no_reference_checks(self):
        """The local copy/slo/dlo/symlink above did the composite work and
        their subrequests come through on their own: headers and bodies
        naming other containers, bulk parameters, read-through answers are
        not looked into (no side request), and nothing is refused."""
        self.patch_swob()
        manifest = b'[{"path": "/other/seg"}]'
        handler, requests = self.answering(
            (201, b''), (200, b'', [('X-Object-Manifest', 'other/x'),
                                    ('Content-Location', '/v1/AUTH_x/c/o')]),
            (200, b''))
        mw = self.backend_mw(handler)
        for env in (self.env('PUT', query='multipart-manifest=put',
                             body=manifest, headers={
                                 'X-Copy-From': 'other/obj',
                                 'X-Copy-From-Account': 'AUTH_x'}),
                    self.env('GET'),
                    self.env('DELETE', '/v1/AUTH_local/c',
                             query='bulk-delete')):
            resp = self.call(mw, env)
            resp.read()
            self.assertLess(resp.status_int, 300)
        self.assertEqual(['PUT', 'GET', 'DELETE'],
                         [r.method for r in requests])
        self.assertEqual(manifest, requests[0].body)
        self.assertEqual('AUTH_x', requests[0].header('X-Copy-From-Account'))

    def test_state_signed_for_the_mapped_path(self):
        """A write whose environ says swift.content_type_overridden carries
        it, signed with backend_key over what the target receives; other
        requests (and side requests) carry none."""
        self.patch_swob()
        handler, requests = self.answering((201, b''), (200, b'd'))
        mw = self.backend_mw(handler)
        env = self.env('PUT', body=b'[]', headers={
            'Content-Type': 'text/plain;swift_bytes=3'})
        env['swift.content_type_overridden'] = True
        self.call(mw, env).read()
        get = self.env()
        get['swift.content_type_overridden'] = True
        self.call(mw, get).read()
        put = requests[0]
        self.assertEqual(['content_type_overridden'], backend.verify(
            ['bk'], 'PUT', b'/v1/AUTH_remote/c/o',
            put.header(backend.STATE_HEADER), put.header(backend.SIG_HEADER)))
        self.assertIsNone(requests[1].header(backend.STATE_HEADER))
        self.assertIsNone(requests[1].header(backend.SIG_HEADER))

    def test_put_body_beyond_content_length_zero(self):
        """Object versioning's PUT of a version says Content-Length: 0 and
        carries the body: proxy-server reads it to its end, so do we (sent
        chunked).  A PUT that really is empty stays empty."""
        self.patch_swob()
        handler, requests = self.answering((201, b''), (201, b''))
        mw = self.backend_mw(handler)
        for data in (b'version data', b''):
            env = self.env('PUT', body=b'')
            env['wsgi.input'] = io.BytesIO(data)
            resp = self.call(mw, env)
            self.assertEqual((201, b''), (resp.status_int, resp.read()))
        self.assertEqual(b'version data', requests[0].body)
        self.assertEqual('chunked', requests[0].header('Transfer-Encoding'))
        self.assertEqual((b'', '0'), (requests[1].body,
                                      requests[1].header('Content-Length')))

    def test_container_writes_clear_the_info_cache(self):
        """As proxy-server does for its own containers: what the local
        middlewares read of a container (get_container_info) is not kept
        across a PUT, POST or DELETE of it; reads leave it."""
        self.patch_swob()
        handler, requests = self.answering(
            (204, b''), (201, b''), (204, b''), (204, b''))
        mw = self.backend_mw(handler)
        for method, cleared in (('HEAD', False), ('PUT', True),
                                ('POST', True), ('DELETE', True)):
            env = self.env(method, '/v1/AUTH_local/c')
            env['swift.infocache'] = {'container/AUTH_local/c': {'x': 1}}
            self.call(mw, env).read()
            self.assertEqual(not cleared, bool(env['swift.infocache']),
                             method)


class TestOwnerHeaders(ServiceModeTestCase):
    """The target answers the service identity, an owner: what Swift's
    proxy shows owners only (ACLs, tempurl keys, sync settings) reaches a
    client only if the local auth made it an owner (``swift_owner``)."""

    def test_stripped_for_non_owners(self):
        self.patch_swob()
        private = [('X-Container-Read', 'a:b'), ('X-Container-Write', 'a:c'),
                   ('X-Container-Meta-Temp-Url-Key', 'secret'),
                   ('X-Container-Sync-Key', 'sync'),
                   ('X-Container-Meta-Color', 'blue')]
        for owner, kept in ((False, {'x-container-meta-color'}),
                            (True, {name.lower() for name, _v in private})):
            handler = recording(lambda sock, request: sock.respond(
                204, b'', private), [])  # the ACL HEAD too
            env = self.env('HEAD', '/v1/AUTH_local/c')
            if owner:
                env['swift_owner'] = True
            resp = self.call(self.service_mw(handler), env)
            resp.read()
            names = {name.lower() for name, _v in resp.headers}
            self.assertEqual(kept, names & {n.lower() for n, _v in private})

    def test_objects_untouched(self):
        """As in Swift: object responses carry no owner header to strip
        (an object's X-Object-Meta-* are the reader's to see)."""
        self.patch_swob()
        handler, _requests = self.acl_then([(200, b'x', [
            ('X-Object-Meta-Color', 'blue')])])
        resp = self.call(self.service_mw(handler), self.env())
        self.assertEqual(b'x', resp.read())
        self.assertEqual('blue', resp.header('X-Object-Meta-Color'))

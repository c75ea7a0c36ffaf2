# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Security properties of the service mode (federation placement,
``auth_mode = service``) and of passthrough, checked on the wire.

A recording relay (:class:`test.functional.wire.RecordingRelay`, a
fault proxy that keeps every request byte it relays) sits between the forwarder and the
target cluster's proxy, so the tests assert what the target was sent, not
what a log says: which headers cross, which token, and whether anything at
all reached the target for a request the local cluster refused.

Service mode also authorizes, as the client, what a request makes the
target read or write besides its own path (copy sources and destinations,
symlink targets, DLO and SLO segments), refuses references to other
accounts, an encoded '/' in the account or container, and local accounts
not in ``account_map``; and reading *through* a reference someone else
made is authorized against the reader, as in Swift alone.
"""

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.parse
import uuid

import pytest

from test.functional.rawhttp import port_of, send_raw
from test.functional.util import Api, Client, on_target, request
from test.functional.wire import RecordingRelay, with_txn

#: Service mode: the local account AUTH_test maps onto AUTH_test2 on the
#: target, where the forwarder logs in as test2:tester2.  AUTH_test2's
#: containers are forwarded too, but AUTH_test2 is not in account_map.
SERVICE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
           'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
           'forward': 'AUTH_test/sec* AUTH_test2/sec*'}


# -- clusters set up for these tests

class Setup(object):
    """The local proxy, reconfigured per test group: its forwarder talks to
    the target through ``relay``."""

    def __init__(self, local, target, relay):
        self.local, self.target, self.relay = local, target, relay
        self.normal = dict(local.filters['forwarder'])
        self.normal_before = local.pipeline_before
        self.mode = None

    def service(self):
        """Federation placement: after tempauth, before copy/slo/dlo."""
        if self.mode != 'service':
            self.local.pipeline_before = 'copy'
            self.local.set_filter_conf('forwarder', dict(
                self.normal, target_url=self.relay.url,
                auth_url=self.target.auth_url, **SERVICE))
            self.mode = 'service'

    def passthrough(self):
        """Gateway placement, as the session runs it, via the relay."""
        if self.mode != 'passthrough':
            self.local.pipeline_before = self.normal_before
            self.local.set_filter_conf('forwarder', dict(
                self.normal, target_url=self.relay.url))
            self.mode = 'passthrough'

    def restore(self):
        self.local.pipeline_before = self.normal_before
        self.local.set_filter_conf('forwarder', self.normal)


@pytest.fixture(scope='module')
def setup(clusters):
    local, target = clusters
    relay = RecordingRelay('127.0.0.1', target.ports['proxy'],
                           max_lifetime=3600).start()
    env = Setup(local, target, relay)
    try:
        yield env
    finally:
        try:
            env.restore()
        finally:
            relay.stop()


@pytest.fixture
def service(setup):
    setup.service()
    return setup


def owner(setup):
    return Client(setup.local, 'test:tester', 'testing')


def other(setup):
    """A user of AUTH_test who is not its admin."""
    return Client(setup.local, 'test:tester3', 'testing3')


def _delete_container(target, name):
    for _ in range(5):
        status, _h, body = on_target(target, 'GET', '/%s?format=json' % name)
        names = [o['name'] for o in json.loads(body)] if status == 200 else []
        if not names:
            break
        for obj in names:
            on_target(target, 'DELETE', '/%s/%s' % (
                name, urllib.parse.quote(obj)))
    on_target(target, 'DELETE', '/' + name)


@pytest.fixture
def containers(service):
    """Two new forwarded containers (on the target's AUTH_test2), made by
    their local owner; removed directly on the target afterwards."""
    names = ['sec-%s' % uuid.uuid4().hex[:10] for _ in range(2)]
    for name in names:
        assert owner(service)('PUT', '/' + name)[0] == 201
    yield names
    for name in names:
        _delete_container(service.target, name)


def drop_target_token(target, token):
    """Make the target forget ``token`` (tempauth keeps its tokens in
    memcache, under an MD5 of ``AUTH_/token/<token>``): the next request
    with it gets 401.  Other tokens stay valid."""
    key = hashlib.md5(('AUTH_/token/%s' % token).encode()).hexdigest()
    with socket.create_connection(
            ('127.0.0.1', target.ports['memcached']), timeout=5) as sock:
        sock.sendall(b'delete %s\r\n' % key.encode())
        assert sock.recv(64) == b'DELETED\r\n', 'no such token on the target'


# -- Part A: service mode, what crosses

def _service_leak_headers(marker):
    """Headers that must not cross in service mode, each value holding
    ``marker`` (so none of it may show anywhere in the relayed bytes)."""
    names = [
        'X-Backend-Storage-Policy-Index', 'X-Backend-Allow-Reserved-Names',
        'X-Object-Sysmeta-Leak', 'X-Container-Sysmeta-Leak',
        'X-Account-Sysmeta-Leak', 'X-Object-Transient-Sysmeta-Leak',
        'X-Timestamp', 'X-Auth-User', 'X-Auth-Key', 'X-Service-Token',
        'X-Storage-Token', 'X-Storage-User', 'X-Storage-Pass',
        'X-Forwarded-Host', 'X-Forwarded-Proto',
        'X-Roles', 'X-Service-Roles', 'X-User-Id', 'X-User-Name',
        'X-User-Domain-Id', 'X-Tenant-Id', 'X-Tenant-Name', 'X-Project-Id',
        'X-Project-Name', 'X-Project-Domain-Id', 'X-Domain-Id',
        'X-Identity-Status', 'X-Is-Admin-Project',
        # hop-by-hop
        'X-Hop-Named', 'Keep-Alive', 'TE', 'Trailer', 'Upgrade',
        'Proxy-Authorization', 'Proxy-Connection']
    headers = {name: '%s-%d' % (marker, i) for i, name in enumerate(names)}
    # tempauth reads the service token: keep it token-shaped
    headers['X-Service-Token'] = 'AUTH_tk%s' % marker
    headers['Connection'] = 'keep-alive, X-Hop-Named'
    return headers


def _check_not_crossing(service, container, method, leaks, marker):
    """Send ``method`` to an object of ``container`` through the local
    proxy with the ``leaks`` headers (each value holds ``marker``, except
    a spoofed X-Forwarded-For), and a user metadata header; assert on the
    wire that none of ``leaks`` crossed and the metadata did."""
    relay, client = service.relay, owner(service)
    path = '/%s/obj' % container
    if method == 'GET':
        assert client('PUT', path, body=b'payload')[0] == 201
    meta = 'crosses-%s' % uuid.uuid4().hex[:8]
    headers = dict(leaks, **{'X-Object-Meta-Crosses': meta})
    seen = relay.mark()
    status, resp_headers, body = client(
        method, path, headers, b'payload' if method == 'PUT' else None)
    assert status == (201 if method == 'PUT' else 200), body
    assert 'x-forwarder-trans-id' in resp_headers

    [wire] = with_txn(relay.since(seen), resp_headers['x-trans-id'])
    assert (wire.method, wire.target) == (
        method, '/v1/AUTH_test2%s' % path)
    crossed = sorted(wire.names() & {
        name.lower() for name in leaks
        if name not in ('X-Forwarded-For', 'Connection')})
    assert crossed == []
    assert all('hop' not in value.lower()
               for value in wire.values('connection')), wire
    raw = relay.raw()
    assert marker.encode() not in raw
    assert b'203.0.113.9' not in raw
    # the client's local token never crosses: the service token does
    assert client.token.encode() not in raw
    token = wire.value('x-auth-token')
    assert token and token.startswith('AUTH_tk') and token != client.token
    # rebuilt from the client's address only
    assert wire.values('x-forwarded-for') == ['127.0.0.1']
    if method == 'PUT':
        assert wire.value('x-object-meta-crosses') == meta
        assert on_target(service.target, 'HEAD', path)[1][
            'x-object-meta-crosses'] == meta
    else:
        assert body == b'payload'


@pytest.mark.parametrize('method', ['PUT', 'GET'])
def test_service_mode_headers_on_the_wire(service, containers, method):
    """Headers only a cluster may set, the client's credentials and local
    identity, spoofed X-Forwarded-*, and hop-by-hop headers never reach the
    target; the service token, the rebuilt X-Forwarded-For and the user's
    metadata do."""
    marker = 'LEAK%s' % uuid.uuid4().hex[:12]
    leaks = _service_leak_headers(marker)
    leaks['X-Forwarded-For'] = '203.0.113.9'
    _check_not_crossing(service, containers[0], method, leaks, marker)


def test_refused_locally_nothing_reaches_target(service, containers):
    """A user without rights on the container gets the local 403 for every
    method, and not one request of theirs reaches the target (the
    container's ACLs are read beforehand, so not even that HEAD)."""
    relay, target = service.relay, service.target
    path = '/%s/obj' % containers[0]
    assert owner(service)('PUT', path, body=b'secret')[0] == 201
    assert owner(service)('HEAD', path)[0] == 200  # reads the ACLs (10 s)
    intruder = other(service)
    copy = '/%s/copy' % containers[0]
    seen, accepted = relay.mark(), relay.accepted
    for method, subpath, headers, body in (
            ('GET', path, None, None), ('HEAD', path, None, None),
            ('PUT', path, None, b'intruder'), ('DELETE', path, None, None),
            ('POST', path, {'X-Object-Meta-Intruder': 'yes'}, None),
            ('PUT', copy, {'X-Copy-From': path[1:]}, b'')):
        status, _h, _b = intruder(method, subpath, headers, body)
        assert status == 403, (method, subpath, headers)
    time.sleep(0.5)
    new = relay.since(seen)
    acl_heads = [w for w in new if w.method == 'HEAD' and
                 w.target == '/v1/AUTH_test2/%s' % containers[0]]
    assert [w for w in new if w not in acl_heads] == []
    if not acl_heads:
        assert relay.accepted == accepted
    status, headers, body = on_target(target, 'GET', path)
    assert (status, body) == (200, b'secret')
    assert 'x-object-meta-intruder' not in headers
    assert on_target(target, 'HEAD', copy)[0] == 404


def _token_used_by(relay, seen, txn):
    """The X-Auth-Token the forwarder sent for local transaction ``txn``."""
    [wire] = with_txn(relay.since(seen), txn)
    token = wire.value('x-auth-token')
    assert token and token.startswith('AUTH_tk')
    return token


def test_target_401_reauth_and_retry(service, containers):
    """The target forgets the service token between requests: an upload
    (refused before 100 Continue, so its body was not read) and a GET each
    get the target's 401, the forwarder re-authenticates once and retries
    with the new token, and both succeed."""
    relay, target, client = service.relay, service.target, owner(service)
    path = '/%s/obj' % containers[0]
    assert client('PUT', path, body=b'first')[0] == 201
    for method, body, wanted in (('PUT', b'second', 201),
                                 ('GET', None, 200)):
        # the ACLs are cached (a write forgets them): the request itself
        # is the first to meet the stale token
        seen = relay.mark()
        status, headers, _b = client('HEAD', path)
        assert status == 200
        stale = _token_used_by(relay, seen, headers['x-trans-id'])
        drop_target_token(target, stale)
        seen = relay.mark()
        status, headers, resp_body = client(method, path, body=body)
        assert status == wanted, resp_body
        wires = with_txn(relay.since(seen), headers['x-trans-id'])
        assert [w.method for w in wires] == [method, method]
        first, retry = wires
        assert first.value('x-auth-token') == stale
        assert retry.value('x-auth-token') not in (None, stale)
        assert retry.body_sent
        if method == 'PUT':
            assert not first.body_sent  # refused before 100 Continue
        else:
            assert resp_body == b'second'
    assert on_target(target, 'GET', path)[2] == b'second'


# -- Part B: service mode hardening

def only_acl_heads(wires, *containers):
    """``wires`` less the HEADs that read ``containers``' ACLs on the
    target (which a refused request may cost)."""
    heads = {'/v1/AUTH_test2/%s' % name for name in containers}
    return [w for w in wires if not (w.method == 'HEAD' and w.target in heads)]


@pytest.mark.parametrize('shape', [
    'AUTH_test%2F{c}/o', 'AUTH_test%2f{c}/o', 'AUTH_test%2F{c}%2Fo',
    'AUTH_test/{c}%2Fsub/o', 'AUTH_test/{c}%2F'])
def test_encoded_slash_in_account_or_container(service, containers, shape):
    """An encoded '/' in the account or container segment would move the
    split between what was authorized locally and what the target sees:
    400, and nothing is sent to the target.  (In the object name it is
    just a name.)"""
    relay, target, client = service.relay, service.target, owner(service)
    container = containers[0]
    path = '/v1/' + shape.format(c=container)
    seen = relay.mark()
    status, body, _h, _port = send_raw(port_of(service.local), (
        'PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: %s\r\n'
        'Content-Length: 5\r\n\r\nhello' % (path, client.token)).encode())
    assert status == 400, (path, status, body)
    assert relay.since(seen) == []
    for subpath in ('/o', '/%s/o' % container, '/%s/sub/o' % container):
        assert on_target(target, 'HEAD', subpath)[0] == 404, subpath

    seen = relay.mark()
    status, _body, _h, _port = send_raw(port_of(service.local), (
        'PUT /v1/AUTH_test/%s/dir%%2Fobj HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        'X-Auth-Token: %s\r\nContent-Length: 5\r\n\r\nhello'
        % (container, client.token)).encode())
    assert status == 201
    assert [w.target for w in only_acl_heads(relay.since(seen), container)] \
        == ['/v1/AUTH_test2/%s/dir%%2Fobj' % container]
    assert on_target(target, 'GET', '/%s/dir/obj' % container)[2] == b'hello'


def test_account_not_in_account_map(service):
    """account_map is one-to-one: a forwarded request in a local account
    that is not in it (AUTH_test2, whose containers match ``forward``) gets
    403 naming the account, and nothing reaches the target (it would land
    in the service account, which is AUTH_test's)."""
    relay, target = service.relay, service.target
    user = Client(service.local, 'test2:tester2', 'testing2',
                  account='AUTH_test2')
    name = 'sec-%s' % uuid.uuid4().hex[:10]
    assert on_target(target, 'PUT', '/%s-there' % name)[0] == 201
    seen = relay.mark()
    try:
        for method, subpath, body in (
                ('PUT', '/' + name, None), ('PUT', '/%s/o' % name, b'x'),
                ('GET', '/%s-there' % name, None),
                ('HEAD', '/%s-there' % name, None),
                ('POST', '/%s-there' % name, None),
                ('PUT', '/%s-there/o' % name, b'x'),
                ('GET', '/%s-there/o' % name, None),
                ('DELETE', '/%s-there' % name, None)):
            status, _h, resp_body = user(method, subpath, body=body)
            assert status == 403, (method, subpath, status, resp_body)
            if method != 'HEAD':
                assert b'AUTH_test2' in resp_body, (method, resp_body)
        assert relay.since(seen) == []
        assert on_target(target, 'HEAD', '/' + name)[0] == 404
        assert on_target(target, 'HEAD', '/%s-there/o' % name)[0] == 404
        assert on_target(target, 'HEAD', '/%s-there' % name)[0] == 204
    finally:
        for container in (name, name + '-there'):
            _delete_container(target, container)


@pytest.fixture
def shared(service, containers):
    """Container A, where test:tester3 may read and write (ACLs set through
    the local proxy by the owner), and B, where they may do nothing; both
    hold objects."""
    a, b = containers
    client = owner(service)
    for subpath, data in (('/%s/secret' % b, b'secret'),
                          ('/%s/src' % a, b'source'),
                          ('/%s/seg-1' % a, b'one'),
                          ('/%s/seg-2' % a, b'two')):
        assert client('PUT', subpath, body=data)[0] == 201
    assert client('POST', '/' + a, {'X-Container-Read': 'test:tester3',
                                    'X-Container-Write': 'test:tester3'})[0] \
        == 204
    acls = on_target(service.target, 'HEAD', '/' + a)[1]
    assert acls['x-container-write'] == 'test:tester3'
    user = other(service)
    assert user('GET', '/%s/src' % a)[:3:2] == (200, b'source')
    assert user('GET', '/%s/secret' % b)[0] == 403
    return a, b, user


def _manifest(*paths):
    return json.dumps([{'path': path} for path in paths]).encode()


#: Requests by test:tester3 in A naming something in B, or another account:
#: (id, method, object in A, headers, body, what must not exist after: an
#: object, or (object, a header it must not have)).
REFUSED_REFERENCES = [
    ('copy-from', 'PUT', 'x', {'X-Copy-From': '{b}/secret'}, b'', '{a}/x'),
    ('copy-from-slash', 'PUT', 'x', {'X-Copy-From': '/{b}/secret'}, b'',
     '{a}/x'),
    ('copy-from-quoted', 'PUT', 'x', {'X-Copy-From': '%73{b1}/secret'},
     b'', '{a}/x'),
    ('copy-from-encoded-slash', 'PUT', 'x',
     {'X-Copy-From': '{b}%2Fsecret'}, b'', '{a}/x'),
    ('symlink', 'PUT', 'l', {'X-Symlink-Target': '{b}/secret'}, b'',
     '{a}/l'),
    ('symlink-quoted', 'PUT', 'l', {'X-Symlink-Target': '%73{b1}/secret'},
     b'', '{a}/l'),
    ('dlo', 'PUT', 'm', {'X-Object-Manifest': '{b}/sec'}, b'', '{a}/m'),
    ('dlo-quoted', 'PUT', 'm', {'X-Object-Manifest': '%73{b1}/sec'}, b'',
     '{a}/m'),
    # a POST sets X-Object-Manifest too (Swift's dlo does not check it)
    ('dlo-post', 'POST', 'src', {'X-Object-Manifest': '{b}/sec'}, None,
     ('{a}/src', 'x-object-manifest')),
    # Swift refuses an empty prefix itself (400)
    ('dlo-no-prefix', 'PUT', 'm', {'X-Object-Manifest': '{b}/'}, b'',
     '{a}/m'),
    ('slo', 'PUT', 'slo?multipart-manifest=put', {}, ['/{b}/secret'],
     '{a}/slo'),
    ('slo-mixed', 'PUT', 'slo?multipart-manifest=put', {},
     ['/{a}/seg-1', '/{b}/secret'], '{a}/slo'),
    ('copy-destination', 'COPY', 'src', {'Destination': '{b}/stolen'}, None,
     '{b}/stolen'),
    ('copy-destination-quoted', 'COPY', 'src',
     {'Destination': '%73{b1}/stolen'}, None, '{b}/stolen'),
    ('copy-from-account', 'PUT', 'x', {
        'X-Copy-From': '{a}/src', 'X-Copy-From-Account': 'AUTH_test2'}, b'',
     '{a}/x'),
    ('destination-account', 'COPY', 'src', {
        'Destination': '{a}/y', 'Destination-Account': 'AUTH_test2'}, None,
     '{a}/y'),
    ('symlink-account', 'PUT', 'l', {
        'X-Symlink-Target': '{a}/src',
        'X-Symlink-Target-Account': 'AUTH_test2'}, b'', '{a}/l'),
]


@pytest.mark.parametrize('case', REFUSED_REFERENCES,
                         ids=[case[0] for case in REFUSED_REFERENCES])
def test_reference_to_other_container_refused(service, shared, case):
    """A reference to an object the client may not read (or write) is
    authorized as the client, against the target container's ACLs: 403
    (400 for a reference Swift's middlewares would read two ways), and
    nothing is created on the target."""
    relay, target = service.relay, service.target
    a, b, user = shared
    _id, method, obj, headers, body, absent = case
    fill = {'a': a, 'b': b, 'b1': b[1:]}
    headers = {k: v.format(**fill) for k, v in headers.items()}
    if isinstance(body, list):
        body = _manifest(*(path.format(**fill) for path in body))
    seen = relay.mark()
    status, _h, resp_body = user(method, '/%s/%s' % (a, obj), headers, body)
    wanted = (400, 403) if _id in ('copy-from-encoded-slash',
                                   'dlo-no-prefix') else (403,)
    assert status in wanted, (method, obj, headers, status, resp_body)
    assert only_acl_heads(relay.since(seen), a, b) == []
    if isinstance(absent, tuple):
        status, headers, _b = on_target(target, 'HEAD',
                                        '/' + absent[0].format(**fill))
        assert status == 200 and absent[1] not in headers, headers
    else:
        assert on_target(target, 'HEAD',
                         '/' + absent.format(**fill))[0] == 404


def test_references_within_readable_container_work(service, shared):
    """The same kinds of requests naming sources and segments in A, where
    the client may read and write, are forwarded and work on the target;
    X-Copy-From-Account naming the request's own local account copies
    inside the mapped target account (not from the target's AUTH_test)."""
    local, target, relay = service.local, service.target, service.relay
    a, _b, user = shared
    for method, obj, headers, body in (
            ('PUT', 'x', {'X-Copy-From': '%s/src' % a}, b''),
            ('PUT', 'l', {'X-Symlink-Target': '%s/src' % a}, b''),
            ('PUT', 'm', {'X-Object-Manifest': '%s/seg-' % a}, b''),
            ('PUT', 'slo?multipart-manifest=put', {},
             _manifest('/%s/seg-1' % a, '/%s/seg-2' % a)),
            ('COPY', 'src', {'Destination': '%s/y' % a}, None)):
        status, _h, resp_body = user(method, '/%s/%s' % (a, obj), headers,
                                     body)
        assert status == 201, (method, obj, headers, status, resp_body)
    for obj, data in (('x', b'source'), ('l', b'source'), ('m', b'onetwo'),
                      ('slo', b'onetwo'), ('y', b'source')):
        assert user('GET', '/%s/%s' % (a, obj))[:3:2] == (200, data), obj
    assert on_target(target, 'GET', '/%s/x' % a)[2] == b'source'
    assert on_target(target, 'GET', '/%s/y' % a)[2] == b'source'

    # a decoy where a copy that kept "AUTH_test" would read on the target
    decoy = Api(local, target)
    assert decoy.direct('PUT', '/' + a)[0] == 201
    try:
        assert decoy.direct('PUT', '/%s/src' % a, body=b'decoy')[0] == 201
        seen = relay.mark()
        status, headers, resp_body = user('PUT', '/%s/x2' % a, {
            'X-Copy-From': '%s/src' % a, 'X-Copy-From-Account': 'AUTH_test'},
            b'')
        assert status == 201, resp_body
        sent = with_txn(relay.since(seen), headers['x-trans-id'])
        # the forwarder's HEAD of the source (what it refers to), then the PUT
        assert [(r.method, r.target) for r in sent] == [
            ('HEAD', '/v1/AUTH_test2/%s/src' % a),
            ('PUT', '/v1/AUTH_test2/%s/x2' % a)]
        wire = sent[1]
        assert wire.value('x-copy-from-account') in (None, 'AUTH_test2')
        assert on_target(target, 'GET', '/%s/x2' % a)[2] == b'source'
    finally:
        decoy.direct('DELETE', '/%s/src' % a)
        decoy.direct('DELETE', '/' + a)


def _make_reference(kind, send, a, b):
    """Make object ``ref`` in ``a`` refer to ``secret`` in ``b`` with
    ``send(method, subpath, headers, body)``; returns its status."""
    method, obj, headers, body = {
        'symlink': ('PUT', 'ref', {'X-Symlink-Target': '%s/secret' % b}, b''),
        'dlo': ('PUT', 'ref', {'X-Object-Manifest': '%s/sec' % b}, b''),
        'slo': ('PUT', 'ref?multipart-manifest=put', {},
                _manifest('/%s/secret' % b)),
    }[kind]
    return send(method, '/%s/%s' % (a, obj), headers, body)[0]


@pytest.mark.parametrize('kind', ['symlink', 'dlo', 'slo'])
def test_reading_through_owners_reference(service, shared, kind):
    """A reference the owner made in A to B (a symlink, a DLO, an SLO),
    read by a user who may read A but not B: Swift alone authorizes the
    referenced object as the reader too, so the reader never gets B's
    bytes.  Through the forwarder the same holds, and the status is Swift's
    (the same setup made directly on the target, in its AUTH_test)."""
    local, target = service.local, service.target
    a, b, user = shared
    assert _make_reference(kind, owner(service), a, b) == 201
    via = user('GET', '/%s/ref' % a)

    alone, reader = Api(local, target), Api(local, target, 'test:tester3',
                                            'testing3')
    a2, b2 = ('alone-%s' % uuid.uuid4().hex[:8] for _ in range(2))
    try:
        assert alone.direct('PUT', '/' + a2, {
            'X-Container-Read': 'test:tester3'})[0] == 201
        assert alone.direct('PUT', '/' + b2)[0] == 201
        assert alone.direct('PUT', '/%s/secret' % b2, body=b'secret')[0] \
            == 201
        assert _make_reference(kind, alone.direct, a2, b2) == 201
        direct = reader.direct('GET', '/%s/ref' % a2)
    finally:
        for subpath in ('/%s/ref' % a2, '/%s/secret' % b2, '/' + a2,
                        '/' + b2):
            alone.direct('DELETE', subpath)
    print('\nreading through an owner\'s %s: Swift alone %d, via the '
          'forwarder %d %r' % (kind, direct[0], via[0], via[2][:40]))
    assert b'secret' not in direct[2]  # Swift alone
    assert b'secret' not in via[2], (via[0], via[2][:200])
    assert via[0] == direct[0]


#: The most manifests (an SLO's and its nested ones) service mode reads to
#: authorize one request (middleware.MAX_MANIFESTS; the docstring's "at
#: most 20").
MAX_MANIFESTS = 20


def test_nested_manifests_capped(service, containers):
    """To authorize an SLO GET, service mode reads its manifest and the
    nested ones, at most 20: an SLO whose tree holds 20 manifests is read
    whole; one with 21 gets a 502 that says why, after 20 manifest reads
    (counted on the wire), not 21."""
    relay, target, client = service.relay, service.target, owner(service)
    a = containers[0]
    # each sub-manifest: a 1 MiB segment (Swift's slo rate-limits smaller
    # ones after ten) and inline data naming it
    segment = b's' * 2 ** 20
    assert on_target(target, 'PUT', '/%s/seg' % a, body=segment)[0] == 201
    for i in range(MAX_MANIFESTS):
        sub = json.dumps([{'path': '/%s/seg' % a},
                          {'data': base64.b64encode(b'%02d' % i).decode()}])
        assert on_target(target, 'PUT', '/%s/sub-%02d?multipart-manifest=put'
                         % (a, i), body=sub.encode())[0] == 201
    for subs in (MAX_MANIFESTS - 1, MAX_MANIFESTS):
        top = json.dumps([{'path': '/%s/sub-%02d' % (a, i)}
                          for i in range(subs)])
        assert on_target(target, 'PUT', '/%s/top-%d?multipart-manifest=put'
                         % (a, subs + 1), body=top.encode())[0] == 201

    def read(name):
        seen = relay.mark()
        status, headers, body = client('GET', '/%s/%s' % (a, name))
        sent = with_txn(relay.since(seen), headers['x-trans-id'])
        manifests = [w.target for w in sent
                     if w.target.endswith('?multipart-manifest=get')]
        return status, body, manifests

    status, body, manifests = read('top-%d' % MAX_MANIFESTS)
    assert status == 200, body[:200]
    assert body == b''.join(segment + b'%02d' % i
                            for i in range(MAX_MANIFESTS - 1))
    assert len(manifests) == len(set(manifests)) == MAX_MANIFESTS, manifests
    status, body, manifests = read('top-%d' % (MAX_MANIFESTS + 1))
    assert status == 502, body[:200]
    assert body == b'Target default: more than %d nested manifests to ' \
        b'authorize\n' % MAX_MANIFESTS
    assert len(manifests) == len(set(manifests)) == MAX_MANIFESTS, manifests


def test_bulk_operations_refused(service, shared):
    """A bulk delete sent as a DELETE of an object in A (where the user
    may write) names B's object in its body.  The local cluster's bulk
    middleware (before the forwarder in Swift's pipeline) splits it into one
    DELETE per object, each authorized by the forwarder: B's is refused
    (403) and stays on the target.  (A bulk request that reaches the
    forwarder whole is refused: see the unit tests.)"""
    a, b, user = shared
    status, _headers, body = user('DELETE', '/%s/src?bulk-delete' % a, {
        'Content-Type': 'text/plain', 'Accept': 'application/json'},
        ('/%s/secret\n' % b).encode())
    assert status == 403 or json.loads(body)['Errors'] == [
        ['/%s/secret' % b, '403 Forbidden']], body
    assert on_target(service.target, 'GET', '/%s/secret' % b)[::2] == (
        200, b'secret')


def test_more_client_headers_do_not_cross(service, containers):
    """X-Cluster-Client-Ip, Forwarded and Authorization from the client do
    not reach the target either."""
    marker = 'LEAK%s' % uuid.uuid4().hex[:12]
    leaks = {'X-Cluster-Client-Ip': '%s-ip' % marker,
             'Forwarded': 'for=203.0.113.9;by=%s' % marker,
             'Authorization': 'Basic %s' % marker}
    for method in ('PUT', 'GET'):
        _check_not_crossing(service, containers[0], method, leaks, marker)


# -- Part A: passthrough (the gateway placement)

def test_passthrough_credentials_cross_unchanged(setup, container):
    """Passthrough: the client's X-Auth-Token and X-Service-Token reach the
    target as sent, and so does a tempurl signature in the query string."""
    setup.passthrough()
    local, target, relay = setup.local, setup.target, setup.relay
    api = Api(local, target)
    _url, service_token = target.get_auth('test2:tester2', 'testing2')
    path = '/%s/obj' % container
    seen = relay.mark()
    status, headers, _b = api.via('PUT', path, {
        'X-Service-Token': service_token}, b'through')
    assert status == 201
    [wire] = with_txn(relay.since(seen), headers['x-trans-id'])
    assert (wire.method, wire.target) == ('PUT', api.account_path + path)
    assert wire.values('x-auth-token') == [api.token]
    assert wire.values('x-service-token') == [service_token]

    key = 'key-%s' % uuid.uuid4().hex[:8]
    assert api.direct('POST', '/' + container, {
        'X-Container-Meta-Temp-URL-Key': key})[0] == 204
    full = api.account_path + path
    expires = int(time.time() + 60)
    sig = hmac.new(key.encode(), ('GET\n%d\n%s' % (expires, full)).encode(),
                   hashlib.sha256).hexdigest()
    query = '?temp_url_sig=%s&temp_url_expires=%d' % (sig, expires)
    seen = relay.mark()
    status, headers, body = request(local.proxy_url, 'GET', full + query)
    assert (status, body) == (200, b'through')
    [wire] = with_txn(relay.since(seen), headers['x-trans-id'])
    assert (wire.method, wire.target) == ('GET', full + query)
    assert wire.value('x-auth-token') is None

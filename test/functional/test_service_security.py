# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Security properties of the service mode (federation placement,
``auth_mode = service``) and of passthrough, checked on the wire.

A recording relay (:class:`RecordingRelay`, a :class:`FaultProxy` that
keeps every request byte it relays) sits between the forwarder and the
target cluster's proxy, so the tests assert what the target was sent, not
what a log says: which headers cross, which token, and whether anything at
all reached the target for a request the local cluster refused.
"""

import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.parse
import uuid

import pytest

from test.functional.faultproxy import FaultProxy
from test.functional.util import Api, request

#: Service mode: the local account AUTH_test maps onto AUTH_test2 on the
#: target, where the forwarder logs in as test2:tester2.  AUTH_test2's
#: containers are forwarded too, but AUTH_test2 is not in account_map.
SERVICE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
           'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
           'forward': 'AUTH_test/sec* AUTH_test2/sec*'}

#: A request line on the wire (the start of the next request).
_REQUEST_LINE = re.compile(rb'[A-Z]+ \S+ HTTP/1\.[01]\r\n')


# -- what crossed: a relay that records, and a parser of what it recorded

class Wire(object):
    """One request as the target received it.

    :ivar key: (connection number, offset): unique within the relay.
    :ivar body_sent: False if the request announced a body (Expect:
        100-continue) but none of it followed.
    """

    def __init__(self, key, method, target, headers, body_sent):
        self.key, self.method, self.target = key, method, target
        self.headers, self.body_sent = headers, body_sent

    def values(self, name):
        """Every value of header ``name`` (case-insensitive)."""
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def value(self, name):
        values = self.values(name)
        assert len(values) <= 1, (name, values)
        return values[0] if values else None

    def names(self):
        return {n.lower() for n, _v in self.headers}

    def __repr__(self):
        return '<Wire %s %s %r>' % (self.method, self.target, self.headers)


def _chunked_end(data, pos):
    """Offset just past a chunked body starting at ``pos``, or None if it
    is not all there."""
    while True:
        eol = data.find(b'\r\n', pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b';')[0], 16)
        pos = eol + 2
        if size == 0:
            end = data.find(b'\r\n\r\n', pos - 2)
            return None if end < 0 else end + 4
        pos += size + 2
        if pos > len(data):
            return None


def parse_requests(conn, data):
    """The requests in one connection's request bytes, in order."""
    found, pos = [], 0
    while pos < len(data):
        end = data.find(b'\r\n\r\n', pos)
        if end < 0:
            break
        lines = bytes(data[pos:end]).decode('latin-1').split('\r\n')
        method, target, _version = lines[0].split(' ', 2)
        headers = [tuple(part.strip() for part in line.split(':', 1))
                   for line in lines[1:]]
        wire = Wire((conn, pos), method, target, headers, True)
        found.append(wire)
        pos = end + 4
        rest = data[pos:]
        length = wire.value('content-length')
        chunked = (wire.value('transfer-encoding') or '').lower() == 'chunked'
        if (wire.value('expect') and (chunked or length not in (None, '0'))
                and (not rest or _REQUEST_LINE.match(rest))):
            wire.body_sent = False  # refused before 100 Continue
            continue
        if chunked:
            body_end = _chunked_end(data, pos)
        else:
            body_end = pos + int(length or 0)
        if body_end is None or body_end > len(data):
            wire.body_sent = False  # cut short: the end of what we have
            break
        pos = body_end
    return found


class RecordingRelay(FaultProxy):
    """A :class:`FaultProxy` that also keeps every request byte it relays,
    per connection."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._record_lock = threading.Lock()
        self._recorded = {}  # relay -> bytearray, in accept order

    def _filter(self, relay, direction, data):
        data, action = super()._filter(relay, direction, data)
        if direction == 'request':
            with self._record_lock:
                self._recorded.setdefault(relay, bytearray()).extend(data)
        return data, action

    def streams(self):
        with self._record_lock:
            return [bytes(data) for data in self._recorded.values()]

    def raw(self):
        """Every request byte relayed so far."""
        return b''.join(self.streams())

    def requests(self):
        """Every request relayed so far (as far as it got)."""
        return [wire for conn, data in enumerate(self.streams())
                for wire in parse_requests(conn, data)]

    def settle(self, quiet=0.3):
        assert self.wait_quiet(quiet, timeout=10)

    def since(self, seen):
        """Requests not among ``seen`` (a set of keys), once quiet."""
        self.settle()
        return [w for w in self.requests() if w.key not in seen]

    def mark(self):
        """Keys of every request so far, for :meth:`since`."""
        self.settle()
        return {w.key for w in self.requests()}


def with_txn(wires, txn):
    """The requests that carried local transaction ``txn``."""
    return [w for w in wires if w.value('x-trans-id-extra') == txn]


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


class Client(object):
    """A local user: requests to the local proxy with a local token."""

    def __init__(self, local, user, key, account='AUTH_test'):
        self.local, self.account = local, account
        _url, self.token = local.get_auth(user, key)

    def __call__(self, method, subpath='', headers=None, body=None):
        merged = {'X-Auth-Token': self.token}
        merged.update(headers or {})
        return request(self.local.proxy_url, method,
                       '/v1/%s%s' % (self.account, subpath), merged, body)


def owner(setup):
    return Client(setup.local, 'test:tester', 'testing')


def other(setup):
    """A user of AUTH_test who is not its admin."""
    return Client(setup.local, 'test:tester3', 'testing3')


def on_target(target, method, subpath='', headers=None, body=None):
    """Directly on the target, in AUTH_test2, as its admin."""
    _url, token = target.get_auth('test2:tester2', 'testing2')
    merged = {'X-Auth-Token': token}
    merged.update(headers or {})
    return request(target.proxy_url, method, '/v1/AUTH_test2' + subpath,
                   merged, body)


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


@pytest.mark.parametrize('method', ['PUT', 'GET'])
def test_service_mode_headers_on_the_wire(service, containers, method):
    """Headers only a cluster may set, the client's credentials and local
    identity, spoofed X-Forwarded-*, and hop-by-hop headers never reach the
    target; the service token, the rebuilt X-Forwarded-For and the user's
    metadata do."""
    relay, client = service.relay, owner(service)
    path = '/%s/obj' % containers[0]
    if method == 'GET':
        assert client('PUT', path, body=b'payload')[0] == 201
    marker = 'LEAK%s' % uuid.uuid4().hex[:12]
    meta = 'crosses-%s' % uuid.uuid4().hex[:8]
    headers = _service_leak_headers(marker)
    headers.update({'X-Forwarded-For': '203.0.113.9',
                    'X-Object-Meta-Crosses': meta})
    seen = relay.mark()
    status, resp_headers, body = client(
        method, path, headers, b'payload' if method == 'PUT' else None)
    assert status == (201 if method == 'PUT' else 200), body
    assert 'x-forwarder-trans-id' in resp_headers

    new = relay.since(seen)
    [wire] = with_txn(new, resp_headers['x-trans-id'])
    assert (wire.method, wire.target) == (
        method, '/v1/AUTH_test2%s' % path)
    crossed = sorted(wire.names() & {
        name.lower() for name in headers if name not in (
            'X-Object-Meta-Crosses', 'X-Forwarded-For', 'Connection')})
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
    assert wire.values('x-forwarded-for') == ['127.0.0.1']
    if method == 'PUT':
        assert wire.value('x-object-meta-crosses') == meta
        assert on_target(service.target, 'HEAD', path)[1][
            'x-object-meta-crosses'] == meta
    else:
        assert body == b'payload'


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

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Malformed requests, sent byte for byte over raw sockets to the local proxy
(through the forwarder).

Each gets the exact 4xx expected.  Where plain Swift rejects the request too,
the same bytes sent straight to the target must get the same status; where
the forwarder refuses on purpose what Swift takes (both framing headers, a
bad ``Expect``, ``.``/``..`` segments, ``Content-Length: +2``...: see the
list in swift_forwarder/middleware.py), the target takes them (2xx, or
fails on them: the case says how).  Two of those an intermediary must
refuse whatever the server behind it does: differing ``Content-Length``
headers (RFC 9112 6.3; the WSGI server keeps the first, another hop might
read the other) and control characters other than HTAB in a header value
(RFC 9110 5.5).  Afterwards nothing is stored on the
target, the local proxy's worker holds no more sockets to the target than
before and none to the test's client socket, and requests the forwarder
refuses itself never reached the target (its pool was not touched).

``pytest -s`` prints a table of every case: its status through the
forwarder and directly.
"""

import collections
import http.client
import io
import json
import socket
import time
import urllib.parse
import uuid

import pytest

from test.functional.rawhttp import LogWatch, client_socket_gone, \
    forwarder_sockets, healthcheck, make_reconfigure, port_of, send_raw, \
    wait_for, wait_pool_idle
from test.functional.util import Api

RANGE_OBJECT = b'0123456789' * 1000

#: One malformed request.  ``build(ctx, name)`` returns the raw bytes; ``name``
#: is a fresh object name.  ``status``: what the client must get through the
#: forwarder.  ``same``: the target answers the same bytes with the same
#: status.  ``upstream``: the forwarder sends it to the target (the target is
#: the one refusing); otherwise the target's pool must stay untouched.
#: ``method``: of the request (how to read the response).  ``paths(ctx,
#: name)``: what must not exist on the target afterwards (default: the
#: object).  ``direct``: where not ``same``, the target's own answer (None:
#: it takes the request, 2xx).
Case = collections.namedtuple('Case', 'id status same upstream build method paths '
                              'direct')


def case(id, status, build, same=True, upstream=False, method='PUT', paths=None,
         direct=None):
    return Case(id, status, same, upstream, build, method, paths, direct)


class Ctx(object):
    def __init__(self, api, container):
        self.api = api
        self.container = container
        self.account = api.account_path.encode()
        self.token = api.token.encode()

    def obj(self, name):
        return b'%s/%s/%s' % (self.account, self.container.encode(), name.encode())

    def head(self, extra=b''):
        return b'Host: 127.0.0.1\r\nX-Auth-Token: ' + self.token + b'\r\n' + extra


def put(path=None, extra=b'', body=b'hi', length=True, suffix=b''):
    """A PUT of ``body`` to the object (or to ``path(ctx, name)``)."""
    def build(ctx, name):
        target = path(ctx, name) if path else ctx.obj(name) + suffix
        framing = b'Content-Length: %d\r\n' % len(body) if length else b''
        return (b'PUT ' + target + b' HTTP/1.1\r\n' + ctx.head(extra) + framing +
                b'\r\n' + body)
    return build


def line(request_line, extra=b'', body=b''):
    """Any request line; ``{obj}`` in it is the object's path."""
    def build(ctx, name):
        return (request_line.replace(b'{obj}', ctx.obj(name)) + b'\r\n' +
                ctx.head(extra) + b'\r\n' + body)
    return build


def get_range(value):
    def build(ctx, name):
        return (b'GET ' + ctx.obj('range-object') + b' HTTP/1.1\r\n' +
                ctx.head(b'Range: ' + value + b'\r\n') + b'\r\n')
    return build


def in_container(segment):
    """A path with ``segment`` between the container and the object name."""
    return lambda ctx, name: ctx.obj(segment.decode()) + b'/' + name.encode()


def dot_paths(ctx, name):
    """Where a path normaliser could have put a dot-segment PUT."""
    return ['/%s/%s' % (ctx.container, name), '/' + name,
            '/%s/../%s' % (ctx.container, name), '/%s/./%s' % (ctx.container, name),
            '/%s/%s/..' % (ctx.container, name)]


CASES = [
    # header syntax and CR/LF injection
    case('obs-fold', 400, put(extra=b'X-Object-Meta-A: one\r\n two\r\n'), same=False),
    # eventlet (Swift's WSGI server) splits a header line at a bare CR before
    # any middleware runs: the target refuses the past X-Delete-At it then
    # sees, as Swift alone does (test_bare_cr_splits_as_in_swift: parity)
    case('bare-cr-injects-header', 400, put(
        extra=b'X-Object-Meta-A: one\rX-Delete-At: 1\r\n'), upstream=True),
    case('nul-in-header-value', 400, put(extra=b'X-Object-Meta-A: o\x00ne\r\n'),
         same=False),
    # RFC 9110 5.5: an intermediary must not pass on control characters in
    # a field value; Swift alone stores them in the metadata
    case('control-chars-in-header-value', 400,
         put(extra=b'X-Object-Meta-A: a\x01\x7fb\r\n'), same=False),
    # RFC 9112 6.3: differing Content-Length headers must be refused by an
    # intermediary; Swift alone (eventlet) reads the first and stores it
    case('content-length-twice-differing', 400, put(suffix=b'', body=b'hi', length=False,
                                                    extra=b'Content-Length: 2\r\n'
                                                    b'Content-Length: 20\r\n'), same=False),
    case('header-line-without-colon', 411, put(extra=b'X-Object-Meta-A one\r\n'),
         upstream=True),
    case('header-line-9000-bytes', 400, put(extra=b'X-Object-Meta-A: ' + b'a' * 9000 +
                                            b'\r\n')),
    case('header-line-70000-bytes', 400, put(extra=b'X-Foo: ' + b'a' * 70000 + b'\r\n')),
    case('metadata-name-too-long', 400, put(
        extra=b'X-Object-Meta-' + b'n' * 200 + b': v\r\n'), upstream=True),
    case('metadata-value-too-long', 400, put(
        extra=b'X-Object-Meta-A: ' + b'v' * 300 + b'\r\n'), upstream=True),
    # request line
    case('request-line-9000-bytes', 414, line(b'GET {obj}' + b'a' * 9000 + b' HTTP/1.1'),
         method='GET'),
    case('cr-in-request-line', 400, line(b'GET {obj}\rX-Injected: 1 HTTP/1.1'),
         method='GET'),
    case('cr-in-query-string', 400, line(b'GET {obj}?a=\rb HTTP/1.1'), same=False,
         method='GET', direct=503),  # Swift alone fails on it
    case('space-in-path', 400, line(b'GET {obj} b HTTP/1.1'), method='GET'),
    case('tab-separator', 400, line(b'GET\t{obj} HTTP/1.1'), method='GET'),
    case('method-only', 400, line(b'GET'), method='GET'),
    case('extra-token', 400, line(b'GET {obj} HTTP/1.1 extra'), method='GET'),
    case('lowercase-version', 400, line(b'GET {obj} http/1.1'), method='GET'),
    case('tls-hello', 400, lambda ctx, name: b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc'
         b'\x03\x03\r\n\r\n', method='GET'),
    # methods
    case('method-FOO', 405, line(b'FOO {obj} HTTP/1.1'), method='FOO'),
    case('method-PATCH', 405, line(b'PATCH {obj} HTTP/1.1', b'Content-Length: 2\r\n',
                                   b'hi'), method='PATCH'),
    case('method-TRACE', 405, line(b'TRACE {obj} HTTP/1.1'), method='TRACE'),
    case('method-CONNECT', 405, line(b'CONNECT {obj} HTTP/1.1'), method='CONNECT'),
    case('method-lowercase-put', 405, line(b'put {obj} HTTP/1.1', b'Content-Length: 2\r\n',
                                           b'hi'), method='put'),
    case('method-REPLICATE', 405, line(b'REPLICATE {obj} HTTP/1.1'), method='REPLICATE'),
    # framing: Content-Length, Transfer-Encoding, Expect
    case('cl-and-te', 400, put(extra=b'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
                               body=b'2\r\nhi\r\n0\r\n\r\n', length=False), same=False),
    case('cl-negative', 400, put(extra=b'Content-Length: -2\r\n', length=False)),
    case('cl-not-a-number', 400, put(extra=b'Content-Length: abc\r\n', length=False)),
    case('cl-hex', 400, put(extra=b'Content-Length: 0x2\r\n', length=False)),
    case('cl-float', 400, put(extra=b'Content-Length: 2.0\r\n', length=False)),
    case('cl-list', 400, put(extra=b'Content-Length: 2, 2\r\n', length=False)),
    case('cl-plus-sign', 400, put(extra=b'Content-Length: +2\r\n', length=False),
         same=False),
    case('cl-huge', 413, put(extra=b'Content-Length: 99999999999999999999999999\r\n',
                             length=False), upstream=True),
    case('cl-6gb', 413, put(extra=b'Content-Length: 6000000000\r\n', length=False),
         upstream=True),
    case('no-length', 411, put(body=b'', length=False), upstream=True),
    case('chunk-size-not-hex', 499, put(extra=b'Transfer-Encoding: chunked\r\n',
                                        body=b'zz\r\nhi\r\n0\r\n\r\n', length=False),
         upstream=True),
    case('expect-200-ok', 417, put(extra=b'Expect: 200-ok\r\n'), same=False),
    case('expect-bogus-100', 417, put(extra=b'Expect: 100-continue-please\r\n'),
         same=False),
    # paths: UTF-8, NUL, dot segments, lengths
    case('pct-ff-in-object', 412, put(suffix=b'%FF')),
    case('raw-ff-in-object', 412, put(suffix=b'\xff')),
    case('pct-00-in-object', 412, put(suffix=b'%00')),
    case('overlong-utf8-slash', 412, put(suffix=b'%C0%AF')),
    case('utf8-surrogate', 412, put(suffix=b'%ED%A0%80')),
    case('pct-ff-in-container', 412, put(
        lambda ctx, name: ctx.account + b'/bad%FF/' + name.encode())),
    case('dotdot-segment', 400, put(in_container(b'..')), same=False, paths=dot_paths),
    case('dot-segment', 400, put(in_container(b'.')), same=False, paths=dot_paths),
    case('pct-encoded-dotdot', 400, put(in_container(b'%2e%2e')), same=False,
         paths=dot_paths),
    case('pct-encoded-dot-upper', 400, put(in_container(b'%2E')), same=False,
         paths=dot_paths),
    case('trailing-dotdot', 400, put(suffix=b'/..'), same=False, paths=dot_paths),
    case('dotdot-container', 400, put(
        lambda ctx, name: ctx.account + b'/../' + ctx.container.encode() + b'/' +
        name.encode()), same=False, paths=dot_paths, direct=404),
    case('object-name-1100', 400, put(suffix=b'a' * 1100), upstream=True),
    # what the target refuses itself
    case('x-delete-at-past', 400, put(extra=b'X-Delete-At: 1\r\n'), upstream=True),
    case('x-delete-after-negative', 400, put(extra=b'X-Delete-After: -5\r\n'),
         upstream=True),
    case('x-copy-from-no-container', 400, put(extra=b'X-Copy-From: nocontainer\r\n'),
         upstream=True),
    case('wrong-client-etag', 422, put(extra=b'ETag: ' + b'0' * 32 + b'\r\n'),
         upstream=True),
    # absurd ranges: answered as the target answers them
    case('range-start-huge', 416, get_range(b'bytes=99999999999999999999999-'),
         upstream=True, method='GET', paths=lambda ctx, name: []),
    case('range-suffix-zero', 416, get_range(b'bytes=-0'), upstream=True, method='GET',
         paths=lambda ctx, name: []),
    case('range-past-end', 416, get_range(b'bytes=10000-20000'), upstream=True,
         method='GET', paths=lambda ctx, name: []),
    case('range-200-ranges', 416, get_range(
        b'bytes=' + b','.join(b'%d-%d' % (i, i) for i in range(200))), upstream=True,
        method='GET', paths=lambda ctx, name: []),
    case('range-60-overlapping', 416, get_range(
        b'bytes=' + b','.join(b'%d-' % i for i in range(60))), upstream=True,
        method='GET', paths=lambda ctx, name: []),
]

RESULTS = []


@pytest.fixture(scope='module')
def env(clusters):
    local, target = clusters
    api = Api(local, target)
    container = 'bad-%s' % uuid.uuid4().hex[:8]
    assert api.direct('PUT', '/' + container)[0] == 201
    assert api.direct('PUT', '/%s/range-object' % container, body=RANGE_OBJECT)[0] == 201
    reconfigure = make_reconfigure(local)
    yield api, Ctx(api, container), reconfigure
    reconfigure()
    _, _, listing = api.direct('GET', '/%s?format=json' % container)
    for obj in json.loads(listing or b'[]'):
        api.direct('DELETE', '/%s/%s' % (container, urllib.parse.quote(obj['name'])))
    api.direct('DELETE', '/' + container)
    _print_results()


def _print_results():
    if not RESULTS:
        return
    print('\n%d malformed requests through the forwarder:' % len(RESULTS))
    for id, via, direct in RESULTS:
        print('  %-28s forwarder %s  target directly %s' % (id, via, direct))
    statuses = collections.Counter(str(via) for _id, via, _d in RESULTS)
    print('  statuses: %s; nothing stored, no socket leaked' % ', '.join(
        '%s x%d' % item for item in sorted(statuses.items())))


def _warm(api):
    """At least one idle pooled connection, so a forwarded request reuses
    one and the socket count can only stay or drop."""
    assert api.via('HEAD', '')[0] in (200, 204)


def _upstream_requests(stats):
    return stats['created'] + stats['reused']


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_malformed_request(env, case):
    api, ctx, _reconfigure = env
    name = 'v-%s-%s' % (case.id, uuid.uuid4().hex[:6])
    local_port, target_port = port_of(api.local), port_of(api.target)
    _warm(api)
    before_pool = wait_pool_idle(api.local)
    before_sockets = forwarder_sockets(api.local, target_port)

    status, body, _headers, client_port = send_raw(
        local_port, case.build(ctx, name), case.method)

    assert status == case.status, body[:300]
    assert 400 <= status < 500
    if status == 412:
        assert b'Invalid UTF8 or contains NULL' in body
    assert client_socket_gone(api.local, client_port)
    after_pool = wait_pool_idle(api.local)
    assert after_pool['in_use'] == 0
    assert wait_for(lambda: forwarder_sockets(api.local, target_port) <= before_sockets)
    sent = _upstream_requests(after_pool) - _upstream_requests(before_pool)
    if case.upstream:
        assert sent >= 1
    else:
        assert sent == 0, 'the forwarder sent %d request(s) upstream' % sent
    paths = (case.paths or (lambda ctx, name: ['/%s/%s' % (ctx.container, name)]))(
        ctx, name)
    for path in paths:
        assert api.direct('HEAD', path)[0] == 404, path

    direct_name = 'd-%s-%s' % (case.id, uuid.uuid4().hex[:6])
    direct_status = send_raw(target_port, case.build(ctx, direct_name), case.method)[0]
    if case.same:
        assert direct_status == status
    elif case.direct is None:  # a refusal of the forwarder's own: Swift takes it
        assert 200 <= direct_status < 300, direct_status
    else:
        assert direct_status == case.direct
    RESULTS.append((case.id, status, direct_status))


@pytest.mark.parametrize('coding', [b'gzip', b'gzip,chunked', b'gzip, chunked'])
def test_unknown_transfer_encoding_answered_as_swift(env, coding):
    """Transfer-Encoding other than chunked: Swift's own answer to the byte
    (400 for one coding, 501 for a list), and nothing sent upstream."""
    api, ctx, _reconfigure = env
    build = put(extra=b'Transfer-Encoding: %s\r\n' % coding, length=False)
    name = 'v-te-%s' % uuid.uuid4().hex[:6]
    before = _upstream_requests(wait_pool_idle(api.local))
    status, body, headers, _port = send_raw(port_of(api.local), build(ctx, name))
    assert _upstream_requests(wait_pool_idle(api.local)) == before
    direct = send_raw(port_of(api.target), build(ctx, 'd-' + name))
    assert api.direct('HEAD', '/%s/%s' % (ctx.container, name))[0] == 404
    assert (status, body) == (direct[0], direct[1])
    assert status == (400 if coding == b'gzip' else 501), body
    assert headers['content-type'] == direct[2]['content-type']


def test_identical_content_length_twice_accepted(env):
    """Two Content-Length headers with the same value are one length: the
    object is stored, as by Swift alone."""
    api, ctx, _reconfigure = env
    name = 'v-cl-same-%s' % uuid.uuid4().hex[:6]
    build = put(extra=b'Content-Length: 2\r\n', body=b'hi')
    assert send_raw(port_of(api.local), build(ctx, name))[0] == 201
    assert api.direct('GET', '/%s/%s' % (ctx.container, name))[2] == b'hi'


@pytest.mark.parametrize('value', [
    b'bytes=5-2', b'bytes=abc', b'items=0-5', b'bytes=--1', b'bytes=-99999999999999999999',
    b'bytes=0-9999999999999999999999999', b'bytes=1-2,3-4,-', b'bytes=' + b'0' * 5000 + b'-1',
    b'bytes=0-0,-1',
])
def test_absurd_ranges_answered_as_the_target_does(env, value):
    """Ranges the target ignores or clamps: the same status and bytes."""
    api, ctx, _reconfigure = env
    via = send_raw(port_of(api.local), get_range(value)(ctx, ''), 'GET')
    direct = send_raw(port_of(api.target), get_range(value)(ctx, ''), 'GET')
    assert via[0] == direct[0]
    if via[2].get('content-type', '').startswith('multipart/byteranges'):
        boundary = via[2]['content-type'].split('boundary=')[1]
        other = direct[2]['content-type'].split('boundary=')[1]
        assert via[1].replace(boundary.encode(), b'B') == \
            direct[1].replace(other.encode(), b'B')
    else:
        assert via[1] == direct[1]


def test_bare_cr_splits_as_in_swift(env):
    """A bare CR in a header line: the proxy's WSGI server (eventlet, as
    in any Swift proxy) reads two header lines before the forwarder sees the
    request, so the forwarder can only relay what Swift itself would take.
    Through the forwarder and directly, the object gets the same metadata."""
    api, ctx, _reconfigure = env
    build = put(extra=b'X-Object-Meta-A: one\rX-Object-Meta-Injected: yes\r\n')
    seen = []
    for port, name in ((port_of(api.local), 'v-cr-%s' % uuid.uuid4().hex[:6]),
                       (port_of(api.target), 'd-cr-%s' % uuid.uuid4().hex[:6])):
        assert send_raw(port, build(ctx, name))[0] == 201
        status, headers, _ = api.direct('HEAD', '/%s/%s' % (ctx.container, name))
        assert status == 200
        seen.append({k: v for k, v in headers.items()
                     if k.startswith('x-object-meta-')})
    assert seen[0] == seen[1], seen
    assert seen[0].get('x-object-meta-injected') == 'yes', seen


def test_encoded_crlf_in_the_path_is_a_name_not_a_header(env):
    """``%0d%0a`` in the object name injects nothing: the target stores an
    object with CR LF in its name and no extra header."""
    api, ctx, _reconfigure = env
    name = 'v-crlf-%s' % uuid.uuid4().hex[:6]
    build = put(suffix=b'%0d%0aX-Object-Meta-Injected:%20yes')
    status = send_raw(port_of(api.local), build(ctx, name))[0]
    assert status == 201
    stored = '/%s/%s%%0D%%0AX-Object-Meta-Injected%%3A%%20yes' % (ctx.container, name)
    status, headers, _ = api.direct('HEAD', stored)
    assert status == 200
    assert 'x-object-meta-injected' not in headers
    assert api.direct('HEAD', '/%s/%s' % (ctx.container, name))[0] == 404


def _partial_put(api, ctx, name, length, sent):
    sock = socket.create_connection(('127.0.0.1', port_of(api.local)), timeout=30)
    sock.sendall(b'PUT ' + ctx.obj(name) + b' HTTP/1.1\r\n' + ctx.head() +
                 b'Content-Length: %d\r\n\r\n' % length + b'x' * sent)
    return sock


def test_body_longer_than_content_length(env):
    """The bytes after Content-Length are not part of the object (it has
    exactly Content-Length bytes); the server reads them as the next request
    on the connection, and refuses it (400), as the target does."""
    api, ctx, _reconfigure = env
    results = []
    for port, name in ((port_of(api.local), 'v-longer'), (port_of(api.target), 'd-longer')):
        sock = socket.create_connection(('127.0.0.1', port), timeout=15)
        with sock:
            sock.sendall(b'PUT ' + ctx.obj(name) + b' HTTP/1.1\r\n' + ctx.head() +
                         b'Content-Length: 10\r\n\r\n0123456789EXTRA BYTES HERE\r\n\r\n')
            statuses = [resp.status for resp in _responses(sock, 'PUT', 2)]
        status, _h, body = api.direct('GET', '/%s/%s' % (ctx.container, name))
        assert (status, body) == (200, b'0123456789')
        results.append(statuses)
    assert results[0] == results[1] == [201, 400]
    RESULTS.append(('body-longer-than-cl (2nd)', 400, 400))


class _Reader(io.BufferedReader):
    """The socket's buffered reader, kept open across responses (what one
    response's reader buffered ahead belongs to the next)."""

    def close(self):
        pass


class _ResponseSource(object):
    def __init__(self, sock):
        self.reader = _Reader(socket.SocketIO(sock, 'rb'))

    def makefile(self, *args, **kwargs):
        return self.reader


def _responses(sock, method, count):
    source = _ResponseSource(sock)
    found = []
    for _ in range(count):
        resp = http.client.HTTPResponse(source, method=method)
        resp.begin()
        resp.read()
        found.append(resp)
    return found


def _response(sock, method):
    return _responses(sock, method, 1)[0]


def test_body_shorter_client_disconnects(env):
    """The client sends 100 KB of 1 MB and closes: the forwarder aborts the
    upload upstream (499 logged on both proxies), the target stores nothing,
    no socket stays open."""
    api, ctx, _reconfigure = env
    name = 'v-short-close-%s' % uuid.uuid4().hex[:6]
    target_port = port_of(api.target)
    _warm(api)
    before_sockets = forwarder_sockets(api.local, target_port)
    local_log = LogWatch(api.local.log_path('proxy'))
    target_log = LogWatch(api.target.log_path('proxy'))
    sock = _partial_put(api, ctx, name, 2 ** 20, 100000)
    client_port = sock.getsockname()[1]
    time.sleep(0.3)
    sock.close()
    path = '%s/%s/%s' % (api.account_path, ctx.container, name)
    assert local_log.wait('forwarded to default: PUT %s 499 bytes_up=100000 ' % path,
                          ': Client disconnected after 100000 of 1048576 bytes')
    assert target_log.wait('PUT %s ' % path, ' 499 ')
    assert client_socket_gone(api.local, client_port)
    assert wait_pool_idle(api.local)['in_use'] == 0
    assert wait_for(lambda: forwarder_sockets(api.local, target_port) <= before_sockets)
    assert api.direct('HEAD', '/%s/%s' % (ctx.container, name))[0] == 404
    RESULTS.append(('body-shorter-client-closes', '499 (logged)', '499 (logged)'))


def test_body_shorter_client_stalls(env):
    """The client stalls mid-upload past client_timeout (1 s here): 408, the
    upload is aborted upstream, nothing is stored, no socket stays open."""
    api, ctx, reconfigure = env
    reconfigure(client_timeout=1)
    name = 'v-short-stall-%s' % uuid.uuid4().hex[:6]
    target_port = port_of(api.target)
    _warm(api)
    before_sockets = forwarder_sockets(api.local, target_port)
    before = healthcheck(api.local)['pool']
    sock = _partial_put(api, ctx, name, 2 ** 20, 100000)
    client_port = sock.getsockname()[1]
    with sock:
        start = time.monotonic()
        resp = _response(sock, 'PUT')
        elapsed = time.monotonic() - start
    assert resp.status == 408
    assert 1 <= elapsed < 10 * 1  # client_timeout, and a multiple of it
    assert client_socket_gone(api.local, client_port)
    after = wait_pool_idle(api.local)
    assert after['discarded'] > before['discarded']
    assert wait_for(lambda: forwarder_sockets(api.local, target_port) <= before_sockets)
    assert api.direct('HEAD', '/%s/%s' % (ctx.container, name))[0] == 404
    RESULTS.append(('body-shorter-client-stalls', 408, '(not sent)'))

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Every method through the local proxy, checked on the target directly."""

import hashlib
import json
import urllib.parse
import uuid

import pytest

from test.functional.util import Api


@pytest.fixture(scope='module')
def api(clusters):
    local, target = clusters
    return Api(local, target)


@pytest.fixture
def container(api):
    name = 'c-%s' % uuid.uuid4().hex[:12]
    status, _h, body = api.via('PUT', '/' + name)
    assert status == 201, body
    yield name
    _status, _h, listing = api.direct('GET', '/%s?format=json' % name)
    for obj in json.loads(listing or b'[]'):
        api.direct('DELETE', '/%s/%s' % (name, urllib.parse.quote(
            obj['name'])))
    api.direct('DELETE', '/' + name)


def q(name):
    return urllib.parse.quote(name.encode('utf-8'))


def test_container_put_lands_on_target(api, container):
    """The container created through the forwarder exists on the target."""
    status, headers, _body = api.direct('HEAD', '/' + container)
    assert status == 204
    assert headers['x-container-object-count'] == '0'


def test_object_lifecycle(api, container):
    """PUT, HEAD, GET, POST, COPY, DELETE through the forwarder each act
    on the target, and the answers match the target's own."""
    data = b'forwarded bytes\n' * 1000
    path = '/%s/obj' % container
    status, headers, _ = api.via('PUT', path, {'X-Object-Meta-Color': 'blue',
                                               'Content-Type': 'text/x-test'},
                                 data)
    assert status == 201
    assert headers['etag'] == hashlib.md5(data).hexdigest()
    assert 'x-forwarder-trans-id' in headers

    status, headers, body = api.direct('GET', path)
    assert (status, body) == (200, data)
    assert headers['x-object-meta-color'] == 'blue'
    assert headers['content-type'] == 'text/x-test'

    status, headers, body = api.via('GET', path)
    assert (status, body) == (200, data)
    status, headers, body = api.via('HEAD', path)
    assert (status, body) == (200, b'')
    assert headers['content-length'] == str(len(data))

    status, _h, _b = api.via('POST', path, {'X-Object-Meta-Color': 'green'})
    assert status == 202
    status, headers, _ = api.direct('HEAD', path)
    assert headers['x-object-meta-color'] == 'green'

    status, _h, _b = api.via('COPY', path,
                             {'Destination': '%s/copy' % container})
    assert status == 201
    status, _h, body = api.direct('GET', '/%s/copy' % container)
    assert (status, body) == (200, data)

    status, _h, _b = api.via('DELETE', path)
    assert status == 204
    assert api.direct('HEAD', path)[0] == 404
    assert api.via('GET', path)[0] == 404


def test_options_matches_target(api, container):
    """OPTIONS (CORS preflight) gets the target's own answer."""
    api.direct('POST', '/' + container, {
        'X-Container-Meta-Access-Control-Allow-Origin': 'http://example.com'})
    preflight = {'Origin': 'http://example.com',
                 'Access-Control-Request-Method': 'GET'}
    via = api.via('OPTIONS', '/%s/o' % container, preflight)
    direct = api.direct('OPTIONS', '/%s/o' % container, preflight)
    assert via[0] == direct[0] == 200
    assert via[1]['access-control-allow-origin'] == 'http://example.com'
    assert via[1]['allow'] == direct[1]['allow']


@pytest.mark.parametrize('name', [
    'snow\u2603man', 'with space', 'trailing/', 'deep/er/path',
    'pct%41', 'quote"and\'', '\u00e9t\u00e9 \U0001f600',
    'x' * 1024, ('\u00e9' * 512),
], ids=['unicode', 'space', 'trailing-slash', 'slashes', 'percent',
        'quotes', 'emoji', '1024-bytes', '1024-bytes-utf8'])
def test_odd_names(api, container, name):
    """Names go through byte for byte: the target stores the same name."""
    data = name.encode('utf-8')
    assert api.via('PUT', '/%s/%s' % (container, q(name)), body=data)[0] \
        == 201
    status, _h, body = api.direct('GET', '/%s/%s' % (container, q(name)))
    assert (status, body) == (200, data)
    _s, _h, listing = api.direct('GET', '/%s?format=json' % container)
    assert [o['name'] for o in json.loads(listing)] == [name]


def test_name_too_long_answered_by_target(api, container):
    """A 1025-byte name gets the target's 400, not something of ours."""
    name = 'x' * 1025
    via = api.via('PUT', '/%s/%s' % (container, name), body=b'')
    direct = api.direct('PUT', '/%s/%s' % (container, name), body=b'')
    assert via[0] == direct[0] == 400
    assert via[2] == direct[2]


def test_encoded_slash_kept_quoted(api, container):
    """``%2F`` reaches the target as sent; Swift decodes it to ``/``."""
    assert api.via('PUT', '/%s/a%%2Fb' % container, body=b'slash')[0] == 201
    status, _h, body = api.direct('GET', '/%s/a/b' % container)
    assert (status, body) == (200, b'slash')


def test_metadata_headers(api, container):
    """User metadata (unicode values included) round-trips via the target."""
    value = '\u00fcber caf\u00e9'.encode('utf-8').decode('latin-1')
    path = '/%s/meta' % container
    assert api.via('PUT', path, {'X-Object-Meta-Mood': value,
                                 'X-Object-Meta-Empty-Ish': 'x',
                                 'Content-Disposition': 'inline'},
                   b'm')[0] == 201
    headers = api.direct('HEAD', path)[1]
    assert headers['x-object-meta-mood'] == value
    assert headers['content-disposition'] == 'inline'
    assert api.via('POST', '/' + container,
                   {'X-Container-Meta-Owner': 'ops'})[0] == 204
    assert api.direct('HEAD', '/' + container)[1][
        'x-container-meta-owner'] == 'ops'


LISTING_QUERIES = [
    '', 'format=json', 'format=xml', 'format=plain', 'prefix=dir/',
    'delimiter=/', 'prefix=dir/&delimiter=/', 'marker=b', 'end_marker=c',
    'marker=a&end_marker=dir/x', 'reverse=true', 'limit=3',
    'limit=2&marker=b&format=json', 'reverse=on&limit=4&format=json',
    'prefix=%E2%98%83', 'format=json&delimiter=/&reverse=1',
]


def test_container_listing_matches_direct(api, container):
    """Each listing query gives the target's own listing, byte for byte."""
    for name in ('a', 'b', 'c', 'd', 'dir/x', 'dir/y', 'dir/sub/z',
                 '\u2603/one', '\u2603two', 'zz'):
        assert api.via('PUT', '/%s/%s' % (container, q(name)),
                       body=name.encode('utf-8'))[0] == 201
    for query in LISTING_QUERIES:
        path = '/%s?%s' % (container, query)
        via, direct = api.via('GET', path), api.direct('GET', path)
        assert via[0] == direct[0] == 200, query
        assert via[2] == direct[2], query
        assert via[1]['content-type'] == direct[1]['content-type'], query


def test_account_listing_matches_direct(api, container):
    """The account listing (and its HEAD) is the target's."""
    via, direct = api.via('GET', '?format=json'), api.direct(
        'GET', '?format=json')
    assert via[0] == direct[0] == 200
    assert container in [c['name'] for c in json.loads(via[2])]
    assert api.via('HEAD')[0] in (200, 204)


def test_local_paths_stay_local(api, clusters):
    """/info and /auth are answered by the local proxy, not forwarded."""
    local, _target = clusters
    from test.functional.util import request
    status, headers, body = request(local.proxy_url, 'GET', '/info')
    assert status == 200 and 'swift' in json.loads(body)
    assert 'x-forwarder-trans-id' not in headers


def test_unauthorized_is_the_targets(api, container):
    """A bad token gets the target's 401; local auth never sees it."""
    status, headers, _ = api.via('GET', '/' + container,
                                 {'X-Auth-Token': 'AUTH_tkbogus'})
    assert status == 401
    assert 'x-forwarder-trans-id' in headers


def _raw_exchange(base_url, head, timeout=10):
    """Send a request head on a raw socket and read what comes back first."""
    import socket
    from test.functional.util import split_url
    host, port, _ = split_url(base_url)
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(head.encode('latin-1'))
        return sock.recv(65536).decode('latin-1')
    finally:
        sock.close()


@pytest.mark.parametrize('case', ['bad-token', 'too-large'])
def test_early_refusal_never_reads_client_body(api, container, case):
    """An upload the target refuses up front (401, 413) is answered without
    the client being asked for its body: no ``100 Continue`` comes back."""
    token = 'AUTH_tkbogus' if case == 'bad-token' else api.token
    length = 10 if case == 'bad-token' else 6 * 2 ** 30
    head = ('PUT %s/%s/early HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
            'Content-Length: %d\r\nExpect: 100-continue\r\n\r\n'
            % (api.account_path, container, token, length))
    answer = _raw_exchange(api.local.proxy_url, head)
    expected = {'bad-token': 'HTTP/1.1 401', 'too-large': 'HTTP/1.1 413'}
    assert answer.startswith(expected[case]), answer[:200]
    assert '100 Continue' not in answer
    assert api.direct('HEAD', '/%s/early' % container)[0] == 404

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Ranges, conditional requests and chunked uploads through the forwarder."""

import email.parser
import hashlib
import http.client
import os
import uuid

import pytest

from test.functional.util import Api, pool_stats, split_url

DATA = os.urandom(256 * 1024)


@pytest.fixture(scope='module')
def obj(clusters):
    local, target = clusters
    api = Api(local, target)
    container = 'http-%s' % uuid.uuid4().hex[:8]
    assert api.direct('PUT', '/' + container)[0] == 201
    path = '/%s/data' % container
    assert api.direct('PUT', path, body=DATA)[0] == 201
    yield api, path
    api.direct('DELETE', path)
    api.direct('DELETE', '/%s/chunked' % container)
    api.direct('DELETE', '/' + container)


def _parts(content_type, body):
    msg = email.parser.BytesParser().parsebytes(
        b'Content-Type: ' + content_type.encode() + b'\r\n\r\n' + body)
    return [(p['Content-Range'], p.get_payload(decode=True))
            for p in msg.get_payload()]


def test_range_get(obj):
    """A single range gives 206 and exactly those bytes."""
    api, path = obj
    status, headers, body = api.via('GET', path, {'Range': 'bytes=10-19'})
    assert status == 206
    assert body == DATA[10:20]
    assert headers['content-range'] == 'bytes 10-19/%d' % len(DATA)
    status, _h, body = api.via('GET', path, {'Range': 'bytes=-100'})
    assert (status, body) == (206, DATA[-100:])


def test_multi_range_get(obj):
    """Several ranges give the target's multipart/byteranges answer."""
    api, path = obj
    ranges = {'Range': 'bytes=0-9,1000-1999,-5'}
    status, headers, body = api.via('GET', path, ranges)
    assert status == 206
    assert headers['content-type'].startswith('multipart/byteranges')
    parts = _parts(headers['content-type'], body)
    n = len(DATA)
    assert parts == [('bytes 0-9/%d' % n, DATA[:10]),
                     ('bytes 1000-1999/%d' % n, DATA[1000:2000]),
                     ('bytes %d-%d/%d' % (n - 5, n - 1, n), DATA[-5:])]
    d_status, d_headers, d_body = api.direct('GET', path, ranges)
    assert _parts(d_headers['content-type'], d_body) == parts


def test_unsatisfiable_range(obj):
    """An unsatisfiable range gets the target's 416."""
    api, path = obj
    assert api.via('GET', path, {'Range': 'bytes=%d-' % (len(DATA) + 10)})[
        0] == api.direct('GET', path, {
            'Range': 'bytes=%d-' % (len(DATA) + 10)})[0] == 416


@pytest.mark.parametrize('header,status', [
    ('If-None-Match', 304), ('If-Match', 412)])
def test_conditional_get_releases_connection_at_once(obj, header, status):
    """304/412 come back and the upstream connection is back in the pool
    before the client has even closed its connection."""
    api, path = obj
    etag = hashlib.md5(DATA).hexdigest()
    value = etag if header == 'If-None-Match' else '"not-%s"' % etag
    host, port, _ = split_url(api.local.proxy_url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request('GET', api.account_path + path,
                     headers={'X-Auth-Token': api.token, header: value})
        resp = conn.getresponse()
        assert resp.status == status
        # the response head is here; the client connection is still open
        stats = pool_stats(api.local)
        assert stats['in_use'] == 0
        assert stats['idle'] >= 1
        resp.read()
    finally:
        conn.close()


def test_if_match_success_streams(obj):
    """A matching If-Match gives the whole object."""
    api, path = obj
    etag = hashlib.md5(DATA).hexdigest()
    assert api.via('GET', path, {'If-Match': etag})[2] == DATA


def test_chunked_upload(obj):
    """A Transfer-Encoding: chunked upload streams through and lands whole."""
    api, path = obj
    container = path.split('/')[1]
    pieces = [os.urandom(size) for size in (1, 100, 65536, 70000, 3, 1 << 20)]
    whole = b''.join(pieces)
    host, port, _ = split_url(api.local.proxy_url)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request('PUT', '%s/%s/chunked' % (api.account_path, container),
                     body=iter(pieces), encode_chunked=True,
                     headers={'X-Auth-Token': api.token,
                              'Transfer-Encoding': 'chunked'})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201
        assert resp.getheader('etag') == hashlib.md5(whole).hexdigest()
    finally:
        conn.close()
    status, headers, body = api.direct('GET', '/%s/chunked' % container)
    assert status == 200 and body == whole


def test_both_framing_headers_refused(obj):
    """Content-Length *and* Transfer-Encoding: chunked is refused with 400
    before anything goes upstream (request smuggling), even with a body the
    target itself would take as chunked."""
    api, path = obj
    container = path.split('/')[1]
    chunked = b'5\r\nhello\r\n0\r\n\r\n'
    name = '/%s/both' % container
    status, _headers, body = api.via('PUT', name, {
        'Content-Length': str(len(chunked)), 'Transfer-Encoding': 'chunked'},
        chunked)
    assert status == 400
    assert b'Content-Length and Transfer-Encoding are both set' in body
    assert api.direct('HEAD', name)[0] == 404

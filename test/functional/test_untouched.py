# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Requests the forwarder does not forward go down the local pipeline
unchanged: the same requests give the same answers from the local cluster
with the filter in its pipeline (``forward`` naming another account) and
without it.

Raw sockets carry the requests, so odd ones (an unknown method, a ``..``
segment, an encoded slash, a header the forwarder would refuse) reach the
proxy byte for byte; answers are compared without what differs from one
request to the next anyway (transaction ids, dates, timestamps).
"""

import json
import re
import uuid

import pytest

from test.functional.rawhttp import make_reconfigure, port_of, send_raw
from test.functional.util import pool_stats

#: Response headers that differ between any two runs.
VOLATILE = {'x-trans-id', 'x-openstack-request-id', 'date', 'last-modified',
            'x-timestamp', 'x-put-timestamp', 'x-copied-from-last-modified',
            'content-length'}
_TIMES = re.compile(rb'(?<="last_modified": )"[^"]*"|\d{10}\.\d{5}|tx[0-9a-f-]{20,}')


def _requests(token, container):
    """(method, raw request bytes) of the local session, for ``container``
    of the local cluster's AUTH_test."""
    base = '/v1/AUTH_test/' + container
    head = 'Host: 127.0.0.1\r\nX-Auth-Token: %s\r\n' % token

    def raw(method, path, extra='', body=b''):
        framing = 'Content-Length: %d\r\n' % len(body) if body or method in (
            'PUT', 'POST') else ''
        return method, ('%s %s HTTP/1.1\r\n%s%s%s\r\n' % (
            method, path, head, extra, framing)).encode() + body
    return [
        raw('PUT', base),
        raw('PUT', base + '/obj', 'X-Object-Meta-Color: blue\r\n'
            'Content-Type: text/x-test\r\n', b'local bytes\n' * 100),
        raw('GET', base + '/obj'),
        raw('HEAD', base + '/obj'),
        raw('GET', base + '/obj', 'Range: bytes=5-20\r\n'),
        raw('GET', base + '/obj', 'Range: bytes=0-1,5-6\r\n'),
        raw('GET', base + '/obj', 'If-None-Match: "%s"\r\n' % 'x'),
        raw('POST', base + '/obj', 'X-Object-Meta-Size: big\r\n'),
        raw('COPY', base + '/obj', 'Destination: %s/copy\r\n' % container),
        raw('PUT', base + '/a%2Fb', body=b'slash'),
        raw('GET', base + '?format=json'),
        raw('GET', base + '?prefix=a&delimiter=/&format=json'),
        raw('GET', base + '/no-such-object'),
        raw('PATCH', base + '/obj'),
        raw('PUT', base + '/../' + container + '/dots', body=b'x'),
        raw('PUT', base + '/expect', 'Expect: 200-ok\r\n', b'x'),
        raw('GET', base + '/obj', 'X-Odd: a\x00b\r\n'),
        raw('DELETE', base + '/../' + container + '/dots'),
        raw('DELETE', base + '/expect'),
        raw('DELETE', base + '/copy'),
        raw('DELETE', base + '/a%2Fb'),
        raw('DELETE', base + '/obj'),
        raw('DELETE', base),
    ]


def _session(local, container):
    """Each answer: (status, headers but the volatile ones, body with
    times and ids blanked, the container's name made generic)."""
    _url, token = local.get_auth('test:tester', 'testing')
    answers = []
    for method, data in _requests(token, container):
        status, body, headers, _port = send_raw(port_of(local), data, method)
        headers = {k: v.replace(container, 'C') for k, v in headers.items()
                   if k not in VOLATILE}
        if 'allow' in headers:  # a set's order in Swift: per process
            headers['allow'] = sorted(headers['allow'].split(', '))
        body = _TIMES.sub(b'"T"', body.replace(container.encode(), b'C'))
        if headers.get('content-type', '').startswith('multipart/'):
            boundary = headers['content-type'].split('boundary=')[1]
            body = body.replace(boundary.encode(), b'B')
            headers['content-type'] = headers['content-type'].replace(
                boundary, 'B')
        answers.append((method, status, sorted(headers.items()), body))
    return answers


@pytest.fixture(scope='module')
def reconfigure(clusters):
    local, _target = clusters
    apply = make_reconfigure(local)
    yield apply
    apply()


def test_same_answers_with_and_without_the_filter(clusters, reconfigure):
    local, _target = clusters
    reconfigure(forward='AUTH_elsewhere')
    before = pool_stats(local)
    with_filter = _session(local, 'untouched-%s' % uuid.uuid4().hex[:8])
    after = pool_stats(local)
    assert (after['created'], after['reused']) == (
        before['created'], before['reused'])  # nothing went to the target

    saved = local.filters.pop('forwarder')
    try:
        local.restart_proxy()
        without = _session(local, 'untouched-%s' % uuid.uuid4().hex[:8])
    finally:
        local.filters['forwarder'] = saved
        local.restart_proxy()

    print('\n%d requests, the same answers with and without the filter: %s'
          % (len(without), ', '.join('%s %d' % (m, s) for m, s, _h, _b
                                     in with_filter)))
    assert [a[:2] for a in with_filter] == [a[:2] for a in without]
    assert with_filter == without
    statuses = dict((m, s) for m, s, _h, _b in with_filter)
    assert statuses['PATCH'] == 405  # the local proxy's answer
    assert json.loads(with_filter[10][3])[0]['name'] == 'a/b'

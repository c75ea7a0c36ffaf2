# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Pool exhaustion, a dead target and a stalling target.

These tests restart the local proxy with other forwarder settings (and, for
the dead and stalling targets, point it at a port on loopback that is closed,
or at the real target behind a fault proxy armed to stall or cut its
answer), then put the normal settings back.
"""

import http.client
import os
import socket
import time
import uuid

import pytest

from test.functional.rawhttp import counters, port_of, wait_pool_idle
from test.functional.util import Api, pool_stats, split_url, \
    tcp_connections, worker_pid
from test.functional.test_pool_behaviour import BIG, BLOCK, _open_download
from test.functional.wire import RecordingRelay


@pytest.fixture(scope='module')
def reconfigure(clusters):
    """``reconfigure(**options)``: restart the local proxy with its normal
    forwarder options updated by ``options``; restored afterwards."""
    local, _target = clusters
    normal = dict(local.filters['forwarder'])

    def apply(**options):
        conf = dict(normal)
        conf.update({k: str(v) for k, v in options.items()})
        local.set_filter_conf('forwarder', conf)

    yield apply
    apply()


@pytest.fixture(scope='module')
def api(clusters):
    local, target = clusters
    return Api(local, target)


@pytest.fixture
def relay(api):
    """A fault proxy in front of the target cluster's proxy that keeps
    what it relays both ways (:class:`RecordingRelay`)."""
    relay = RecordingRelay('127.0.0.1', port_of(api.target),
                           responses=True).start()
    yield relay
    relay.stop()


def test_pool_exhaustion_gives_503_with_retry_after(api, reconfigure):
    """pool_size = 2 with two downloads held open: a third request gets 503
    + Retry-After within pool_timeout + 1 s, and the pool recovers."""
    container = 'exh-%s' % uuid.uuid4().hex[:8]
    big = '/%s/big' % container
    assert api.direct('PUT', '/' + container)[0] == 201
    assert api.direct('PUT', big, body=iter([BLOCK] * (BIG // len(BLOCK))),
                      headers={'Content-Length': str(BIG)})[0] == 201
    reconfigure(pool_size=2, pool_timeout=2)
    held = [_open_download(api, big)[0] for _ in range(2)]
    try:
        assert pool_stats(api.local)['in_use'] == 2
        start = time.time()
        status, headers, body = api.via('GET', '/' + container)
        elapsed = time.time() - start
        assert status == 503
        assert headers['retry-after'] == '1'
        assert b'no free connection' in body
        # the client learns the target's name, never its address
        assert body.startswith(b'Target default: ')
        assert api.target.proxy_url.encode('ascii') not in body
        # waited pool_timeout (2 s), and not much more (a multiple of it,
        # never a tight fraction: the machine may be loaded)
        assert 2 <= elapsed < 2 * 2
        assert pool_stats(api.local)['exhausted'] == 1
        # a HEAD gets the same status, and no body (as HEAD must)
        status, headers, body = api.via('HEAD', '/' + container)
        assert (status, body) == (503, b'')
        assert int(headers['content-length']) > 0
    finally:
        for sock in held:
            sock.close()
    assert wait_pool_idle(api.local)['in_use'] == 0
    assert api.via('HEAD', '/' + container)[0] == 204
    api.direct('DELETE', big)
    api.direct('DELETE', '/' + container)


def test_target_restart_idle_connections_replaced(api, reconfigure):
    """The target's proxy restarts while the forwarder holds idle keep-alive
    connections to it: the next requests still succeed (dead idle sockets
    are detected or retried on a fresh connection), none fails."""
    reconfigure()
    for _ in range(3):
        assert api.via('HEAD', '')[0] in (200, 204)
    before = pool_stats(api.local)
    assert before['idle'] >= 1
    api.target.restart_proxy()
    for _ in range(5):
        assert api.via('HEAD', '')[0] in (200, 204)
    after = pool_stats(api.local)
    assert after['discarded'] > before['discarded']
    assert after['created'] > before['created']


def test_errors_logged_with_txn_id(api, reconfigure):
    """Every error is logged by the local proxy with the transaction id."""
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    dead_port = probe.getsockname()[1]
    probe.close()
    reconfigure(target_url='http://127.0.0.1:%d' % dead_port)
    status, headers, _body = api.via('GET', '/some/object')
    assert status == 503
    txn = headers['x-trans-id']
    deadline = time.time() + 5
    while True:
        with open(api.local.log_path('proxy')) as f:
            lines = [line for line in f if txn in line]
        errors = [line for line in lines if 'connect failed' in line]
        if errors or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(errors) == 1, lines
    assert 'forwarded to default: GET /v1/AUTH_test/some/object 503 ' in errors[0]
    assert errors[0].rstrip().endswith(
        'connect failed: Connection refused (txn: %s)' % txn)


def test_dead_target_fails_fast(api, reconfigure):
    """A target that refuses connections gives a 503 that says so, at once:
    each of the retries (retries = 2) is tried, and none waits for the
    connect timeout (conn_timeout = 10 s)."""
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    dead_port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    conn_timeout = 10
    reconfigure(target_url='http://127.0.0.1:%d' % dead_port,
                conn_timeout=conn_timeout, retries=2)
    retries = counters(api.local)['retries']
    start = time.monotonic()
    status, _headers, body = api.via('GET', '')
    elapsed = time.monotonic() - start
    assert status == 503
    assert body == b'Target default: connect failed: Connection refused\n'
    assert counters(api.local)['retries'] - retries == 2
    # three refused connects and two short pauses: far from one
    # conn_timeout, which a connect to a live but silent host would cost
    assert elapsed < conn_timeout


def test_stalled_target_gives_504(api, reconfigure, relay):
    """A target whose answer never arrives (the fault proxy holds it back)
    gives 504 after node_timeout, and the socket to it is closed."""
    node_timeout = 1
    reconfigure(target_url=relay.url, node_timeout=node_timeout)
    relay.arm('stall_response', after=0)
    start = time.monotonic()
    status, headers, body = api.via('GET', '')
    elapsed = time.monotonic() - start
    assert status == 504
    assert body == b'Target default: no response within 1s\n'
    assert node_timeout <= elapsed < 4 * node_timeout
    # the request reached the target; not one byte of its answer came back
    [sent] = relay.requests()
    assert (sent.method, sent.target) == ('GET', api.account_path)
    assert sent.value('x-trans-id-extra') == headers['x-trans-id']
    assert relay.fired['stall_response'] == 1
    assert relay.streams('response') == [b'']
    assert tcp_connections(worker_pid(api.local),
                           remote_port=relay.port) == []
    assert pool_stats(api.local)['in_use'] == 0


@pytest.mark.parametrize('fault', ['cut_response', 'stall_response'])
def test_target_dying_mid_body_aborts_client_stream(
        api, reconfigure, relay, container, fault):
    """A response body that breaks off (the target's connection cut) or
    stalls (past node_timeout), with no resume to try (retries = 0), is
    never ended cleanly short: the client gets every body byte the target
    sent before, then the connection drops before Content-Length bytes."""
    data = os.urandom(2 ** 20)
    path = '/%s/dying' % container
    assert api.direct('PUT', path, body=data)[0] == 201
    reconfigure(target_url=relay.url, node_timeout=1, retries=0)
    relay.arm(fault, after=300000)
    host, port, _ = split_url(api.local.proxy_url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request('GET', api.account_path + path,
                     headers={'X-Auth-Token': api.token})
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.getheader('Content-Length')) == len(data)
        with pytest.raises(http.client.IncompleteRead) as caught:
            resp.read()
    finally:
        conn.close()
    assert relay.fired[fault] == 1
    [answer] = relay.streams('response')  # what the target sent through
    assert len(answer) == 300000
    head = answer.index(b'\r\n\r\n') + 4
    assert answer.startswith(b'HTTP/1.1 200 ')
    assert caught.value.partial == data[:len(answer) - head]
    stats = wait_pool_idle(api.local)
    assert stats['in_use'] == 0 and stats['discarded'] == 1
    assert tcp_connections(worker_pid(api.local),
                           remote_port=relay.port) == []

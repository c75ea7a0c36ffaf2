# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Pool exhaustion, a dead target and a stalling target.

These tests restart the local proxy with other forwarder settings (and, for
the dead and stalling targets, point it at a port on loopback that is closed,
or at a scripted server in this process), then put the normal settings
back.
"""

import http.client
import socket
import threading
import time
import uuid

import pytest

from test.functional.rawhttp import wait_pool_idle
from test.functional.util import Api, pool_stats, split_url, \
    tcp_connections, worker_pid
from test.functional.test_pool_behaviour import BIG, BLOCK, _open_download


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


class ScriptedTarget(threading.Thread):
    """A fake target proxy on loopback for faults a real Swift won't do on
    demand: ``behaviour`` is 'stall' (read the request, never answer) or
    'partial' (send a 200 head and part of the body, then stall)."""

    def __init__(self, behaviour):
        super().__init__(daemon=True)
        self.behaviour = behaviour
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.accepted = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                sock, _addr = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted.append(sock)
            sock.recv(65536)
            if self.behaviour == 'partial':
                sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 10000000'
                             b'\r\nContent-Type: text/plain\r\n\r\n' +
                             b'x' * 100000)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join()
        for sock in self.accepted:
            sock.close()
        self.listener.close()


@pytest.fixture(scope='module')
def api(clusters):
    local, target = clusters
    return Api(local, target)


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
        assert 2 <= elapsed < 3
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
    """A target that refuses connections gives a fast 503 that says so."""
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    dead_port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    reconfigure(target_url='http://127.0.0.1:%d' % dead_port)
    start = time.time()
    status, _headers, body = api.via('GET', '')
    elapsed = time.time() - start
    assert status == 503
    assert body == b'Target default: connect failed: Connection refused\n'
    assert elapsed < 0.5


def test_stalled_target_gives_504(api, reconfigure):
    """A target that never answers gives 504 after node_timeout, and the
    socket to it is closed."""
    with ScriptedTarget('stall') as target:
        reconfigure(target_url=target.url, node_timeout=1)
        start = time.time()
        status, _headers, body = api.via('GET', '')
        elapsed = time.time() - start
        assert status == 504
        assert b'no response within 1s' in body
        assert 1 <= elapsed < 2.5
        assert tcp_connections(worker_pid(api.local),
                               remote_port=target.port) == []
        assert pool_stats(api.local)['in_use'] == 0


def test_target_dying_mid_body_aborts_client_stream(api, reconfigure):
    """A response body that stalls is never ended cleanly short: the client
    sees the connection drop before Content-Length bytes."""
    with ScriptedTarget('partial') as target:
        reconfigure(target_url=target.url, node_timeout=1)
        host, port, _ = split_url(api.local.proxy_url)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request('GET', api.account_path + '/c/o',
                     headers={'X-Auth-Token': api.token})
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as caught:
            resp.read()
        conn.close()
        assert len(caught.value.partial) == 100000
        stats = wait_pool_idle(api.local)
        assert stats['in_use'] == 0 and stats['discarded'] == 1
        assert tcp_connections(worker_pid(api.local),
                               remote_port=target.port) == []

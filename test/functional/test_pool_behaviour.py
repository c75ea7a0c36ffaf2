# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Connection reuse, client disconnects and pool exhaustion, counted on
both sides: the forwarder's pool counters, the kernel's socket table, and
(for reuse) the connections a TCP proxy in front of the target accepts."""

import http.client
import socket
import threading
import time
import uuid

import pytest

from test.functional.faultproxy import FaultProxy
from test.functional.rawhttp import make_reconfigure, port_of, wait_pool_idle
from test.functional.util import Api, pool_stats, split_url, \
    tcp_connections, worker_pid

BIG = 200 * 2 ** 20
BLOCK = b'\xa5' * 2 ** 20


@pytest.fixture(scope='module')
def env(clusters):
    """An account API and a 200 MB object stored directly on the target."""
    local, target = clusters
    api = Api(local, target)
    container = 'pool-%s' % uuid.uuid4().hex[:8]
    assert api.direct('PUT', '/' + container)[0] == 201
    big = '/%s/big' % container
    small = '/%s/small' % container
    assert api.direct('PUT', big, body=iter([BLOCK] * (BIG // len(BLOCK))),
                      headers={'Content-Length': str(BIG)})[0] == 201
    assert api.direct('PUT', small, body=b'small')[0] == 201
    yield api, big, small
    for path in (big, small, '/' + container):
        api.direct('DELETE', path)


def _open_download(api, path):
    """Start a GET on a raw socket and read only the response head."""
    host, port, _ = split_url(api.local.proxy_url)
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(('GET %s%s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n\r\n'
                  % (api.account_path, path, api.token)).encode())
    head = sock.recv(4096)
    assert head.startswith(b'HTTP/1.1 200'), head[:200]
    return sock, len(head.split(b'\r\n\r\n', 1)[1])


class PortSampler(threading.Thread):
    """Collects the local ports of the worker's sockets to the target."""

    def __init__(self, pid, target_port):
        super().__init__(daemon=True)
        self.pid, self.target_port = pid, target_port
        self.ports = set()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.ports.update(lport for lport, _r in tcp_connections(
                self.pid, remote_port=self.target_port))


@pytest.fixture
def via_fault_proxy(env):
    """The forwarder talks to the target through a :class:`FaultProxy`
    (which counts the connections it accepts: the target-side count); the
    local proxy is restarted for it, and with its normal options after."""
    api = env[0]
    reconfigure = make_reconfigure(api.local)
    fault = FaultProxy('127.0.0.1', port_of(api.target)).start()
    try:
        reconfigure(target_url=fault.url)
        yield fault
    finally:
        reconfigure()
        fault.stop()


def test_sequential_gets_reuse_connections(env, via_fault_proxy):
    """500 sequential GETs open at most a couple of upstream connections,
    counted three ways: the pool's counter, the worker's sockets, and the
    connections accepted in front of the target."""
    api, _big, small = env
    fault = via_fault_proxy
    host, port, _ = split_url(api.local.proxy_url)
    before = wait_pool_idle(api.local)
    accepted_before = fault.accepted
    response_bytes_before = fault.bytes['response']
    sampler = PortSampler(worker_pid(api.local), fault.port)
    sampler.start()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for _ in range(500):
            conn.request('GET', api.account_path + small,
                         headers={'X-Auth-Token': api.token})
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, b'small')
    finally:
        conn.close()
        sampler.done.set()
        sampler.join()
    after = pool_stats(api.local)
    created = after['created'] - before['created']
    reused = after['reused'] - before['reused']
    accepted = fault.accepted - accepted_before
    relayed = fault.bytes['response'] - response_bytes_before
    print('\n500 GETs: target side accepted %d connections (%d response '
          'bytes relayed); forwarder created %d upstream connections, '
          'reused %d, %d upstream local ports seen' % (
              accepted, relayed, created, reused, len(sampler.ports)))
    assert relayed >= 500 * len(b'small')  # the GETs did go through it
    assert 1 <= accepted <= 2
    assert created <= 2
    assert 1 <= len(sampler.ports) <= 3
    assert reused >= 498


def test_client_disconnects_mid_download_discard_sockets(env):
    """50 clients drop a 200 MB download after 1 MB: every upstream socket
    is discarded (not pooled) and none is left open on either side."""
    api, big, _small = env
    before = wait_pool_idle(api.local)
    for _ in range(50):
        sock, got = _open_download(api, big)
        while got < 2 ** 20:
            data = sock.recv(65536)
            assert data
            got += len(data)
        sock.close()
    after = wait_pool_idle(api.local)
    discarded = after['discarded'] - before['discarded']
    created = after['created'] - before['created']
    target_port = split_url(api.target.proxy_url)[1]
    forwarder_side = tcp_connections(worker_pid(api.local),
                                     remote_port=target_port)
    deadline = time.time() + 5
    while True:  # the target notices closed sockets on its next write
        target_side = tcp_connections(worker_pid(api.target),
                                      local_port=target_port)
        if len(target_side) <= after['maxsize'] or time.time() > deadline:
            break
        time.sleep(0.1)
    print('\n50 disconnects: discarded %d, created %d, reused %d; sockets '
          'open: forwarder->target %d, target side %d (pool_size %d)' % (
              discarded, created, after['reused'] - before['reused'],
              len(forwarder_side), len(target_side), after['maxsize']))
    assert after['in_use'] == 0
    assert discarded >= 50
    assert created >= 50 - before['idle']
    assert after['idle'] <= before['idle']
    assert len(forwarder_side) <= after['maxsize']
    assert len(target_side) <= after['maxsize']

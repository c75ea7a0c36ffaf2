# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Forwarding over https to a real cluster.

A TLS relay (:mod:`test.functional.tlsrelay`, a process of its own) sits in
front of the target's proxy with a certificate for 127.0.0.1 made here; the
local proxy's forwarder is restarted with ``target_url`` = the relay's https
URL and ``ca_certs`` / ``insecure`` as each test needs, and with its normal
options at the end of the module.
"""

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from test.functional.rawhttp import forwarder_sockets, make_reconfigure, \
    port_of, wait_pool_idle
from test.functional.util import Api, healthcheck
from test.unit.helpers import make_cert

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

BIG = 5 * 2 ** 20


def md5(data):
    return hashlib.md5(data).hexdigest()


def _stop(proc):
    """SIGTERM the relay by its pid (SIGKILL if it lingers)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    proc.stdout.close()


@pytest.fixture(scope='module')
def tls(clusters, tmp_path_factory):
    """A dict: ``api`` (:class:`Api`), ``url`` (the relay's https URL),
    ``port`` (the relay's), ``ca`` (the CA that signed the relay's
    certificate: the certificate itself, self-signed), ``other_ca`` (an
    unrelated one), ``reconfigure`` (:func:`make_reconfigure` of the local
    proxy)."""
    local, target = clusters
    certs = str(tmp_path_factory.mktemp('tls-certs'))
    cert, key = make_cert(certs, name='relay')
    other, _other_key = make_cert(certs, name='unrelated')
    reconfigure = make_reconfigure(local)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'test.functional.tlsrelay', cert, key,
         str(target.ports['proxy'])], stdout=subprocess.PIPE, text=True,
        cwd=REPO)
    try:
        ready = select.select([proc.stdout], [], [], 15)[0]
        assert ready, 'the TLS relay printed no port within 15 s'
        port = int(proc.stdout.readline())
        url = 'https://127.0.0.1:%d' % port
        yield {'api': Api(local, target), 'url': url, 'port': port,
               'ca': cert, 'other_ca': other, 'reconfigure': reconfigure}
    finally:
        try:
            reconfigure()
        finally:
            _stop(proc)


def verified(tls):
    """The forwarder toward the relay, verifying it with the right CA."""
    tls['reconfigure'](target_url=tls['url'], ca_certs=tls['ca'])


def test_objects_over_tls(tls, container):
    """Objects, a listing, a Range GET and DELETEs, all through the
    forwarder over https: the bytes are those stored on the target."""
    verified(tls)
    api = tls['api']
    local = api.local
    assert healthcheck(local)['url'] == tls['url']
    big_data = os.urandom(BIG)
    small_data = b'small object over tls\n'
    big, small = '/%s/big' % container, '/%s/small' % container

    started = time.monotonic()
    status, headers, body = api.via('PUT', big, body=big_data)
    put_time = time.monotonic() - started
    assert status == 201, body
    assert headers['etag'] == md5(big_data)
    status, _headers, body = api.via('PUT', small, body=small_data)
    assert status == 201, body

    started = time.monotonic()
    status, headers, got_big = api.via('GET', big)
    get_time = time.monotonic() - started
    assert status == 200, got_big[:200]
    assert len(got_big) == BIG
    assert md5(got_big) == md5(big_data) == headers['etag']
    status, _headers, direct_big = api.direct('GET', big)
    assert status == 200
    assert md5(direct_big) == md5(big_data)
    print('\n5 MiB over TLS: PUT %.3f s, GET %.3f s' % (put_time, get_time))

    status, _headers, got_small = api.via('GET', small)
    assert status == 200 and got_small == small_data
    status, _headers, direct_small = api.direct('GET', small)
    assert status == 200 and direct_small == small_data

    status, _headers, body = api.via('GET', '/%s?format=json' % container)
    assert status == 200, body
    listing = {obj['name']: obj for obj in json.loads(body)}
    assert sorted(listing) == ['big', 'small']
    assert listing['big']['bytes'] == BIG
    assert listing['big']['hash'] == md5(big_data)

    status, headers, body = api.via('GET', big,
                                    {'Range': 'bytes=1000000-1099999'})
    assert status == 206, body[:200]
    assert headers['content-range'] == 'bytes 1000000-1099999/%d' % BIG
    assert body == big_data[1000000:1100000]

    for path in (big, small):
        status, _headers, body = api.via('DELETE', path)
        assert status == 204, body
        assert api.direct('HEAD', path)[0] == 404
    stats = wait_pool_idle(local)
    assert stats['in_use'] == 0, stats
    assert stats['created'] >= 1, stats
    # the traffic went through the relay, not straight to the target
    assert forwarder_sockets(local, tls['port']) >= 1
    assert forwarder_sockets(local, port_of(api.target)) == 0


def test_sequential_gets_reuse_tls_connections(tls, container):
    """50 sequential GETs over https: pooled TLS connections are reused,
    hardly any new handshake."""
    verified(tls)
    api = tls['api']
    data = b'x' * 1000
    path = '/%s/reused' % container
    assert api.direct('PUT', path, body=data)[0] == 201
    before = wait_pool_idle(api.local)
    assert before['in_use'] == 0, before
    for _ in range(50):
        status, _headers, body = api.via('GET', path)
        assert status == 200 and body == data
    after = wait_pool_idle(api.local)
    created = after['created'] - before['created']
    reused = after['reused'] - before['reused']
    print('\n50 GETs over TLS: created %d, reused %d (pool %s)'
          % (created, reused, after))
    assert after['in_use'] == 0, after
    assert created <= 2, (before, after)
    assert reused >= 49, (before, after)


def test_wrong_ca(tls, container):
    """A CA that did not sign the relay's certificate: a quick 503 naming
    the target (not its address) and the failed handshake; no connection
    left in use, none pooled."""
    api = tls['api']
    tls['reconfigure'](target_url=tls['url'], ca_certs=tls['other_ca'])
    started = time.monotonic()
    status, _headers, body = api.via('GET', '/%s' % container, timeout=10)
    elapsed = time.monotonic() - started
    print('\nwrong CA: %d in %.3f s: %r' % (status, elapsed, body))
    assert status == 503, body
    assert elapsed < 2, elapsed
    text = body.decode('utf-8')
    assert text.startswith('Target default: TLS handshake failed: '), text
    assert 'certificate verify failed' in text, text
    assert str(tls['port']) not in text and '127.0.0.1' not in text, text
    stats = wait_pool_idle(api.local, timeout=5)
    assert stats['in_use'] == 0, stats
    assert stats['idle'] == 0 and stats['created'] == 0, stats
    assert forwarder_sockets(api.local, tls['port']) == 0


def test_insecure_without_ca(tls, container):
    """``insecure = true`` and no ``ca_certs``: the self-signed relay is
    accepted (without ``insecure``, the system's CAs refuse it)."""
    api = tls['api']
    data = b'insecure but working\n'
    path = '/%s/insecure' % container
    assert api.direct('PUT', path, body=data)[0] == 201
    tls['reconfigure'](target_url=tls['url'])
    status, _headers, body = api.via('GET', path, timeout=10)
    assert status == 503, body
    assert b'TLS handshake failed: ' in body, body
    tls['reconfigure'](target_url=tls['url'], insecure='true')
    assert 'ca_certs' not in api.local.filters['forwarder']
    status, _headers, body = api.via('GET', path)
    assert status == 200, body
    assert body == data
    assert healthcheck(api.local)['url'] == tls['url']

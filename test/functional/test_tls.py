# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Forwarding over https to a real cluster.

A TLS relay (:mod:`test.functional.tlsrelay`, a process of its own) sits in
front of the target's proxy with a certificate for 127.0.0.1 made here, and
requires a client certificate (``cert_file``/``key_file``) signed by a CA
made here too; it logs each handshake (the client's port, the certificate
it presented), so the tests see what the handshake used.  The local
proxy's forwarder is restarted with ``target_url`` = the relay's https URL
and ``ca_certs`` / ``insecure`` / ``cert_file`` / ``key_file`` as each test
needs, and with its normal options at the end of the module.
"""

import hashlib
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time

import pytest

from test.functional.rawhttp import forwarder_sockets, make_reconfigure, \
    port_of, wait_for, wait_pool_idle
from test.functional.util import Api, healthcheck, tcp_connections, \
    worker_pid
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


def fingerprint(cert_file):
    """SHA-256 (hex) of a PEM certificate, as the relay logs it."""
    with open(cert_file) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class Handshakes(object):
    """The relay's handshake log: ``(outcome, client port, details)``."""

    def __init__(self, path):
        self.path = path
        open(path, 'a').close()

    def mark(self):
        with open(self.path) as f:
            return len(f.readlines())

    def since(self, mark):
        with open(self.path) as f:
            lines = f.readlines()[mark:]
        return [tuple(line.rstrip('\n').split(' ', 2)) for line in lines]

    def wait(self, mark, outcome, timeout=10):
        """The handshakes since ``mark``, once one had ``outcome`` (a
        failed one is logged when the relay gives up, which may be after
        the client did)."""
        found = wait_for(lambda: [h for h in self.since(mark)
                                  if h[0] == outcome], timeout, 0.05)
        assert found, (outcome, self.since(mark))
        return self.since(mark)


@pytest.fixture(scope='module')
def tls(clusters, tmp_path_factory):
    """A dict: ``api`` (:class:`Api`), ``url`` (the relay's https URL),
    ``port`` (the relay's), ``ca`` (the CA that signed the relay's
    certificate: the certificate itself, self-signed), ``other_ca`` (an
    unrelated one), ``client`` (the (cert_file, key_file) the relay
    requires: it trusts that certificate as its own CA), ``stranger`` (one
    it does not trust), ``handshakes`` (:class:`Handshakes`),
    ``reconfigure`` (:func:`make_reconfigure` of the local proxy)."""
    local, target = clusters
    certs = str(tmp_path_factory.mktemp('tls-certs'))
    cert, key = make_cert(certs, name='relay')
    other, _other_key = make_cert(certs, name='unrelated')
    client = make_cert(certs, name='forwarder')
    stranger = make_cert(certs, name='stranger')
    handshakes = Handshakes(os.path.join(certs, 'handshakes.log'))
    reconfigure = make_reconfigure(local)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'test.functional.tlsrelay', cert, key,
         str(target.ports['proxy']), '--client-ca', client[0],
         '--log', handshakes.path], stdout=subprocess.PIPE, text=True,
        cwd=REPO)
    try:
        ready = select.select([proc.stdout], [], [], 15)[0]
        assert ready, 'the TLS relay printed no port within 15 s'
        port = int(proc.stdout.readline())
        url = 'https://127.0.0.1:%d' % port
        yield {'api': Api(local, target), 'url': url, 'port': port,
               'ca': cert, 'other_ca': other, 'client': client,
               'stranger': stranger, 'handshakes': handshakes,
               'reconfigure': reconfigure}
    finally:
        try:
            reconfigure()
        finally:
            _stop(proc)


def with_client_cert(tls, cert=None, **options):
    """The forwarder toward the relay, presenting ``cert`` (default: the
    one the relay trusts), with ``options``."""
    cert_file, key_file = cert or tls['client']
    tls['reconfigure'](target_url=tls['url'], cert_file=cert_file,
                       key_file=key_file, **options)


def verified(tls):
    """The forwarder toward the relay, verifying it with the right CA, with
    the client certificate the relay requires."""
    with_client_cert(tls, ca_certs=tls['ca'])


def forwarder_ports(tls):
    """Local ports of the forwarder worker's connections to the relay."""
    return {lport for lport, _rport in tcp_connections(
        worker_pid(tls['api'].local), remote_port=tls['port'])}


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
    with_client_cert(tls, ca_certs=tls['other_ca'])
    retries = healthcheck(api.local)['counters']['retries']
    status, _headers, body = api.via('GET', '/%s' % container, timeout=10)
    print('\nwrong CA: %d %r' % (status, body))
    assert status == 503, body
    # quick: one handshake, no retry (it would fail the same way)
    assert healthcheck(api.local)['counters']['retries'] == retries
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
    accepted.  Without ``insecure`` the forwarder (with the system's CAs)
    fails to verify the relay's certificate and the handshake fails, as the
    relay sees; with it, the handshake on the forwarder's connection
    completes and the object comes through it."""
    api, handshakes = tls['api'], tls['handshakes']
    data = b'insecure but working\n'
    path = '/%s/insecure' % container
    assert api.direct('PUT', path, body=data)[0] == 201
    with_client_cert(tls)
    mark = handshakes.mark()
    status, _headers, body = api.via('GET', path, timeout=10)
    assert status == 503, body
    assert b'TLS handshake failed: ' in body, body
    assert b'certificate verify failed' in body, body
    # the relay saw that handshake fail, and none complete
    handshakes.wait(mark, 'failed')
    assert [h for h in handshakes.since(mark) if h[0] == 'ok'] == []

    with_client_cert(tls, insecure='true')
    mark = handshakes.mark()
    status, _headers, body = api.via('GET', path)
    assert status == 200, body
    assert body == data
    assert healthcheck(api.local)['url'] == tls['url']
    done = [h for h in handshakes.since(mark) if h[0] == 'ok']
    assert done and {int(h[1]) for h in done} <= forwarder_ports(tls), done


def test_client_certificate_presented(tls, container):
    """``cert_file``/``key_file`` reach the handshake: the relay, which
    requires a client certificate, sees the configured one on the
    forwarder's connection, and the request goes through."""
    api, handshakes = tls['api'], tls['handshakes']
    path = '/%s/mtls' % container
    assert api.direct('PUT', path, body=b'mutual')[0] == 201
    verified(tls)
    mark = handshakes.mark()
    status, _headers, body = api.via('GET', path)
    assert (status, body) == (200, b'mutual')
    done = handshakes.since(mark)
    assert done, 'no handshake: the request did not go through the relay'
    assert {h[0] for h in done} == {'ok'}, done
    assert {h[2].split()[1] for h in done} == {
        fingerprint(tls['client'][0])}, done
    assert {int(h[1]) for h in done} <= forwarder_ports(tls), done


@pytest.mark.parametrize('cert', [None, 'stranger'],
                         ids=['no-client-cert', 'untrusted-client-cert'])
def test_client_certificate_refused(tls, container, cert):
    """A target that requires a client certificate, and the forwarder has
    none (or one the target does not trust): the handshake fails (the relay
    refuses it), and the client gets a clear 503 naming the target (not its
    address); no connection left in use or pooled.  (With TLS 1.3 the
    refusal comes after the forwarder's side of the handshake, with the
    first read.)"""
    api, handshakes = tls['api'], tls['handshakes']
    path = '/%s/refused' % container
    assert api.direct('PUT', path, body=b'x')[0] == 201
    if cert is None:
        tls['reconfigure'](target_url=tls['url'], ca_certs=tls['ca'])
    else:
        with_client_cert(tls, tls[cert], ca_certs=tls['ca'])
    mark = handshakes.mark()
    status, _headers, body = api.via('GET', path, timeout=30)
    print('\n%s: %d %r' % (cert or 'no client certificate', status, body))
    refused = handshakes.wait(mark, 'failed')
    assert [h for h in refused if h[0] == 'ok'] == [], refused
    assert ('CERTIFICATE' if cert else 'PEER_DID_NOT_RETURN_A_CERTIFICATE') \
        in ' '.join(h[2] for h in refused), refused
    stats = wait_pool_idle(api.local, timeout=5)
    assert stats['in_use'] == 0 and stats['idle'] == 0, stats
    assert forwarder_sockets(api.local, tls['port']) == 0
    assert status == 503, body
    text = body.decode('utf-8')
    assert text.startswith('Target default: TLS handshake failed: '), text
    assert str(tls['port']) not in text and '127.0.0.1' not in text, text

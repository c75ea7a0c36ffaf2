# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make demo``: two real Swift clusters and a scripted session.

Starts a *target* cluster and a *local* cluster whose proxy pipeline holds
the forwarder, then, with python-swiftclient through the local proxy only:
uploads a 100 MB object and a small one, lists the container, downloads
both and compares MD5s, then GETs both directly from the target cluster
and compares their MD5s with what was uploaded (they live there, intact).
Prints the pool counters at the end; the exit status is 1 if any check
failed.

The clusters stay up until Ctrl-C; with ``DEMO_ONCE=1`` the demo exits.
"""

import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import swiftclient

from swift_forwarder.testing import saio

BIG = 100 * 2 ** 20
BLOCK = os.urandom(2 ** 20)


def _chunks(size):
    """``size`` bytes, a MiB at a time, never all in memory."""
    sent = 0
    while sent < size:
        piece = BLOCK[:min(len(BLOCK), size - sent)]
        sent += len(piece)
        yield piece


class _Upload(object):
    """A file-like view of :func:`_chunks` for swiftclient, which sends
    file-like bodies with their Content-Length."""

    def __init__(self, size):
        self._chunks = _chunks(size)
        self._pending = b''

    def read(self, size=-1):
        while size < 0 or len(self._pending) < size:
            piece = next(self._chunks, b'')
            if not piece:
                break
            self._pending += piece
        size = len(self._pending) if size < 0 else size
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def _md5_of_stream(size):
    md5 = hashlib.md5()
    for piece in _chunks(size):
        md5.update(piece)
    return md5.hexdigest()


def _say(fmt, *args):
    print(fmt % args if args else fmt)
    sys.stdout.flush()


def pool_counters(local):
    url = local.proxy_url + '/forwarder/healthcheck'
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())['targets']


def _check_on_target(direct, container, name, expected_md5):
    """GET ``name`` straight from the target cluster and compare the MD5 of
    its bytes with what was uploaded through the forwarder; True if equal."""
    headers, body = direct.get_object(container, name,
                                      resp_chunk_size=2 ** 20)
    md5 = hashlib.md5()
    size = 0
    for piece in body:
        md5.update(piece)
        size += len(piece)
    good = md5.hexdigest() == expected_md5 == headers['etag']
    _say('  GET %s on the target: %d bytes, md5 %s, etag %s, uploaded md5 '
         '%s: %s', name, size, md5.hexdigest(), headers['etag'],
         expected_md5, 'OK' if good else 'MISMATCH')
    return good


def _check_through_forwarder(via_forwarder, container, expected, small):
    """GET both objects back through the forwarder; True if both match."""
    start = time.time()
    _headers, body = via_forwarder.get_object(container, 'big',
                                              resp_chunk_size=2 ** 20)
    md5 = hashlib.md5()
    for piece in body:
        md5.update(piece)
    elapsed = time.time() - start
    _say('GET big in %.2fs (%.0f MB/s): md5 %s, expected %s: %s', elapsed,
         BIG / 2 ** 20 / elapsed, md5.hexdigest(), expected,
         'OK' if md5.hexdigest() == expected else 'MISMATCH')
    _headers, got = via_forwarder.get_object(container, 'small.txt')
    _say('GET small.txt: %s', 'OK' if got == small else 'MISMATCH')
    return md5.hexdigest() == expected and got == small


def run_session(local, target):
    """The scripted session; returns True when every check passed."""
    target_url, token = target.get_auth()
    path = urllib.parse.urlsplit(target_url).path
    local_url = local.proxy_url + path
    _say('token from the target cluster; storage URL through the forwarder:'
         ' %s', local_url)
    via_forwarder = swiftclient.Connection(preauthurl=local_url,
                                           preauthtoken=token, retries=0)
    direct = swiftclient.Connection(preauthurl=target_url,
                                    preauthtoken=token, retries=0)
    container = 'demo-%d' % int(time.time())
    via_forwarder.put_container(container)
    _say('PUT container %s', container)

    start = time.time()
    etag = via_forwarder.put_object(container, 'big', _Upload(BIG),
                                    content_length=BIG)
    elapsed = time.time() - start
    _say('PUT big (100 MB) in %.2fs (%.0f MB/s), etag %s',
         elapsed, BIG / 2 ** 20 / elapsed, etag)
    small = b'hello from the local proxy\n'
    via_forwarder.put_object(container, 'small.txt', small)
    _say('PUT small.txt (%d bytes)', len(small))

    _headers, listing = via_forwarder.get_container(container)
    _say('listing: %s', ', '.join('%s (%d bytes)' % (o['name'], o['bytes'])
                                  for o in listing))

    expected = _md5_of_stream(BIG)
    ok = _check_through_forwarder(via_forwarder, container, expected, small)
    _say('reading directly on the target cluster (%s):', target.proxy_url)
    for name, expected_md5 in (('big', expected),
                               ('small.txt', hashlib.md5(small).hexdigest())):
        ok &= _check_on_target(direct, container, name, expected_md5)
    for name, counters in pool_counters(local).items():
        _say('forwarder pool %s (%s): %s', name, counters['url'],
             ', '.join('%s=%s' % kv for kv in sorted(
                 counters['pool'].items())))
    return ok


def main():
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-demo-')
    _say('starting two Swift clusters under %s ...', workdir)
    start = time.time()
    local, target = saio.start_pair(workdir, {
        'healthcheck_path': '/forwarder/healthcheck'})
    try:
        _say('target cluster: %s   local cluster (with the forwarder): %s '
             '(up in %.1fs)', target.proxy_url, local.proxy_url,
             time.time() - start)
        ok = run_session(local, target)
        _say('demo %s', 'passed' if ok else 'FAILED')
        if not os.environ.get('DEMO_ONCE'):
            _say('clusters stay up; user test:tester key testing. '
                 'Ctrl-C to stop.')
            while True:
                time.sleep(3600)
        return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        local.stop()
        target.stop()
        _say('clusters stopped')


if __name__ == '__main__':
    sys.exit(main())

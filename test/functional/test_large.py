# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Large objects stream through without the forwarder holding them: 1 GB up
and down, and 256 MiB uploaded chunked."""

import hashlib
import http.client
import itertools
import os
import threading
import time
import uuid

import pytest

from test.functional.util import Api, rss_bytes, split_url, worker_pid

GB = 2 ** 30
BLOCK = os.urandom(2 ** 20)
RSS_LIMIT = 50 * 2 ** 20
CHUNKED_SIZE = 256 * 2 ** 20
#: Chunk sizes of the chunked upload, in turn: around the forwarder's
#: 64 KiB client_chunk_size, a single byte, and several MiB.
PIECE_SIZES = (2 ** 20, 65537, 1, 300007, 8191, 3 * 2 ** 20 + 3)


class RssSampler(threading.Thread):
    """Samples a process's RSS every 50 ms while a transfer runs."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.baseline = self.peak = rss_bytes(pid)
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(0.05):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __exit__(self, *exc):
        self._done.set()
        self.join()

    def __enter__(self):
        self.start()
        return self

    @property
    def growth(self):
        return self.peak - self.baseline


def _blocks(size, md5):
    for _ in range(size // len(BLOCK)):
        md5.update(BLOCK)
        yield BLOCK


@pytest.fixture(scope='module')
def api(clusters):
    local, target = clusters
    return Api(local, target)


def _prepare(api, prefix):
    """A new container on the target, and the local proxy worker warmed
    up (its pool too): (container, host, port, worker pid)."""
    container = '%s-%s' % (prefix, uuid.uuid4().hex[:8])
    assert api.direct('PUT', '/' + container)[0] == 201
    host, port, _ = split_url(api.local.proxy_url)
    api.via('HEAD', '/' + container)
    return container, host, port, worker_pid(api.local)


def test_1gb_put_and_get_stream_through(api):
    """1 GB up and down: MD5s match and the forwarder's RSS grows < 50 MB."""
    container, host, port, pid = _prepare(api, 'big')
    path = '%s/%s/1gb' % (api.account_path, container)
    sent = hashlib.md5()
    try:
        with RssSampler(pid) as put_rss:
            start = time.time()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request('PUT', path, body=_blocks(GB, sent), headers={
                'X-Auth-Token': api.token, 'Content-Length': str(GB)})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            put_time = time.time() - start
        assert resp.status == 201
        assert resp.getheader('etag') == sent.hexdigest()

        got = hashlib.md5()
        size = 0
        with RssSampler(pid) as get_rss:
            start = time.time()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request('GET', path, headers={'X-Auth-Token': api.token})
            resp = conn.getresponse()
            assert resp.status == 200
            while True:
                piece = resp.read(2 ** 20)
                if not piece:
                    break
                size += len(piece)
                got.update(piece)
            conn.close()
            get_time = time.time() - start
        # the GET's baseline is where the PUT left the RSS: growth that
        # stays after each phase would hide from the per-phase figures
        overall = get_rss.peak - put_rss.baseline
        print('\n1 GB PUT %.1fs (%.0f MB/s), RSS +%.1f MB; GET %.1fs '
              '(%.0f MB/s), RSS +%.1f MB; RSS +%.1f MB across both (%.1f -> '
              'peak %.1f MB)' % (
                  put_time, GB / 2 ** 20 / put_time, put_rss.growth / 2 ** 20,
                  get_time, GB / 2 ** 20 / get_time,
                  get_rss.growth / 2 ** 20, overall / 2 ** 20,
                  put_rss.baseline / 2 ** 20, get_rss.peak / 2 ** 20))
        assert size == GB
        assert got.hexdigest() == sent.hexdigest()
        assert put_rss.growth < RSS_LIMIT
        assert get_rss.growth < RSS_LIMIT
        assert overall < RSS_LIMIT
    finally:
        api.direct('DELETE', '/%s/1gb' % container)
        api.direct('DELETE', '/' + container)


def _uneven_pieces(size, md5):
    """``size`` bytes made on the fly (MiB blocks, each tagged with its
    index so no two are alike), handed out in pieces of uneven sizes: each
    becomes one chunk of a chunked upload."""
    sizes = itertools.cycle(PIECE_SIZES)
    pending = b''
    index = made = 0
    while made < size:
        want = min(next(sizes), size - made)
        while len(pending) < want:
            pending += index.to_bytes(8, 'big') + BLOCK[8:]
            index += 1
        piece, pending = pending[:want], pending[want:]
        md5.update(piece)
        made += len(piece)
        yield piece


def test_256mib_chunked_put_streams_through(api):
    """256 MiB uploaded with Transfer-Encoding: chunked (no length known up
    front): stored intact on the target, and the forwarder's RSS grows
    < 50 MB."""
    container, host, port, pid = _prepare(api, 'chunked')
    name = '/%s/chunked' % container
    sent = hashlib.md5()
    try:
        with RssSampler(pid) as rss:
            start = time.time()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request('PUT', api.account_path + name,
                         body=_uneven_pieces(CHUNKED_SIZE, sent),
                         headers={'X-Auth-Token': api.token,
                                  'Transfer-Encoding': 'chunked'},
                         encode_chunked=True)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            put_time = time.time() - start
        status, headers, _body = api.direct('HEAD', name)
        print('\n256 MiB chunked PUT %.1fs (%.0f MB/s), RSS +%.1f MB '
              '(%.1f -> peak %.1f MB); on the target: %s bytes, etag %s' % (
                  put_time, CHUNKED_SIZE / 2 ** 20 / put_time,
                  rss.growth / 2 ** 20, rss.baseline / 2 ** 20,
                  rss.peak / 2 ** 20, headers.get('content-length'),
                  headers.get('etag')))
        assert resp.status == 201, body
        assert resp.getheader('etag') == sent.hexdigest()
        assert status == 200
        assert headers['content-length'] == str(CHUNKED_SIZE)
        assert headers['etag'] == sent.hexdigest()
        assert rss.growth < RSS_LIMIT
    finally:
        api.direct('DELETE', name)
        api.direct('DELETE', '/' + container)

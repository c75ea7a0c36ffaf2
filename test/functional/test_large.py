# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A 1 GB object streams through without the forwarder holding it."""

import hashlib
import http.client
import os
import threading
import time
import uuid

import pytest

from test.functional.util import Api, rss_bytes, split_url, worker_pid

GB = 2 ** 30
BLOCK = os.urandom(2 ** 20)
RSS_LIMIT = 50 * 2 ** 20


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


def test_1gb_put_and_get_stream_through(api):
    """1 GB up and down: MD5s match and the forwarder's RSS grows < 50 MB."""
    container = 'big-%s' % uuid.uuid4().hex[:8]
    assert api.direct('PUT', '/' + container)[0] == 201
    path = '%s/%s/1gb' % (api.account_path, container)
    host, port, _ = split_url(api.local.proxy_url)
    pid = worker_pid(api.local)
    api.via('HEAD', '/' + container)  # warm up the worker and its pool
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
        print('\n1 GB PUT %.1fs (%.0f MB/s), RSS +%.1f MB; GET %.1fs '
              '(%.0f MB/s), RSS +%.1f MB' % (
                  put_time, GB / 2 ** 20 / put_time, put_rss.growth / 2 ** 20,
                  get_time, GB / 2 ** 20 / get_time,
                  get_rss.growth / 2 ** 20))
        assert size == GB
        assert got.hexdigest() == sent.hexdigest()
        assert put_rss.growth < RSS_LIMIT
        assert get_rss.growth < RSS_LIMIT
    finally:
        api.direct('DELETE', '/%s/1gb' % container)
        api.direct('DELETE', '/' + container)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The dev-cluster harness itself: up, logging, restart, and a stop that hits only its own
processes."""

import os
import socket
import subprocess
import sys
import time

import pytest

from swift_forwarder.testing import saio
from test.functional.conftest import require_saio
from test.functional.util import request


def _alive(pid, start_time):
    stat = saio._proc_stat(pid)
    return stat is not None and stat[0] != 'Z' and stat[2] == start_time


def _wait_for_line(path, text, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def throwaway(tmp_path):
    """A cluster of its own (free ports: never the session pair's, if that runs)."""
    require_saio()
    cluster = saio.SwiftCluster('throwaway', str(tmp_path), saio.find_free_base())
    yield cluster
    cluster.stop()


def test_both_clusters_up(clusters, target_auth):
    """Every server answers, and the proxy log holds the access line of a request."""
    local, target = clusters
    for cluster in clusters:
        for server in saio.BACKENDS + ('proxy',):
            url = 'http://127.0.0.1:%d' % cluster.ports[server]
            status, _h, body = request(url, 'GET', '/healthcheck')
            assert (status, body) == (200, b'OK'), (cluster.name, server)
        assert len(cluster.proxy_worker_pids()) == 1
    assert local.filters['forwarder']['target_url'] == target.proxy_url
    storage_url, token = target_auth
    status, headers, _body = request(storage_url, 'HEAD', '/v1/AUTH_test',
                                     {'X-Auth-Token': token})
    assert status == 204
    assert _wait_for_line(target.log_path('proxy'), headers['x-trans-id'])


def test_local_pipeline_has_forwarder_in_gateway_placement(clusters):
    """The forwarder sits right after cache: before tempurl, ratelimit and
    tempauth, which would otherwise act on forwarded requests locally."""
    local, target = clusters
    with open(os.path.join(local.etc_dir, 'proxy-server.conf')) as f:
        conf = f.read()
    assert ' cache forwarder listing_formats ' in conf
    assert 'use = egg:swift_forwarder#forwarder' in conf
    with open(os.path.join(target.etc_dir, 'proxy-server.conf')) as f:
        assert 'forwarder' not in f.read()


def test_stop_frees_pids_and_ports(throwaway):
    """After stop() every recorded process (proxy worker included) is gone, every port is
    free and the /dev/shm devices are removed; a second stop() is harmless."""
    throwaway.start()
    throwaway.restart_proxy()  # a new proxy, still ready
    procs = [(p.pid, p.start_time) for p in throwaway._procs.values()]
    procs += [(pid, saio._proc_stat(pid)[2]) for pid in throwaway.proxy_worker_pids()]
    assert len(procs) == 6 and all(_alive(*p) for p in procs)
    devices = throwaway.devices

    start = time.time()
    throwaway.stop()
    assert time.time() - start < 3
    assert not any(_alive(*p) for p in procs)
    assert all(saio.port_is_free(port) for port in throwaway.ports.values())
    assert throwaway.proxy_pid is None
    if devices.startswith('/dev/shm/'):
        assert not os.path.exists(devices)
    throwaway.stop()


def test_bad_proxy_conf_reports_log_tail(throwaway):
    """A proxy that can't start fails set_filter_conf() (its restart) with the proxy's log
    tail in the error."""
    throwaway.start()
    with pytest.raises(saio.ClusterError) as err:
        throwaway.set_filter_conf('nosuch', {'use': 'egg:swift#no_such_filter'})
    assert 'proxy exited' in str(err.value)
    assert 'no_such_filter' in str(err.value)


def test_taken_port_is_refused(tmp_path):
    require_saio()
    base = saio.find_free_base()
    sock = socket.socket()
    try:
        sock.bind(('127.0.0.1', base + 2))
        sock.listen(1)
        cluster = saio.SwiftCluster('busy', str(tmp_path), base)
        with pytest.raises(saio.ClusterError, match='container %d' % (base + 2)):
            cluster.start()
        assert cluster.proxy_pid is None
    finally:
        sock.close()


def test_stop_never_signals_an_unrelated_pid(tmp_path):
    """A record whose pid now belongs to another process (a recycled pid: same pid, other
    start time) is left alone, by the low-level stop and by SwiftCluster.stop()."""
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],
                               start_new_session=True)
    try:
        real_start = saio._proc_stat(sleeper.pid)[2]
        stale = saio._Process('proxy', sleeper.pid, real_start - 1)
        saio._stop_processes([stale], timeout=0.5)
        cluster = saio.SwiftCluster('fake', str(tmp_path), 20000)
        cluster._procs['proxy'] = stale
        cluster.stop()
        time.sleep(0.2)
        assert sleeper.poll() is None

        # control: with the right start time, the same record does stop it
        saio._stop_processes([saio._Process('sleep', sleeper.pid, real_start, sleeper)])
        assert sleeper.poll() == -15
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()

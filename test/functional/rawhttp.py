# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Helpers for the bad-input and integrity tests: raw-socket requests, the
forwarder's counters, socket counts on both sides, log lines."""

import http.client
import os
import socket
import threading
import time

from test.functional.util import healthcheck, split_url, tcp_connections, \
    worker_pid


def port_of(cluster):
    return split_url(cluster.proxy_url)[1]


def send_raw(port, data, method='PUT', timeout=15, linger=None):
    """Send ``data`` as is on a new socket and read one response.

    The bytes go out from a thread, so a server that answers before it has
    read everything (and closes) is fine.  ``linger`` (a function of the
    socket) runs after the response, before the socket is closed.

    :returns: (status, body, headers dict, the socket's local port).
    """
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    client_port = sock.getsockname()[1]
    sender = threading.Thread(target=_send_quietly, args=(sock, data),
                              daemon=True)
    try:
        sender.start()
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if linger is not None:
            linger(sock)
        return resp.status, body, headers, client_port
    finally:
        sock.close()
        sender.join(timeout)


def _send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass  # the server answered and closed first


def wait_for(predicate, timeout=10, interval=0.02):
    """Poll ``predicate`` until it returns something true; returns its last
    value (false after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def counters(local):
    """The forwarder's integrity counters in the local proxy's worker."""
    return healthcheck(local)['counters']


def wait_pool_idle(local, timeout=10):
    """Pool stats once no connection is in use (or after ``timeout``)."""
    stats = {}

    def idle():
        stats.update(healthcheck(local)['pool'])
        return stats['in_use'] == 0
    wait_for(idle, timeout)
    return stats


def forwarder_sockets(local, upstream_port):
    """Sockets the local proxy worker holds to ``upstream_port``."""
    return len(tcp_connections(worker_pid(local), remote_port=upstream_port))


def target_sockets(target):
    """Sockets the target proxy's worker holds on its port."""
    return len(tcp_connections(worker_pid(target),
                               local_port=port_of(target)))


def client_sockets(local):
    """Sockets the local proxy worker holds on its own port: its clients'."""
    return len(tcp_connections(worker_pid(local), local_port=port_of(local)))


def client_socket_gone(local, client_port, timeout=5):
    """True once the local proxy worker holds no socket to ``client_port``
    (in any state: one the client closed but the worker did not counts)."""
    pid = worker_pid(local)
    return wait_for(lambda: not tcp_connections(pid, remote_port=client_port),
                    timeout)


class LogWatch(object):
    """Lines appended to a log file since this object was made."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path)

    def lines(self):
        with open(self.path, 'rb') as f:
            f.seek(self.offset)
            return f.read().decode('utf-8', 'replace').splitlines()

    def wait(self, *needles, timeout=5):
        """Lines holding every one of ``needles`` (waits for the first)."""
        found = []

        def look():
            found[:] = [line for line in self.lines()
                        if all(n in line for n in needles)]
            return found
        wait_for(look, timeout, 0.05)
        return found


def make_reconfigure(local):
    """``apply(**options)``: restart the local proxy with its normal forwarder
    options updated by ``options`` (no restart if they are what runs already);
    ``apply()`` restores the normal ones."""
    normal = dict(local.filters['forwarder'])
    current = [dict(normal)]

    def apply(**options):
        conf = dict(normal)
        conf.update({k: str(v) for k, v in options.items()})
        if conf != current[0]:
            local.set_filter_conf('forwarder', conf)
            current[0] = conf
    return apply

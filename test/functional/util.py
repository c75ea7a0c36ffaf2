# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Plain-socket helpers for the functional tests: requests with exact paths,
and what the kernel says about a process (sockets, RSS)."""

import http.client
import json
import os
import urllib.parse


def split_url(url):
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname, parsed.port, parsed.path


def request(base_url, method, path, headers=None, body=None, timeout=60):
    """One request with ``path`` sent exactly as given (already quoted).

    :returns: (status, headers as a lower-cased dict, body bytes).
    """
    host, port, _path = split_url(base_url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def healthcheck(local):
    """The default target's state in the local proxy's worker (the
    forwarder's healthcheck, without probing the target)."""
    status, _headers, body = request(local.proxy_url, 'GET',
                                     '/forwarder/healthcheck?probe=no')
    assert status == 200, body
    return json.loads(body)['targets']['default']


def pool_stats(local):
    """The forwarder's pool counters in the local proxy's worker."""
    return healthcheck(local)['pool']


def child_pids(pid):
    """Direct children of ``pid`` (a Swift server's workers)."""
    children = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return children


def worker_pid(cluster):
    """The proxy's single worker (the dev clusters run workers = 1)."""
    pids = child_pids(cluster.proxy_pid)
    assert len(pids) == 1, pids
    return pids[0]


def rss_bytes(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise AssertionError('no VmRSS for %d' % pid)


def _socket_inodes(pid):
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    return inodes


#: /proc/net/tcp's state of a listening socket.
_LISTEN = '0A'


def tcp_connections(pid, remote_port=None, local_port=None):
    """TCP connections ``pid`` holds open, in any state but LISTEN (a
    socket the peer closed but ``pid`` did not, CLOSE_WAIT, is still held):
    a list of (local port, remote port), filtered by either port."""
    inodes = _socket_inodes(pid)
    found = []
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].split(':')[1], 16)
            rport = int(fields[2].split(':')[1], 16)
            if fields[3] == _LISTEN or fields[9] not in inodes:
                continue
            if remote_port is not None and rport != remote_port:
                continue
            if local_port is not None and lport != local_port:
                continue
            found.append((lport, rport))
    return found


class Api(object):
    """The same account seen two ways: through the local proxy (and the
    forwarder), and directly on the target cluster."""

    def __init__(self, local, target, user='test:tester', key='testing'):
        self.local, self.target = local, target
        storage_url, self.token = target.get_auth(user, key)
        self.account_path = urllib.parse.urlsplit(storage_url).path

    def _headers(self, headers):
        merged = {'X-Auth-Token': self.token}
        merged.update(headers or {})
        return merged

    def via(self, method, subpath='', headers=None, body=None, timeout=60):
        """Through the forwarder; ``subpath`` is already quoted."""
        return request(self.local.proxy_url, method,
                       self.account_path + subpath, self._headers(headers),
                       body, timeout)

    def direct(self, method, subpath='', headers=None, body=None,
               timeout=60):
        """Straight to the target cluster."""
        return request(self.target.proxy_url, method,
                       self.account_path + subpath, self._headers(headers),
                       body, timeout)


class Client(object):
    """A local user: requests to the local proxy with its local token, in
    ``account``."""

    def __init__(self, local, user, key, account='AUTH_test'):
        self.local, self.account = local, account
        self.storage_url, self.token = local.get_auth(user, key)

    def __call__(self, method, subpath='', headers=None, body=None):
        merged = {'X-Auth-Token': self.token}
        merged.update(headers or {})
        return request(self.local.proxy_url, method,
                       '/v1/%s%s' % (self.account, subpath), merged, body)


def on_target(target, method, subpath='', headers=None, body=None):
    """Directly on the target, in AUTH_test2 (the service account of the
    service-mode tests), as its admin test2:tester2."""
    _url, token = target.get_auth('test2:tester2', 'testing2')
    merged = {'X-Auth-Token': token}
    merged.update(headers or {})
    return request(target.proxy_url, method, '/v1/AUTH_test2' + subpath,
                   merged, body)

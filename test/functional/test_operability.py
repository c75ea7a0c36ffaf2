# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""What an operator sees of the forwarder in a real proxy: statsd metrics
(received by a UDP listener here), the per-request log line, secrets kept
out of the logs, the deep healthcheck and /info."""

import collections
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid

import pytest

from test.functional.faultproxy import FaultProxy
from test.functional.rawhttp import LogWatch, make_reconfigure, \
    wait_for, wait_pool_idle
from test.functional.util import Api, request, split_url

PREFIX = 'ops%s' % uuid.uuid4().hex[:6]

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'README.md')

#: The README's promise: a healthcheck probe waits ``conn_timeout`` plus
#: at most this many seconds for the target's answer.
PROBE_CAP = 10


class StatsdListener(threading.Thread):
    """Every statsd datagram sent to 127.0.0.1:<port>, parsed."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.lines.extend(data.decode('utf-8').splitlines())

    def stop(self):
        self._done.set()
        self.join()
        self.sock.close()

    def mark(self):
        return len(self.lines)

    def since(self, mark, end=None):
        """``{name: [(value, type), ...]}`` of the lines after ``mark``
        (and before ``end``)."""
        metrics = collections.defaultdict(list)
        for line in self.lines[mark:end]:
            name, rest = line.split(':', 1)
            value, kind = rest.split('|')[:2]
            metrics[name].append((float(value), kind))
        return metrics

    def total(self, mark, name):
        return sum(value for value, _kind in self.since(mark).get(name, ()))


@pytest.fixture(scope='module')
def ops(clusters):
    """The local proxy with statsd pointed at a listener in this test."""
    local, target = clusters
    listener = StatsdListener()
    listener.start()
    reconfigure = make_reconfigure(local)
    statsd = dict(log_statsd_host='127.0.0.1', log_statsd_port=listener.port,
                  log_statsd_metric_prefix=PREFIX)
    api = Api(local, target)
    container = 'ops-%s' % uuid.uuid4().hex[:8]
    assert api.direct('PUT', '/' + container)[0] == 201
    assert api.direct('PUT', '/%s/obj' % container, body=b'x' * 1000)[0] == 201
    try:
        yield api, container, listener, lambda **kw: reconfigure(**dict(statsd, **kw))
    finally:
        reconfigure()
        listener.stop()
        for path in ('/%s/obj' % container, '/%s/big' % container,
                     '/' + container):
            api.direct('DELETE', path)


def metric(name, target='default'):
    return '%s.forwarder.%s.%s' % (PREFIX, target, name)


#: A method the forwarder refuses itself (405), before any upstream I/O:
#: the marker request of :func:`settle`.  Its metrics are
#: ``requests.BAD_METHOD.4xx`` and then ``time``; no workload here sends
#: the first.
MARKER_METHOD = 'MARKER'


def settle(api, listener, mark, name, count, timeout=10):
    """The metrics since ``mark`` that the workload sent, once ``count`` of
    metric ``name`` arrived: bounded by a marker request sent after the
    workload.  The proxy's one worker sends a request's metrics as the
    request ends, so the workload's (the ones expected and anything more
    it sent) come before the marker's; the marker's are left out."""
    wait_for(lambda: listener.total(mark, name) >= count, timeout)
    status, _h, body = request(api.local.proxy_url, MARKER_METHOD,
                               api.account_path + '/marker')
    assert status == 405, body
    marker, last = metric('requests.BAD_METHOD.4xx'), metric('time')

    def marker_arrived():
        names = [line.split(':', 1)[0] for line in listener.lines[mark:]]
        if marker in names and last in names[names.index(marker) + 1:]:
            return [mark + names.index(marker)]
        return None
    end = wait_for(marker_arrived, timeout)
    assert end, "the marker request's metrics did not arrive"
    return listener.since(mark, end[0])


def test_ten_gets_give_ten_request_counts(ops):
    api, container, listener, configure = ops
    configure()
    warm = listener.mark()
    api.via('HEAD', '/' + container)  # a warm pool, so created stays 0
    # the HEAD's metrics may still be on their way: its 'time' comes last
    settle(api, listener, warm, metric('time'), 1)
    mark = listener.mark()
    for _ in range(10):
        status, _headers, body = api.via('GET', '/%s/obj' % container)
        assert (status, len(body)) == (200, 1000)
    got = settle(api, listener, mark, metric('requests.GET.2xx'), 10)
    assert got[metric('requests.GET.2xx')] == [(1.0, 'c')] * 10
    assert listener.total(mark, metric('bytes_down')) == 10000
    assert metric('bytes_up') not in got  # nothing uploaded: nothing sent
    for timer in ('ttfb', 'time', 'pool.wait'):
        samples = got[metric(timer)]
        assert len(samples) == 10 and all(kind == 'ms' and value >= 0
                                          for value, kind in samples), timer
    assert all(kind == 'g' for _v, kind in got[metric('pool.in_use')])
    # at each checkout, and as each connection goes back to the pool
    assert [v for v, _k in got[metric('pool.in_use')]] == [1.0, 0.0] * 10
    assert [v for v, _k in got[metric('pool.idle')]] == [0.0, 1.0] * 10
    assert listener.total(mark, metric('pool.reused')) == 10
    assert metric('pool.created') not in got
    # nothing else is counted for plain successful GETs
    assert set(got) <= {metric(name) for name in (
        'requests.GET.2xx', 'bytes_down', 'ttfb', 'time', 'pool.wait',
        'pool.in_use', 'pool.idle', 'pool.reused')}


def test_put_counts_bytes_up(ops):
    api, container, listener, configure = ops
    configure()
    mark = listener.mark()
    assert api.via('PUT', '/%s/up' % container, body=b'u' * 12345)[0] == 201
    assert api.via('DELETE', '/%s/up' % container)[0] == 204
    got = settle(api, listener, mark, metric('requests.DELETE.2xx'), 1)
    assert got[metric('requests.PUT.2xx')] == [(1.0, 'c')]
    assert listener.total(mark, metric('bytes_up')) == 12345


def test_pool_exhaustion_is_counted(ops):
    api, container, listener, configure = ops
    configure(pool_size=1, pool_timeout=0.5)
    big = '/%s/big' % container
    assert api.direct('PUT', big, body=b'b' * (8 * 2 ** 20))[0] == 201
    host, port, _ = split_url(api.local.proxy_url)
    holder = socket.create_connection((host, port), timeout=30)
    try:
        holder.sendall(('GET %s%s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n\r\n'
                        % (api.account_path, big, api.token)).encode())
        assert holder.recv(4096).startswith(b'HTTP/1.1 200')
        mark = listener.mark()
        status, headers, body = api.via('GET', '/%s/obj' % container)
        assert status == 503 and 'retry-after' in headers, body
        got = settle(api, listener, mark, metric('pool.exhausted'), 1)
        assert got[metric('pool.exhausted')] == [(1.0, 'c')]
        assert got[metric('requests.GET.5xx')] == [(1.0, 'c')]
    finally:
        holder.close()


def test_loop_refusal_is_counted(ops):
    api, container, listener, configure = ops
    configure(max_hops=1)
    mark = listener.mark()
    status, _h, body = api.via('GET', '/%s/obj' % container,
                               headers={'X-Forwarder-Hops': 'elsewhere'})
    assert status == 508, body
    got = settle(api, listener, mark, metric('loop_refusals'), 1)
    assert got[metric('loop_refusals')] == [(1.0, 'c')]
    assert got[metric('requests.GET.5xx')] == [(1.0, 'c')]


def test_log_line_per_request_with_txn_and_target(ops):
    api, container, _listener, configure = ops
    configure()
    log = LogWatch(api.local.log_path('proxy'))
    name = 'sp ace/\u00e9t\u00e9 %s' % uuid.uuid4().hex[:6]
    quoted = urllib.parse.quote(name)
    status, headers, _body = api.via('PUT', '/%s/%s' % (container, quoted),
                                     body=b'z' * 777)
    assert status == 201
    txn, target_txn = headers['x-trans-id'], headers['x-forwarder-trans-id']
    assert txn != target_txn
    path = '%s/%s/%s' % (api.account_path, container, quoted)
    [line] = log.wait('forwarded to default: PUT %s 201 ' % path, txn)
    assert 'bytes_up=777 bytes_down=0' in line
    assert re.search(r' ttfb=\d+\.\d{4} time=\d+\.\d{4} \(txn: %s\)' % txn, line), line
    # proxy-logging's line names the target and the target's transaction
    assert log.wait('forwarder:default:%s' % target_txn, txn)
    api.direct('DELETE', '/%s/%s' % (container, quoted))


def test_no_secrets_in_logs(ops, clusters):
    """Passthrough: the client's token and a tempurl signature; service
    mode: the forwarder's key and the target's service token.  None of
    them may be in the local proxy's log, whatever happens."""
    api, container, _listener, configure = ops
    local, target = clusters
    key = 'svc-key-%s' % uuid.uuid4().hex
    before = local.pipeline_before
    target.tempauth_conf['user_svc_forwarder'] = '%s .admin' % key
    target.restart_proxy()
    log = LogWatch(local.log_path('proxy'))
    try:
        configure()
        api.via('GET', '/%s/obj' % container)
        sig = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        request(local.proxy_url, 'GET', '%s/%s/obj?temp_url_sig=%s&temp_url_expires=%d'
                % (api.account_path, container, sig, time.time() + 60))
        local.pipeline_before = 'copy'  # service mode: after tempauth
        configure(auth_mode='service', auth_url=target.auth_url,
                  auth_user='svc:forwarder', auth_key=key,
                  account_map='AUTH_test:AUTH_svc', forward='AUTH_test/ops-*')
        _url, local_token = local.get_auth('test:tester', 'testing')
        status, _h, _b = request(local.proxy_url, 'PUT', '/v1/AUTH_test/%s' % container,
                                 {'X-Auth-Token': local_token})
        assert status in (201, 202), status
        # and a wrong key: the auth failure is logged, the key is not
        configure(auth_mode='service', auth_url=target.auth_url,
                  auth_user='svc:forwarder', auth_key=key + '-wrong',
                  account_map='AUTH_test:AUTH_svc', forward='AUTH_test/ops-*')
        status, _h, body = request(local.proxy_url, 'GET', '/v1/AUTH_test/%s' % container,
                                   {'X-Auth-Token': local_token})
        assert status >= 500, body
        service_token = target.get_auth('svc:forwarder', key)[1]
        assert log.wait('forwarded to default: PUT /v1/AUTH_test/%s 20' % container)
        text = '\n'.join(log.lines())
        assert 'forwarded to default: GET' in text
        for secret in (api.token, sig, key, local_token, service_token):
            assert secret not in text, 'a secret is in the proxy log'
    finally:
        local.pipeline_before = before
        configure()
        del target.tempauth_conf['user_svc_forwarder']
        target.restart_proxy()
        request(target.proxy_url, 'DELETE', '/v1/AUTH_svc/%s' % container,
                {'X-Auth-Token': target.get_auth('admin:admin', 'admin')[1]})


def test_deep_healthcheck(ops):
    api, _container, _listener, configure = ops
    configure()
    status, headers, body = request(api.local.proxy_url, 'GET', '/forwarder/healthcheck')
    assert status == 200 and headers['content-type'] == 'application/json'
    report = json.loads(body)
    assert report['status'] == 'OK'
    default = report['targets']['default']
    assert default['reachable'] is True and default['status'] == 200
    assert default['time_ms'] > 0 and default['error_limited'] is False
    assert {'in_use', 'idle', 'created', 'discarded', 'exhausted'} <= set(default['pool'])
    assert 'retries' in default['counters']
    # a target that does not answer: 503, and why
    dead = socket.socket()
    dead.bind(('127.0.0.1', 0))
    port = dead.getsockname()[1]
    dead.close()
    configure(target_url='http://127.0.0.1:%d' % port)
    status, _headers, body = request(api.local.proxy_url, 'GET', '/forwarder/healthcheck')
    report = json.loads(body)
    assert status == 503 and report['status'] == 'FAIL'
    assert report['targets']['default']['reachable'] is False
    assert report['targets']['default']['error'].endswith(
        'connect failed: Connection refused')


def test_deep_healthcheck_stalled_target(ops):
    """A target that accepts and never answers: the probe gives up."""
    api, _container, _listener, configure = ops
    relay = FaultProxy('127.0.0.1', split_url(api.target.proxy_url)[1]).start()
    try:
        configure(target_url=relay.url, node_timeout=1)
        relay.arm('stall_response', after=0)
        started = time.monotonic()
        status, _headers, body = request(api.local.proxy_url, 'GET',
                                         '/forwarder/healthcheck')
        assert status == 503, body
        assert json.loads(body)['targets']['default']['error'] == 'timed out'
        # node_timeout (1 s) at least; the stall is endless, so any bound
        # shows the probe gave up: a generous multiple of its cap (1.5 s)
        elapsed = time.monotonic() - started
        assert 1 <= elapsed < 10 * 1.5, elapsed
    finally:
        relay.stop()


def test_deep_healthcheck_probe_capped(ops):
    """node_timeout (60 s, the default) above the probe's 10 s cap, and a
    target that stalls its answer: the probe gives up after conn_timeout +
    10 s, not after node_timeout.  (Bounded by twice that: far from 60.)"""
    api, _container, _listener, configure = ops
    relay = FaultProxy('127.0.0.1', split_url(api.target.proxy_url)[1]).start()
    conn_timeout = 0.5
    try:
        configure(target_url=relay.url, node_timeout=60,
                  conn_timeout=conn_timeout)
        relay.arm('stall_response', after=0)
        started = time.monotonic()
        status, _headers, body = request(api.local.proxy_url, 'GET',
                                         '/forwarder/healthcheck', timeout=120)
        elapsed = time.monotonic() - started
        print('\nprobe of a stalled target, node_timeout 60: gave up after '
              '%.1f s' % elapsed)
        assert status == 503, body
        assert json.loads(body)['targets']['default']['error'] == 'timed out'
        # the target was asked, and its answer held back
        assert relay.fired['stall_response'] == 1
        cap = conn_timeout + PROBE_CAP
        assert cap <= elapsed < 2 * cap
    finally:
        relay.stop()


def _readme_metrics():
    """The README's metric table: {name as written: (compiled pattern,
    statsd type)}; ``<METHOD>`` and ``<N>`` are placeholders."""
    with open(README) as f:
        section = f.read().split('### Metrics', 1)[1].split('\n#', 1)[0]
    types = {'counter': 'c', 'timer (ms)': 'ms', 'gauge': 'g'}
    table = {}
    for row in section.splitlines():
        if not row.startswith('| `'):
            continue
        names, kind = [cell.strip() for cell in row.strip('|').split('|')][:2]
        for name in re.findall(r'`([^`]+)`', names):
            pattern = ''.join(
                {'<METHOD>': '[A-Z_]+', '<N>': '[1-5]'}.get(part) or
                re.escape(part) for part in re.split('(<[A-Z]+>)', name))
            table[name] = (re.compile(pattern + '$'), types[kind])
    return table


def _read_all(api, path):
    """A GET through the forwarder, read as far as it goes."""
    host, port, _ = split_url(api.local.proxy_url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request('GET', api.account_path + path,
                     headers={'X-Auth-Token': api.token})
        resp = conn.getresponse()
        try:
            return resp.status, resp.read(), True
        except (http.client.IncompleteRead, ConnectionError):
            return resp.status, None, False
    finally:
        conn.close()


def test_readme_metric_table_is_what_is_sent(ops):
    """A run that makes the forwarder send every kind of metric: each name
    it sends is in the README's table, with the type the table gives, and
    each name in the table was sent.  Renaming a metric, or editing the
    table, fails here."""
    api, container, listener, configure = ops
    table = _readme_metrics()
    assert len(table) > 10, sorted(table)  # the table was found
    # large enough not to fit in the sockets' buffers: a download of it
    # that the client does not read holds its connection
    big = os.urandom(8 * 2 ** 20)
    small, large = '/%s/obj' % container, '/%s/big' % container
    assert api.direct('PUT', large, body=big)[0] == 201
    relay = FaultProxy('127.0.0.1', split_url(api.target.proxy_url)[1]).start()
    mark = listener.mark()
    try:
        configure(target_url=relay.url, node_timeout=2, pool_size=1,
                  pool_timeout=0.5, max_hops=1)
        # a new connection, then a reused one; bytes both ways
        assert api.via('PUT', '/%s/up' % container, body=b'u' * 100)[0] == 201
        assert api.via('GET', small)[0] == 200
        # the only connection held by a download: the next request finds
        # none (exhausted); closing the download halfway discards it
        host, port, _ = split_url(api.local.proxy_url)
        holder = socket.create_connection((host, port), timeout=30)
        try:
            holder.sendall(('GET %s%s HTTP/1.1\r\nHost: x\r\n'
                            'X-Auth-Token: %s\r\n\r\n' % (
                                api.account_path, large, api.token)).encode())
            assert holder.recv(4096).startswith(b'HTTP/1.1 200')
            assert api.via('GET', small)[0] == 503
        finally:
            holder.close()
        assert wait_pool_idle(api.local)['in_use'] == 0
        # a body cut off is resumed; a flipped byte is an ETag mismatch
        assert relay.wait_quiet()
        relay.arm('cut_response', after=300000)
        assert _read_all(api, large) == (200, big, True)
        assert relay.wait_quiet()
        relay.arm('flip_response', at=2 ** 20)
        assert _read_all(api, large) == (200, None, False)
        # the loop guard
        assert api.via('GET', small, {'X-Forwarder-Hops': 'x'})[0] == 508
        # a dead target: a retried connect, error-limited after two failures
        dead = socket.socket()
        dead.bind(('127.0.0.1', 0))
        dead_port = dead.getsockname()[1]
        dead.close()
        configure(target_url='http://127.0.0.1:%d' % dead_port, retries=1,
                  error_limit=2)
        assert api.via('GET', small)[0] == 503
        status, _h, body = api.via('GET', small)
        assert status == 503 and b'error-limited' in body, body
        got = settle(api, listener, mark, metric('error_limited'), 1)
    finally:
        relay.stop()
        api.direct('DELETE', '/%s/up' % container)
    base = metric('')
    sent = collections.defaultdict(set)
    for name, samples in got.items():
        assert name.startswith(base), name
        sent[name[len(base):]].update(kind for _value, kind in samples)
    print('\nmetrics sent: %s' % ', '.join(sorted(sent)))
    unlisted = {name: kinds for name, kinds in sent.items() if not any(
        pattern.match(name) for pattern, _kind in table.values())}
    assert unlisted == {}, 'sent, but not in the README table'
    for written, (pattern, kind) in sorted(table.items()):
        kinds = set().union(*[k for name, k in sent.items()
                              if pattern.match(name)])
        assert kinds == {kind}, (written, kind, kinds)


def test_info_shows_the_filter(ops):
    api, _container, _listener, configure = ops
    configure()
    status, _headers, body = request(api.local.proxy_url, 'GET', '/info')
    assert status == 200
    info = json.loads(body)['forwarder']
    from swift_forwarder import __version__
    assert info['version'] == __version__
    assert info['targets'] == ['default']
    assert info['auth_mode'] == 'passthrough' and info['pool_size'] == 8
    text = json.dumps(info)
    assert 'auth_key' not in text and 'target_url' not in text
    assert api.target.proxy_url not in text  # addresses: admin section only

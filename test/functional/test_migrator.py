# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""swift-forwarder-migrate on two real clusters of its own: a *source*
with a backend endpoint, and a *local* cluster whose proxy-server.conf has
the forwarder (core placement) with the source as a target that has
``migrate`` rules.  The command runs as a subprocess, as an operator runs
it, on copies of that proxy-server.conf whose rules pick one test's
containers (``m-*`` the full data set in three accounts, ``k-*`` the kill
test, ...), so each test is independent of the others' data.

Every copy is counted with the statsd counter ``migrator.copied`` sent to
a UDP listener here: it survives a SIGKILL, unlike a report.
"""

import configparser
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse

import pytest

from swift_forwarder.testing import saio
from test.functional.conftest import require_saio
from test.functional.util import request

KEY = 'migrator-backend-key'
#: (user, key, account) on both clusters; admin:admin is the reseller
#: admin, the forwarder's service identity on the source
USERS = (('test:tester', 'testing', 'AUTH_test'),
         ('test2:tester2', 'testing2', 'AUTH_test2'),
         ('admin:admin', 'admin', 'AUTH_admin'))
ACCOUNT_MAP = ' '.join('%s:%s' % (a, a) for _u, _k, a in USERS)
BIG = 10050
FAR = str(int(time.time()) + 30 * 86400)  # an X-Delete-At a month away
MIGRATE = [os.path.join(os.path.dirname(sys.executable),
                        'swift-forwarder-migrate')]


def md5(data):
    return hashlib.md5(data).hexdigest()


class Statsd(object):
    """A UDP listener counting the migrator's statsd counters."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.counts = {}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536).decode('ascii', 'replace')
            except socket.timeout:
                continue
            for line in data.splitlines():
                name, _sep, rest = line.partition(':')
                value, _sep, kind = rest.partition('|')
                if kind.startswith('c'):
                    self.counts[name] = self.counts.get(name, 0) + int(value)

    def reset(self):
        time.sleep(0.3)
        self.counts = {}

    def get(self, name):
        return self.counts.get('migrator.' + name, 0)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Env(object):
    """The two clusters, tokens on both, and the migrator's command."""

    def __init__(self, workdir, source, local, statsd):
        self.workdir, self.source, self.local = workdir, source, local
        self.statsd = statsd
        self.conf_path = local._conf_path('proxy')
        self.runs = 0

    def token(self, cluster, account):
        user, key = [(u, k) for u, k, a in USERS if a == account][0]
        return cluster.get_auth(user, key)[1]

    def call(self, cluster, method, account, subpath='', headers=None,
             body=None, timeout=60):
        merged = {'X-Auth-Token': self.token(cluster, account)}
        merged.update(headers or {})
        return request(cluster.proxy_url, method, '/v1/%s%s' % (
            account, subpath), merged, body, timeout=timeout)

    def conf(self, migrate, **options):
        """A copy of the local proxy-server.conf with other migrate rules
        and [forwarder-migrator] options."""
        parser = configparser.RawConfigParser()
        parser.read(self.conf_path)
        parser.set('filter:forwarder', 'migrate', migrate)
        parser.add_section('forwarder-migrator')
        defaults = {'log_statsd_host': '127.0.0.1',
                    'log_statsd_port': str(self.statsd.port),
                    'retry_delay': '0.2', 'log_interval': '2',
                    'state_save_interval': '1'}
        defaults.update(options)
        for name, value in defaults.items():
            parser.set('forwarder-migrator', name, value)
        self.runs += 1
        path = os.path.join(self.workdir, 'migrator-%d.conf' % self.runs)
        with open(path, 'w') as f:
            parser.write(f)
        return path

    def start(self, conf, *args):
        report = conf + '.%d.report.json' % time.monotonic_ns()
        log = open(report + '.log', 'w')
        proc = subprocess.Popen(MIGRATE + [conf, '--report', report,
                                           '--no-progress'] + list(args),
                                stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True)
        proc.report_path, proc.log_path = report, log.name
        log.close()
        return proc

    def finish(self, proc, timeout=900):
        out, _err = proc.communicate(timeout=timeout)
        report = None
        if os.path.exists(proc.report_path):
            with open(proc.report_path) as f:
                report = json.load(f)
        with open(proc.log_path) as f:
            log = f.read()
        return proc.returncode, report, out.decode('utf-8'), log

    def run(self, conf, *args, **kwargs):
        return self.finish(self.start(conf, *args), **kwargs)


def _create(env, account, container, headers=None):
    status, _h, body = env.call(env.source, 'PUT', account, '/' + container,
                                headers)
    assert status in (201, 202), body


def _put(env, account, container, name, body, headers=None):
    status, _h, resp = env.call(env.source, 'PUT', account, '/%s/%s' % (
        container, urllib.parse.quote(name)), headers, body)
    assert status == 201, (name, status, resp)


def _extract(env, account, container, count, size=8, prefix='obj-'):
    """``count`` objects in one request (bulk's extract-archive)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for i in range(count):
            data = ('%s%06d\n' % (prefix, i)).encode('ascii').ljust(size, b'.')
            info = tarfile.TarInfo('%s%06d' % (prefix, i))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    status, _h, body = env.call(
        env.source, 'PUT', account, '/%s?extract-archive=tar' % container,
        {'Accept': 'application/json'}, buf.getvalue(), timeout=900)
    result = json.loads(body)
    assert status == 200 and result['Number Files Created'] == count, body


def _listing(env, cluster, account, container):
    entries, marker = [], ''
    while True:
        status, _h, body = env.call(cluster, 'GET', account, '/%s?%s' % (
            urllib.parse.quote(container), urllib.parse.urlencode({
                'format': 'json', 'marker': marker})))
        if status == 404:
            return None
        assert status == 200, body
        page = json.loads(body)
        entries += [{k: e[k] for k in ('name', 'hash', 'bytes',
                                       'last_modified', 'content_type')}
                    for e in page]
        if len(page) < 10000:
            return entries
        marker = page[-1]['name']


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    require_saio()
    workdir = str(tmp_path_factory.mktemp('migrator'))
    source_base = saio.find_free_base()
    local_base = saio.find_free_base(avoid=[source_base])
    source = saio.SwiftCluster('source', workdir, source_base)
    forwarder = {
        'target_url': 'http://127.0.0.1:%d' % (source_base + 5),
        'auth_mode': 'service', 'auth_url': source.auth_url,
        'auth_user': 'admin:admin', 'auth_key': 'admin',
        'account_map': ACCOUNT_MAP, 'backend_endpoint': 'true',
        'backend_key': KEY, 'migrate': 'AUTH_test/m-*'}
    local = saio.SwiftCluster('local', workdir, local_base,
                              filters={'forwarder': forwarder},
                              pipeline_before='proxy-server')
    statsd = Statsd()
    try:
        source.start()
        source.start_backend({'key': KEY})
        local.start()
        yield Env(workdir, source, local, statsd)
    finally:
        statsd.close()
        local.stop()
        source.stop()


# -- the full data set: three accounts, m-* containers ------------------------

@pytest.fixture(scope='module')
def dataset(env):
    """What the source holds, {(account, container): [names]}."""
    for _u, _k, account in USERS:
        for cluster in (env.source, env.local):
            status, _h, body = env.call(cluster, 'PUT', account, '/m-setup')
            assert status in (201, 202), body
            env.call(cluster, 'DELETE', account, '/m-setup')
    _create(env, 'AUTH_test', 'm-meta', {
        'X-Container-Meta-Color': 'blue', 'X-Container-Read': '.r:*',
        'X-Container-Write': 'test2:tester2'})
    _put(env, 'AUTH_test', 'm-meta', 'héllo wörld ☃.txt', b'unicode')
    _put(env, 'AUTH_test', 'm-meta', 'a/b/c/d.txt', b'slashes')
    _put(env, 'AUTH_test', 'm-meta', 'with-meta', b'metadata', {
        'X-Object-Meta-Fruit': 'apple', 'Content-Type': 'text/x-fruit',
        'Content-Encoding': 'gzip',
        'Content-Disposition': 'attachment; filename="f.txt"',
        'X-Delete-At': FAR})
    _create(env, 'AUTH_test', 'm-versioned', {'X-Versions-Enabled': 'true'})
    for i in range(3):
        _put(env, 'AUTH_test', 'm-versioned', 'doc', b'version %d' % i)
        time.sleep(0.01)
    _create(env, 'AUTH_test', 'm-large')
    _create(env, 'AUTH_test', 'm-large_segments')
    segments = [b'a' * 1500, b'b' * 1200]
    for i, seg in enumerate(segments):
        _put(env, 'AUTH_test', 'm-large_segments', 'slo/%d' % i, seg)
        _put(env, 'AUTH_test', 'm-large_segments', 'dlo/%d' % i, seg)
    manifest = json.dumps([{'path': '/m-large_segments/slo/%d' % i,
                            'etag': md5(seg), 'size_bytes': len(seg)}
                           for i, seg in enumerate(segments)])
    status, _h, body = env.call(
        env.source, 'PUT', 'AUTH_test',
        '/m-large/slo?multipart-manifest=put', body=manifest.encode())
    assert status == 201, body
    _put(env, 'AUTH_test', 'm-large', 'dlo', b'', {
        'X-Object-Manifest': 'm-large_segments/dlo/'})
    _put(env, 'AUTH_test', 'm-large', 'link', b'', {
        'X-Symlink-Target': 'm-meta/with-meta'})
    _create(env, 'AUTH_test', 'm-big')
    _extract(env, 'AUTH_test', 'm-big', BIG)
    _create(env, 'AUTH_test2', 'm-two', {'X-Container-Meta-Owner': 'two'})
    for i in range(5):
        _put(env, 'AUTH_test2', 'm-two', 'two/%d' % i, b'two %d' % i)
    _create(env, 'AUTH_admin', 'm-admin')
    for i in range(5):
        _put(env, 'AUTH_admin', 'm-admin', 'admin-%d' % i, b'admin %d' % i)
    return env.conf('AUTH_test/m-* AUTH_test2/m-* AUTH_admin/m-*',
                    workers='8')


def _all_containers(env, prefix):
    found = []
    for _u, _k, account in USERS:
        status, _h, body = env.call(env.source, 'GET', account,
                                    '?format=json&prefix=' + prefix)
        assert status == 200
        found += [(account, c['name']) for c in json.loads(body)]
    return found


def _total_objects(env, prefix):
    total = 0
    for account, container in _all_containers(env, prefix):
        total += len(_listing(env, env.source, account, container))
    # object_versioning's versions containers: 3 versions of m-versioned/doc
    return total + (3 if prefix == 'm-' else 0)


def test_full_run_verify_and_second_run(env, dataset):
    """One run copies everything; --verify then finds nothing; a second
    run copies nothing; listings (name, ETag, bytes, last_modified) match
    container for container, checked on both clusters directly."""
    expected = _total_objects(env, 'm-')
    env.statsd.reset()
    code, report, _out, log = env.run(dataset, '--workers', '8')
    assert code == 0, log[-3000:]
    assert report['failed'] == 0, report
    assert report['copied'] == expected, (report['copied'], expected)
    assert env.statsd.get('copied') == expected
    assert report['containers']['AUTH_test/m-big']['copied'] == BIG
    code, report, out, log = env.run(dataset, '--verify')
    assert code == 0, (out, log[-3000:])
    assert out == ''
    code, report, _out, log = env.run(dataset)
    assert code == 0, log[-3000:]
    assert report['copied'] == 0 and report['failed'] == 0, report
    assert report['unchanged'] == expected
    for account, container in _all_containers(env, 'm-'):
        assert _listing(env, env.local, account, container) == \
            _listing(env, env.source, account, container), container


def test_objects_as_stored(env, dataset):
    """Timestamps, ETags, metadata on both clusters; the SLO, DLO,
    symlink and versions work on the local cluster from local data."""
    for subpath in ('/m-meta/with-meta', '/m-meta/' + urllib.parse.quote(
            'héllo wörld ☃.txt'), '/m-meta/a/b/c/d.txt',
            '/m-large/slo?multipart-manifest=get',
            '/m-large/link?symlink=get', '/m-large/dlo'):
        heads = [env.call(cluster, 'HEAD', 'AUTH_test', subpath)[1]
                 for cluster in (env.source, env.local)]
        for name in ('x-timestamp', 'etag', 'content-type', 'last-modified',
                     'x-object-meta-fruit', 'content-encoding',
                     'content-disposition', 'x-delete-at',
                     'x-static-large-object', 'x-object-manifest',
                     'x-symlink-target', 'content-length'):
            assert heads[0].get(name) == heads[1].get(name), (subpath, name)
    status, _h, body = env.call(env.local, 'GET', 'AUTH_test', '/m-large/slo')
    assert status == 200 and body == b'a' * 1500 + b'b' * 1200
    status, _h, body = env.call(env.local, 'GET', 'AUTH_test', '/m-large/dlo')
    assert status == 200 and body == b'a' * 1500 + b'b' * 1200
    status, _h, body = env.call(env.local, 'GET', 'AUTH_test',
                                '/m-large/link')
    assert status == 200 and body == b'metadata'
    versions = [env.call(cluster, 'GET', 'AUTH_test',
                         '/m-versioned?versions&format=json')
                for cluster in (env.source, env.local)]
    assert versions[0][0] == versions[1][0] == 200
    assert json.loads(versions[0][2]) == json.loads(versions[1][2])
    assert len(json.loads(versions[1][2])) == 3
    heads = [env.call(cluster, 'HEAD', 'AUTH_test', '/m-meta')[1]
             for cluster in (env.source, env.local)]
    for name in ('x-container-meta-color', 'x-container-read',
                 'x-container-write'):
        assert heads[0][name] == heads[1][name]
    assert env.call(env.local, 'HEAD', 'AUTH_test', '/m-versioned')[1][
        'x-versions-enabled'] == 'True'


def test_settings_reapplied_when_the_source_changes(env, dataset):
    """A container the migrator made takes the source's new settings."""
    status, _h, _b = env.call(env.source, 'POST', 'AUTH_test2', '/m-two', {
        'X-Container-Meta-Owner': 'changed', 'X-Container-Meta-New': 'yes'})
    assert status == 204
    code, report, _out, log = env.run(dataset)
    assert code == 0, log[-3000:]
    head = env.call(env.local, 'HEAD', 'AUTH_test2', '/m-two')[1]
    assert head['x-container-meta-owner'] == 'changed'
    assert head['x-container-meta-new'] == 'yes'


def test_verify_lists_differences(env, dataset):
    """--verify exits 1 and names what differs."""
    _put(env, 'AUTH_admin', 'm-admin', 'only-on-source', b'new')
    admin = env.conf('AUTH_admin/m-*')  # (no need to HEAD m-big again)
    try:
        code, report, out, _log = env.run(admin, '--verify')
        assert code == 1
        diffs = [json.loads(line) for line in out.splitlines()]
        assert [d['object'] for d in diffs] == [
            'AUTH_admin/m-admin/only-on-source']
        assert report['differences'][0]['difference'] == 'missing locally'
        code, report, out, _log = env.run(admin, '--dry-run')
        assert code == 0
        assert json.loads(out) == {'copy': 'AUTH_admin/m-admin/'
                                   'only-on-source', 'bytes': 3}
    finally:
        env.call(env.source, 'DELETE', 'AUTH_admin',
                 '/m-admin/only-on-source')


def test_any_account_rule_needs_accounts(env, dataset):
    """``*`` migrates account_map's accounts; without account_map and
    --account it stops with exit 2."""
    code, _report, out, log = env.run(env.conf('*'), '--dry-run')
    assert code == 0, log[-2000:]
    created = sorted(json.loads(line).get('create', '')
                     for line in out.splitlines() if 'create' in line)
    # everything of the three accounts is there already but k-/s-/w-/f-*
    assert all(name.split('/')[0] in ('AUTH_test', 'AUTH_test2',
                                      'AUTH_admin') for name in created)
    parser = configparser.RawConfigParser()
    parser.read(env.conf_path)
    conf = env.conf('AUTH_*')
    parser.read(conf)
    parser.set('filter:forwarder', 'account_map', '')
    parser.set('filter:forwarder', 'migrate', 'AUTH_*')
    with open(conf, 'w') as f:
        parser.write(f)
    code, _report, _out, log = env.run(conf, '--dry-run')
    assert code == 2 and '--account' in log, log[-2000:]
    code, _report, out, log = env.run(conf, '--dry-run', '--account',
                                      'AUTH_test2')
    assert code == 0, log[-2000:]


# -- killed midway -----------------------------------------------------------------

def test_sigkill_then_resume_copies_nothing_twice(env):
    """SIGKILL midway, then a rerun: every object copied exactly once
    (copies counted with statsd as they happen)."""
    count = 1200
    _create(env, 'AUTH_test', 'k-many')
    _extract(env, 'AUTH_test', 'k-many', count)
    conf = env.conf('AUTH_test/k-*', workers='2')
    env.statsd.reset()
    proc = env.start(conf)
    deadline = time.monotonic() + 300
    while env.statsd.get('copied') < 400:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    first = env.statsd.get('copied')
    assert first < count
    code, report, _out, log = env.run(conf)
    assert code == 0, log[-3000:]
    assert 'resuming after' in log
    second = report['copied']
    # nothing copied twice; only the copies in flight at the kill (2
    # workers: a 201 whose count was never sent) may go uncounted, and the
    # rerun finds them there (unchanged in the listing, or a 202: skipped)
    assert first + second <= count
    assert count - (first + second) <= 2
    assert report['skipped'] <= 2
    # the resumed run listed from its saved marker, not from the start
    assert report['unchanged'] + second + report['skipped'] < count
    assert len(_listing(env, env.local, 'AUTH_test', 'k-many')) == count


# -- shards ------------------------------------------------------------------------

def test_two_shards_disjoint_and_complete(env):
    for i in range(10):
        _create(env, 'AUTH_test', 's-%d' % i)
        for j in range(4):
            _put(env, 'AUTH_test', 's-%d' % i, 'o%d' % j, b's%d%d' % (i, j))
    conf = env.conf('AUTH_test/s-*', workers='4')
    # every device of a dev cluster is on this node: --shard ring takes all
    code, _report, out, log = env.run(conf, '--shard', 'ring', '--dry-run')
    assert code == 0, log[-2000:]
    assert sum('"copy"' in line for line in out.splitlines()) == 40
    procs = [env.start(conf, '--shard', '%d/2' % i) for i in (0, 1)]
    results = [env.finish(proc) for proc in procs]
    assert [r[0] for r in results] == [0, 0], [r[3][-2000:] for r in results]
    sets = [set(r[1]['containers']) for r in results]
    assert sets[0] and sets[1] and not sets[0] & sets[1]
    assert sets[0] | sets[1] == {'AUTH_test/s-%d' % i for i in range(10)}
    assert sum(r[1]['copied'] for r in results) == 40


# -- a client on the new cluster ------------------------------------------------

def test_client_overwrite_and_delete_win(env):
    """During a (throttled) run, a client overwrites and deletes objects
    on the local cluster, some already copied and some not yet: the
    client's writes stay."""
    count = 300
    _create(env, 'AUTH_test', 'w-c')
    _extract(env, 'AUTH_test', 'w-c', count, size=1024)
    conf = env.conf('AUTH_test/w-*', workers='1',
                    max_bytes_per_second=str(40 * 1024))
    env.statsd.reset()
    proc = env.start(conf)
    deadline = time.monotonic() + 120
    while env.statsd.get('copied') < 20:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    early, late = ('obj-000000', 'obj-000001'), ('obj-000298', 'obj-000299')
    for name in (early[0], late[0]):
        status, _h, _b = env.call(env.local, 'PUT', 'AUTH_test',
                                  '/w-c/' + name, body=b'client wins')
        assert status == 201
    for name in (early[1], late[1]):
        status, _h, _b = env.call(env.local, 'DELETE', 'AUTH_test',
                                  '/w-c/' + name)
        assert status in (204, 404)
    assert proc.poll() is None, 'the run ended before the client wrote'
    code, report, _out, log = env.finish(proc)
    assert code == 0, log[-3000:]
    assert report['skipped'] >= 2  # the two late ones: 202, newer locally
    for name in (early[0], late[0]):
        status, _h, body = env.call(env.local, 'GET', 'AUTH_test',
                                    '/w-c/' + name)
        assert (status, body) == (200, b'client wins')
    for name in (early[1], late[1]):
        assert env.call(env.local, 'HEAD', 'AUTH_test',
                        '/w-c/' + name)[0] == 404
    code, report, out, log = env.run(conf, '--verify')
    assert code == 0, out


# -- a source that fails -----------------------------------------------------------

def test_source_failing_midway_then_rerun(env):
    count = 600
    _create(env, 'AUTH_test', 'f-c')
    _extract(env, 'AUTH_test', 'f-c', count)
    conf = env.conf('AUTH_test/f-*', workers='2', retries='2')
    env.statsd.reset()
    proc = env.start(conf)
    deadline = time.monotonic() + 300
    while env.statsd.get('copied') < 150:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    env.source.stop_backend()
    try:
        code, report, _out, log = env.finish(proc, timeout=120)
    finally:
        env.source.start_backend({'key': KEY})
    assert code == 3, log[-3000:]
    assert 'kept failing' in report['error']
    code, report, _out, log = env.run(conf)
    assert code == 0, log[-3000:]
    assert len(_listing(env, env.local, 'AUTH_test', 'f-c')) == count
    code, _report, out, _log = env.run(conf, '--verify')
    assert code == 0, out


# -- a corrupt object on the source --------------------------------------------

def test_corrupt_source_object_fails_and_is_not_stored(env):
    """The bytes an object server serves no longer match their ETag (a
    data file changed on disk): the copy fails, with the reason, and the
    local cluster does not store it."""
    unique = b'corrupt me %f ' % time.time() * 100
    _create(env, 'AUTH_test', 'x-corrupt')
    _put(env, 'AUTH_test', 'x-corrupt', 'bad', unique)
    _put(env, 'AUTH_test', 'x-corrupt', 'good', b'fine')
    found = []
    for root, _dirs, files in os.walk(env.source.devices):
        for name in files:
            if name.endswith('.data'):
                path = os.path.join(root, name)
                with open(path, 'rb') as f:
                    if f.read() == unique:
                        found.append(path)
    assert len(found) == 1, found
    with open(found[0], 'r+b') as f:
        f.write(b'C')  # same length, other bytes
    code, report, _out, log = env.run(env.conf('AUTH_test/x-*'))
    assert code == 1, log[-3000:]
    failures = report['containers']['AUTH_test/x-corrupt']['failures']
    assert [f['name'] for f in failures] == ['bad']
    assert 'ETag mismatch' in failures[0]['reason']
    assert report['copied'] == 1
    assert env.call(env.local, 'HEAD', 'AUTH_test', '/x-corrupt/bad')[0] \
        == 404
    assert env.call(env.local, 'HEAD', 'AUTH_test', '/x-corrupt/good')[0] \
        == 200

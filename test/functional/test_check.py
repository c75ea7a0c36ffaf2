# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``swift-forwarder-check`` against the real dev clusters.

Each test checks a copy of the local cluster's real proxy-server.conf
(whose ``[filter:forwarder]`` points at the target cluster), with the
filter section altered in the copy: the running clusters are never
reconfigured.  The console script itself runs as a subprocess; the other
cases call :func:`swift_forwarder.check.main` in-process (quicker).
"""

import configparser
import contextlib
import io
import os
import socket
import subprocess
import sys

import pytest

from swift_forwarder import check
from test.unit.helpers import make_cert

CHECK = os.path.join(os.path.dirname(sys.executable), 'swift-forwarder-check')
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def local_conf_path(local):
    return os.path.join(local.etc_dir, 'proxy-server.conf')


@pytest.fixture
def conf_copy(clusters, tmp_path):
    """``write(**options)``: a copy of the local proxy's conf with the
    forwarder's options changed (None removes one); returns its path."""
    local, _target = clusters

    def write(**options):
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read(local_conf_path(local))
        section = parser['filter:forwarder']
        for name, value in options.items():
            if value is None:
                section.pop(name, None)
            else:
                section[name] = value
        path = tmp_path / 'proxy-server.conf'
        with open(path, 'w') as fp:
            parser.write(fp)
        return str(path)
    return write


def run_script(*argv):
    """The console script: (exit status, stdout, stderr)."""
    proc = subprocess.run([CHECK] + list(argv), capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def run_main(*argv):
    """:func:`check.main` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = check.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def rows(output):
    """{check: (result, detail)} of a one-target table (the ``account``
    check may give a list of rows)."""
    found = {}
    for line in output.splitlines()[1:-1]:
        _target, name, result, detail = (line.split(None, 3) + [''])[:4]
        found.setdefault(name, []).append((result, detail))
    return {name: values[0] if len(values) == 1 else values
            for name, values in found.items()}


def test_passthrough_as_is(clusters):
    """The local cluster's own conf (passthrough): everything that applies
    is OK, and the target is a Swift proxy.  Through the console script."""
    local, target = clusters
    status, out, err = run_script(local_conf_path(local))
    assert status == 0, out + err
    found = rows(out)
    assert found['config'][0] == 'OK'
    assert found['resolve'] == ('OK', '127.0.0.1 (an address)')
    assert found['connect'][0] == 'OK'
    assert found['connect'][1].startswith(target.proxy_url + ' in ')
    assert found['auth'] == ('SKIP', 'passthrough: clients authenticate')
    assert found['info'][0] == 'OK'
    assert 'GET /info: 200 OK, Swift 2.' in found['info'][1]
    assert found['account'][0] == 'SKIP'
    assert out.splitlines()[-1] == '6 checks: 4 OK, 0 FAIL, 2 SKIP'
    assert err == ''


def test_service_mode(clusters, conf_copy):
    """Real service credentials: a token, and the accounts answer."""
    _local, target = clusters
    path = conf_copy(auth_mode='service', auth_url=target.auth_url,
                     auth_user='test:tester', auth_key='testing',
                     account_map='AUTH_local:AUTH_test')
    status, out, err = run_main(path)
    assert status == 0, out + err
    found = rows(out)
    assert found['auth'] == ('OK', 'test:tester at %s: storage URL %s/v1/'
                             'AUTH_test' % (target.auth_url, target.proxy_url))
    assert found['account'] == ('OK', 'HEAD /v1/AUTH_test: 204 No Content')
    assert 'info' not in found
    assert out.splitlines()[-1] == '5 checks: 5 OK, 0 FAIL, 0 SKIP'


def test_wrong_key(clusters, conf_copy):
    """The target's auth refuses the key: a FAIL naming the 401 and the
    URL, never the key.  Through the console script."""
    _local, target = clusters
    key = 'not-the-key-%d' % os.getpid()
    path = conf_copy(auth_mode='service', auth_url=target.auth_url,
                     auth_user='test:tester', auth_key=key,
                     account_map='AUTH_local:AUTH_test')
    status, out, err = run_script(path)
    assert status == 1, out + err
    found = rows(out)
    assert found['auth'] == ('FAIL', '401 Unauthorized from %s'
                             % target.auth_url)
    assert found['account'] == ('SKIP', 'after auth FAIL')
    assert key not in out + err


def test_closed_port(conf_copy):
    """Nothing listens on the target port: connect FAIL, refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))  # bound, not listening: refused
    try:
        port = sock.getsockname()[1]
        path = conf_copy(target_url='http://127.0.0.1:%d' % port)
        status, out, _err = run_main(path)
    finally:
        sock.close()
    assert status == 1, out
    found = rows(out)
    assert found['connect'] == ('FAIL', 'http://127.0.0.1:%d: connection '
                                'refused' % port)
    assert found['info'] == ('SKIP', 'after connect FAIL')


@pytest.fixture(scope='module')
def tls_target(clusters, tmp_path_factory):
    """(https URL, its CA file, a CA file that did not sign it): a TLS
    relay (:mod:`test.functional.tlsrelay`) in front of the target's
    proxy."""
    _local, target = clusters
    certs = str(tmp_path_factory.mktemp('certs'))
    cert, key = make_cert(certs, name='relay')
    other, _other_key = make_cert(certs, name='other')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'test.functional.tlsrelay', cert, key,
         str(target.ports['proxy'])], stdout=subprocess.PIPE, text=True,
        cwd=REPO)
    try:
        port = int(proc.stdout.readline())
        yield 'https://127.0.0.1:%d' % port, cert, other
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def test_tls_wrong_ca(tls_target, conf_copy):
    """A certificate the configured CA did not sign."""
    url, _cert, other_ca = tls_target
    status, out, _err = run_main(conf_copy(target_url=url,
                                           ca_certs=other_ca))
    assert status == 1, out
    result, detail = rows(out)['connect']
    assert result == 'FAIL'
    assert detail.startswith(url + ': certificate verify failed: ')


def test_tls_right_ca(tls_target, conf_copy):
    """The right CA: the handshake, and /info through it."""
    url, cert, _other_ca = tls_target
    status, out, _err = run_main(conf_copy(target_url=url, ca_certs=cert))
    assert status == 0, out
    found = rows(out)
    assert found['connect'][0] == 'OK'
    assert found['connect'][1].endswith(', certificate verified')
    assert 'GET /info: 200 OK, Swift 2.' in found['info'][1]


def test_unparsable_line_hides_the_key(clusters, conf_copy):
    """A line of the real conf the parser rejects (``auth_key <key>``, its
    ``=`` forgotten): the proxy would not start, so exit status 1, and
    only the file and line number are printed, never the key.  Through
    the console script."""
    key = 'forgotten-equals-%d' % os.getpid()
    path = conf_copy()
    with open(path) as fp:
        lines = fp.read().splitlines()
    lineno = lines.index('[filter:forwarder]') + 2
    lines.insert(lineno - 1, 'auth_key %s' % key)
    with open(path, 'w') as fp:
        fp.write('\n'.join(lines) + '\n')
    status, out, err = run_script(path)
    assert status == 1, out + err
    assert key not in out + err
    assert rows(out) == {'config': (
        'FAIL', 'cannot load the pipeline: %s: cannot parse line %d'
        % (path, lineno))}
    assert err == ''


def test_misspelled_egg(clusters, conf_copy):
    """``use = egg:swift_forwarder#forwardr``: paste cannot load the
    pipeline, the proxy would not start: a config FAIL, exit status 1."""
    path = conf_copy(use='egg:swift_forwarder#forwardr')
    status, out, err = run_main(path)
    assert status == 1, out + err
    result, detail = rows(out)['config']
    assert result == 'FAIL'
    assert "Entry point 'forwardr' not found" in detail
    assert out.splitlines()[-1] == '1 check: 0 OK, 1 FAIL, 0 SKIP'


# -- core placement: the backend endpoint ------------------------------------

BACKEND_KEY = 'check-backend-key'


@pytest.fixture
def backend_conf(clusters, conf_copy):
    """``write(pipeline=..., **options)``: a conf copy in core placement
    toward the target's backend endpoint (started for the test)."""
    local, target = clusters
    target.start_backend({'key': BACKEND_KEY})

    def write(pipeline=None, **options):
        path = conf_copy(**dict(dict(
            auth_mode='service', auth_url=target.auth_url,
            auth_user='test2:tester2', auth_key='testing2',
            account_map='AUTH_test:AUTH_test2', forward='AUTH_test/fed*',
            target_url=target.backend_url, backend_endpoint='true',
            backend_key=BACKEND_KEY), **options))
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read(path)
        names = parser['pipeline:main']['pipeline'].split()
        names.remove('forwarder')
        names.insert(len(names) - 1, 'forwarder')  # right before proxy-server
        parser['pipeline:main']['pipeline'] = pipeline or ' '.join(names)
        with open(path, 'w') as fp:
            parser.write(fp)
        return path
    yield write
    target.stop_backend()


def test_backend_endpoint(backend_conf):
    """Core placement toward a real backend endpoint: the probe is
    answered by its forwarder_backend, backend headers arrive, nothing
    above it resolves; the key is never printed."""
    status, out, err = run_main(backend_conf())
    assert status == 0, out + err
    found = rows(out)
    assert found['config'][0] == 'OK'
    assert found['backend'] == ('OK', 'probe: 200 OK: forwarder_backend, '
                                'backend headers through, nothing resolved '
                                'above it')
    assert BACKEND_KEY not in out
    assert out.splitlines()[-1] == '6 checks: 6 OK, 0 FAIL, 0 SKIP'


def test_not_a_backend_endpoint(clusters, backend_conf):
    """The target's public proxy named as a backend endpoint: no
    forwarder_backend answers the probe.  And the forwarder above the
    composite middlewares while forwarding some containers: a WARN saying
    what breaks."""
    local, target = clusters
    gateway = open(local_conf_path(local)).read().split(
        'pipeline = ', 1)[1].split('\n', 1)[0]
    status, out, err = run_main(backend_conf(
        pipeline=gateway, target_url=target.proxy_url))
    assert status == 1, out + err
    found = rows(out)
    assert found['backend'][0] == 'FAIL'
    assert 'no forwarder_backend answered: not a backend endpoint' in \
        found['backend'][1]
    (ok, _d), (warn, detail) = found['config']
    assert (ok, warn) == ('OK', 'WARN')
    assert 'above copy, slo, dlo, versioned_writes, symlink and forwards ' \
        'only some containers: a manifest on one cluster cannot name ' \
        'segments on the other' in detail
    assert out.splitlines()[-1] == '7 checks: 5 OK, 1 WARN, 1 FAIL, 0 SKIP'


def test_backend_key_mismatch(backend_conf):
    status, out, _err = run_main(backend_conf(backend_key='not-the-key'))
    assert status == 1
    result, detail = rows(out)['backend']
    assert result == 'FAIL'
    assert 'backend_key is not its key or key2 (forwarder_backend: ' \
        'X-Forwarder-Backend-Sig: bad signature' in detail
    assert 'not-the-key' not in out


def test_backend_resolving_itself(clusters, backend_conf):
    """A backend endpoint with slo and symlink above forwarder_backend
    would resolve manifests and symlinks on the target: FAIL."""
    _local, target = clusters
    path = backend_conf()
    target.stop_backend()
    target.start_backend({'key': BACKEND_KEY}, pipeline=(
        'catch_errors healthcheck proxy-logging cache tempauth slo symlink '
        'forwarder_backend proxy-server').split())
    status, out, _err = run_main(path)
    assert status == 1
    result, detail = rows(out)['backend']
    assert result == 'FAIL'
    assert 'slo, symlink above forwarder_backend would resolve manifests ' \
        'and symlinks on the target itself' in detail

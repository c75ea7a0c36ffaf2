# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Fixtures for the functional tests: two real Swift clusters on 127.0.0.1.

``clusters`` starts once per session: a *target* cluster, and a *local* one whose proxy has
the forwarder (before tempauth) pointed at the target.  Logs stay in pytest's temp dir
(``<tmp>/saio0/{local,target}/log/*.log``) after the run.  When Swift, memcached or
python-keystoneclient is missing the tests *fail* (never skip), with what to install: ``make
test`` installs them, so a missing one is a broken environment, and a skipped suite would
read as a green one.
"""

import json
import os
import signal
import urllib.parse
import uuid

import pytest

from swift_forwarder.testing import saio
from test.functional.util import request

#: ``[filter:forwarder]`` of the local cluster (``target_url`` is added by start_pair).
FORWARDER_CONF = {
    'healthcheck_path': '/forwarder/healthcheck',
    'pool_size': '8',
}


#: The files that take minutes, first: ``make functional`` runs the files on two
#: workers (``-n 2 --dist loadfile``), and a long one started last would run alone.
SLOWEST_FIRST = ('test_migrator.py', 'test_migrate.py', 'test_integrity.py')


def pytest_collection_modifyitems(items):
    """The slowest files first; within a file, the order stays (a stable sort)."""
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)
    items.sort(key=rank)


def _terminated(signum, frame):
    raise SystemExit('terminated by signal %d' % signum)


def require_saio():
    """Fail the calling test, saying what is missing, unless dev clusters
    can run here."""
    reason = saio.missing_requirement()
    if reason:
        pytest.fail('functional tests need real Swift clusters: %s '
                    '(`make test` installs Swift, memcached and '
                    'python-keystoneclient)' % reason, pytrace=False)


@pytest.fixture(scope='session')
def clusters(tmp_path_factory):
    """(local, target): running :class:`saio.SwiftCluster` objects, with AUTH_test
    created on the target."""
    require_saio()
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # a SIGTERM (a CI timeout, `timeout`) unwinds the session, so the
        # clusters are stopped instead of left running
        signal.signal(signal.SIGTERM, _terminated)
    local, target = saio.start_pair(str(tmp_path_factory.mktemp('saio')), FORWARDER_CONF)
    try:
        _create_account(target)
        yield local, target
    finally:
        local.stop()
        target.stop()


@pytest.fixture
def target_auth(clusters):
    """(storage_url, token) of test:tester on the target, valid now: a login
    per test, as a test may make the target forget its tokens (flushing its
    memcache, as test_federation does)."""
    return clusters[1].get_auth()


@pytest.fixture
def target_token(target_auth):
    return target_auth[1]


@pytest.fixture(scope='session')
def local_storage_url(clusters):
    """AUTH_test's storage URL through the local proxy (and the forwarder)."""
    return clusters[0].proxy_url + '/v1/AUTH_test'


@pytest.fixture
def container(target_auth):
    """A fresh container name, created directly on the target; deleted (with its objects,
    best-effort) after the test."""
    storage_url, token = target_auth
    name = 'test-%s' % uuid.uuid4().hex[:12]
    path = urllib.parse.urlsplit(storage_url).path + '/' + name
    status, _headers, body = request(storage_url, 'PUT', path, {'X-Auth-Token': token})
    assert status in (201, 202), body
    yield name
    _empty_and_delete(storage_url, token, path)


def _create_account(target):
    """A container PUT autocreates AUTH_test, so HEADs on it answer 204, not 200."""
    storage_url, token = target.get_auth()
    path = urllib.parse.urlsplit(storage_url).path + '/saio-account-setup'
    headers = {'X-Auth-Token': token}
    for method, wanted in (('PUT', 201), ('DELETE', 204)):
        status, _headers, body = request(storage_url, method, path, headers)
        assert status == wanted, (method, status, body)


def _empty_and_delete(storage_url, token, path, rounds=20):
    headers = {'X-Auth-Token': token}
    for _ in range(rounds):  # a listing gives at most 10000 names
        status, _h, body = request(storage_url, 'GET', path + '?format=json', headers)
        names = [obj['name'] for obj in json.loads(body)] if status == 200 else []
        if not names:
            break
        for name in names:
            request(storage_url, 'DELETE', path + '/' + urllib.parse.quote(name), headers)
    request(storage_url, 'DELETE', path, headers)

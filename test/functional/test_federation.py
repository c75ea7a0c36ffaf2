# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Federation placement (auth_mode = service): the local cluster
authenticates and authorizes, with the target container's ACLs; the target
sees the forwarder's own service credentials, in the mapped account."""

import concurrent.futures
import json
import os
import re
import socket
import time
import uuid

import pytest

from test.functional.faultproxy import FaultProxy
from test.functional.util import Client, on_target, request

#: The local account AUTH_test maps onto AUTH_test2 on the target, where
#: the forwarder logs in as test2:tester2.
SERVICE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
           'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
           'forward': 'AUTH_test/fed*'}


@pytest.fixture(scope='module')
def federation(clusters):
    """The local forwarder after tempauth, in service mode, with
    per-container opt-in: besides the inline target, ``mirror`` (the same
    cluster reached through a TCP relay: another URL, another pool) from a
    targets_conf, and ``//realm1/target`` from container-sync-realms.conf."""
    local, target = clusters
    normal, before = dict(local.filters['forwarder']), local.pipeline_before
    relay = FaultProxy('127.0.0.1', target.ports['proxy'])
    relay.start()
    targets_conf = os.path.join(local.etc_dir, 'forwarder-targets.conf')
    with open(targets_conf, 'w') as f:
        f.write('[target:mirror]\ntarget_url = %s\n' % relay.url)
    realms = os.path.join(local.etc_dir, 'container-sync-realms.conf')
    with open(realms, 'w') as f:
        f.write('[realm1]\nkey = realm1key\ncluster_target = %s/v1/\n'
                % target.proxy_url)
    local.pipeline_before = 'copy'  # after tempauth, before copy/slo/dlo
    local.set_filter_conf('forwarder', dict(
        normal, auth_url=target.auth_url, targets_conf=targets_conf,
        container_opt_in='true', **SERVICE))
    yield local, target, relay
    local.pipeline_before = before
    local.set_filter_conf('forwarder', normal)
    for path in (targets_conf, realms):
        os.unlink(path)
    relay.stop()


def _flush_memcache(cluster):
    with socket.create_connection(
            ('127.0.0.1', cluster.ports['memcached']), timeout=5) as sock:
        sock.sendall(b'flush_all\r\n')
        assert sock.recv(64).startswith(b'OK')


def _target_log_lines(target, needle, wait=0):
    """Lines of the target's proxy log holding ``needle``; with ``wait``,
    poll that long for at least one."""
    deadline = time.time() + wait
    while True:
        with open(target.log_path('proxy')) as f:
            lines = [line for line in f if needle in line]
        if lines or time.time() >= deadline:
            return lines
        time.sleep(0.05)


def _local_txn(headers):
    """How a local transaction id shows in the target's log: Swift appends
    ``X-Trans-Id-Extra`` to its own, cut to 32 characters."""
    return headers['x-trans-id'][:32]


@pytest.fixture
def container(federation):
    local, target, _relay = federation
    name = 'fed-%s' % uuid.uuid4().hex[:8]
    owner = Client(local, 'test:tester', 'testing')
    assert owner('PUT', '/' + name)[0] == 201
    yield name
    for obj in ('obj', 'meta'):
        on_target(target, 'DELETE', '/%s/%s' % (name, obj))
    on_target(target, 'DELETE', '/' + name)


def test_owner_upload_lands_in_mapped_account(federation, container):
    """The owner's upload goes to AUTH_test2 on the target, not to the
    local cluster, and the client's local token never reaches the target."""
    local, target, _relay = federation
    owner = Client(local, 'test:tester', 'testing')
    status, headers, _ = owner('PUT', '/%s/obj' % container, body=b'federated')
    assert status == 201
    assert 'x-forwarder-trans-id' in headers
    assert on_target(target, 'GET', '/%s/obj' % container)[2] == b'federated'
    assert owner('GET', '/%s/obj' % container)[2] == b'federated'
    # not on the local cluster: its own account listing (not forwarded)
    # has no such container
    status, _h, body = owner('GET', '?format=json')
    assert status == 200 and container.encode() not in body
    # proxy-logging logs the first 16 characters of a token
    assert _target_log_lines(target, owner.token[:16]) == []
    # ... which shows the service token the target saw: it never comes back
    # to the client, nor shows in the local proxy's log
    [line] = _target_log_lines(target, _local_txn(headers), wait=5)
    service_prefix = re.search(r' (AUTH_tk[0-9a-f]+)\.\.\. ', line).group(1)
    assert service_prefix != owner.token[:len(service_prefix)]
    assert service_prefix not in json.dumps(headers)
    with open(local.log_path('proxy')) as f:
        assert service_prefix not in f.read()


def test_non_owner_refused_locally_until_acl(federation, container):
    """A user without rights gets the local 403 and nothing of the request
    reaches the target; after the owner grants a read ACL on the target
    container, that user reads."""
    local, target, _relay = federation
    owner = Client(local, 'test:tester', 'testing')
    other = Client(local, 'test:tester3', 'testing3')
    assert owner('PUT', '/%s/obj' % container, body=b'secret')[0] == 201
    for method, body in (('GET', None), ('PUT', b'intruder'),
                         ('DELETE', None)):
        status, headers, _ = other(method, '/%s/obj' % container, body=body)
        assert status == 403, method
        assert _target_log_lines(target, _local_txn(headers)) == []
    assert on_target(target, 'GET', '/%s/obj' % container)[2] == b'secret'

    status, _h, _b = owner('POST', '/' + container,
                           {'X-Container-Read': 'test:tester3'})
    assert status == 204
    assert on_target(target, 'HEAD', '/' + container)[1][
        'x-container-read'] == 'test:tester3'
    status, headers, body = other('GET', '/%s/obj' % container)
    assert (status, body) == (200, b'secret')
    # the same log check sees a request that did go through
    assert _target_log_lines(target, _local_txn(headers), wait=5)
    assert other('PUT', '/%s/obj' % container, body=b'x')[0] == 403


def test_account_requests_refused(federation, container):
    """With the whole account forwarded, reads of the account go to the
    mapped target account; PUT/POST/DELETE on it are refused (403) unless
    allow_account_requests, and never reach the target."""
    local, target, _relay = federation
    conf = dict(local.filters['forwarder'])
    local.set_filter_conf('forwarder', dict(conf, forward='AUTH_test'))
    try:
        owner = Client(local, 'test:tester', 'testing')
        status, headers, body = owner('GET', '?format=json')
        assert status == 200 and 'x-forwarder-trans-id' in headers
        assert container in [c['name'] for c in json.loads(body)]
        assert _target_log_lines(target, _local_txn(headers), wait=5)
        for method in ('POST', 'PUT', 'DELETE'):
            status, headers, body = owner(method, '', {
                'X-Account-Meta-Forwarded': 'no'})
            assert status == 403, method
            assert b'allow_account_requests' in body
            assert _target_log_lines(target, _local_txn(headers)) == []
        assert 'x-account-meta-forwarded' not in on_target(target, 'HEAD')[1]
    finally:
        local.set_filter_conf('forwarder', conf)


def test_cluster_only_headers_do_not_cross(federation, container):
    """X-Forwarded-For and X-Service-Token from the client do not reach the
    target: its access log shows the forwarder's address (unit tests check
    every cluster-only header on the wire)."""
    local, target, _relay = federation
    owner = Client(local, 'test:tester', 'testing')
    status, headers, _ = owner('PUT', '/%s/meta' % container, {
        'X-Forwarded-For': '203.0.113.9', 'X-Service-Token': 'AUTH_tkspoof'},
        b'm')
    assert status == 201
    lines = _target_log_lines(target, _local_txn(headers), wait=5)
    assert lines and all('203.0.113.9' not in line for line in lines)
    assert all('AUTH_tkspoof' not in line for line in lines)


def test_expired_service_token_one_reauth(federation, container):
    """The target's tokens expire: concurrent requests keep working and
    share one re-auth."""
    local, target, _relay = federation
    normal_tempauth = dict(target.tempauth_conf)
    target.tempauth_conf['token_life'] = '4'
    target.restart_proxy()
    _flush_memcache(target)  # every token the target gave out is gone
    try:
        owner = Client(local, 'test:tester', 'testing')
        # the forwarder's token is refused: it re-authenticates (getting a
        # 4 s token) and retries the upload, which was not read yet
        assert owner('PUT', '/%s/obj' % container, body=b'x')[0] == 201
        before = len(_target_log_lines(target, 'GET /auth/v1.0'))
        time.sleep(4.5)  # the forwarder's cached service token expires
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(
                lambda _i: owner('GET', '/%s/obj' % container)[0], range(8)))
        assert statuses == [200] * 8
        auths = len(_target_log_lines(target, 'GET /auth/v1.0')) - before
        assert auths == 1
    finally:
        target.tempauth_conf.clear()
        target.tempauth_conf.update(normal_tempauth)
        target.restart_proxy()
        _flush_memcache(target)  # no 4 s token outlives this test


@pytest.mark.parametrize('name', ['//realm1/target', 'mirror'])
def test_container_opt_in(federation, name):
    """A container's owner sets X-Container-Meta-Forward-To on the local
    container: its objects and listing go to that target (a realm cluster
    or a targets_conf one), the container itself stays local."""
    local, target, relay = federation
    owner = Client(local, 'test:tester', 'testing')
    container = 'opt-%s' % uuid.uuid4().hex[:8]  # not matched by forward
    assert on_target(target, 'PUT', '/' + container)[0] == 201
    try:
        assert owner('PUT', '/' + container, {
            'X-Container-Meta-Forward-To': name})[0] == 201
        accepted = relay.accepted
        status, headers, _ = owner('PUT', '/%s/obj' % container,
                                   body=b'opted in')
        assert status == 201 and 'x-forwarder-trans-id' in headers
        assert on_target(target, 'GET', '/%s/obj' % container)[2] == \
            b'opted in'
        status, _h, body = owner('GET', '/%s?format=json' % container)
        assert [o['name'] for o in json.loads(body)] == ['obj']
        # the container itself is the local one, with the setting
        headers = owner('HEAD', '/' + container)[1]
        assert headers['x-container-meta-forward-to'] == name
        assert 'x-forwarder-trans-id' not in headers
        # the named target is its own pool, behind its own URL
        assert (relay.accepted > accepted) == (name == 'mirror')
        counters = json.loads(request(
            local.proxy_url, 'GET', '/forwarder/healthcheck')[2])['targets']
        assert set(counters) == {'default', 'mirror', '//REALM1/TARGET'}
    finally:
        on_target(target, 'DELETE', '/%s/obj' % container)
        on_target(target, 'DELETE', '/' + container)
        owner('DELETE', '/' + container)


def test_opt_in_unknown_target_refused(federation):
    """Only configured target names are accepted: 400 when it is set."""
    local, _target, _relay = federation
    owner = Client(local, 'test:tester', 'testing')
    container = 'opt-%s' % uuid.uuid4().hex[:8]
    status, _h, body = owner('PUT', '/' + container, {
        'X-Container-Meta-Forward-To': 'nowhere'})
    assert status == 400
    assert b"no target named 'nowhere'" in body
    assert owner('HEAD', '/' + container)[0] == 404
    assert owner('PUT', '/' + container)[0] == 201
    assert owner('POST', '/' + container, {
        'X-Container-Meta-Forward-To': '//realm1/elsewhere'})[0] == 400
    owner('DELETE', '/' + container)

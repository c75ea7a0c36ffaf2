# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Federation placement (auth_mode = service): the local cluster
authenticates and authorizes, with the target container's ACLs; the target
sees the forwarder's own service credentials, in the mapped account.

The forwarder reaches the target, for requests and for its logins, through
a recording relay (:class:`test.functional.wire.RecordingRelay`), so the
tests check what the target was sent on the wire, not in a log line that
may not be written yet.
"""

import concurrent.futures
import json
import os
import socket
import time
import uuid

import pytest

from test.functional.faultproxy import FaultProxy
from test.functional.rawhttp import LogWatch, wait_for
from test.functional.util import Client, on_target, request
from test.functional.wire import RecordingRelay, with_txn

#: The local account AUTH_test maps onto AUTH_test2 on the target, where
#: the forwarder logs in as test2:tester2.
SERVICE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
           'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
           'forward': 'AUTH_test/fed*'}


@pytest.fixture(scope='module')
def federation(clusters):
    """(local, target, relay, wire): the local forwarder after tempauth, in
    service mode, with per-container opt-in: besides the inline target
    (reached, with its ``auth_url``, through ``wire``, a recording relay),
    ``mirror`` (the same cluster reached through ``relay``, a TCP relay:
    another URL, another pool) from a targets_conf, and ``//realm1/target``
    from container-sync-realms.conf."""
    local, target = clusters
    normal, before = dict(local.filters['forwarder']), local.pipeline_before
    relay = FaultProxy('127.0.0.1', target.ports['proxy'])
    relay.start()
    wire = RecordingRelay('127.0.0.1', target.ports['proxy'],
                          max_lifetime=3600).start()
    targets_conf = os.path.join(local.etc_dir, 'forwarder-targets.conf')
    with open(targets_conf, 'w') as f:
        f.write('[target:mirror]\ntarget_url = %s\n' % relay.url)
    realms = os.path.join(local.etc_dir, 'container-sync-realms.conf')
    with open(realms, 'w') as f:
        f.write('[realm1]\nkey = realm1key\ncluster_target = %s/v1/\n'
                % target.proxy_url)
    local.pipeline_before = 'copy'  # after tempauth, before copy/slo/dlo
    local.set_filter_conf('forwarder', dict(
        normal, target_url=wire.url, auth_url=wire.url + '/auth/v1.0',
        targets_conf=targets_conf, container_opt_in='true', **SERVICE))
    yield local, target, relay, wire
    local.pipeline_before = before
    local.set_filter_conf('forwarder', normal)
    for path in (targets_conf, realms):
        os.unlink(path)
    relay.stop()
    wire.stop()


def _flush_memcache(cluster):
    with socket.create_connection(
            ('127.0.0.1', cluster.ports['memcached']), timeout=5) as sock:
        sock.sendall(b'flush_all\r\n')
        assert sock.recv(64).startswith(b'OK')


def _auth_requests(wire):
    """The forwarder's logins (tempauth's ``GET /auth/v1.0``) on the wire."""
    return [w for w in wire.requests()
            if w.target.split('?')[0] == '/auth/v1.0']


def _never_sent(wire, txns, marker):
    """Assert that no request of local transactions ``txns`` reached the
    target, once request ``marker`` (a client call, made after them, that
    is forwarded) has: the wire is read after a later request crossed."""
    status, headers, _body = marker()
    assert status < 300, status
    assert wire.wait_for_txn(headers['x-trans-id'])
    sent = wire.requests()
    assert {txn: with_txn(sent, txn) for txn in txns} == {
        txn: [] for txn in txns}


@pytest.fixture
def container(federation):
    local, target, _relay, _wire = federation
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
    local, target, _relay, wire = federation
    owner = Client(local, 'test:tester', 'testing')
    log = LogWatch(local.log_path('proxy'))
    status, headers, _ = owner('PUT', '/%s/obj' % container, body=b'federated')
    assert status == 201
    assert 'x-forwarder-trans-id' in headers
    assert on_target(target, 'GET', '/%s/obj' % container)[2] == b'federated'
    assert owner('GET', '/%s/obj' % container)[2] == b'federated'
    # not on the local cluster: its own account listing (not forwarded)
    # has no such container
    status, _h, body = owner('GET', '?format=json')
    assert status == 200 and container.encode() not in body
    # the target was sent the service token, never the client's own
    [sent] = with_txn(wire.requests(), headers['x-trans-id'])
    assert (sent.method, sent.target) == (
        'PUT', '/v1/AUTH_test2/%s/obj' % container)
    service_token = sent.value('x-auth-token')
    assert service_token.startswith('AUTH_tk')
    assert service_token != owner.token
    assert owner.token.encode() not in wire.raw()
    # the service token never comes back to the client, nor shows in the
    # local proxy's log (proxy-logging would log its first 16 characters),
    # read once the request's own lines (the forwarder's, proxy-logging's)
    # are there
    assert service_token not in json.dumps(headers)
    assert wait_for(lambda: len(log.wait(headers['x-trans-id'])) >= 2)
    text = '\n'.join(log.lines())
    assert 'forwarded to default: PUT ' in text
    assert service_token[:16] not in text


def test_non_owner_refused_locally_until_acl(federation, container):
    """A user without rights gets the local 403 and nothing of the request
    reaches the target; after the owner grants a read ACL on the target
    container, that user reads."""
    local, target, _relay, wire = federation
    owner = Client(local, 'test:tester', 'testing')
    other = Client(local, 'test:tester3', 'testing3')
    assert owner('PUT', '/%s/obj' % container, body=b'secret')[0] == 201
    refused = []
    for method, body in (('GET', None), ('PUT', b'intruder'),
                         ('DELETE', None)):
        status, headers, _ = other(method, '/%s/obj' % container, body=body)
        assert status == 403, method
        refused.append(headers['x-trans-id'])
    _never_sent(wire, refused,
                lambda: owner('HEAD', '/%s/obj' % container))
    assert on_target(target, 'GET', '/%s/obj' % container)[2] == b'secret'

    status, _h, _b = owner('POST', '/' + container,
                           {'X-Container-Read': 'test:tester3'})
    assert status == 204
    assert on_target(target, 'HEAD', '/' + container)[1][
        'x-container-read'] == 'test:tester3'
    status, headers, body = other('GET', '/%s/obj' % container)
    assert (status, body) == (200, b'secret')
    # the same check sees a request that did go through
    assert with_txn(wire.requests(), headers['x-trans-id'])
    assert other('PUT', '/%s/obj' % container, body=b'x')[0] == 403


def test_account_requests_refused(federation, container):
    """With the whole account forwarded, reads of the account go to the
    mapped target account; PUT/POST/DELETE on it are refused (403) unless
    allow_account_requests, and never reach the target."""
    local, target, _relay, wire = federation
    conf = dict(local.filters['forwarder'])
    local.set_filter_conf('forwarder', dict(conf, forward='AUTH_test'))
    try:
        owner = Client(local, 'test:tester', 'testing')
        status, headers, body = owner('GET', '?format=json')
        assert status == 200 and 'x-forwarder-trans-id' in headers
        assert container in [c['name'] for c in json.loads(body)]
        assert with_txn(wire.requests(), headers['x-trans-id'])
        refused = []
        for method in ('POST', 'PUT', 'DELETE'):
            status, headers, body = owner(method, '', {
                'X-Account-Meta-Forwarded': 'no'})
            assert status == 403, method
            assert b'allow_account_requests' in body
            refused.append(headers['x-trans-id'])
        _never_sent(wire, refused, lambda: owner('HEAD', ''))
        assert 'x-account-meta-forwarded' not in on_target(target, 'HEAD')[1]
    finally:
        local.set_filter_conf('forwarder', conf)


def test_cluster_only_headers_do_not_cross(federation, container):
    """X-Forwarded-For and X-Service-Token from the client do not reach the
    target: on the wire, X-Forwarded-For is the forwarder's own client
    address and there is no X-Service-Token (test_service_security checks
    every cluster-only header)."""
    local, _target, _relay, wire = federation
    owner = Client(local, 'test:tester', 'testing')
    status, headers, _ = owner('PUT', '/%s/meta' % container, {
        'X-Forwarded-For': '203.0.113.9', 'X-Service-Token': 'AUTH_tkspoof'},
        b'm')
    assert status == 201
    [sent] = with_txn(wire.requests(), headers['x-trans-id'])
    assert sent.target == '/v1/AUTH_test2/%s/meta' % container
    assert sent.values('x-forwarded-for') == ['127.0.0.1']
    assert sent.values('x-service-token') == []
    raw = wire.raw()
    assert b'203.0.113.9' not in raw and b'AUTH_tkspoof' not in raw


def test_expired_service_token_one_reauth(federation, container):
    """The target's tokens expire: concurrent requests keep working and
    share one re-auth."""
    local, target, _relay, wire = federation
    normal_tempauth = dict(target.tempauth_conf)
    target.tempauth_conf['token_life'] = '4'
    target.restart_proxy()
    _flush_memcache(target)  # every token the target gave out is gone
    try:
        owner = Client(local, 'test:tester', 'testing')
        # the forwarder's token is refused: it re-authenticates (getting a
        # 4 s token) and retries the upload, which was not read yet
        assert owner('PUT', '/%s/obj' % container, body=b'x')[0] == 201
        before = len(_auth_requests(wire))
        time.sleep(4.5)  # the forwarder's cached service token expires
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(
                lambda _i: owner('GET', '/%s/obj' % container)[0], range(8)))
        assert statuses == [200] * 8
        assert len(_auth_requests(wire)) - before == 1
    finally:
        target.tempauth_conf.clear()
        target.tempauth_conf.update(normal_tempauth)
        target.restart_proxy()
        _flush_memcache(target)  # no 4 s token outlives this test


def test_token_refresh_interval(federation, container):
    """token_refresh_interval = 2: the service token is renewed once it is
    2 s old, and not before.  Counted on the wire (the logins the target
    receives), against times the test takes around each request, which a
    loaded machine only stretches: no two logins less than 2 s apart, and
    every request sent 2 s after the last login's request ended logs in
    again."""
    local, _target, _relay, wire = federation
    interval = 2
    conf = dict(local.filters['forwarder'])
    local.set_filter_conf('forwarder', dict(
        conf, token_refresh_interval=str(interval)))
    try:
        owner = Client(local, 'test:tester', 'testing')
        logins = len(_auth_requests(wire))
        seen = []  # (sent, returned, logins on the wire for it)
        deadline = time.monotonic() + 15 * interval
        while sum(n for _s, _r, n in seen) < 4 and \
                time.monotonic() < deadline:
            sent = time.monotonic()
            status, _h, _b = owner('HEAD', '/' + container)
            returned = time.monotonic()
            assert status == 204, status
            now = len(_auth_requests(wire))
            seen.append((sent, returned, now - logins))
            logins = now
            time.sleep(interval / 8)
    finally:
        local.set_filter_conf('forwarder', conf)
    assert all(n in (0, 1) for _s, _r, n in seen), seen
    renewing = [i for i, (_s, _r, n) in enumerate(seen) if n]
    print('\ntoken_refresh_interval %d: %d requests, logins in requests '
          'sent at %s s' % (interval, len(seen), ', '.join(
              '%.2f' % (seen[i][0] - seen[0][0]) for i in renewing)))
    # the first request of the restarted worker logs in, then 3 renewals
    assert renewing[0] == 0 and len(renewing) == 4, seen
    for last, i in zip(renewing, renewing[1:]):
        # a login happens between its request's sending and its end
        assert seen[i][1] - seen[last][0] >= interval, (last, i, seen)
        # nothing sent well after the last login's request logged in
        assert all(sent - seen[last][1] < interval
                   for sent, _r, _n in seen[last + 1:i]), (last, i, seen)
    assert all(sent - seen[renewing[-1]][1] < interval
               for sent, _r, _n in seen[renewing[-1] + 1:]), seen


@pytest.mark.parametrize('name', ['//realm1/target', 'mirror'])
def test_container_opt_in(federation, name):
    """A container's owner sets X-Container-Meta-Forward-To on the local
    container: its objects and listing go to that target (a realm cluster
    or a targets_conf one), the container itself stays local."""
    local, target, relay, _wire = federation
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
    local, _target, _relay, _wire = federation
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

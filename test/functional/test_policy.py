# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Routing by storage policy: a local container created with
``X-Storage-Policy: silver`` has its objects and listings on the target
(``[target:east]`` of a targets_conf: ``storage_policies = silver``), its
ACLs and metadata locally.  The local cluster's silver policy has the
harness's one-device placeholder ring: nothing may land in it."""

import json
import os
import uuid

import pytest

from test.functional.test_core import CORE, KEY
from test.functional.util import Client, on_target

SECTION = ('[target:east]\ntarget_url = %s\nstorage_policies = silver\n'
           'target_storage_policy = %s\nbackend_endpoint = true\n'
           'backend_key = %s\n')


def _targets_conf(local, target, target_policy='silver'):
    path = os.path.join(local.etc_dir, 'forwarder-targets.conf')
    with open(path, 'w') as f:
        f.write(SECTION % (target.backend_url, target_policy, KEY))
    return path


@pytest.fixture(scope='module')
def policy(clusters):
    """Core placement (as test_core), plus the east target by policy."""
    local, target = clusters
    normal, before = dict(local.filters['forwarder']), local.pipeline_before
    target.start_backend({'key': KEY})
    local.pipeline_before = 'proxy-server'
    conf = dict(normal, target_url=target.backend_url,
                auth_url=target.auth_url,
                targets_conf=_targets_conf(local, target), **CORE)
    local.set_filter_conf('forwarder', conf)
    yield local, target, conf
    local.pipeline_before = before
    local.set_filter_conf('forwarder', normal)
    target.stop_backend()


@pytest.fixture
def container(policy):
    local, target, _conf = policy
    owner = Client(local, 'test:tester', 'testing')
    name = 'pol-%s' % uuid.uuid4().hex[:8]
    status, _h, body = owner('PUT', '/' + name, {'X-Storage-Policy': 'silver'})
    assert status == 201, body
    yield name
    for _round in range(3):
        status, _h, body = on_target(target, 'GET', '/%s?format=json' % name)
        for entry in json.loads(body) if status == 200 else []:
            on_target(target, 'DELETE', '/%s/%s' % (name, entry['name']))
    owner('DELETE', '/' + name)
    on_target(target, 'DELETE', '/' + name)


def _local_objects(local):
    """Files under the local object server's policy-1 (silver) directory."""
    found = []
    for root, _dirs, files in os.walk(os.path.join(local.devices, 'd1',
                                                   'objects-1')):
        found.extend(os.path.join(root, name) for name in files)
    return found


def test_objects_and_listings_on_the_target(policy, container):
    """The container is local (account listing, HEAD with the target's
    counts); its twin on the target has target_storage_policy; objects and
    listings are the target's, and nothing lands in the placeholder ring."""
    local, target, _conf = policy
    owner = Client(local, 'test:tester', 'testing')
    _s, _h, body = owner('GET', '?format=json')
    assert container in [c['name'] for c in json.loads(body)]
    status, head, _b = on_target(target, 'HEAD', '/' + container)
    assert (status, head['x-storage-policy']) == (204, 'silver')
    for i, data in enumerate((b'hello', b'world!')):
        assert owner('PUT', '/%s/o%d' % (container, i), body=data)[0] == 201
        assert on_target(target, 'GET', '/%s/o%d' % (container, i))[2] == data
        assert owner('GET', '/%s/o%d' % (container, i))[2] == data
    status, _h, body = owner('GET', '/%s?format=json' % container)
    assert [e['name'] for e in json.loads(body)] == ['o0', 'o1']
    assert owner('GET', '/' + container)[2] == b'o0\no1\n'  # listing_formats
    status, head, _b = owner('HEAD', '/' + container)
    assert status == 204 and head['x-storage-policy'] == 'silver'
    assert (head['x-container-object-count'],
            head['x-container-bytes-used']) == ('2', '11')
    assert _local_objects(local) == []


def test_local_acls_and_metadata_govern(policy, container):
    """A reader gets the local auth's 403 until the local container's ACL
    lets it in; metadata and ACLs stay local, the twin has none of them."""
    local, target, _conf = policy
    owner = Client(local, 'test:tester', 'testing')
    reader = Client(local, 'test:tester3', 'testing3')
    assert owner('PUT', '/%s/o' % container, body=b'data')[0] == 201
    assert reader('GET', '/%s/o' % container)[0] == 403
    assert reader('GET', '/%s?format=json' % container)[0] == 403
    status, _h, _b = owner('POST', '/' + container, {
        'X-Container-Read': 'test:tester3', 'X-Container-Meta-Color': 'blue'})
    assert status == 204
    assert reader('GET', '/%s/o' % container)[2] == b'data'
    assert reader('GET', '/%s?format=json' % container)[0] == 200
    assert reader('PUT', '/%s/x' % container, body=b'no')[0] == 403
    _s, head, _b = owner('HEAD', '/' + container)
    assert head['x-container-meta-color'] == 'blue'
    assert head['x-container-read'] == 'test:tester3'
    _s, twin, _b = on_target(target, 'HEAD', '/' + container)
    assert 'x-container-read' not in twin
    assert 'x-container-meta-color' not in twin


def test_delete_acts_on_both(policy, container):
    """A non-empty twin: Swift's 409, and nothing is deleted locally; a
    non-owner's DELETE is refused before the target sees it; once empty,
    both go."""
    local, target, _conf = policy
    owner = Client(local, 'test:tester', 'testing')
    reader = Client(local, 'test:tester3', 'testing3')
    assert owner('PUT', '/%s/o' % container, body=b'data')[0] == 201
    status, _h, body = owner('DELETE', '/' + container)
    assert status == 409 and b'conflict' in body
    assert owner('HEAD', '/' + container)[0] == 204
    assert owner('DELETE', '/%s/o' % container)[0] == 204
    assert reader('DELETE', '/' + container)[0] == 403
    assert on_target(target, 'HEAD', '/' + container)[0] == 204
    assert owner('DELETE', '/' + container)[0] == 204
    assert owner('HEAD', '/' + container)[0] == 404
    assert on_target(target, 'HEAD', '/' + container)[0] == 404


def test_post_recreates_a_missing_twin(policy, container):
    local, target, _conf = policy
    owner = Client(local, 'test:tester', 'testing')
    assert on_target(target, 'DELETE', '/' + container)[0] == 204
    assert owner('POST', '/' + container,
                 {'X-Container-Meta-Color': 'red'})[0] == 204
    status, head, _b = on_target(target, 'HEAD', '/' + container)
    assert (status, head['x-storage-policy']) == (204, 'silver')


def test_twin_refused_undoes_the_local_put(policy):
    """The target refuses the twin (a target_storage_policy it does not
    have): 502 naming the target, and no local container is left."""
    local, target, conf = policy
    owner = Client(local, 'test:tester', 'testing')
    local.set_filter_conf('forwarder', dict(conf, targets_conf=_targets_conf(
        local, target, target_policy='bronze')))
    try:
        name = 'pol-%s' % uuid.uuid4().hex[:8]
        status, _h, body = owner('PUT', '/' + name,
                                 {'X-Storage-Policy': 'silver'})
        assert status == 502 and body.startswith(b'Target east: PUT of the '
                                                 b'target container got 400')
        assert owner('HEAD', '/' + name)[0] == 404
        assert on_target(target, 'HEAD', '/' + name)[0] == 404
    finally:
        local.set_filter_conf('forwarder', dict(
            conf, targets_conf=_targets_conf(local, target)))

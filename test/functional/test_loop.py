# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Two clusters forwarding to each other: the loop guard answers 508 after
one round, instead of a request storm."""

import time

import pytest

from test.functional.util import Api


def _count_lines(path):
    with open(path) as f:
        return sum(1 for _line in f)


@pytest.fixture(scope='module')
def loop(clusters):
    """The target forwards everything back to the local cluster."""
    local, target = clusters
    normal = dict(local.filters['forwarder'])
    local.set_filter_conf('forwarder', dict(normal, forwarder_id='local-fwd'))
    target.pipeline_before = 'listing_formats'
    target.set_filter_conf('forwarder', {
        'target_url': local.proxy_url, 'forwarder_id': 'target-fwd'})
    yield local, target
    del target.filters['forwarder']
    target.restart_proxy()
    local.set_filter_conf('forwarder', normal)


def test_loop_gives_508_after_one_round(loop):
    """local -> target -> local: the local forwarder sees its own id in
    X-Forwarder-Hops and answers 508, which travels back; each proxy saw
    the request no more often than one round needs."""
    local, target = loop
    api = Api(local, target)
    local_log, target_log = local.log_path('proxy'), target.log_path('proxy')
    before = _count_lines(local_log), _count_lines(target_log)
    status, _headers, body = api.via('GET', '/some-container')
    assert status == 508
    assert b'already passed through forwarder local-fwd' in body
    time.sleep(0.5)  # access log lines are written as requests end
    # local: the client's request and the looped one; target: one; each
    # a proxy-logging line and a forwarder line
    assert _count_lines(local_log) - before[0] == 2 * 2
    assert _count_lines(target_log) - before[1] == 1 * 2
    with open(local_log) as f:
        refusals = [line for line in f if ' 508 ' in line and 'Loop detected' in line]
    assert refusals and 'forwarded to default: GET ' in refusals[-1]


def test_max_hops(loop):
    """A request that already passed max_hops forwarders gets 508 at once."""
    local, target = loop
    api = Api(local, target)
    status, _headers, body = api.via('GET', '', {
        'X-Forwarder-Hops': 'a, b, c'})
    assert status == 508
    assert b'more than 3 forwarder hops' in body

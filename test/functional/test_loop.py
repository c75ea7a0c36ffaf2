# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Two clusters forwarding to each other: the loop guard answers 508 after
one round, instead of a request storm."""

import pytest

from test.functional.rawhttp import wait_for
from test.functional.util import Api, request


def _lines(path):
    with open(path) as f:
        return f.readlines()


def _logged_since(cluster, before, count):
    """The lines of ``cluster``'s proxy log after its first ``before``,
    once there are ``count``, and once a marker request sent after them (a
    ``GET /info``, answered by the proxy itself) is logged too: access log
    lines are written as requests end, so what an earlier request still
    had to log is there by then.  The marker's own line is left out."""
    path = cluster.log_path('proxy')
    wait_for(lambda: len(_lines(path)) - before >= count, 10, 0.05)
    status, headers, _body = request(cluster.proxy_url, 'GET', '/info')
    assert status == 200
    marker = headers['x-trans-id']
    assert wait_for(lambda: any(marker in line for line in
                                _lines(path)[before:]), 10, 0.05)
    return [line for line in _lines(path)[before:] if marker not in line]


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
    before = {cluster: len(_lines(cluster.log_path('proxy')))
              for cluster in (local, target)}
    status, _headers, body = api.via('GET', '/some-container')
    assert status == 508
    assert b'already passed through forwarder local-fwd' in body
    # local: the client's request and the looped one; target: one; each
    # a proxy-logging line and a forwarder line
    local_lines = _logged_since(local, before[local], 2 * 2)
    target_lines = _logged_since(target, before[target], 1 * 2)
    assert len(local_lines) == 2 * 2, local_lines
    assert len(target_lines) == 1 * 2, target_lines
    refusals = [line for line in local_lines
                if ' 508 ' in line and 'Loop detected' in line]
    assert refusals and 'forwarded to default: GET ' in refusals[-1]


def test_max_hops(loop):
    """A request that already passed max_hops forwarders gets 508 at once."""
    local, target = loop
    api = Api(local, target)
    status, _headers, body = api.via('GET', '', {
        'X-Forwarder-Hops': 'a, b, c'})
    assert status == 508
    assert b'more than 3 forwarder hops' in body

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make bench`` (second part): a cross-cluster SLO in the core placement.

Starts two Swift dev clusters, the local one with the forwarder right before
proxy-server (core placement) and the target with a backend endpoint, then
GETs one SLO two ways, alternating (and rotating the order every
repetition):

* ``cross``:  the manifest in a local container, its segments in a container
  forwarded to the target: client -> local proxy (Swift's slo) -> one
  forwarded segment GET after another -> the target's backend endpoint;
* ``direct``: the same segments, under a manifest on the target, read
  directly from the target's proxy (its own slo).

Writes ``bench/results/core.{md,json}`` (``--quick``: ``core-quick.*``).
Run from the repository root: ``python -m bench.core [--quick] [--reps N]``.
"""

import argparse
import json
import os
import sys

from bench import cells, client, stats
from swift_forwarder.testing import saio

PATHS = ('cross', 'direct')
KEY = 'bench-backend-key'
#: The local account AUTH_test maps onto AUTH_test2 on the target; segment
#: containers seg-* are forwarded there.
CORE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
        'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
        'forward': 'AUTH_test/seg-*', 'backend_endpoint': 'true',
        'backend_key': KEY}
SEGMENT_MIB = 16
PROFILES = {'full': {'reps': 9, 'size_mib': 256},
            'quick': {'reps': 2, 'size_mib': 64}}
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.core',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='development run: 2 reps, 64 MiB')
    parser.add_argument('--reps', type=int, help='repetitions (default 9)')
    parser.add_argument('--size-mib', type=int,
                        help='SLO size, a multiple of %d (default 256)' % SEGMENT_MIB)
    parser.add_argument('--out', default=RESULTS_DIR, help='results directory')
    args = parser.parse_args(argv)
    for key, value in PROFILES['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.reps < 1 or args.size_mib < SEGMENT_MIB or args.size_mib % SEGMENT_MIB:
        parser.error('--reps must be positive, --size-mib a multiple of %d' % SEGMENT_MIB)
    args.name = 'core-quick' if args.quick else 'core'
    return args


def setup(local, target, size_mib):
    """Segments on the target (in the container the local account's seg-* maps to),
    one manifest locally, one on the target.  Returns {path: (endpoint, object path)}."""
    _url, local_token = local.get_auth()
    _url, target_token = target.get_auth('test2:tester2', 'testing2')
    cross = client.Endpoint(local.proxy_url, '/v1/AUTH_test', local_token)
    direct = client.Endpoint(target.proxy_url, '/v1/AUTH_test2', target_token)
    for endpoint, container in ((direct, 'seg-bench'), (direct, 'man-bench'),
                                (cross, 'man-bench')):
        cells.setup_request(endpoint, 'PUT', endpoint.path(container))
    manifest = []
    for i in range(size_mib // SEGMENT_MIB):
        name = 'seg-%03d' % i
        client.big_put(direct, direct.path('seg-bench', name), SEGMENT_MIB * stats.MIB)
        manifest.append({'path': '/seg-bench/' + name})
    body = json.dumps(manifest).encode('ascii')
    for endpoint in (cross, direct):
        cells.setup_request(endpoint, 'PUT', endpoint.path('man-bench', 'slo') +
                            '?multipart-manifest=put', body)
    return {'cross': (cross, cross.path('man-bench', 'slo')),
            'direct': (direct, direct.path('man-bench', 'slo'))}


def measure(args, objects):
    """MiB/s of each path per repetition, and the paired ratios."""
    size = args.size_mib * stats.MIB
    for endpoint, path in objects.values():  # warm up: pools, caches
        client.big_get(endpoint, path, size)
    rates = {path: [] for path in PATHS}
    for rep in range(args.reps):
        for path in PATHS[rep % 2:] + PATHS[:rep % 2]:
            seconds = client.big_get(*objects[path], size)
            rates[path].append(args.size_mib / seconds)
            cells.say('rep %d %-6s %.1f MiB/s', rep + 1, path, rates[path][-1])
    ratios = [c / d for c, d in zip(rates['cross'], rates['direct'])]
    return {'rates': rates, 'ratios': ratios,
            'median': {path: stats.median(values) for path, values in rates.items()},
            'ratio': stats.median(ratios)}


def markdown(result, meta, args):
    med, rates = result['median'], result['rates']
    cell = 'SLO GET %d MiB, %d MiB segments' % (args.size_mib, SEGMENT_MIB)
    return '\n'.join([
        '# swift_forwarder benchmark: a cross-cluster SLO (core placement)', '',
        '*cross*: client -> local Swift proxy (slo, the forwarder right before '
        'proxy-server) -> each segment forwarded to the target\'s backend endpoint; '
        'the manifest is local, the segments on the target.  *direct*: client -> the '
        'target\'s proxy, the same segments under a manifest stored there.  Each proxy '
        'runs 1 worker; everything on 127.0.0.1; the two paths alternate, order '
        'rotated every repetition.  Default forwarder options (verify_get on: every '
        'segment is checked against its ETag).', '',
    ] + cells.machine_table(meta, '%d repetitions' % args.reps) + [
        '| MiB/s | cross | direct | cross/direct |', '| --- | ---: | ---: | ---: |',
        '| %s | %.1f (%.0f-%.0f) | %.1f (%.0f-%.0f) | %.2f |' % (
            cell, med['cross'], min(rates['cross']), max(rates['cross']),
            med['direct'], min(rates['direct']), max(rates['direct']),
            result['ratio']), '',
        'Median over repetitions (min-max); the ratio is the median of the '
        'per-repetition ratios.', ''])


def run(args, workdir):
    local, target = saio.start_pair(workdir, {'healthcheck_path': '/forwarder/healthcheck'})
    try:
        target.start_backend({'key': KEY})
        local.pipeline_before = 'proxy-server'
        local.set_filter_conf('forwarder', dict(
            local.filters['forwarder'], target_url=target.backend_url,
            auth_url=target.auth_url, **CORE))
        cells.say('target %s (backend %s), local (core placement) %s',
                  target.proxy_url, target.backend_url, local.proxy_url)
        return measure(args, setup(local, target, args.size_mib))
    finally:
        local.stop()
        target.stop()


def main(argv=None):
    return cells.main(parse_args(argv), run, markdown, 'swift-forwarder-bench-core-')


if __name__ == '__main__':
    sys.exit(main())

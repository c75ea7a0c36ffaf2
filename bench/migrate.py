# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make bench`` (third part): migration mode, read-through and merged listings.

Starts two Swift dev clusters: the *source* (the old cluster) with a backend endpoint,
and the local (new) one with the forwarder in core placement, migrating ``AUTH_test/mig*``
from the source.  Each cell runs two ways, alternating (order rotated every repetition):

* ``migrating``: client -> local proxy -> a local miss -> the source's backend endpoint
  (object GETs read through; a listing is the merge of the local page and the source's);
* ``direct``: the same request straight to the source's proxy.

Cells: read-through GET of a 4 KiB object (requests/s, one client, keep-alive) and of a
256 MiB one (MiB/s), with the default ``verify_get``; a container listing of 2,000
names, 1,000 on each side, against the source listing its 1,000 directly (listings/s).
``migrate_on_read`` is off: every GET reads through.

Writes ``bench/results/migrate.{md,json}`` (``--quick``: ``migrate-quick.*``).
Run from the repository root: ``python -m bench.migrate [--quick] [--reps N]``.
"""

import argparse
import os
import sys
import time

from bench import cells, client, stats
from swift_forwarder.testing import saio

PATHS = ('migrating', 'direct')
KEY = 'bench-backend-key'
SECTION = '''[target:old]
target_url = %s
auth_url = %s
account_map = AUTH_test:AUTH_test2
backend_endpoint = true
backend_key = %s
migrate = AUTH_test/mig*
'''
SERVICE = {'auth_mode': 'service', 'auth_user': 'test2:tester2', 'auth_key': 'testing2'}
NAMES_PER_SIDE = 1000
SMALL = 4096
PROFILES = {'full': {'reps': 9, 'size_mib': 256, 'duration': 2.0},
            'quick': {'reps': 2, 'size_mib': 64, 'duration': 1.0}}
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.migrate',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='development run: 2 reps, 64 MiB, 1 s cells')
    parser.add_argument('--reps', type=int, help='repetitions (default 9)')
    parser.add_argument('--size-mib', type=int, help='big object size (default 256)')
    parser.add_argument('--duration', type=float, help='seconds per small cell (default 2)')
    parser.add_argument('--out', default=RESULTS_DIR, help='results directory')
    args = parser.parse_args(argv)
    for key, value in PROFILES['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.reps < 1 or args.size_mib < 1 or args.duration <= 0:
        parser.error('--reps, --size-mib and --duration must be positive')
    args.name = 'migrate-quick' if args.quick else 'migrate'
    return args


def setup(local, source, size_mib):
    """The objects on the source, half the listing's names on each side.
    Returns {path: endpoint}."""
    _url, local_token = local.get_auth()
    _url, source_token = source.get_auth('test2:tester2', 'testing2')
    migrating = client.Endpoint(local.proxy_url, '/v1/AUTH_test', local_token)
    direct = client.Endpoint(source.proxy_url, '/v1/AUTH_test2', source_token)
    for container in ('mig-objects', 'mig-listing'):
        cells.setup_request(direct, 'PUT', direct.path(container))
    cells.setup_request(direct, 'PUT', direct.path('mig-objects', 'small'), os.urandom(SMALL))
    client.big_put(direct, direct.path('mig-objects', 'big'), size_mib * stats.MIB)
    names = ['name-%05d' % i for i in range(2 * NAMES_PER_SIDE)]
    for endpoint, half in ((direct, names[0::2]), (migrating, names[1::2])):
        cells.setup_request(endpoint, 'PUT', endpoint.path('mig-listing') +
                            '?extract-archive=tar', saio.tiny_tar(half))
    return {'migrating': migrating, 'direct': direct}


def _small_rate(endpoint, path, duration, expect_bytes):
    """Requests/s of serial GETs of ``path`` on one keep-alive connection."""
    conn = endpoint.connect()
    buf = memoryview(bytearray(1 << 20))
    try:
        count, start = 0, time.monotonic()
        while time.monotonic() - start < duration:
            got = client.request(conn, 'GET', path, endpoint.token, buf=buf)
            if expect_bytes is not None and got != expect_bytes:
                raise client.BenchError('GET %s: %d bytes' % (path, got))
            count += 1
        return count / (time.monotonic() - start)
    finally:
        conn.close()


def measure(args, endpoints):
    size = args.size_mib * stats.MIB
    workloads = {
        'GET 4 KiB (req/s)': lambda e: _small_rate(
            e, e.path('mig-objects', 'small'), args.duration, SMALL),
        'GET %d MiB (MiB/s)' % args.size_mib: lambda e: args.size_mib / client.big_get(
            e, e.path('mig-objects', 'big'), size),
        'listing, 1,000 names a side (listings/s)': lambda e: _small_rate(
            e, e.path('mig-listing') + '?format=json', args.duration, None),
    }
    for endpoint in endpoints.values():  # warm up: pools, token and info caches
        for run in workloads.values():
            run(endpoint)
    result = {}
    for cell, run in workloads.items():
        rates = {path: [] for path in PATHS}
        for rep in range(args.reps):
            for path in PATHS[rep % 2:] + PATHS[:rep % 2]:
                rates[path].append(run(endpoints[path]))
                cells.say('%s rep %d %-9s %.1f', cell, rep + 1, path, rates[path][-1])
        ratios = [m / d for m, d in zip(rates['migrating'], rates['direct'])]
        result[cell] = {'rates': rates, 'ratios': ratios,
                        'median': {p: stats.median(v) for p, v in rates.items()},
                        'ratio': stats.median(ratios)}
    return result


def markdown(result, meta, args):
    lines = [
        '# swift_forwarder benchmark: migration mode', '',
        '*migrating*: client -> the new cluster\'s proxy (the forwarder in core placement, '
        'migrating from the source) -> a local miss -> the source\'s backend endpoint: an '
        'object GET reads through; a listing merges the local page with the source\'s.  '
        '*direct*: the same request to the source\'s own proxy (its listing has its '
        '1,000 names; the merged one has 2,000).  Each proxy runs 1 worker; everything on '
        '127.0.0.1; the two paths alternate, order rotated every repetition; default '
        'options (verify_get on), migrate_on_read off.', '',
    ] + cells.machine_table(meta, '%d repetitions, %.0f s per small cell' % (
        args.reps, args.duration)) + [
        '| cell | migrating | direct | migrating/direct |', '| --- | ---: | ---: | ---: |']
    for cell, data in result.items():
        med, rates = data['median'], data['rates']
        lines.append('| %s | %.1f (%.3g-%.3g) | %.1f (%.3g-%.3g) | %.2f |' % (
            cell, med['migrating'], min(rates['migrating']), max(rates['migrating']),
            med['direct'], min(rates['direct']), max(rates['direct']), data['ratio']))
    lines += ['', 'Median over repetitions (min-max); the ratio is the median of the '
              'per-repetition ratios.', '']
    return '\n'.join(lines)


def run(args, workdir):
    local, source = saio.start_pair(workdir, {'healthcheck_path': '/forwarder/healthcheck'})
    try:
        source.start_backend({'key': KEY})
        targets_conf = os.path.join(local.etc_dir, 'forwarder-targets.conf')
        with open(targets_conf, 'w') as f:
            f.write(SECTION % (source.backend_url, source.auth_url, KEY))
        conf = {name: value for name, value in local.filters['forwarder'].items()
                if name != 'target_url'}
        local.pipeline_before = 'proxy-server'
        local.set_filter_conf('forwarder', dict(conf, auth_url=source.auth_url,
                                                targets_conf=targets_conf, **SERVICE))
        cells.say('source %s (backend %s), local (migrating) %s',
                  source.proxy_url, source.backend_url, local.proxy_url)
        return measure(args, setup(local, source, args.size_mib))
    finally:
        local.stop()
        source.stop()


def main(argv=None):
    return cells.main(parse_args(argv), run, markdown, 'swift-forwarder-bench-migrate-')


if __name__ == '__main__':
    sys.exit(main())

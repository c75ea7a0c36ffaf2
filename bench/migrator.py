# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The migrator's throughput: ``swift-forwarder-migrate`` against the
``swift`` CLI downloading the same objects from the source and uploading
them into the local cluster.

Starts a *source* cluster with a backend endpoint and a *local* cluster
whose proxy-server.conf has the forwarder with ``migrate`` rules, then for
each cell (many 4 KiB objects; a few 64 MiB objects) in a container of its
own:

* ``migrator``: ``swift-forwarder-migrate`` (8 workers) copies the
  container: reads through the source's backend endpoint, writes with its
  in-process InternalClient, every byte MD5-checked;
* ``swift-cli``: ``swift download`` of the container from the source's
  proxy into a temporary directory, then ``swift upload`` of it into
  the local cluster (8 object threads each; swiftclient checks MD5s too).

Reported per cell and path: MiB/s and objects/s (wall time of the
command), and the CPU seconds of the command's process per GiB moved (the
clusters' own CPU is not counted: both paths make the same cluster
requests, save the migrator's reads going to the backend endpoint).

Writes ``bench/results/migrator.{md,json}`` (``--quick``:
``migrator-quick.*``).  Run from the repository root: ``python -m
bench.migrator [--quick]``.
"""

import argparse
import configparser
import io
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time

from bench import cells
from swift_forwarder.testing import saio

KEY = 'bench-backend-key'
MIB = 1 << 20
PROFILES = {'full': {'small_count': 2000, 'big_count': 4},
            'quick': {'small_count': 300, 'big_count': 2}}
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
BIN = os.path.dirname(sys.executable)
WORKERS = 8


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.migrator',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='development run: 300 small, 2 big objects')
    parser.add_argument('--small-count', type=int)
    parser.add_argument('--big-count', type=int)
    parser.add_argument('--out', default=RESULTS_DIR)
    args = parser.parse_args(argv)
    for key, value in PROFILES['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.name = 'migrator-quick' if args.quick else 'migrator'
    return args


def _call(cluster, method, path, headers=None, body=None, timeout=900):
    import http.client
    _url, token = cluster.get_auth()
    conn = http.client.HTTPConnection('127.0.0.1', cluster.ports['proxy'],
                                      timeout=timeout)
    try:
        conn.request(method, '/v1/AUTH_test' + path, body=body,
                     headers=dict(headers or {}, **{'X-Auth-Token': token}))
        resp = conn.getresponse()
        data = resp.read()
        if resp.status // 100 != 2:
            raise RuntimeError('%s %s: %d %r' % (method, path, resp.status,
                                                 data[:200]))
        return data
    finally:
        conn.close()


def setup(source, args):
    """workloads: {name: (container, count, bytes each)} on the source."""
    workloads = {'4 KiB': ('small', args.small_count, 4096),
                 '64 MiB': ('big', args.big_count, 64 * MIB)}
    for container, count, size in workloads.values():
        _call(source, 'PUT', '/' + container)
        if size <= 4096:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode='w') as tar:
                for i in range(count):
                    info = tarfile.TarInfo('o%06d' % i)
                    info.size = size
                    tar.addfile(info, io.BytesIO(os.urandom(size)))
            _call(source, 'PUT', '/%s?extract-archive=tar' % container,
                  body=buf.getvalue())
        else:
            for i in range(count):
                _call(source, 'PUT', '/%s/o%06d' % (container, i),
                      body=os.urandom(size))
    return workloads


def _timed(argv, **kwargs):
    """(wall seconds, CPU seconds of the child) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime +
                  after.ru_stime - before.ru_stime)


def migrator_conf(local, workdir, container):
    parser = configparser.RawConfigParser()
    parser.read(local._conf_path('proxy'))
    parser.set('filter:forwarder', 'migrate', 'AUTH_test/' + container)
    path = os.path.join(workdir, 'migrate-%s.conf' % container)
    with open(path, 'w') as f:
        parser.write(f)
    return path


def measure(source, local, workdir, workloads):
    results = {}
    for cell, (container, count, size) in workloads.items():
        total = count * size
        wall, cpu = _timed([os.path.join(BIN, 'swift-forwarder-migrate'),
                            migrator_conf(local, workdir, container),
                            '--no-progress', '--workers', str(WORKERS)],
                           stderr=subprocess.DEVNULL)
        results[(cell, 'migrator')] = (wall, cpu)
        cells.say('%s migrator: %.1f s, %.1f MiB/s', cell, wall, total / MIB / wall)
        down = os.path.join(workdir, 'download-' + container)
        os.makedirs(down)
        cli = [os.path.join(BIN, 'swift'), '-q', '-U', 'test:tester',
               '-K', 'testing']
        wall_d, cpu_d = _timed(cli + ['-A', source.auth_url, 'download',
                                      container, '-D', down,
                                      '--object-threads', str(WORKERS)])
        wall_u, cpu_u = _timed(cli + ['-A', local.auth_url, 'upload',
                                      'cli-' + container, '.',
                                      '--object-threads', str(WORKERS)],
                               cwd=down)
        shutil.rmtree(down)
        results[(cell, 'swift-cli')] = (wall_d + wall_u, cpu_d + cpu_u)
        cells.say('%s swift CLI: %.1f s (download %.1f, upload %.1f), %.1f MiB/s',
                  cell, wall_d + wall_u, wall_d, wall_u,
                  total / MIB / (wall_d + wall_u))
    table = []
    for cell, (container, count, size) in workloads.items():
        for path in ('migrator', 'swift-cli'):
            wall, cpu = results[(cell, path)]
            gib = count * size / float(1 << 30)
            table.append({'cell': cell, 'path': path, 'objects': count,
                          'mib': count * size / MIB, 'seconds': wall,
                          'mib_s': count * size / MIB / wall,
                          'objects_s': count / wall, 'cpu_s': cpu,
                          'cpu_s_per_gib': cpu / gib})
    return table


def markdown(table, meta):
    lines = [
        '# swift_forwarder benchmark: the migrator', '',
        '*migrator*: `swift-forwarder-migrate` (%d workers) reading the '
        "source's backend endpoint and writing through its in-process "
        'InternalClient.  *swift-cli*: `swift download` from the source, '
        'then `swift upload` to the local cluster (%d object threads '
        'each).  Two dev clusters on 127.0.0.1, proxies with 1 worker; '
        "CPU is the command's own process (user + system), not the "
        "clusters': the migrator's includes the local proxy-server's share "
        "(its InternalClient runs one in-process), which for the CLI is "
        "the local proxy's own process, not counted." % (WORKERS, WORKERS),
        '',
        '| | |', '| --- | ---: |',
        '| date | %s |' % meta['date'], '| cores | %s |' % meta['cores'],
        '| swift | %s |' % meta['swift'],
        '| swift_forwarder | %s (commit %s) |' % (meta['swift_forwarder'],
                                                  meta['commit']),
        '| load average before / after | %s / %s |' % (
            ' '.join('%.2f' % v for v in meta['load_before']),
            ' '.join('%.2f' % v for v in meta['load_after'])), '',
        '| objects | path | count | MiB | seconds | MiB/s | objects/s | '
        'CPU s | CPU s per GiB |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for row in table:
        lines.append('| %(cell)s | %(path)s | %(objects)d | %(mib).0f | '
                     '%(seconds).1f | %(mib_s).1f | %(objects_s).1f | '
                     '%(cpu_s).1f | %(cpu_s_per_gib).1f |' % row)
    lines += ['', 'One run per cell (a modest size: the migrator is '
              'measured end to end, listing and container setup included; '
              'the swift CLI\'s time is its download plus its upload).  '
              'Mind the load average: the machine was shared.', '']
    return '\n'.join(lines)


def run(args, workdir):
    source_base = saio.find_free_base()
    local_base = saio.find_free_base(avoid=[source_base])
    source = saio.SwiftCluster('source', workdir, source_base)
    local = saio.SwiftCluster('local', workdir, local_base, filters={
        'forwarder': {
            'target_url': 'http://127.0.0.1:%d' % (source_base + 5),
            'auth_mode': 'service', 'auth_url': source.auth_url,
            'auth_user': 'test:tester', 'auth_key': 'testing',
            'account_map': 'AUTH_test:AUTH_test', 'backend_endpoint': 'true',
            'backend_key': KEY, 'migrate': 'AUTH_test/none'}},
        pipeline_before='proxy-server')
    try:
        source.start()
        source.start_backend({'key': KEY})
        local.start()
        workloads = setup(source, args)
        return measure(source, local, workdir, workloads)
    finally:
        local.stop()
        source.stop()


def main(argv=None):
    return cells.main(parse_args(argv), run,
                      lambda table, meta, _args: markdown(table, meta),
                      'swift-forwarder-bench-migrator-')


if __name__ == '__main__':
    sys.exit(main())

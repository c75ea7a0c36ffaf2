# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make profile``: where the forwarder's CPU goes, with py-spy.

Starts the two dev clusters, runs one workload through the forwarder for a while and
samples the local proxy's worker with ``py-spy record`` meanwhile.  Prints the CPU
seconds the worker spent per GiB (big workloads) or per 1,000 requests (small ones),
and the functions with the most samples, by own time and including callees; with
``--out``, also writes py-spy's collapsed stacks there (for flamegraph tools).

    python -m bench.profile get-big [--seconds 15] [--option name=value ...]

Workloads: ``get-big``, ``put-big`` (256 MiB objects, one after another), ``get-small``,
``put-small`` (4 KiB, 16 connections) and ``head`` (one connection).  ``--option`` sets
forwarder options (e.g. ``client_chunk_size=131072``) to compare their cost.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

from bench import client, proc, stats
from swift_forwarder.testing import saio

WORKLOADS = ('get-big', 'put-big', 'get-small', 'put-small', 'head')
BIG = 256 * stats.MIB
SMALL = 4096


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.profile',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('workload', choices=WORKLOADS)
    parser.add_argument('--seconds', type=float, default=15.0)
    parser.add_argument('--option', action='append', default=[], metavar='NAME=VALUE',
                        help='a forwarder option for this run (repeatable)')
    parser.add_argument('--top', type=int, default=25, help='functions to list')
    parser.add_argument('--out', help='write py-spy collapsed stacks to this file')
    return parser.parse_args(argv)


def py_spy():
    here = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    return here if os.path.exists(here) else shutil.which('py-spy')


class Workload(threading.Thread):
    """Runs ``name`` through the forwarder until stopped; counts bytes and requests."""

    def __init__(self, name, endpoint, container):
        super().__init__(daemon=True)
        self.name, self.endpoint, self.container = name, endpoint, container
        self.bytes = self.requests = 0
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            if self.name.endswith('-big'):
                self._big()
            else:
                self._small()
        except Exception as err:  # reported by main
            self.error = err

    def _big(self):
        path = self.endpoint.path(self.container, 'big')
        while not self.done.is_set():
            if self.name == 'get-big':
                client.big_get(self.endpoint, path, BIG)
            else:
                client.big_put(self.endpoint, path, BIG)
            self.bytes += BIG
            self.requests += 1

    def _small(self):
        method = {'get-small': 'GET', 'put-small': 'PUT', 'head': 'HEAD'}[self.name]
        concurrency = 1 if method == 'HEAD' else 16
        paths = [self.endpoint.path(self.container, 'small-%d' % i
                                    if method == 'PUT' else 'small')
                 for i in range(concurrency)]
        while not self.done.is_set():
            load = client.Load(self.endpoint, method, paths, 2.0, 10 ** 9,
                               body=os.urandom(SMALL) if method == 'PUT' else None).run()
            if load.errors:
                raise client.BenchError(load.errors[0])
            self.requests += load.count


def top_functions(collapsed, count):
    """(own, total) Counters of samples per function from py-spy's collapsed stacks."""
    own, total, samples = collections.Counter(), collections.Counter(), 0
    with open(collapsed) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(' ')
            n = int(n)
            samples += n
            frames = [_short(frame) for frame in stack.split(';')]
            own[frames[-1]] += n
            for frame in set(frames):
                total[frame] += n
    return samples, own.most_common(count), total.most_common(count)


def _short(frame):
    """'read1 (eventlet/green/http/client.py:123)' -> 'read1 (http/client.py)'."""
    name, _, where = frame.partition(' (')
    where = where.rstrip(')').rsplit(':', 1)[0]
    return '%s (%s)' % (name, '/'.join(where.split('/')[-2:]))


def main(argv=None):
    args = parse_args(argv)
    spy = py_spy()
    if spy is None:
        print('bench.profile: py-spy not found (pip install py-spy)')
        return 2
    options = dict(option.split('=', 1) for option in args.option)
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-profile-')
    local, target = saio.start_pair(workdir, options)
    try:
        storage_url, token = target.get_auth()
        account = urllib.parse.urlsplit(storage_url).path
        direct = client.Endpoint(target.proxy_url, account, token)
        forwarded = client.Endpoint(local.proxy_url, account, token)
        container = 'profile-%s' % uuid.uuid4().hex[:8]
        conn = direct.connect()
        client.request(conn, 'PUT', direct.path(container), token, expect=(201, 202))
        client.request(conn, 'PUT', direct.path(container, 'small'), token,
                       body=os.urandom(SMALL), expect=(201,))
        conn.close()
        client.big_put(direct, direct.path(container, 'big'), BIG)
        pid = local.proxy_worker_pids()[0]
        work = Workload(args.workload, forwarded, container)
        work.start()
        time.sleep(1.0)  # warm pools and caches
        bytes0, requests0, cpu0 = work.bytes, work.requests, proc.cpu_seconds(pid)
        collapsed = args.out or os.path.join(workdir, 'stacks.txt')
        subprocess.run([spy, 'record', '--pid', str(pid), '--duration', str(int(args.seconds)),
                        '--rate', '200', '--format', 'raw', '--output', collapsed,
                        '--nonblocking'], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        cpu = proc.cpu_seconds(pid) - cpu0
        moved, requests = work.bytes - bytes0, work.requests - requests0
        work.done.set()
        work.join(60)
        if work.error is not None:
            raise work.error
        print('workload %s, options %s: %d requests, %.1f MiB, worker CPU %.2f s' % (
            args.workload, options or 'default', requests, moved / stats.MIB, cpu))
        if moved:
            print('  %.2f CPU s/GiB (of which the profile below shows the split)'
                  % (cpu / (moved / stats.GIB)))
        if requests:
            print('  %.2f CPU s per 1,000 requests' % (cpu / requests * 1000))
        samples, own, total = top_functions(collapsed, args.top)
        print('\n%d samples; own time:' % samples)
        for name, n in own:
            print('  %5.1f%%  %s' % (100.0 * n / samples, name))
        print('\nincluding callees:')
        for name, n in total:
            print('  %5.1f%%  %s' % (100.0 * n / samples, name))
        return 0
    finally:
        local.stop()
        target.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())

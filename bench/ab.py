# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make ab``: before/after pairs, in one run, of the forwarder's own CPU.

Each *variant* is a version of the forwarder's code (a git revision, or the work tree)
with forwarder options; each gets a local cluster of its own, all in front of one target
cluster.  Every workload then runs on every variant, back to back, the order rotated
each repetition, and the local proxy worker's CPU time (all its threads, from
``/proc/<pid>/task/*/schedstat``: nanoseconds, not clock ticks) is divided by the bytes or
requests it forwarded.  CPU time, not wall clock, decides: on a shared 2-core machine the
wall clock follows whatever else runs, a process's own CPU per byte much less.

    python -m bench.ab --variant before=HEAD~1 --variant after=WORKTREE \\
        [--variant big=WORKTREE:client_chunk_size=262144] [--cells get-big,get-small] \\
        [--reps 5] [--syscalls] [--out bench/results/ab-NAME.md]

``--syscalls`` also counts the worker's system calls and context switches per GiB or per
request (``perf stat`` tracepoints), which costs a little CPU of its own in every variant.
"""

import argparse
import collections
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import uuid

from bench import client, proc, stats
from swift_forwarder.testing import saio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = 4096
#: name: (method, big object?, concurrency, container: 'bench' (verify_get) or 'fast')
CELLS = collections.OrderedDict([
    ('get-big', ('GET', True, 1, 'bench')),
    ('get-fast', ('GET', True, 1, 'fast')),
    ('put-big', ('PUT', True, 1, 'bench')),
    ('get-small', ('GET', False, 16, 'bench')),
    ('put-small', ('PUT', False, 16, 'bench')),
    ('head', ('HEAD', False, 1, 'bench')),
    ('get-small-c1', ('GET', False, 1, 'bench')),
])
SYSCALLS = ('recvfrom', 'sendto', 'sendmsg', 'poll', 'epoll_wait', 'epoll_ctl', 'write', 'ioctl',
            'setsockopt', 'futex')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.ab',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', action='append', required=True,
                        metavar='NAME=REV[:OPT=VALUE,...]',
                        help='REV: a git revision, or WORKTREE (the files as they are)')
    parser.add_argument('--cells', default=','.join(CELLS),
                        help='comma-separated, of: %s' % ', '.join(CELLS))
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--size-mib', type=int, default=256, help='big object size')
    parser.add_argument('--big-count', type=int, default=2,
                        help='big objects per big cell and variant')
    parser.add_argument('--duration', type=float, default=2.0,
                        help='seconds per small cell and variant')
    parser.add_argument('--syscalls', action='store_true',
                        help='count system calls with perf stat')
    parser.add_argument('--out', help='also write the table to this markdown file')
    args = parser.parse_args(argv)
    args.cells = [c.strip() for c in args.cells.split(',') if c.strip()]
    unknown = [c for c in args.cells if c not in CELLS]
    if unknown:
        parser.error('unknown cell(s): %s' % ', '.join(unknown))
    args.variants = [_parse_variant(parser, v) for v in args.variant]
    return args


def _parse_variant(parser, text):
    name, sep, rest = text.partition('=')
    if not sep or not name:
        parser.error('--variant NAME=REV[:OPT=VALUE,...], got %r' % text)
    rev, _sep, opts = rest.partition(':')
    options = {}
    for item in filter(None, opts.split(',')):
        key, sep, value = item.partition('=')
        if not sep:
            parser.error('bad option %r in --variant %s' % (item, text))
        options[key] = value
    return name, rev, options


def export(rev, into):
    """The ``swift_forwarder`` package of git revision ``rev`` (or of the work tree,
    for WORKTREE) under ``into``; returns the directory to put on PYTHONPATH."""
    if rev == 'WORKTREE':
        return ROOT
    data = subprocess.run(['git', '-C', ROOT, 'archive', rev, 'swift_forwarder'],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into)
    return into


class CodeCluster(saio.SwiftCluster):
    """A dev cluster whose proxy imports swift_forwarder from ``code_root``."""

    def __init__(self, code_root, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.code_root = code_root

    def _spawn_server(self, server):
        env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=self.code_root)
        # -P: not the current directory first on sys.path (it may be a work tree)
        argv = [sys.executable, '-P', '-m', 'swift_forwarder.testing.saio', 'serve',
                os.path.join(self.etc_dir, 'swift.conf'), '%s-server' % server,
                self._conf_path(server)]
        self._procs[server] = saio._Process.spawn(server, argv, self.log_path(server), env)


class SyscallCounter(object):
    """``perf stat`` of a few tracepoints on one pid, between start() and stop()."""

    EVENTS = ','.join(['syscalls:sys_enter_%s' % s for s in SYSCALLS] +
                      ['sched:sched_switch'])

    def __init__(self, pid):
        self.pid = pid
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(['perf', 'stat', '-x,', '-e', self.EVENTS, '-p',
                                      str(self.pid)], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        time.sleep(0.3)  # attached
        return self

    def stop(self):
        self.proc.send_signal(2)
        _out, err = self.proc.communicate(timeout=30)
        counts = {}
        for line in err.splitlines():
            fields = line.split(',')
            if len(fields) > 2 and fields[0].strip().isdigit():
                counts[fields[2].split(':')[-1].replace('sys_enter_', '')] = int(fields[0])
        return counts


class AB(object):
    """The clusters and the cells."""

    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.size = args.size_mib * stats.MIB
        self.target = None
        self.locals = collections.OrderedDict()
        self.results = collections.defaultdict(lambda: collections.defaultdict(
            lambda: collections.defaultdict(list)))

    def start(self):
        base = saio.find_free_base()
        self.target = saio.SwiftCluster('target', self.workdir, base)
        self.target.start()
        bases = [base]
        storage_url, self.token = self.target.get_auth()
        self.account = urllib.parse.urlsplit(storage_url).path
        suffix = uuid.uuid4().hex[:8]
        self.containers = {'bench': 'bench-' + suffix, 'fast': 'fast-' + suffix}
        targets_conf = os.path.join(self.workdir, 'targets.conf')
        with open(targets_conf, 'w') as f:
            f.write('[target:fast]\ntarget_url = %s\nforward = %s/fast-*\n'
                    'verify_get = false\n' % (self.target.proxy_url,
                                              self.account.split('/')[2]))
        for name, rev, options in self.args.variants:
            code = export(rev, os.path.join(self.workdir, 'code-' + name))
            conf = dict(options, target_url=self.target.proxy_url,
                        targets_conf=targets_conf,
                        forward='%s/bench-*' % self.account.split('/')[2])
            port = saio.find_free_base(avoid=bases)
            bases.append(port)
            cluster = CodeCluster(code, 'local-' + name, self.workdir, port,
                                  filters={'forwarder': conf},
                                  pipeline_before='listing_formats')
            self.locals[name] = cluster
            cluster.start()
            print('variant %s: %s %s, %s' % (name, rev, options or '', cluster.proxy_url))
        self._setup_objects()

    def stop(self):
        for cluster in list(self.locals.values()) + [self.target]:
            if cluster is not None:
                cluster.stop()

    def endpoint(self, name=None):
        url = self.target.proxy_url if name is None else self.locals[name].proxy_url
        return client.Endpoint(url, self.account, self.token)

    def path(self, container, obj):
        return self.endpoint().path(self.containers[container], obj)

    def _setup_objects(self):
        direct = self.endpoint()
        conn = direct.connect()
        for container in self.containers.values():
            client.request(conn, 'PUT', direct.path(container), self.token,
                           expect=(201, 202))
        client.request(conn, 'PUT', self.path('bench', 'small'), self.token,
                       body=os.urandom(SMALL), expect=(201,))
        conn.close()
        for container in self.containers:
            client.big_put(direct, self.path(container, 'big'), self.size)
        for name in self.locals:  # warm up: pools, imports
            client.big_get(self.endpoint(name), self.path('bench', 'big'), self.size)
            self._small(name, 'GET', 16, 0.5, 'bench')

    def run(self):
        names = list(self.locals)
        for rep in range(self.args.reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for cell in self.args.cells:
                for name in order:
                    self.measure(cell, name)
            print('repetition %d of %d done' % (rep + 1, self.args.reps))

    def measure(self, cell, name):
        method, big, concurrency, container = CELLS[cell]
        pid = self.locals[name].proxy_worker_pids()[0]
        counter = SyscallCounter(pid).start() if self.args.syscalls else None
        cpu0, started = proc.cpu_ns(pid), time.perf_counter()
        if big:
            units = self._big(name, method, container)
        else:
            units = self._small(name, method, concurrency, self.args.duration, container)
        cpu, elapsed = (proc.cpu_ns(pid) - cpu0) / 1e9, time.perf_counter() - started
        entry = self.results[cell][name]
        entry['cpu'].append(cpu)
        entry['units'].append(units)
        entry['elapsed'].append(elapsed)
        if counter is not None:
            for key, count in counter.stop().items():
                entry['sys:' + key].append(count)

    def _big(self, name, method, container):
        ep = self.endpoint(name)
        for i in range(self.args.big_count):
            if method == 'GET':
                client.big_get(ep, self.path(container, 'big'), self.size)
            else:
                client.big_put(ep, self.path(container, 'put-big-%s' % name), self.size)
        return self.args.big_count * self.size

    def _small(self, name, method, concurrency, duration, container):
        ep = self.endpoint(name)
        if method == 'PUT':
            paths = [self.path(container, 'put-small-%s-%d' % (name, i))
                     for i in range(concurrency)]
            body = os.urandom(SMALL)
        else:
            paths, body = [self.path(container, 'small')] * concurrency, None
        load = client.Load(ep, method, paths, duration, 10 ** 9, body).run()
        if load.errors:
            raise client.BenchError('%s %s: %s' % (name, method, load.errors[0]))
        return load.count

    def table(self):
        names = list(self.locals)
        first = names[0]
        header = ['cell', 'unit'] + ['%s' % n for n in names] + [
            '%s/%s' % (n, first) for n in names[1:]] + ['rate ' + n for n in names]
        lines = ['| ' + ' | '.join(header) + ' |',
                 '|' + '---|' * 2 + '---:|' * (len(header) - 2)]
        for cell in self.args.cells:
            big = CELLS[cell][1]
            per = {n: self._per(cell, n, big) for n in names}
            rows = [('CPU s/GiB' if big else 'CPU ms/req', 'cpu')]
            rows += [(key[4:] + (' /GiB' if big else ' /req'), key)
                     for key in sorted(self.results[cell][first]) if key.startswith('sys:')]
            for label, key in rows:
                values = {n: per[n].get(key) for n in names}
                cells = [_fmt(values[n]) for n in names]
                ratios = ['%.3f' % (values[n] / values[first]) if values[first] else '-'
                          for n in names[1:]]
                rates = [self._rate(cell, n, big) if key == 'cpu' else '' for n in names]
                lines.append('| ' + ' | '.join([cell, label] + cells + ratios + rates) + ' |')
        return '\n'.join(lines)

    def _per(self, cell, name, big):
        """Medians over repetitions of each figure per GiB (big) or per request (small,
        CPU in ms)."""
        entry = self.results[cell][name]
        scale = (lambda units: units / stats.GIB) if big else (lambda units: units)
        out = {}
        for key, values in entry.items():
            if key in ('units', 'elapsed'):
                continue
            per = [v / scale(u) for v, u in zip(values, entry['units'])]
            out[key] = stats.median(per) * (1 if big or key != 'cpu' else 1000)
        return out

    def _rate(self, cell, name, big):
        entry = self.results[cell][name]
        rates = [u / e for u, e in zip(entry['units'], entry['elapsed'])]
        value = stats.median(rates)
        return '%.0f MiB/s' % (value / stats.MIB) if big else '%.0f req/s' % value


def _fmt(value):
    if value is None:
        return '-'
    return '%.3f' % value if value < 100 else '%.0f' % value


def main(argv=None):
    args = parse_args(argv)
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-ab-')
    ab = AB(args, workdir)
    load_before = os.getloadavg()
    try:
        ab.start()
        ab.run()
    finally:
        ab.stop()
    table = ab.table()
    meta = 'load average before %s, after %s; %d reps; cells %s' % (
        ' '.join('%.2f' % x for x in load_before),
        ' '.join('%.2f' % x for x in os.getloadavg()), args.reps, ', '.join(args.cells))
    text = '%s\n\n%s\n\nvariants: %s\n' % (meta, table, '; '.join(
        '%s = %s %s' % (n, r, o or '') for n, r, o in args.variants))
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())

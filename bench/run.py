# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make bench``: the forwarder against a direct connection and against nginx.

Starts two Swift dev clusters (:mod:`swift_forwarder.testing.saio`) and an nginx in front
of the target, then runs each workload on three paths, alternating them (and rotating
their order every repetition) so that drift on a shared machine cancels out:

* ``forwarded``: client -> local proxy with the forwarder -> target proxy
* ``direct``:    client -> target proxy
* ``nginx``:     client -> nginx (tuned keep-alive reverse proxy) -> target proxy

Workloads: big GET and PUT throughput (GET twice: with the default ``verify_get = true``,
and from a second target with ``verify_get = false`` to show what the MD5 costs), 4 KiB
GET and PUT requests/s at concurrency 1 and 16, HEAD latency, upstream connections opened
per 1,000 requests, proxy CPU seconds per GiB, and the forwarder's RSS while it forwards
one huge object each way.  Writes
``bench/results/latest.{md,png,json}`` and a dated copy (``--quick`` writes
``quick.*`` instead, so that a development run never replaces a full one).

Run from the repository root: ``python -m bench.run [--quick] [--reps N]``.  ``bench``
has no ``__init__.py`` on purpose (a namespace package): setuptools' ``find:`` then
leaves it out of the distribution.
"""

import argparse
import collections
import http.client
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import uuid

from bench import client, cpu, nginx, own, proc, report, stats
from swift_forwarder.testing import saio

PATHS = ('forwarded', 'direct', 'nginx')
FORWARDER_CONF = {'healthcheck_path': '/forwarder/healthcheck'}
SMALL_SIZE = 4096
#: (method, concurrency) of the small-request cells
SMALL_CELLS = (('GET', 1), ('GET', 16), ('PUT', 1), ('PUT', 16), ('HEAD', 1))
#: full run / --quick: repetitions, big object MiB, huge object bytes, seconds per small cell,
#: seconds per profile cell, rounds of bench/own.py's requests
PROFILES = {
    'full': {'reps': 9, 'size_mib': 256, 'huge_bytes': 5 * 10 ** 9, 'duration': 2.0,
             'profile_s': 10.0, 'own_rounds': 5},
    'quick': {'reps': 2, 'size_mib': 64, 'huge_bytes': 512 * stats.MIB, 'duration': 1.0,
              'profile_s': 4.0, 'own_rounds': 1},
}
#: the profile cells: (name, method, big object?, concurrency, container: bench or fast)
PROFILE_CELLS = (
    ('GET big', 'GET', True, 1, 'bench'),
    ('GET big, verify_get=false', 'GET', True, 1, 'fast'),
    ('PUT big', 'PUT', True, 1, 'bench'),
    ('GET 4 KiB c16', 'GET', False, 16, 'bench'),
    ('PUT 4 KiB c16', 'PUT', False, 16, 'bench'),
    ('HEAD c1', 'HEAD', False, 1, 'bench'),
)
#: what a failed big transfer raises
TRANSFER_ERRORS = (client.BenchError, OSError, http.client.HTTPException)
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench.run', description=__doc__.split(
        '\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true',
                        help='development run: 2 reps, 64 MiB, 512 MiB huge object, 1 s cells')
    parser.add_argument('--reps', type=int, help='repetitions per cell (default 9)')
    parser.add_argument('--size-mib', type=int, help='big object size (default 256)')
    parser.add_argument('--huge-bytes', type=int,
                        help='size of the RSS object (default 5e9; 0 skips it)')
    parser.add_argument('--duration', type=float, help='seconds per small-request cell')
    parser.add_argument('--profile-s', type=float,
                        help='seconds per profile cell (default 10; 0 skips them)')
    parser.add_argument('--own-rounds', type=int,
                        help="rounds of bench/own.py's requests (default 5; 0 skips them)")
    parser.add_argument('--max-requests', type=int, default=20000,
                        help='request cap per small-request cell (default 20000)')
    parser.add_argument('--out', default=RESULTS_DIR, help='results directory')
    parser.add_argument('--name', help='file name stem (default latest, or quick)')
    args = parser.parse_args(argv)
    for key, value in PROFILES['quick' if args.quick else 'full'].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.name = args.name or ('quick' if args.quick else 'latest')
    if args.reps < 1 or args.size_mib < 1 or args.duration <= 0:
        parser.error('--reps, --size-mib and --duration must be positive')
    return args


def say(fmt, *args):
    print(fmt % args if args else fmt)
    sys.stdout.flush()


def rotated(rep):
    """The paths in the order of repetition ``rep``: A B C, B C A, C A B, ..."""
    at = rep % len(PATHS)
    return PATHS[at:] + PATHS[:at]


class Bench(object):
    """The workloads, on running clusters and nginx."""

    def __init__(self, args, local, target, proxy):
        self.args, self.local, self.target, self.nginx = args, local, target, proxy
        storage_url, token = target.get_auth()
        account = urllib.parse.urlsplit(storage_url).path
        bases = {'forwarded': local.proxy_url, 'direct': target.proxy_url,
                 'nginx': proxy.url}
        self.endpoints = {p: client.Endpoint(bases[p], account, token) for p in PATHS}
        suffix = uuid.uuid4().hex[:12]
        #: forwarded to the default target; ``fast``'s to the one without verify_get
        self.container, self.fast = 'bench-' + suffix, 'fast-' + suffix
        self.size = args.size_mib * stats.MIB
        self.big, self.small = stats.Tally(), stats.Tally()
        self.huge, self.profile, self.own, self.latency = {}, {}, {}, {}
        self.md5 = []  # MD5 alone, CPU s/GiB, measured at the start, middle and end

    # -- setup and cleanup (directly on the target)

    def obj(self, name, path='direct', container=None):
        return self.endpoints[path].path(container or self.container, name)

    def _direct(self, method, name=None, body=None, expect=(200, 201, 202, 204),
                container=None):
        ep = self.endpoints['direct']
        conn = ep.connect()
        try:
            client.request(conn, method, ep.path(container or self.container, name),
                           ep.token, body=body, expect=expect)
        finally:
            conn.close()

    def setup(self):
        self._direct('PUT')
        self._direct('PUT', 'small', body=os.urandom(SMALL_SIZE))
        client.big_put(self.endpoints['direct'], self.obj('big'), self.size)
        self._direct('PUT', container=self.fast)
        client.big_put(self.endpoints['direct'], self.obj('big', container=self.fast),
                       self.size)

    def cleanup(self):
        """Delete what we uploaded, best-effort (the devices go when the target stops)."""
        names = ['small', 'big', 'put-big', 'huge', 'own-put'] + [
            'put-small-%d' % i for i in range(max(c for _m, c in SMALL_CELLS))]
        try:
            for name in names + [None]:  # None: the container
                self._direct('DELETE', name, expect=(204, 404))
            for name in ('big', None):
                self._direct('DELETE', name, expect=(204, 404), container=self.fast)
        except TRANSFER_ERRORS as e:
            say('bench: cleanup: %s', e)

    # -- the run

    def warm_up(self):
        """Open the pools and nginx's upstream cache, touch every code path once."""
        for path in PATHS:
            client.big_get(self.endpoints[path], self.obj('big', path), self.size)
            self._load(path, 'GET', 16, 0.5)
        client.big_get(self.endpoints['forwarded'],
                       self.obj('big', 'forwarded', self.fast), self.size)

    def run(self):
        self.warm_up()
        self.md5_cell()
        for rep in range(self.args.reps):
            say('--- repetition %d of %d', rep + 1, self.args.reps)
            for method, fast in (('GET', False), ('PUT', False), ('GET', True)):
                for path in rotated(rep):
                    self.big_cell(method, path, rep, fast)
            for method, concurrency in SMALL_CELLS:
                for path in rotated(rep):
                    self.small_cell(method, concurrency, path, rep)
            if rep == self.args.reps // 2:
                self.md5_cell()
        if self.args.huge_bytes:
            self.huge_cells()
        if self.args.own_rounds:
            self.own_cells()
        self.latency_cell()
        if self.args.profile_s:
            for cell in PROFILE_CELLS:
                self.profile_cell(*cell)
        self.md5_cell()

    def md5_cell(self):
        """MD5 alone on this machine, now (this process, 1 GiB in 1 MiB updates)."""
        self.md5.append(cpu.md5_alone())
        say('MD5 alone: %.3f CPU s/GiB', self.md5[-1])

    def _pids(self, path):
        """(pid of the proxy on ``path`` or None, pid of the target proxy's worker)."""
        proxy_pid = {'forwarded': lambda: self.local.proxy_worker_pids()[0],
                     'nginx': self.nginx.worker_pid}.get(path, lambda: None)()
        return proxy_pid, self.target.proxy_worker_pids()[0]

    def big_cell(self, method, path, rep, fast=False):
        """One big transfer; ``fast``: a GET from the container forwarded to the target
        with ``verify_get = false`` (direct and nginx read the same object)."""
        cell = '%s %d MiB' % (method, self.args.size_mib) + (
            ', verify_get=false' if fast else '')
        proxy_pid, target_pid = self._pids(path)
        before = [proc.cpu_ns(p) / 1e9 if p else None for p in (proxy_pid, target_pid)]
        try:
            seconds = self._transfer(method, path, 'big' if method == 'GET' else 'put-big',
                                     self.size, self.fast if fast else None)
        except TRANSFER_ERRORS as e:  # counted and reported; the run goes on
            self.big.add(cell, path, errors='%s: %s' % (type(e).__name__, e))
            say('%-16s %-9s ERROR %s', cell, path, e)
            return
        after = [proc.cpu_ns(p) / 1e9 if p else None for p in (proxy_pid, target_pid)]
        proxy_cpu = after[0] - before[0] if proxy_pid else None
        self.big.add(cell, path, bytes=self.size, seconds=seconds, proxy_cpu=proxy_cpu,
                     target_cpu=after[1] - before[1])
        self.big.add_rate(cell, path, rep, self.size / seconds)
        say('%-16s %-9s %8.1f MiB/s', cell, path, self.size / stats.MIB / seconds)

    def _transfer(self, method, path, name, size, container=None):
        """GET or PUT one object of ``size`` bytes on ``path``; returns the seconds taken."""
        run = client.big_get if method == 'GET' else client.big_put
        return run(self.endpoints[path], self.obj(name, path, container), size)

    def small_cell(self, method, concurrency, path, rep):
        created = self._pool_created() if path == 'forwarded' else None
        watch = proc.NewConnections(self.target.ports['proxy']).start()
        load = self._load(path, method, concurrency, self.args.duration)
        watch.stop()
        if created is not None:
            created = self._pool_created() - created
        label = '%s 4 KiB c%d' % (method, concurrency) if method != 'HEAD' else 'HEAD c1'
        self.small.add_rate(label, path, rep, load.count / load.elapsed)
        self.small.add(label, path, requests=load.count, seconds=load.elapsed,
                       latencies=load.latencies, errors=len(load.errors),
                       error_samples=load.errors, conns=watch.count, pool_created=created)
        say('%-16s %-9s %8.0f req/s  %d new upstream conns%s', label, path,
            load.count / load.elapsed, watch.count,
            '  %d ERRORS: %s' % (len(load.errors), load.errors[0]) if load.errors else '')

    def _load(self, path, method, concurrency, duration):
        if method == 'PUT':
            names = ['put-small-%d' % i for i in range(concurrency)]
            body = os.urandom(SMALL_SIZE)
        else:
            names, body = ['small'] * concurrency, None
        paths = [self.obj(name, path) for name in names]
        return client.Load(self.endpoints[path], method, paths, duration,
                           self.args.max_requests, body).run()

    def _pool_created(self):
        ep = self.endpoints['forwarded']
        conn = ep.connect()
        try:
            conn.request('GET', FORWARDER_CONF['healthcheck_path'])
            body = conn.getresponse().read()
        finally:
            conn.close()
        return json.loads(body)['targets']['default']['pool']['created']

    def huge_cells(self):
        """RSS of the forwarder's worker while it forwards one huge object, PUT then GET."""
        size = self.args.huge_bytes
        pid = self.local.proxy_worker_pids()[0]
        for method in ('PUT', 'GET'):
            rss = proc.PeakRss(pid).start()
            try:
                seconds = self._transfer(method, 'forwarded', 'huge', size)
            except TRANSFER_ERRORS as e:
                self.huge[method] = {'error': '%s: %s' % (type(e).__name__, e)}
                say('huge %s ERROR %s', method, e)
                break
            finally:
                rss.stop()
            self.huge[method] = {'bytes': size, 'seconds': seconds, 'baseline': rss.baseline,
                                 'peak': rss.peak, 'growth': rss.peak - rss.baseline}
            say('huge %s %.2f GB: %.1f MiB/s, RSS %.1f -> %.1f MiB', method, size / 1e9,
                size / stats.MIB / seconds, rss.baseline / stats.MIB, rss.peak / stats.MIB)
        self._direct('DELETE', 'huge', expect=(204, 404))

    def latency_cell(self, count=400):
        """Where a forwarded 4 KiB GET's time goes, at one client: the client's
        latency, matched by transaction id with the forwarder's log line (from routing
        to the target's response head, and to the last byte) and with the target's
        proxy-logging request time; and the same for direct GETs."""
        times = {}
        for path in ('direct', 'forwarded', 'direct', 'forwarded'):
            times.setdefault(path, []).extend(self._timed_gets(path, count // 2))
        time.sleep(1.0)  # the log lines written
        fwd = _forwarder_lines(self.local.log_path('proxy'))
        target = _access_times(self.target.log_path('proxy'))
        rows = collections.defaultdict(list)
        for path, samples in times.items():
            for latency, local_txn, target_txn in samples:
                rows[path + ' client'].append(latency)
                if target_txn[:34] in target:
                    rows[path + ' target proxy-logging'].append(target[target_txn[:34]])
                if path == 'forwarded' and local_txn in fwd:
                    rows['forwarded forwarder ttfb'].append(fwd[local_txn][0])
                    rows['forwarded forwarder time'].append(fwd[local_txn][1])
        self.latency = {name: {'p50_ms': stats.median(values) * 1e3, 'count': len(values)}
                        for name, values in rows.items()}
        say('latency accounting (p50 ms): %s', ', '.join(
            '%s %.3f' % (n, v['p50_ms']) for n, v in self.latency.items()))

    def _timed_gets(self, path, count):
        """(latency s, X-Trans-Id, the target's transaction id) of ``count`` GETs of
        the small object, one after another on one connection."""
        ep = self.endpoints[path]
        conn = ep.connect()
        buf = memoryview(bytearray(65536))
        out = []
        try:
            for _ in range(count):
                started = time.perf_counter()
                conn.request('GET', self.obj('small', path), headers={
                    'X-Auth-Token': ep.token})
                resp = conn.getresponse()
                while resp.readinto(buf):
                    pass
                latency = time.perf_counter() - started
                local_txn = resp.getheader('X-Trans-Id') or ''
                out.append((latency, local_txn,
                            resp.getheader('X-Forwarder-Trans-Id') or local_txn))
        finally:
            conn.close()
        return out

    def own_cells(self):
        """The forwarder's own CPU per request (bench/own.py): the filter alone in a
        process of its own, against the target, one 4 KiB request after another."""
        ep = self.endpoints['direct']
        worker = own.Worker(own.ROOT, self.target.proxy_url, ep.account_path.split('/')[2],
                            self.container, self.endpoints['direct'].token)
        try:
            per = collections.defaultdict(list)
            for _ in range(self.args.own_rounds):
                for method in own.METHODS:
                    per[method].append(worker.measure(method))
        finally:
            worker.stop()
        self.own = {method: stats.median(values) for method, values in per.items()}
        say('own CPU per request: %s', ', '.join(
            '%s %.3f ms' % (m, v * 1e3) for m, v in self.own.items()))

    def profile_cell(self, name, method, big, concurrency, container):
        """py-spy on the forwarder's worker while ``method`` runs forwarded, for
        ``profile_s`` seconds: its CPU per GiB or per request, and the split."""
        pid = self.local.proxy_worker_pids()[0]
        out = os.path.join(tempfile.gettempdir(), 'bench-profile-%d.txt' % os.getpid())
        profile = cpu.Profile(pid, self.args.profile_s, out).start()
        if profile is None:
            say('profile: py-spy not found')
            return
        cpu0 = proc.cpu_ns(pid)
        try:
            units = self._profile_load(method, big, concurrency, container, profile.proc)
            cpu_s = (proc.cpu_ns(pid) - cpu0) / 1e9
            result = profile.stop()
        finally:
            if profile.proc.poll() is None:
                profile.proc.kill()
            if os.path.exists(out):
                os.unlink(out)
        result.update(units=units, cpu_s=cpu_s, big=big,
                      per_unit=cpu_s / (units / stats.GIB if big else units))
        self.profile[name] = result
        say('profile %-26s %.3f CPU %s, forwarder frames %.0f%%', name, result['per_unit'],
            's/GiB' if big else 's/request', 100 * result['forwarder_share'])

    def _profile_load(self, method, big, concurrency, container, spy):
        """Run the load until py-spy is done (whole big transfers); returns the bytes or
        requests done."""
        units = 0
        cont = self.fast if container == 'fast' else None
        while spy.poll() is None or not units:
            if big:
                self._transfer(method, 'forwarded', 'big' if method == 'GET' else 'put-big',
                               self.size, cont)
                units += self.size
            else:
                units += self._load('forwarded', method, concurrency,
                                    self.args.profile_s).count
        return units

    def summary(self):
        return {
            'big': self.big.summary(stats.summarize_big),
            'small': self.small.summary(stats.summarize_small),
            'huge': self.huge,
            'ratios': dict(self.big.paired_ratios(), **self.small.paired_ratios()),
            'md5': self.md5, 'profile': self.profile, 'own': self.own,
            'latency': self.latency,
            'size_mib': self.args.size_mib,
        }


_FORWARDED_LINE = re.compile(r'forwarded to \S+: GET \S+ 200 .* ttfb=([\d.]+) '
                             r'time=([\d.]+).*\(txn: (\S+)\)')


def _forwarder_lines(path):
    """{local transaction id: (ttfb s, time s)} of the forwarder's GET lines."""
    found = {}
    with open(path, errors='replace') as f:
        for line in f:
            match = _FORWARDED_LINE.search(line)
            if match:
                found[match.group(3)] = (float(match.group(1)), float(match.group(2)))
    return found


def _access_times(path):
    """{transaction id (its first 34 characters): request_time s} of proxy-logging's
    GET lines (Swift's default access line: the id is the 14th field, the request time
    the 16th, after the logger's name)."""
    found = {}
    with open(path, errors='replace') as f:
        for line in f:
            fields = line.split()
            if len(fields) < 17 or fields[4] != 'GET':
                continue
            try:
                found[fields[14][:34]] = float(fields[16])
            except ValueError:
                continue
    return found


def fast_target(local, target, workdir):
    """A second target, the same cluster with ``verify_get = false``, for the
    ``fast-*`` containers; the default target keeps ``bench-*``."""
    account = urllib.parse.urlsplit(target.get_auth()[0]).path.split('/')[2]
    targets_conf = os.path.join(workdir, 'forwarder-targets.conf')
    with open(targets_conf, 'w') as f:
        f.write('[target:fast]\ntarget_url = %s\nforward = %s/fast-*\nverify_get = false\n'
                % (target.proxy_url, account))
    local.set_filter_conf('forwarder', dict(local.filters['forwarder'], targets_conf=targets_conf,
                                            forward='%s/bench-*' % account))


def run(args, workdir):
    """Start everything, run the workloads, stop everything; returns the summary."""
    local, target = saio.start_pair(workdir, FORWARDER_CONF)
    proxy = None
    try:
        fast_target(local, target, workdir)
        port = saio.find_free_base(avoid=[local.port_base, target.port_base])
        proxy = nginx.Nginx(os.path.join(workdir, 'nginx'), port, target.ports['proxy'])
        os.makedirs(proxy.prefix)
        proxy.start()
        say('target %s, local (forwarder) %s, nginx %s', target.proxy_url, local.proxy_url,
            proxy.url)
        bench = Bench(args, local, target, proxy)
        bench.setup()
        try:
            bench.run()
        finally:
            bench.cleanup()
        return bench.summary()
    finally:
        if proxy is not None:
            proxy.stop()
        local.stop()
        target.stop()


def main(argv=None):
    args = parse_args(argv)
    reason = saio.missing_requirement(keystone=False) or (
        None if nginx.binary() else 'nginx not found')
    if reason:
        say('bench: %s', reason)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally clauses
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-bench-')
    meta = report.machine(args)
    started = time.monotonic()
    load = cpu.LoadSampler().start()
    try:
        summary = run(args, workdir)
    except BaseException:
        say('bench: failed; cluster and nginx logs are in %s', workdir)
        raise
    finally:
        meta['load_during'] = load.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    meta['duration_s'] = time.monotonic() - started
    meta['load_after'] = os.getloadavg()
    dated = None if args.quick else meta['date'][:10]
    for path in report.write(summary, meta, args.out, args.name, dated):
        say('wrote %s', path)
    return 0


if __name__ == '__main__':
    sys.exit(main())

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Measurements as they come (one per cell, path and repetition) and their summary."""

import collections

MIB = 1 << 20
GIB = 1 << 30


def median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def percentile(values, q):
    """Nearest-rank percentile (``q`` in 0..100) of ``values``, or None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def _ratio(num, den):
    return num / den if num is not None and den else None


class Tally(object):
    """``cells[cell][path]``: a dict of lists, one value appended per repetition; and
    ``rates[cell][path][rep]``: the rate (bytes/s, requests/s) of each repetition, for
    the paired ratios."""

    def __init__(self):
        self.cells = collections.OrderedDict()
        self.rates = collections.OrderedDict()

    def add(self, cell, path, **values):
        entry = self.cells.setdefault(cell, collections.OrderedDict()).setdefault(
            path, collections.defaultdict(list))
        for key, value in values.items():
            entry[key].append(value)

    def add_rate(self, cell, path, rep, rate):
        self.rates.setdefault(cell, {}).setdefault(path, {})[rep] = rate

    def summary(self, summarize):
        """{cell: {path: summarize(entry)}}."""
        return collections.OrderedDict(
            (cell, collections.OrderedDict((path, summarize(entry))
                                           for path, entry in paths.items()))
            for cell, paths in self.cells.items())

    def paired_ratios(self, num='forwarded', dens=('direct', 'nginx')):
        """{cell: {den: median over repetitions of rate[num] / rate[den]}}: each ratio
        compares runs made back to back, so slow drift of the machine cancels."""
        out = collections.OrderedDict()
        for cell, paths in self.rates.items():
            top = paths.get(num, {})
            out[cell] = {den: median([top[r] / paths[den][r] for r in top
                                      if paths.get(den, {}).get(r)])
                         for den in dens}
        return out


def summarize_big(entry):
    """Throughput (median and range over repetitions, MiB/s) and CPU seconds per GiB
    of the proxy on the path (forwarder or nginx worker) and of the target proxy."""
    mibps = [b / MIB / s for b, s in zip(entry['bytes'], entry['seconds'])]
    gib = sum(entry['bytes']) / GIB
    proxy_cpu = [c for c in entry['proxy_cpu'] if c is not None]
    return {
        'reps': len(mibps), 'errors': len(entry['errors']),
        'error_samples': entry['errors'][:3], 'mibps': median(mibps),
        'mibps_min': min(mibps, default=None), 'mibps_max': max(mibps, default=None),
        'proxy_cpu_per_gib': sum(proxy_cpu) / gib if proxy_cpu else None,
        'target_cpu_per_gib': sum(entry['target_cpu']) / gib if gib else None,
    }


def summarize_small(entry):
    """Requests/s (median over repetitions), latency percentiles over every request of
    every repetition (ms), and new upstream connections per 1,000 requests."""
    latencies = [lat for rep in entry['latencies'] for lat in rep]
    requests = sum(entry['requests'])
    rps = [n / s for n, s in zip(entry['requests'], entry['seconds'])]
    pool = [c for c in entry['pool_created'] if c is not None]
    return {
        'reps': len(rps), 'requests': requests, 'errors': sum(entry['errors']),
        'error_samples': [e for rep in entry['error_samples'] for e in rep][:3],
        'rps': median(rps), 'rps_min': min(rps, default=None),
        'rps_max': max(rps, default=None),
        'p50_ms': _ms(percentile(latencies, 50)), 'p99_ms': _ms(percentile(latencies, 99)),
        'conns': sum(entry['conns']), 'pool_created': sum(pool) if pool else None,
        'conns_per_1000': _ratio(1000.0 * sum(entry['conns']), requests),
        'pool_created_per_1000': _ratio(1000.0 * sum(pool), requests) if pool else None,
    }


def _ms(seconds):
    return None if seconds is None else seconds * 1000.0

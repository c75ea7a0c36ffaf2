# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The benchmark's report: a markdown table of every figure (with the forwarded/direct
and forwarded/nginx ratios), a PNG plot, and the summary as JSON."""

import datetime
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata

import swift_forwarder
from bench import cpu, nginx, stats

PATHS = ('forwarded', 'direct', 'nginx')
MIB = 1 << 20


# --- the machine ------------------------------------------------------------------------------

def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return 'not installed'


def _git(root, *args):
    try:
        out = subprocess.run(['git', '-C', root] + list(args), capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_commit():
    """The commit of the swift_forwarder that runs (imported, so in the servers too),
    with '+ changes' if its package directory differs from that commit."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(swift_forwarder.__file__)))
    commit = _git(root, 'rev-parse', '--short', 'HEAD')
    if commit and _git(root, 'status', '--porcelain', '--', 'swift_forwarder'):
        commit += ' + changes'
    return commit


def machine(args):
    """What ran, where and when (taken before the run)."""
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'cores': os.cpu_count(), 'cpu': _cpu_model(),
        'python': platform.python_version(), 'swift': _version('swift'),
        'eventlet': _version('eventlet'), 'nginx': nginx.version(),
        'swift_forwarder': _version('swift_forwarder'), 'commit': _git_commit(),
        'load_before': os.getloadavg(),
        'params': {'reps': args.reps, 'size_mib': args.size_mib,
                   'huge_bytes': args.huge_bytes, 'duration_s': args.duration,
                   'max_requests': args.max_requests, 'quick': args.quick},
    }


# --- formatting -------------------------------------------------------------------------------

def _num(value, digits=1):
    if value is None:
        return '-'
    return '{:,.{}f}'.format(value, digits)


def _ratio(num, den):
    return '-' if num is None or not den else '%.2f' % (num / den)


def _row(cells):
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'


def _table(header, rows):
    lines = [_row(header), _row(['---'] + ['---:'] * (len(header) - 1))]
    return lines + [_row(r) for r in rows]


def _compare(label, values, digits=1, extra=None, ratios=None):
    """A row: label, forwarded, direct, nginx (``extra(path)`` appended to each), and the
    ratios forwarded/direct, forwarded/nginx: ``ratios`` ({'direct': r, 'nginx': r}) if
    given, else computed from ``values``."""
    fwd, direct, ngx = (values.get(p) for p in PATHS)
    cells = [_num(v, digits) + (extra(p) if extra and v is not None else '')
             for p, v in zip(PATHS, (fwd, direct, ngx))]
    if ratios is not None:
        return [label] + cells + [_num(ratios.get(p), 2) for p in PATHS[1:]]
    return [label] + cells + [_ratio(fwd, direct), _ratio(fwd, ngx)]


COMPARE_HEADER = ['', 'forwarded', 'direct', 'nginx', 'fwd/direct', 'fwd/nginx']


# --- sections ---------------------------------------------------------------------------------

def _machine_section(meta):
    p = meta['params']
    huge = '%.2f GB' % (p['huge_bytes'] / 1e9) if p['huge_bytes'] else 'skipped'
    rows = [
        ('date', meta['date']),
        ('cores', '%s (%s)' % (meta['cores'], meta['cpu'])),
        ('Python', meta['python']), ('swift', meta['swift']),
        ('eventlet', meta['eventlet']), ('nginx', meta['nginx']),
        ('swift_forwarder', '%s (commit %s)' % (meta['swift_forwarder'], meta['commit'])),
        ('load average before / after', '%s / %s' % (
            ' '.join('%.2f' % x for x in meta['load_before']),
            ' '.join('%.2f' % x for x in meta.get('load_after', ())))),
        ('1-minute load during the run (every 15 s)', _load_during(meta.get('load_during'))),
        ('run', '%d repetitions; big object %d MiB; %.1f s per small-request cell; huge '
                'object %s; took %.1f min%s' % (
                    p['reps'], p['size_mib'], p['duration_s'], huge,
                    meta.get('duration_s', 0) / 60.0, ' (--quick)' if p['quick'] else '')),
    ]
    return ['## Machine and run', ''] + _table(['', ''], rows)


def _load_during(samples):
    if not samples:
        return '-'
    return 'min %.2f, median %.2f, max %.2f (%d samples)' % (
        min(samples), stats.median(samples), max(samples), len(samples))


# --- the goals (issue 15) ---------------------------------------------------------------------

def _cell(summary, kind, name, path, key):
    try:
        return summary[kind][name][path][key]
    except KeyError:
        return None


def _goal_row(what, figure, goal_text, ratio, unit=''):
    return [what, '-' if figure is None else _num(figure, 3) + unit, goal_text,
            '-' if ratio is None else '%.2f' % ratio]


def _div(num, den):
    return num / den if num is not None and den else None


def _goals_section(summary):
    big = '%s MiB' % summary.get('size_mib', 256)
    get, fast, put = 'GET ' + big, 'GET %s, verify_get=false' % big, 'PUT ' + big
    md5 = stats.median(summary.get('md5') or [])
    fwd = {c: _cell(summary, 'big', c, 'forwarded', 'proxy_cpu_per_gib')
           for c in (get, fast, put)}
    ngx = {c: _cell(summary, 'big', c, 'nginx', 'proxy_cpu_per_gib') for c in (get, fast, put)}
    ratios = summary.get('ratios', {})
    rows = [
        _goal_row('relay loop (%s): forwarder CPU s/GiB' % fast, fwd[fast],
                  '<= 1.3 x nginx (%s)' % _num(ngx[fast], 3), _div(fwd[fast], ngx[fast])),
        _goal_row('relay loop: throughput, forwarded / nginx', ratios.get(fast, {}).get(
            'nginx'), '>= 1.0 (ratio of the same run)', ratios.get(fast, {}).get('nginx')),
    ]
    for cell in (get, put):
        floor = md5 + ngx[cell] if md5 is not None and ngx[cell] is not None else None
        rows.append(_goal_row('verified (%s): forwarder CPU s/GiB' % cell, fwd[cell],
                              '<= 1.1 x (MD5 alone + nginx) = 1.1 x %s' % _num(floor, 3),
                              _div(fwd[cell], floor)))
    for cell in ('GET 4 KiB c16', 'PUT 4 KiB c16'):
        ratio = ratios.get(cell, {}).get('direct')
        rows.append(_goal_row('%s req/s, forwarded / direct' % cell, ratio, '>= 0.90',
                              _div(ratio, 0.9)))
    added = None
    head = summary.get('small', {}).get('HEAD c1', {})
    if head:
        added = head['forwarded']['p50_ms'] - head['direct']['p50_ms']
    rows.append(_goal_row('HEAD p50 added (forwarded - direct)', added, '<= 0.5 ms',
                          _div(added, 0.5), ' ms'))
    rows += _own_goal_rows(summary)
    rows += _kept_goal_rows(summary)
    return (['## 0. Goals (issue 15)', '',
             'Each figure from this run; *ratio* is figure / goal (for a ratio goal, the '
             'figure itself): below 1 is within an upper bound, above 1 within a lower '
             'bound.  MD5 alone, measured in this run: %s CPU s/GiB.' % _num(md5, 3), '']
            + _table(['goal', 'figure', 'goal', 'ratio'], rows))


def _own_goal_rows(summary):
    rows = []
    prof = summary.get('profile', {}).get('GET 4 KiB c16')
    if prof:
        figure = prof['per_unit'] * prof['forwarder_share'] * 1e3
        rows.append(_goal_row("forwarder's own CPU per request, profile (GET 4 KiB c16: "
                              "%.0f%% of the samples not in poll() in forwarder frames x "
                              "%s ms/request)" % (
                                  100 * prof['forwarder_share'],
                                  _num(prof['per_unit'] * 1e3, 3)),
                              figure, '<= 0.1 ms', _div(figure, 0.1), ' ms'))
    for method, value in summary.get('own', {}).items():
        rows.append(_goal_row("forwarder's own CPU per request, alone (bench/own.py, "
                              '%s 4 KiB, c1)' % method, value * 1e3, '<= 0.1 ms',
                              _div(value * 1e3, 0.1), ' ms'))
    return rows


def _kept_goal_rows(summary):
    small = summary.get('small', {})
    conns = _sum(cell['forwarded']['conns'] for cell in small.values()) if small else None
    requests = sum(cell['forwarded']['requests'] for cell in small.values()) if small else 0
    rows = [_goal_row('new upstream connections per 1,000 small requests',
                      _div(1000.0 * conns, requests) if conns is not None else None,
                      '0 (unchanged)', None)]
    for method, v in summary.get('huge', {}).items():
        if 'growth' in v:
            rows.append(_goal_row('RSS growth over %.0f GB, %s' % (v['bytes'] / 1e9, method),
                                  v['growth'] / MIB, 'flat (unchanged)', None, ' MiB'))
    return rows


def _throughput_section(big, ratios):
    def spread(cell):
        return lambda p: ' (%s-%s)' % (_num(cell[p]['mibps_min'], 0),
                                       _num(cell[p]['mibps_max'], 0))
    rows = [_compare(name, {p: v['mibps'] for p, v in cell.items()}, extra=spread(cell),
                     ratios=ratios.get(name)) for name, cell in big.items()]
    return (['## 1. Big objects: throughput (MiB/s)', '',
             'Median over repetitions (min-max); one object per request, on a fresh '
             'client connection.  Ratios: median of the per-repetition ratios (the three '
             'paths of a repetition run back to back).',
             ''] + _table(COMPARE_HEADER, rows))


def _small_rows(name, cell, ratios=None):
    get = (lambda key: {p: v[key] for p, v in cell.items()})
    return [_compare(name + ' req/s', get('rps'), 0, ratios=ratios),
            _compare(name + ' p50 ms', get('p50_ms'), 2),
            _compare(name + ' p99 ms', get('p99_ms'), 2)]


def _small_section(small, ratios):
    rows = [r for name, cell in small.items() if not name.startswith('HEAD')
            for r in _small_rows(name, cell, ratios.get(name))]
    return (['## 2. 4 KiB objects: requests/s and latency', '',
             'Requests/s: median over repetitions; its ratios are medians of the '
             'per-repetition ratios.  Latency: percentiles over every request of every '
             'repetition.  cN: N client connections, one thread each.', '']
            + _table(COMPARE_HEADER, rows))


def _head_section(small):
    rows = [r for name, cell in small.items() if name.startswith('HEAD')
            for r in _small_rows(name, cell)[1:]]
    return ['## 3. HEAD latency, concurrency 1', ''] + _table(COMPARE_HEADER, rows)


def _connections_section(small):
    header = ['', 'forwarded (sockets)', "forwarded (pool 'created')", 'nginx (sockets)',
              'direct (client, check)']
    columns = (('forwarded', 'conns'), ('forwarded', 'pool_created'), ('nginx', 'conns'),
               ('direct', 'conns'))
    rows = [[name] + [_per_1000(cell[p][key], cell[p]['requests']) for p, key in columns]
            for name, cell in small.items()]
    totals = ['all of them'] + [_per_1000(
        _sum(cell[p][key] for cell in small.values()),
        sum(cell[p]['requests'] for cell in small.values())) for p, key in columns]
    return (['## 4. Upstream TCP connections opened per 1,000 requests', '',
             'During the 4 KiB and HEAD cells, after a warm-up.  *sockets*: distinct '
             'source ports seen connected to the target proxy port in /proc/net/tcp '
             '(sampled every 0.2 s; TIME_WAIT keeps closed ones visible) that were not '
             'there when the cell started.  *pool \'created\'*: the forwarder\'s own '
             'counter (healthcheck JSON).  *direct* counts the client\'s own connections, '
             'opened afresh for every cell: it checks the socket method, it is not an '
             'upstream figure.  In brackets: connections / requests.', '']
            + _table(header, rows + [totals]))


def _sum(values):
    values = list(values)
    return None if None in values else sum(values)


def _per_1000(count, requests):
    if count is None or not requests:
        return '-'
    return '%.2f (%d / %d)' % (1000.0 * count / requests, count, requests)


def _cpu_section(big, md5):
    header = ['', 'forwarder worker', 'nginx worker', 'fwd/nginx',
              'target proxy: fwd / direct / nginx']
    rows = []
    for name, cell in big.items():
        fwd, ngx = cell['forwarded']['proxy_cpu_per_gib'], cell['nginx']['proxy_cpu_per_gib']
        target = ' / '.join(_num(cell[p]['target_cpu_per_gib'], 2) for p in PATHS)
        rows.append([name, _num(fwd, 3), _num(ngx, 3), _ratio(fwd, ngx), target])
    if md5:
        rows.append(['MD5 alone (hashlib, 1 GiB in 1 MiB updates, the bench process; '
                     'median of %d, min-max)' % len(md5),
                     '%s (%s-%s)' % (_num(stats.median(md5), 3), _num(min(md5), 3),
                                     _num(max(md5), 3)), '', '', ''])
    return (['## 5. CPU seconds per GiB', '',
             'CPU time of the worker process (all its threads, user + system, from '
             '/proc/<pid>/task/*/schedstat) before and after each big-object request, '
             'summed over repetitions.', '']
            + _table(header, rows))


def _profile_section(profile, md5):
    if not profile:
        return ['## 7. Profile: where the forwarder\'s CPU goes', '', 'Skipped.']
    header = ['', 'CPU', 'samples waiting in poll()', 'in forwarder frames'] + [
        c for c, _n, _p in cpu.CATEGORIES]
    rows = []
    for name, p in profile.items():
        scale, unit = (1, 's/GiB') if p['big'] else (1e3, 'ms/request')
        rows.append([name, '%s %s' % (_num(p['per_unit'] * scale, 3), unit),
                     '%.0f%%' % (100 * p.get('waiting', 0)),
                     '%.0f%% = %s' % (100 * p['forwarder_share'],
                                      _num(p['per_unit'] * scale * p['forwarder_share'], 3))]
                    + ['%.0f%% %s' % (100 * share, _num(p['per_unit'] * scale * share, 3))
                       for share in (p['categories'][c] for c, _n, _p in cpu.CATEGORIES)])
    tops = []
    for name, p in profile.items():
        tops.append('- %s: %s' % (name, '; '.join(
            '%s %.0f%%' % (fn, 100 * share) for fn, share in p['top_own'][:6])))
    return (['## 7. Profile: where the forwarder\'s CPU goes', '',
             'py-spy (not pausing the process) on the forwarder\'s worker while one '
             'workload runs forwarded, after the cells above; CPU from schedstat over the '
             'same whole transfers or requests.  py-spy also samples the process while it '
             'waits in the hub\'s poll(); those samples are left out (their share shown), '
             'the rest split the CPU.  Each category: its share of those samples and that '
             'share of the CPU (s/GiB or ms/request), by the innermost Python frame (C code '
             'such as MD5 or a system call counts in the frame that called it).  *In '
             'forwarder frames*: samples with a swift_forwarder frame anywhere on the '
             'stack (its own code, what it calls, the upstream sockets).  A sample of a '
             'process that is runnable but not running (a busy machine) counts where it '
             'waits.  MD5 alone in this run: %s s/GiB.' % _num(md5, 3), '']
            + _table(header, rows)
            + ['', 'Innermost frames with the most samples:', ''] + tops)


def _latency_section(latency):
    if not latency:
        return []
    rows = [[name, _num(v['p50_ms'], 3), v['count']] for name, v in sorted(latency.items())]
    get = (lambda name: latency.get(name, {}).get('p50_ms'))
    notes = []
    if get('forwarded client') and get('direct client'):
        notes.append('forwarded - direct, at the client: %s ms' % _num(
            get('forwarded client') - get('direct client'), 3))
    if get('forwarded forwarder time') and get('forwarded client'):
        notes.append('outside the forwarder (the client, its connection to the local '
                     'proxy, eventlet\'s server and the middlewares before the forwarder, '
                     'waiting to be scheduled): %s ms' % _num(
                         get('forwarded client') - get('forwarded forwarder time'), 3))
    if get('forwarded forwarder ttfb') and get('forwarded target proxy-logging'):
        notes.append('from routing to the target\'s response head, outside the target\'s '
                     'proxy-logging (the forwarder\'s checks and headers, the upstream '
                     'hop, the target\'s server): %s ms' % _num(
                         get('forwarded forwarder ttfb') -
                         get('forwarded target proxy-logging'), 3))
    return (['## 8. Where a 4 KiB GET\'s time goes, one client', '',
             'p50 over sequential GETs on one connection (direct and forwarded, '
             'alternating), matched by transaction id with the forwarder\'s log line '
             '(*ttfb*: routing to the target\'s response head; *time*: to the last '
             'byte) and the target\'s proxy-logging request time.', '']
            + _table(['', 'p50 ms', 'requests'], rows) + [''] + ['- ' + n for n in notes])


def _rss_row(method, v):
    if 'error' in v:
        return [method, '-', '-', '-', '-', 'failed (see Errors)']
    return [method, '%.2f GB' % (v['bytes'] / 1e9), _num(v['baseline'] / MIB),
            _num(v['peak'] / MIB), _num(v['growth'] / MIB),
            _num(v['bytes'] / MIB / v['seconds'])]


def _rss_section(huge):
    if not huge:
        return ['## 6. Forwarder RSS on a huge object', '', 'Skipped.']
    return (['## 6. Forwarder RSS on a huge object', '',
             "The local proxy worker's VmRSS, sampled every 50 ms while one object "
             'streams through the forwarder (generated on the fly by the client, read '
             'into a reused buffer).', '']
            + _table(['', 'object', 'baseline MiB', 'peak MiB', 'peak - baseline MiB',
                      'MiB/s'], [_rss_row(method, v) for method, v in huge.items()]))


def _errors_section(summary):
    lines = []
    for kind in ('big', 'small'):
        for name, cell in summary[kind].items():
            for path, values in cell.items():
                if values['errors']:
                    lines.append('- %s, %s: %d errors, e.g. %s' % (
                        name, path, values['errors'], '; '.join(values['error_samples'])))
    for method, values in summary['huge'].items():
        if 'error' in values:
            lines.append('- huge %s, forwarded: %s' % (method, values['error']))
    return ['## Errors', ''] + (lines or ['None.'])


def markdown(summary, meta):
    sections = [
        ['# swift_forwarder benchmark', '',
         '*forwarded*: client -> local Swift proxy with the forwarder (default options, '
         'plus healthcheck_path; the *verify_get=false* row goes to a second target, the '
         'same cluster, with that option) -> target Swift proxy.  '
         '*direct*: client -> target proxy.  '
         '*nginx*: client -> nginx -> target proxy, nginx tuned as a keep-alive reverse '
         'proxy: 1 worker, proxy_buffering and proxy_request_buffering off, HTTP/1.1 '
         'upstream with `Connection: ""`, upstream keepalive %d (the forwarder\'s '
         'pool_size), keepalive_requests 1e9, 64 KiB proxy buffers.  Each Swift proxy '
         'runs 1 worker.  Everything on 127.0.0.1; the three paths run back to back for '
         'each cell, their order rotated every repetition.  Ratios are forwarded / '
         'other: below 1 is slower for throughput and requests/s, above 1 is worse for '
         'latency and CPU.' % nginx.KEEPALIVE],
        _machine_section(meta), _goals_section(summary),
        _throughput_section(summary['big'], summary['ratios']),
        _small_section(summary['small'], summary['ratios']), _head_section(summary['small']),
        _connections_section(summary['small']),
        _cpu_section(summary['big'], summary.get('md5')),
        _rss_section(summary['huge']),
        _profile_section(summary.get('profile'), stats.median(summary.get('md5') or [])),
        _latency_section(summary.get('latency')),
        _errors_section(summary),
    ]
    return '\n\n'.join('\n'.join(s) for s in sections if s) + '\n'


# --- the plot ---------------------------------------------------------------------------------

def _bars(ax, groups, values, errors=None, title='', ylabel=''):
    """Grouped bars: one group per name in ``groups``, one bar per path."""
    width = 0.8 / len(PATHS)
    for i, path in enumerate(PATHS):
        xs = [g + (i - 1) * width for g in range(len(groups))]
        ys = [values[name][path] or 0 for name in groups]
        err = None
        if errors:
            spans = [errors[name][path] for name in groups]
            err = [[y - (lo if lo is not None else y) for y, (lo, _hi) in zip(ys, spans)],
                   [(hi if hi is not None else y) - y for y, (_lo, hi) in zip(ys, spans)]]
        ax.bar(xs, ys, width, yerr=err, capsize=2, label=path)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis='y', alpha=0.3)


def plot(summary, meta, path):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    big, small = summary['big'], summary['small']
    fig, axes = pyplot.subplots(1, 3, figsize=(15, 4.8))
    names = list(big)
    _bars(axes[0], names, {n: {p: big[n][p]['mibps'] for p in PATHS} for n in names},
          {n: {p: (big[n][p]['mibps_min'], big[n][p]['mibps_max']) for p in PATHS}
           for n in names}, 'Big objects: throughput (median, min-max)', 'MiB/s')
    names = [n for n in small if not n.startswith('HEAD')]
    _bars(axes[1], names, {n: {p: small[n][p]['rps'] for p in PATHS} for n in names},
          {n: {p: (small[n][p]['rps_min'], small[n][p]['rps_max']) for p in PATHS}
           for n in names}, '4 KiB objects: requests/s (median, min-max)', 'req/s')
    names = list(small)
    _bars(axes[2], names, {n: {p: small[n][p]['p50_ms'] for p in PATHS} for n in names},
          {n: {p: (small[n][p]['p50_ms'], small[n][p]['p99_ms']) for p in PATHS}
           for n in names}, 'Latency: p50 (bar) to p99 (whisker)', 'ms')
    axes[2].set_yscale('log')
    axes[0].legend(fontsize=8)
    fig.suptitle('swift_forwarder: forwarded vs direct vs nginx - %s, %s cores, %d reps'
                 % (meta['date'], meta['cores'], meta['params']['reps']), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)


# --- files ------------------------------------------------------------------------------------

def write(summary, meta, out_dir, name, dated=None):
    """Write ``<name>.md``, ``.png`` and ``.json`` in ``out_dir``, and copies named
    ``<dated>.*`` if given; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, name)
    with open(stem + '.md', 'w') as f:
        f.write(markdown(summary, meta))
    with open(stem + '.json', 'w') as f:
        json.dump({'meta': meta, 'summary': summary}, f, indent=1, sort_keys=True)
        f.write('\n')
    plot(summary, meta, stem + '.png')
    written = [stem + ext for ext in ('.md', '.png', '.json')]
    if dated:
        for ext in ('.md', '.png', '.json'):
            shutil.copyfile(stem + ext, os.path.join(out_dir, dated + ext))
            written.append(os.path.join(out_dir, dated + ext))
    return written

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Where CPU goes: MD5 alone on this machine, and a py-spy profile of a process split
into what the forwarder's CPU is spent on."""

import collections
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time

GIB = 1 << 30
MIB = 1 << 20


def md5_alone(gib=1, chunk=MIB):
    """CPU seconds per GiB of ``hashlib.md5`` over ``gib`` GiB, in ``chunk`` updates, in
    this process (the floor of what checking every byte against an ETag costs here)."""
    data = os.urandom(chunk)
    digest = hashlib.md5(usedforsecurity=False)
    started = time.process_time()
    for _ in range(int(gib * GIB // chunk)):
        digest.update(data)
    return (time.process_time() - started) / gib


def py_spy():
    here = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    return here if os.path.exists(here) else shutil.which('py-spy')


#: What a sample's innermost frame says the process was doing, first match wins:
#: (category, frame name prefixes, file path fragments)
CATEGORIES = (
    ('MD5 (hashlib, in the body loop)',
     ('ResponseBody._next_chunk', 'RequestBody._read_chunk'), ()),
    ('socket send (kernel copy, loopback TCP)', ('GreenSocket._send_loop',), ()),
    ('socket recv (kernel copy)', ('GreenSocket._recv_loop',), ()),
    ('hub: switches, timers', (), ('hubs/',)),
    ('forwarder Python', (), ('swift_forwarder/',)),
    ('logging', (), ('logging/',)),
    ('Swift pipeline, eventlet wsgi and the rest', (), ()),
)


def categorize(frame):
    """The category of a sample whose innermost frame is ``frame`` (py-spy's
    'name (path:line)')."""
    name, _sep, where = frame.partition(' (')
    for category, names, paths in CATEGORIES:
        if names and name.startswith(names):
            return category
        if paths and any(p in where for p in paths):
            return category
        if not names and not paths:
            return category
    return CATEGORIES[-1][0]


class Profile(object):
    """``py-spy record`` of ``pid`` (not paused: ``--nonblocking``) for ``seconds``,
    started with :meth:`start`, read with :meth:`stop`: the sample count, the share of
    samples with a forwarder frame on the stack, and the split by :data:`CATEGORIES`."""

    def __init__(self, pid, seconds, out_path, rate=250):
        self.pid, self.seconds, self.out_path, self.rate = pid, seconds, out_path, rate
        self.proc = None

    def start(self):
        spy = py_spy()
        if spy is None:
            return None
        self.proc = subprocess.Popen(
            [spy, 'record', '--pid', str(self.pid), '--duration', str(int(self.seconds)),
             '--rate', str(self.rate), '--format', 'raw', '--output', self.out_path,
             '--nonblocking'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def stop(self):
        self.proc.wait(self.seconds + 60)
        return read_stacks(self.out_path)


#: The innermost frame of a process waiting in the hub's poll(): py-spy, not pausing
#: the process, counts such samples too; they are left out of the shares.
WAITING = 'Hub.do_poll ('


def read_stacks(path):
    """{'samples', 'waiting', 'forwarder_share', 'categories': {category: share},
    'top_own': [(function, share)]} of py-spy's raw (collapsed) output: shares of the
    samples not waiting in poll(); 'waiting': the share of all samples that were."""
    samples = forwarder = waiting = 0
    categories, own = collections.Counter(), collections.Counter()
    with open(path) as f:
        for line in f:
            stack, _sep, count = line.rstrip().rpartition(' ')
            if not stack:
                continue
            count = int(count)
            frames = stack.split(';')
            if frames[-1].startswith(WAITING):
                waiting += count
                continue
            samples += count
            if any('swift_forwarder/' in frame for frame in frames):
                forwarder += count
            categories[categorize(frames[-1])] += count
            own[_short(frames[-1])] += count
    share = (lambda n: n / samples if samples else 0.0)
    return {'samples': samples, 'forwarder_share': share(forwarder),
            'waiting': waiting / (samples + waiting) if samples + waiting else 0.0,
            'categories': {c: share(categories[c]) for c, _n, _p in CATEGORIES},
            'top_own': [(name, share(n)) for name, n in own.most_common(12)]}


def _short(frame):
    name, _, where = frame.partition(' (')
    where = where.rstrip(')').rsplit(':', 1)[0]
    return '%s (%s)' % (name, '/'.join(where.split('/')[-2:]))


class LoadSampler(object):
    """The 1-minute load average every ``interval`` seconds while the run goes on."""

    def __init__(self, interval=15.0):
        self.interval, self.samples = interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        return self.samples

    def _run(self):
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""What the kernel says about the servers under test: CPU time and RSS of a process,
and the TCP connections made to a port."""

import os
import threading

_TICKS = os.sysconf('SC_CLK_TCK')
#: /proc/net/tcp state of a listening socket
_LISTEN = '0A'


def cpu_seconds(pid):
    """utime + stime of ``pid``, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_ns(pid):
    """CPU time of every thread of ``pid`` (user + system), in nanoseconds, from
    ``/proc/<pid>/task/*/schedstat``: finer than :func:`cpu_seconds`' clock ticks.  A
    thread that has exited is no longer counted."""
    total = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread has just exited
    return total


def rss_bytes(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise ValueError('no VmRSS for pid %d' % pid)


def peer_ports(port):
    """The other end's port of every IPv4 TCP socket connected to ``port`` or from it,
    in any state but LISTEN (TIME_WAIT included, so a connection that has closed is
    still seen for a minute)."""
    found = set()
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split(None, 4)
            if fields[3] == _LISTEN:
                continue
            lport = int(fields[1].rpartition(':')[2], 16)
            rport = int(fields[2].rpartition(':')[2], 16)
            if lport == port:
                found.add(rport)
            elif rport == port:
                found.add(lport)
    return found


class _Sampler(object):
    """Calls ``self.sample()`` every ``interval`` seconds in a thread, between
    :meth:`start` and :meth:`stop` (and once at each)."""

    def __init__(self, interval):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        self.sample()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()


class NewConnections(_Sampler):
    """Counts the TCP connections opened to ``port`` while it runs: the distinct source
    ports seen connected to it (sampled) that were not there at the start."""

    def __init__(self, port, interval=0.2):
        super().__init__(interval)
        self.port = port
        self.before = None
        self.seen = set()

    def sample(self):
        ports = peer_ports(self.port)
        if self.before is None:
            self.before = ports
        self.seen |= ports

    @property
    def count(self):
        return len(self.seen - self.before)


class PeakRss(_Sampler):
    """The largest RSS of ``pid`` seen while it runs (``baseline`` is the first)."""

    def __init__(self, pid, interval=0.05):
        super().__init__(interval)
        self.pid = pid
        self.baseline = self.peak = None

    def sample(self):
        rss = rss_bytes(self.pid)
        if self.baseline is None:
            self.baseline = rss
        self.peak = max(self.peak or 0, rss)

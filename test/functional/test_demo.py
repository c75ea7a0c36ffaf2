# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make demo`` works: the demo, run once in a subprocess, starts its own
two clusters, passes every check it makes and says so."""

import os
import re
import signal
import subprocess
import sys

from test.functional.conftest import require_saio

#: The demo starts two clusters and moves about 300 MB; it takes seconds.
TIMEOUT = 300
BIG = 100 * 2 ** 20
SMALL = len(b'hello from the local proxy\n')


def run_demo(workdir):
    """Run the demo with ``DEMO_ONCE=1``; returns (exit status, output).

    On timeout it gets SIGINT, which the demo takes as Ctrl-C: it stops its
    clusters before exiting (a SIGKILL would leave them running).
    """
    env = dict(os.environ, DEMO_ONCE='1', TMPDIR=str(workdir),
               PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'swift_forwarder.testing.demo'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))))
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        raise AssertionError('demo still running after %ds:\n%s' % (
            TIMEOUT, output.decode('utf-8', 'replace')))
    return proc.returncode, output.decode('utf-8', 'replace')


def line(pattern, output):
    """The match of ``pattern`` (a regex for one whole line)."""
    match = re.search('^%s$' % pattern, output, re.MULTILINE)
    assert match, 'no line matching %r in the demo output:\n%s' % (
        pattern, output)
    return match


def test_demo_once_passes(tmp_path):
    """Exit status 0; the 100 MB object's MD5 matches through the forwarder
    and on the target, the small one too; the pool counters are printed."""
    require_saio()
    status, output = run_demo(tmp_path)
    print('\n' + output)
    assert status == 0, output
    target_url = line(r'target cluster: (http://127\.0\.0\.1:\d+) .*',
                      output).group(1)
    uploaded = line(r'PUT big \(100 MB\) in .*, etag ([0-9a-f]{32})',
                    output).group(1)

    # through the forwarder
    line(r'GET big in .*: md5 %s, expected %s: OK' % (uploaded, uploaded),
         output)
    line('GET small.txt: OK', output)

    # directly on the target
    line(r'  GET big on the target: %d bytes, md5 %s, etag %s, uploaded md5 '
         r'%s: OK' % (BIG, uploaded, uploaded, uploaded), output)
    small = line(r'  GET small.txt on the target: %d bytes, '
                 r'md5 ([0-9a-f]{32}), etag \1, uploaded md5 \1: OK' % SMALL,
                 output)
    assert small.group(1) != uploaded

    # the pool counters of the forwarder's target: the target cluster
    pool = line(r'forwarder pool default \((\S+)\): (.*)', output)
    assert pool.group(1) == target_url
    counters = dict(pair.split('=') for pair in pool.group(2).split(', '))
    assert set(counters) >= {'created', 'reused', 'discarded', 'in_use',
                             'idle'}, counters
    counters = {name: int(value) for name, value in counters.items()}
    assert counters['in_use'] == 0, counters
    assert counters['created'] >= 1, counters
    # six forwarded requests, one after the other: connections are reused
    assert counters['created'] + counters['reused'] >= 6, counters
    assert counters['reused'] >= 1, counters

    assert 'MISMATCH' not in output
    line('demo passed', output)
    line('clusters stopped', output)

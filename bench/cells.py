# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""What the two-path benches (:mod:`bench.core`, :mod:`bench.migrate`) share: their
setup requests, the machine table of their report, and their ``main``."""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile

from bench import client, report
from swift_forwarder.testing import saio


def say(fmt, *args):
    sys.stderr.write((fmt % args) + '\n')
    sys.stderr.flush()


def setup_request(endpoint, method, path, body=b'', expect=(200, 201, 202)):
    """One request of a bench's setup, on a connection of its own."""
    conn = endpoint.connect()
    try:
        client.request(conn, method, path, endpoint.token, body=body, expect=expect)
    finally:
        conn.close()


def machine_table(meta, run):
    """The report's table of what ran where (``run``: the repetitions...)."""
    return [
        '| | |', '| --- | ---: |',
        '| date | %s |' % meta['date'], '| cores | %s |' % meta['cores'],
        '| swift | %s |' % meta['swift'],
        '| swift_forwarder | %s (commit %s) |' % (meta['swift_forwarder'], meta['commit']),
        '| load average before / after | %s / %s |' % (
            ' '.join('%.2f' % v for v in meta['load_before']),
            ' '.join('%.2f' % v for v in meta['load_after'])),
        '| run | %s |' % run, '']


def main(args, run, markdown, prefix):
    """Run ``run(args, workdir)`` on fresh clusters in a temporary directory, then
    write ``<args.out>/<args.name>.md`` (``markdown(result, meta, args)``) and
    ``.json``.  Returns the exit status."""
    reason = saio.missing_requirement()
    if reason:
        say('bench: %s', reason)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally clauses
    workdir = tempfile.mkdtemp(prefix=prefix)
    meta = report.machine(argparse.Namespace(
        **dict(dict(huge_bytes=0, duration=0, max_requests=0, reps=1, size_mib=0),
               **vars(args))))
    try:
        result = run(args, workdir)
    except BaseException:
        say('bench: failed; cluster logs are in %s', workdir)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    meta['load_after'] = os.getloadavg()
    os.makedirs(args.out, exist_ok=True)
    for ext, text in (('md', markdown(result, meta, args)),
                      ('json', json.dumps(dict(result=result, meta=meta), indent=1,
                                          sort_keys=True, default=str))):
        path = os.path.join(args.out, '%s.%s' % (args.name, ext))
        with open(path, 'w') as f:
            f.write(text + '\n')
        say('wrote %s', path)
    return 0

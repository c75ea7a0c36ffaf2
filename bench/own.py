# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The forwarder's own cost per request: the filter alone, nothing of Swift's pipeline.

A worker process (one per variant, see :mod:`bench.ab`) loads the ``forwarder`` filter
the way paste does (``filter_factory``), in a process set up like a Swift proxy worker
(eventlet monkey-patched, the poll hub, Swift's logger writing to a file, the requests in
a green thread as eventlet's server runs a client connection), and calls it directly with
the environ eventlet's WSGI server and the middlewares before it would give it
(``wsgi.input`` an eventlet ``Input`` on a socket, behind proxy-logging's ``InputProxy``;
a transaction id), one 4 KiB request after another.  What that costs is the forwarder's
code: routing, checks, headers, the pooled upstream round trip with its system calls,
the response head, the log line and metrics.  While it waits for the target the process
is idle, so that costs nothing.

Two measures:

* CPU time (``time.process_time``) per request, against a real target cluster: what
  :mod:`bench.run` reports for the per-request goal;
* with ``--callgrind``: instructions per request under valgrind's callgrind, against a
  fake target in another process (a few lines of Python answering as Swift does), the
  same count every run, for before/after pairs on a machine whose CPU time is noisy;
* with ``--opcodes``: Python bytecodes executed per request (``sys.settrace``), against
  the fake target, before the body's first chunk is handed to the server (what the
  client waits for) and in all.

    python -m bench.own --variant before=HEAD~1 --variant after=WORKTREE \\
        [--rounds 8] [--callgrind | --opcodes] [--count 200]

The worker side of this file runs with only the variant's code on ``sys.path``: it
imports nothing from ``bench``.
"""

import glob
import os
import subprocess
import sys
import time

#: the repository root: the work tree's code, for a worker of the code as it is
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: requests per round and method, and the methods
ROUND = 500
METHODS = ('GET', 'HEAD', 'PUT')
BODY_SIZE = 4096


class Worker(object):
    """One worker process running the forwarder from ``code_root`` against
    ``target_url`` (``account``, ``container``, ``token``: where the 4 KiB objects are).

    :param callgrind: None, or a file name prefix: run under callgrind, and
        :meth:`measure` counts instructions instead of CPU seconds.
    """

    def __init__(self, code_root, target_url, account, container, token, options=None,
                 log_path=os.devnull, callgrind=None):
        env = dict(os.environ, PYTHONPATH=code_root, PYTHONUNBUFFERED='1')
        args = [target_url, account, container, token] + [
            '%s=%s' % item for item in sorted((options or {}).items())]
        argv = [sys.executable, '-P', os.path.abspath(__file__), '--worker'] + args
        self.callgrind, self.batches = callgrind, 0
        if callgrind:
            # a dump each time the worker calls os.getppid(): before and after a batch
            argv = ['valgrind', '--tool=callgrind', '--dump-before=os_getppid*',
                    '--callgrind-out-file=%s.out' % callgrind] + argv
        self.log = open(log_path, 'ab')
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, text=True, cwd='/')
        line = self.proc.stdout.readline().strip()
        if line != 'ready':
            self.stop()
            raise RuntimeError('bench.own worker did not start (%r); see %s'
                               % (line, log_path))

    def opcodes(self, method, count=50):
        """(bytecodes before the first chunk, in all) per request, over ``count``."""
        self.proc.stdin.write('OPCODES %s %d\n' % (method, count))
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().split()
        if len(reply) != 2:
            raise RuntimeError('bench.own worker: %s' % (' '.join(reply) or 'exited'))
        return float(reply[0]) / count, float(reply[1]) / count

    def measure(self, method, count=ROUND):
        """CPU seconds (or instructions, under callgrind) per request over ``count``
        ``method`` requests."""
        self.proc.stdin.write('%s %d\n' % (method, count))
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().split()
        if len(reply) != 2 or reply[1] != '0':
            raise RuntimeError('bench.own worker: %s' % (' '.join(reply) or 'exited'))
        self.batches += 1
        if not self.callgrind:
            return float(reply[0]) / count
        # parts: 1 before the first batch, then 2k the k-th batch, 2k+1 between
        return _callgrind_total('%s.out.%d' % (self.callgrind, 2 * self.batches)) / count

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(60 if self.callgrind else 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        for path in glob.glob('%s.out*' % self.callgrind) if self.callgrind else ():
            os.unlink(path)


def _callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(('summary:', 'totals:')):
                return int(line.split()[1])
    raise RuntimeError('no total in %s' % path)


# --- the worker side: only the variant's swift_forwarder, swift, eventlet -------------------

def _worker(argv):
    import eventlet
    import eventlet.wsgi
    eventlet.monkey_patch(all=False, socket=True, select=True, thread=True)
    eventlet.hubs.use_hub('poll')  # Swift's hub
    import logging
    from swift.common.utils import InputProxy, get_logger, logs
    from swift_forwarder.middleware import filter_factory

    target_url, account, container, token = argv[:4]
    options = dict(arg.split('=', 1) for arg in argv[4:])

    class NoSyslog(logging.NullHandler):
        def __init__(self, *args, **kwargs):
            logging.NullHandler.__init__(self)
    logs.ThreadSafeSysLogHandler = NoSyslog  # as bench's servers: stderr only
    get_logger({}, log_to_console=True)  # the console handler, as `swift-proxy-server -v`
    conf = dict(options, target_url=target_url, log_name='proxy-server')
    forwarder = filter_factory({}, **conf)(_not_forwarded)
    requests = _Requests(forwarder, account, container, token, InputProxy,
                         eventlet.wsgi.Input)
    # in a green thread, as eventlet's server runs each client connection
    # (the logger's current_thread() is cheap there, not in the main greenlet)
    eventlet.spawn(_serve, requests).wait()


def _serve(requests):
    for method in METHODS * 20:  # warm up: pool, caches
        requests.one(method)
    print('ready', flush=True)
    for line in sys.stdin:
        if line.startswith('OPCODES '):
            print('%d %d' % requests.opcodes(*line.split()[1:]), flush=True)
            continue
        method, count = line.split()
        errors = 0
        os.getppid()  # callgrind: the batch starts
        started = time.process_time()
        for _ in range(int(count)):
            errors += requests.one(method)
        elapsed = time.process_time() - started
        os.getppid()  # callgrind: the batch ends
        print('%.9f %d' % (elapsed, errors), flush=True)


def _not_forwarded(env, start_response):
    raise AssertionError('not forwarded: %s' % env['PATH_INFO'])


class _Requests(object):
    """Environs as eventlet's server and Swift's middlewares before the forwarder make
    them, one socket pair standing for the client's connection."""

    def __init__(self, forwarder, account, container, token, input_proxy, wsgi_input):
        import socket
        self.forwarder, self.token = forwarder, token
        self.input_proxy, self.wsgi_input = input_proxy, wsgi_input
        self.path = '/v1/%s/%s/' % (account, container)
        self.client, self.server = socket.socketpair()
        self.rfile = self.server.makefile('rb')
        self.body = os.urandom(BODY_SIZE)
        self.count = 0
        self.status = None

    def environ(self, method):
        self.count += 1
        obj = 'own-put' if method == 'PUT' else 'small'
        env = {
            'REQUEST_METHOD': method, 'SCRIPT_NAME': '', 'PATH_INFO': self.path + obj,
            'RAW_PATH_INFO': self.path + obj, 'CONTENT_TYPE': 'text/plain',
            'SERVER_PROTOCOL': 'HTTP/1.0', 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '8080',
            'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '40000', 'GATEWAY_INTERFACE': 'CGI/1.1',
            'wsgi.errors': sys.stderr, 'wsgi.version': (1, 0), 'wsgi.multithread': True,
            'wsgi.multiprocess': False, 'wsgi.run_once': False, 'wsgi.url_scheme': 'http',
            'HTTP_HOST': '127.0.0.1:8080', 'HTTP_ACCEPT_ENCODING': 'identity',
            'HTTP_X_AUTH_TOKEN': self.token, 'eventlet.posthooks': [],
            'swift.trans_id': 'tx%021x-0069300000' % self.count,
        }
        headers = [('Host', '127.0.0.1:8080'), ('Accept-Encoding', 'identity'),
                   ('X-Auth-Token', self.token)]
        length = '0'
        if method == 'PUT':
            length = env['CONTENT_LENGTH'] = str(len(self.body))
            headers.append(('Content-Length', length))
            self.client.sendall(self.body)
        env['headers_raw'] = tuple(headers)
        source = self.wsgi_input(self.rfile, length, self.server)
        env['eventlet.input'] = source
        env['wsgi.input'] = self.input_proxy(source)  # proxy-logging's
        return env

    def start_response(self, status, headers, exc_info=None):
        self.status = int(status.split(' ', 1)[0])

    def opcodes(self, method, count):
        """Bytecodes run by ``count`` requests: (before each body's first chunk, in
        all)."""
        counted = [0]

        def trace(frame, event, arg):
            frame.f_trace_opcodes = True
            if event == 'opcode':
                counted[0] += 1
            return trace
        first = total = 0
        for _ in range(int(count)):
            env = self.environ(method)
            counted[0] = 0
            sys.settrace(trace)
            body = self.forwarder(env, self.start_response)
            chunks = iter(body)
            next(chunks, None)
            sys.settrace(None)
            first += counted[0]
            sys.settrace(trace)
            for _chunk in chunks:
                pass
            if hasattr(body, 'close'):
                body.close()
            sys.settrace(None)
            total += counted[0]
        return first, total

    def one(self, method):
        """One request, its body read to the end; 1 if it failed, else 0."""
        body = self.forwarder(self.environ(method), self.start_response)
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, 'close'):
                body.close()
        return 0 if self.status in (200, 201) else 1


# --- a fake target: answers as a Swift proxy does, keep-alive, the PUT's ETag its MD5 ---------

FAKE_TARGET = r'''
import hashlib, os, socket, sys, threading
BODY = os.urandom(4096)
HEAD = ('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nEtag: %s\r\n'
        'Last-Modified: Thu, 03 Dec 2026 12:00:00 GMT\r\nX-Timestamp: 1796212800.12345\r\n'
        'Accept-Ranges: bytes\r\nX-Trans-Id: tx0123456789abcdef01234-0069301234\r\n'
        'X-Openstack-Request-Id: tx0123456789abcdef01234-0069301234\r\n'
        'Date: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Length: %d\r\n\r\n'
        % (hashlib.md5(BODY).hexdigest(), len(BODY))).encode()
CREATED = ('HTTP/1.1 201 Created\r\nContent-Type: text/html; charset=UTF-8\r\n'
           'Etag: %s\r\nLast-Modified: Thu, 03 Dec 2026 12:00:00 GMT\r\n'
           'X-Trans-Id: tx0123456789abcdef01234-0069301234\r\n'
           'X-Openstack-Request-Id: tx0123456789abcdef01234-0069301234\r\n'
           'Date: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Length: 0\r\n\r\n')
def serve(conn):
    f = conn.makefile('rb')
    while True:
        line = f.readline()
        if not line:
            return
        length, expect = 0, False
        while True:
            header = f.readline()
            if header in (b'\r\n', b''):
                break
            name, _, value = header.partition(b':')
            length = int(value) if name.lower() == b'content-length' else length
            expect = expect or name.lower() == b'expect'
        if line.startswith(b'PUT'):
            if expect:
                conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
            conn.sendall((CREATED % hashlib.md5(f.read(length)).hexdigest()).encode())
        else:
            conn.sendall(HEAD if line.startswith(b'HEAD') else HEAD + BODY)
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


class FakeTarget(object):
    """The fake target in a process of its own; stop() ends it (by its pid)."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, '-c', FAKE_TARGET],
                                     stdout=subprocess.PIPE, text=True)
        self.url = 'http://127.0.0.1:%d' % int(self.proc.stdout.readline())

    def stop(self):
        self.proc.kill()
        self.proc.wait()


# --- on its own ---------------------------------------------------------------------------

def _real_target(workdir):
    """A dev cluster with the 4 KiB object: (cluster, url, account, token)."""
    import urllib.parse
    from bench import client
    from swift_forwarder.testing import saio
    target = saio.SwiftCluster('target', workdir, saio.find_free_base())
    target.start()
    storage_url, token = target.get_auth()
    account = urllib.parse.urlsplit(storage_url).path.split('/')[2]
    ep = client.Endpoint(target.proxy_url, '/v1/' + account, token)
    conn = ep.connect()
    client.request(conn, 'PUT', ep.path('own'), token, expect=(201, 202))
    client.request(conn, 'PUT', ep.path('own', 'small'), token,
                   body=os.urandom(BODY_SIZE), expect=(201,))
    conn.close()
    return target, target.proxy_url, account, token


def main(argv=None):
    import argparse
    import collections
    import shutil
    import tempfile
    from bench import ab, stats

    parser = argparse.ArgumentParser(prog='python -m bench.own',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', action='append', required=True,
                        metavar='NAME=REV[:OPT=VALUE,...]')
    parser.add_argument('--rounds', type=int, help='default 8, 1 with --callgrind')
    parser.add_argument('--callgrind', action='store_true',
                        help='count instructions (valgrind), against a fake target')
    parser.add_argument('--opcodes', action='store_true',
                        help='count Python bytecodes, against a fake target')
    parser.add_argument('--count', type=int, help='requests per measurement '
                        '(default %d, 200 with --callgrind)' % ROUND)
    args = parser.parse_args(argv)
    exact = args.callgrind or args.opcodes
    rounds = args.rounds or (1 if exact else 8)
    count = args.count or (200 if exact else ROUND)
    variants = [ab._parse_variant(parser, v) for v in args.variant]
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-own-')
    workers = collections.OrderedDict()
    if exact:
        target = FakeTarget()
        url, account, token = target.url, 'AUTH_test', 'AUTH_tk0123456789abcdef'
    else:
        target, url, account, token = _real_target(workdir)
    try:
        for name, rev, options in variants:
            code = ab.export(rev, os.path.join(workdir, 'code-' + name))
            workers[name] = Worker(code, url, account, 'own', token, options,
                                   os.path.join(workdir, 'own-%s.log' % name),
                                   callgrind=os.path.join(workdir, 'cg-' + name)
                                   if args.callgrind else None)
        if args.opcodes:
            _print_opcodes(workers, count)
            return 0
        results = collections.defaultdict(list)
        names = list(workers)
        for rnd in range(rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for method in METHODS:
                for name in order:
                    results[(name, method)].append(workers[name].measure(method, count))
        unit, scale = ('instructions', 1) if args.callgrind else ('us CPU', 1e6)
        print('per request (%s), median of %d rounds of %d requests:' % (
            unit, rounds, count))
        for method in METHODS:
            base = stats.median(results[(names[0], method)])
            print('%-5s ' % method + '  '.join(
                '%s %.1f%s' % (name, stats.median(results[(name, method)]) * scale,
                               '' if name == names[0] else ' (x%.3f)' % (
                                   stats.median(results[(name, method)]) / base))
                for name in names))
    finally:
        for worker in workers.values():
            worker.stop()
        target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _print_opcodes(workers, count):
    print('Python bytecodes per request (%d requests): before the first chunk / in all'
          % count)
    for method in METHODS:
        print('%-5s ' % method + '  '.join(
            '%s %.0f / %.0f' % ((name,) + workers[name].opcodes(method, count))
            for name in workers))


if __name__ == '__main__':
    if sys.argv[1:2] == ['--worker']:
        _worker(sys.argv[2:])
    else:
        sys.exit(main())

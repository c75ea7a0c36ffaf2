# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The forwarder's own CPU per request: the filter alone, nothing of Swift's pipeline.

A worker process (one per variant, see :mod:`bench.ab`) loads the ``forwarder`` filter
the way paste does (``filter_factory``), in a process set up like a Swift proxy worker
(eventlet monkey-patched, the poll hub, Swift's logger writing to a file), and calls it
directly with the environ eventlet's WSGI server and the middlewares before it would give
it (``wsgi.input`` an eventlet ``Input`` on a socket, behind proxy-logging's
``InputProxy``; a transaction id), one request after another, against a real target
cluster.  The worker's CPU time (``time.process_time``) over those requests, divided by
their number, is what the forwarder's code costs per request: routing, checks, headers,
the pooled upstream round trip with its system calls, the response head, the log line
and metrics.  While it waits for the target the process is idle, so that costs nothing.

Run by :mod:`bench.run` (the per-request goal) and usable on its own::

    python -m bench.own --variant before=HEAD~1 --variant after=WORKTREE [--rounds 8]

The worker side of this file runs with only the variant's code on ``sys.path``: it
imports nothing from ``bench``.
"""

import os
import subprocess
import sys
import time

#: requests per round and method, and the methods
ROUND = 500
METHODS = ('GET', 'HEAD', 'PUT')
BODY_SIZE = 4096


class Worker(object):
    """One worker process running the forwarder from ``code_root`` against
    ``target_url`` (``account``, ``container``, ``token``: where the 4 KiB objects are)."""

    def __init__(self, code_root, target_url, account, container, token, options=None,
                 log_path=os.devnull):
        env = dict(os.environ, PYTHONPATH=code_root, PYTHONUNBUFFERED='1')
        args = [target_url, account, container, token] + [
            '%s=%s' % item for item in sorted((options or {}).items())]
        self.log = open(log_path, 'ab')
        self.proc = subprocess.Popen(
            [sys.executable, '-P', os.path.abspath(__file__), '--worker'] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
            text=True, cwd='/')
        line = self.proc.stdout.readline().strip()
        if line != 'ready':
            self.stop()
            raise RuntimeError('bench.own worker did not start (%r); see %s'
                               % (line, log_path))

    def measure(self, method, count=ROUND):
        """CPU seconds per request over ``count`` ``method`` requests."""
        self.proc.stdin.write('%s %d\n' % (method, count))
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().split()
        if len(reply) != 2 or reply[1] != '0':
            raise RuntimeError('bench.own worker: %s' % (' '.join(reply) or 'exited'))
        return float(reply[0]) / count

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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
    for method in METHODS * 20:  # warm up: pool, caches
        requests.one(method)
    print('ready', flush=True)
    for line in sys.stdin:
        method, count = line.split()
        errors = 0
        started = time.process_time()
        for _ in range(int(count)):
            errors += requests.one(method)
        print('%.9f %d' % (time.process_time() - started, errors), flush=True)


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


# --- on its own ---------------------------------------------------------------------------

def main(argv=None):
    import argparse
    import collections
    import tempfile
    import urllib.parse
    from bench import ab, client, stats
    from swift_forwarder.testing import saio

    parser = argparse.ArgumentParser(prog='python -m bench.own',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', action='append', required=True,
                        metavar='NAME=REV[:OPT=VALUE,...]')
    parser.add_argument('--rounds', type=int, default=8)
    args = parser.parse_args(argv)
    variants = [ab._parse_variant(parser, v) for v in args.variant]
    workdir = tempfile.mkdtemp(prefix='swift-forwarder-own-')
    target = saio.SwiftCluster('target', workdir, saio.find_free_base())
    target.start()
    workers = collections.OrderedDict()
    try:
        storage_url, token = target.get_auth()
        account = urllib.parse.urlsplit(storage_url).path.split('/')[2]
        ep = client.Endpoint(target.proxy_url, '/v1/' + account, token)
        conn = ep.connect()
        client.request(conn, 'PUT', ep.path('own'), token, expect=(201, 202))
        client.request(conn, 'PUT', ep.path('own', 'small'), token,
                       body=os.urandom(BODY_SIZE), expect=(201,))
        conn.close()
        for name, rev, options in variants:
            code = ab.export(rev, os.path.join(workdir, 'code-' + name))
            workers[name] = Worker(code, target.proxy_url, account, 'own', token, options,
                                   os.path.join(workdir, 'own-%s.log' % name))
        results = collections.defaultdict(list)
        names = list(workers)
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for method in METHODS:
                for name in order:
                    results[(name, method)].append(workers[name].measure(method))
        first = names[0]
        for method in METHODS:
            base = stats.median(results[(first, method)])
            print('%-5s ' % method + '  '.join(
                '%s %.1f us%s' % (name, stats.median(results[(name, method)]) * 1e6,
                                  '' if name == first else ' (x%.3f)' % (
                                      stats.median(results[(name, method)]) / base))
                for name in names))
    finally:
        for worker in workers.values():
            worker.stop()
        target.stop()
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['--worker']:
        _worker(sys.argv[2:])
    else:
        sys.exit(main())

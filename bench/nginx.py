# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""nginx as the benchmark's reference proxy: our own process on a loopback port, with its
own prefix and config in a temp dir (never the system service), stopped by pid.

The config is the *tuned* keep-alive reverse proxy: no request or response buffering,
HTTP/1.1 upstream with ``Connection: ""``, an upstream ``keepalive`` cache, effectively
unlimited ``keepalive_requests`` on both sides, 64 KiB proxy buffers, one worker.
"""

import os
import shutil
import subprocess
import time

from swift_forwarder.testing import saio

#: idle upstream connections nginx's worker keeps: the forwarder's default pool_size
KEEPALIVE = 20

CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_max_body_size 0;
    client_body_buffer_size 64k;

    upstream target {{
        server 127.0.0.1:{target_port};
        keepalive {keepalive};
        keepalive_requests 1000000000;
        keepalive_timeout 60s;
    }}

    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://target;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_buffer_size 64k;
            proxy_buffers 8 64k;
            proxy_max_temp_file_size 0;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
        }}
    }}
}}
"""


def binary():
    """The nginx executable, or None."""
    return shutil.which('nginx') or shutil.which('nginx', path='/usr/sbin:/usr/bin')


def version():
    """'1.22.1' or the like, or None."""
    exe = binary()
    if not exe:
        return None
    out = subprocess.run([exe, '-v'], capture_output=True, text=True).stderr
    return out.strip().rpartition('/')[2] or None


class Nginx(object):
    """One nginx (a master and one worker) proxying 127.0.0.1:``port`` to ``target_port``.

    :param prefix: an empty directory for its config, pid, logs and temp paths.
    :param keepalive: idle upstream connections cached by the worker.
    """

    def __init__(self, prefix, port, target_port, keepalive=KEEPALIVE):
        self.prefix, self.port = os.path.abspath(prefix), port
        self.target_port, self.keepalive = target_port, keepalive
        self.conf_path = os.path.join(self.prefix, 'nginx.conf')
        self.proc = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=10):
        """Write the config, start nginx and wait until it accepts connections."""
        exe = binary()
        if not exe:
            raise RuntimeError('nginx not found: apt-get install nginx')
        self._write_conf()
        argv = [exe, '-p', self.prefix + '/', '-c', self.conf_path,
                '-e', os.path.join(self.prefix, 'error.log')]
        log = os.path.join(self.prefix, 'stderr.log')
        self.proc = saio._Process.spawn('nginx', argv, log)
        self._wait_ready(time.monotonic() + timeout)

    def worker_pid(self):
        """The single worker's pid."""
        pids = sorted(saio._children(self.proc.pid))
        if len(pids) != 1:
            raise RuntimeError('nginx: expected one worker, found %r' % pids)
        return pids[0]

    def stop(self):
        """Fast shutdown (SIGTERM to the master, by recorded pid and start time).
        Safe to call twice."""
        if self.proc is not None:
            saio._stop_processes([self.proc])
            self.proc = None

    def _write_conf(self):
        user = 'user root;' if os.geteuid() == 0 else ''
        text = CONF.format(prefix=self.prefix, port=self.port, target_port=self.target_port,
                           keepalive=self.keepalive, user=user)
        with open(self.conf_path, 'w') as f:
            f.write(text)

    def _wait_ready(self, deadline):
        while not saio._tcp_open(self.port):
            if self.proc.exited() or time.monotonic() > deadline:
                tail = saio._tail(os.path.join(self.prefix, 'error.log'))
                self.stop()
                raise RuntimeError('nginx did not start:\n%s' % tail)
            time.sleep(0.05)
        self.proc.remember_children()

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""
Real Swift dev clusters ("SAIO", Swift All In One) on 127.0.0.1, for tests,
the demo and the benchmarks.

One cluster is a memcached, an account, a container, an object and a proxy
server, run from the installed ``swift`` package: 1 replica, 1 device, part
power 6, ``mount_check = false``.  Nothing is written to ``/etc``: each
cluster has its own ``swift.conf``, rings and server configs under
``<workdir>/<name>/etc``, and devices in a fresh directory under
``/dev/shm`` (tmpfs holds 64 KB of xattrs per file, ext4 only ~4 KB, too
little for objects with near-maximum metadata) or ``<workdir>/<name>/devices``.

Usage::

    local, target = start_pair(workdir, {'pool_size': '8'})
    try:
        storage_url, token = target.get_auth()     # test:tester / testing
        # local.proxy_url + '/v1/AUTH_test' goes through the forwarder
    finally:
        local.stop()
        target.stop()

or ``python -m swift_forwarder.testing.saio up DIR`` for a pair that stays
up until Ctrl-C.

How it works, and why:

* Swift reads storage policies and constraints from
  ``swift.common.utils.SWIFT_CONF_FILE`` (``/etc/swift/swift.conf``) at import
  time; ``swift_dir`` only moves rings and the hash prefix/suffix.  So every
  server is started as ``python -m swift_forwarder.testing.saio serve
  SWIFT_CONF SERVER CONF``, which points Swift at the cluster's swift.conf,
  reloads policies and constraints, then calls ``run_wsgi`` like Swift's own
  ``swift-*-server`` scripts do.
* Logging: there is no ``/dev/log``.  ``serve`` runs the server with
  ``verbose=True`` (what ``swift-proxy-server -v`` does): every logger made
  by Swift's ``get_logger`` in that process - proxy-logging's access log and
  any middleware's logger included - then also writes to the process's
  stderr, which is the file ``<workdir>/<name>/log/<server>.log``.  The syslog
  handler Swift adds as well is replaced by a no-op, so nothing is sent to
  a syslog on UDP port 514.
* Ports: ``port_base`` + 0 proxy, +1 account, +2 container, +3 object,
  +4 memcached, +5 the backend endpoint (when started).  Keep bases below
  32768 (the ephemeral range starts there).
* A *backend endpoint* (:meth:`SwiftCluster.start_backend`, for the core
  placement) is one more proxy-server process on the same cluster, with
  :data:`BACKEND_PIPELINE` (no gatekeeper, no composite middleware) and
  ``forwarder_backend``, run as ``swift-forwarder-backend-server`` runs it
  (Swift does not add its required filters to the pipeline).
* Processes: each server runs in its own session (SIGTERM to the process
  group reaches proxy workers).  Stopping signals only the pids recorded at
  start, after checking that the process start time still matches, so a
  recycled pid is never hit.

Users (tempauth, on every cluster): ``test:tester``/``testing`` (.admin),
``test2:tester2``/``testing2`` (.admin), ``test:tester3``/``testing3`` (not
admin), ``test5:tester5``/``testing5`` (group ``service``, for Swift's
service-token tests: see :data:`SERVICE_TOKEN_TEMPAUTH`),
``admin:admin``/``admin`` (.reseller_admin).  These are the users Swift's own
functional suite (``test/sample.conf``) expects.

No account, container or object *daemons* run (replicators, updaters...):
account listings show containers, but their object counts and bytes only
change when a container is created or deleted.
"""

import argparse
import atexit
import collections
import getpass
import http.client
import importlib.util
import io
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

__all__ = ['ClusterError', 'SwiftCluster', 'start_pair', 'find_free_base',
           'port_is_free', 'missing_requirement', 'TEMPAUTH_USERS',
           'SERVICE_TOKEN_TEMPAUTH']

LOG = logging.getLogger(__name__)

#: Offsets from a cluster's port base.
PORT_OFFSETS = collections.OrderedDict([
    ('proxy', 0), ('account', 1), ('container', 2), ('object', 3), ('memcached', 4),
    ('backend', 5)])
BACKENDS = ('account', 'container', 'object')
MAX_PORT = 32767

PART_POWER = 6

#: Storage policies of a cluster by default, index 0 (the default policy) first.  ``silver``
#: has a one-device ring of its own (``object-1.ring.gz``), as a policy routed to another
#: cluster (storage_policies) needs for Swift to start: a placeholder, nothing is stored in
#: it then.
POLICIES = ('gold', 'silver')

PROXY_PIPELINE = (
    'catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl formpost '
    'ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink '
    'proxy-logging proxy-server').split()

#: The backend endpoint's pipeline: Swift's internal one (no gatekeeper, no composite
#: middleware), with the forwarder's target-side filter.
BACKEND_PIPELINE = (
    'catch_errors healthcheck proxy-logging cache tempauth forwarder_backend '
    'proxy-server').split()

#: tempauth ``user_<account>_<user> = <key> [groups]``, the same on every cluster.
TEMPAUTH_USERS = collections.OrderedDict([
    ('user_test_tester', 'testing .admin'),
    ('user_test2_tester2', 'testing2 .admin'),
    ('user_test_tester3', 'testing3'),
    ('user_test5_tester5', 'testing5 service'),
    ('user_admin_admin', 'admin .admin .reseller_admin'),
])

#: Extra tempauth options for Swift's service-token tests (``service_prefix = SERVICE`` in
#: its test.conf), as Swift's in-process functional setup has them: a second reseller prefix
#: whose accounts need a token of a ``service`` group member (``X-Service-Token``) as well.
SERVICE_TOKEN_TEMPAUTH = collections.OrderedDict([
    ('reseller_prefix', 'AUTH, SERVICE'),
    ('SERVICE_require_group', 'service'),
])

#: Objects with near-maximum metadata need about this much xattr space.
XATTR_WANTED = 8192

_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ClusterError(Exception):
    """A cluster could not be started, restarted, logged in to or stopped; the message
    says why (with the log tails of the servers concerned)."""


# --- processes ------------------------------------------------------------------------------

def _proc_stat(pid):
    """(state, ppid, start time) of ``pid`` from /proc, or None if there is no such process.

    The start time (field 22, clock ticks since boot) tells a process from a later one that
    got the same pid.
    """
    try:
        with open('/proc/%d/stat' % pid) as f:
            # comm (field 2) may hold spaces and ')': split after the last ')'
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[19])


def _children(pid):
    """{pid: start time} of the live direct children of ``pid``."""
    found = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[1] == pid and stat[0] != 'Z':
                found[int(entry)] = stat[2]
    return found


class _Process(object):
    """A process we started, known by pid *and* start time.

    :param name: server name, for messages.
    :param pid: the pid; the process leads its own process group.
    :param start_time: its start time (see :func:`_proc_stat`).
    :param popen: the :class:`subprocess.Popen`, if we are its parent (to reap it).
    """

    #: first signal :func:`_stop_processes` sends
    stop_signal = signal.SIGTERM

    def __init__(self, name, pid, start_time, popen=None):
        self.name, self.pid, self.start_time, self.popen = name, pid, start_time, popen
        self.children = {}

    @classmethod
    def spawn(cls, name, argv, log_path, env=None):
        """Start ``argv`` in a new session, stdout and stderr appended to ``log_path``."""
        with open(log_path, 'ab') as log:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=env, close_fds=True,
                                     start_new_session=True)
        stat = _proc_stat(popen.pid)  # forked, so it exists (a zombie at worst)
        return cls(name, popen.pid, stat[2] if stat else None, popen)

    def _is_ours(self, pid, start_time):
        stat = _proc_stat(pid)
        return stat is not None and stat[0] != 'Z' and stat[2] == start_time

    def exited(self):
        """True once the process itself is gone (reaps it if it is our child)."""
        if self.popen is not None:
            self.popen.poll()
        return not self._is_ours(self.pid, self.start_time)

    def running(self):
        """True while the process or any child we saw of it (a worker) is alive."""
        return not self.exited() or any(
            self._is_ours(pid, st) for pid, st in self.children.items())

    def remember_children(self):
        if not self.exited():
            self.children.update(_children(self.pid))

    def send(self, signum):
        """Send ``signum`` to the process group, and to remembered children, if still ours."""
        self.remember_children()
        if not self.exited():
            _quiet_kill(os.killpg, self.pid, signum)
        for pid, start_time in self.children.items():
            if self._is_ours(pid, start_time):
                _quiet_kill(os.kill, pid, signum)


def _quiet_kill(kill, pid, signum):
    try:
        kill(pid, signum)
    except ProcessLookupError:  # it exited between our check and the signal
        pass


def _stop_processes(procs, timeout=5.0):
    """Each process's ``stop_signal`` (SIGTERM), wait up to ``timeout`` s, then SIGKILL
    whatever is left."""
    for signum, wait in ((None, timeout), (signal.SIGKILL, 5.0)):
        for proc in procs:
            proc.send(signum or proc.stop_signal)
        deadline = time.monotonic() + wait
        while any(p.running() for p in procs) and time.monotonic() < deadline:
            time.sleep(0.01)
        procs = [p for p in procs if p.running()]
        if not procs:
            return
    names = ['%s (pid %d)' % (p.name, p.pid) for p in procs]
    raise ClusterError('could not stop: %s' % ', '.join(names))


# --- ports and probes -------------------------------------------------------------------------

def port_is_free(port, host='127.0.0.1'):
    """True if ``host:port`` can be bound (SO_REUSEADDR, as Swift binds)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def tiny_tar(names):
    """A tar of one-byte files called ``names``: the body of one
    ``PUT <container>?extract-archive=tar`` that makes them all (Swift's bulk
    middleware), many times faster than a PUT each."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b'x'))
    return buf.getvalue()


def find_free_base(avoid=(), low=20000, high=MAX_PORT - 10):
    """A port base whose five ports are free, not within 10 of any base in ``avoid``.

    The search starts at a random base, so concurrent runs rarely pick the same one.
    """
    bases = list(range(low, high, 10))
    start = random.randrange(len(bases))
    for base in bases[start:] + bases[:start]:
        if all(abs(base - other) >= 10 for other in avoid) and all(
                port_is_free(base + off) for off in PORT_OFFSETS.values()):
            return base
    raise ClusterError('no free port base between %d and %d' % (low, high))


def _http_get(port, path, headers=None, timeout=5.0):
    """(status, headers) of a GET to 127.0.0.1:port, or (None, {}) if it can't be done.
    The headers are an :class:`http.client.HTTPMessage` (case-insensitive ``get``)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.msg
    except (OSError, http.client.HTTPException):
        return None, {}
    finally:
        conn.close()


def _tcp_open(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def _tail(path, lines=25):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode('utf-8', 'replace')
    except OSError as e:
        return '(no log: %s)' % e
    return '\n'.join(text.splitlines()[-lines:])


# --- files ------------------------------------------------------------------------------------

def _render_conf(sections):
    """paste.deploy/ini text from {section: {option: value}}."""
    out = []
    for section, options in sections.items():
        out.append('[%s]' % section)
        out.extend('%s = %s' % (key, value) for key, value in options.items())
        out.append('')
    return '\n'.join(out)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _build_ring(path, port, part_power=PART_POWER):
    from swift.common.ring import RingBuilder
    builder = RingBuilder(part_power, 1, 1)
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port,
                     'device': 'd1', 'weight': 1})
    builder.rebalance()
    builder.get_ring().save(path)


def _swift_filter_entry_points():
    """Names of the paste filters the installed swift provides."""
    from importlib import metadata
    return {ep.name for ep in metadata.distribution('swift').entry_points
            if ep.group == 'paste.filter_factory'}


def _xattr_capacity(directory):
    """Largest user xattr (bytes, up to 64 KB) a file in ``directory`` takes."""
    with tempfile.NamedTemporaryFile(dir=directory) as f:
        size = 65536
        while size >= 256:
            try:
                os.setxattr(f.name, 'user.saio.probe', b'x' * size)
                return size
            except OSError:
                size //= 2
    return 0


# --- the cluster ------------------------------------------------------------------------------

#: ``[app:proxy-server]`` backend timeouts of the dev clusters' proxies.
BACKEND_TIMEOUTS = {'conn_timeout': '5', 'node_timeout': '30'}


class ClusterFiles(object):
    """Where one dev cluster's files go and what they say: its swift.conf and rings, each
    server's config, its devices (in /dev/shm when there is one), its logs.  The configs
    are written from the attributes below when the cluster starts (the proxy's again at
    each :meth:`SwiftCluster.restart_proxy`).

    :param name: cluster name; files go under ``<workdir>/<name>``.
    :param workdir: directory for configs, rings, logs (and devices without /dev/shm).
    :param port_base: first of five ports (proxy, account, container, object, memcached).
    :param filters: ordered dict ``{filter_name: {option: value}}`` of extra proxy filters,
        inserted into the pipeline before ``pipeline_before``.  A filter without a ``use``
        option gets ``use = egg:swift_forwarder#<filter_name>``.  Values are written as given.
    :param pipeline_before: the pipeline element the extra filters go before.
    :param proxy_conf: extra ``[app:proxy-server]`` options.
    :param default_conf: extra ``[DEFAULT]`` options of the proxy config.
    :param tempauth_conf: extra ``[filter:tempauth]`` options (users, token_life...).
    :param storage_policies: names of the storage policies, index 0 first (the default);
        each gets an object ring on the one device (default :data:`POLICIES`).
    :param middlewares: Swift's part of the proxy pipeline, ending in ``proxy-server``
        (default :data:`PROXY_PIPELINE`); elements the installed Swift lacks are left out.

    ``filters``, ``proxy_conf``, ``default_conf`` and ``tempauth_conf`` are kept as
    attributes of the same names; change them, then :meth:`SwiftCluster.restart_proxy` to
    apply (or use :meth:`SwiftCluster.set_filter_conf`).
    ``ports`` maps 'proxy', 'account', 'container', 'object', 'memcached' to their ports.
    """

    def __init__(self, name, workdir, port_base, filters=None, pipeline_before='tempauth',
                 proxy_conf=None, default_conf=None, tempauth_conf=None,
                 storage_policies=POLICIES, middlewares=PROXY_PIPELINE):
        if not 0 < port_base <= MAX_PORT - 4:
            raise ValueError('port_base must be in 1..%d, got %r' % (MAX_PORT - 4, port_base))
        self.name = name
        self.port_base = port_base
        self.ports = {server: port_base + off for server, off in PORT_OFFSETS.items()}
        self.filters = collections.OrderedDict(
            (key, dict(opts)) for key, opts in (filters or {}).items())
        self.pipeline_before = pipeline_before
        self.proxy_conf = dict(proxy_conf or {})
        self.default_conf = dict(default_conf or {})
        #: extra [filter:tempauth] options (users, token_life...) of this cluster
        #: only (applied at the next start or restart_proxy())
        self.tempauth_conf = collections.OrderedDict(tempauth_conf or {})
        if not storage_policies or list(middlewares)[-1:] != ['proxy-server']:
            raise ValueError('need a storage policy, and a pipeline ending in proxy-server')
        self.storage_policies = list(storage_policies)
        self.middlewares = list(middlewares)
        #: ``[filter:forwarder_backend]`` options while a backend endpoint runs, else None
        self.backend_conf = None
        self.dir = os.path.abspath(os.path.join(workdir, name))
        self.etc_dir = os.path.join(self.dir, 'etc')
        self.log_dir = os.path.join(self.dir, 'log')
        self.devices = None  # set by start()
        self.xattr_capacity = None
        self._shm_dir = None

    def log_path(self, server):
        """``<workdir>/<name>/log/<server>.log``; ``server`` as in 'proxy' or 'proxy-server'."""
        return os.path.join(self.log_dir, '%s.log' % server.replace('-server', ''))

    def _make_devices(self):
        if os.path.isdir('/dev/shm'):
            self._shm_dir = tempfile.mkdtemp(prefix='saio-%s-' % self.name, dir='/dev/shm')
            self.devices = self._shm_dir
        else:
            self.devices = os.path.join(self.dir, 'devices')
        os.makedirs(os.path.join(self.devices, 'd1'), exist_ok=True)
        self.xattr_capacity = _xattr_capacity(self.devices)
        if self.xattr_capacity < XATTR_WANTED:
            LOG.warning('%s: devices in %s hold only %d bytes of xattrs per file; objects '
                        'with near-maximum metadata will get 507', self.name, self.devices,
                        self.xattr_capacity)

    def _write_configs(self):
        sections = collections.OrderedDict([('swift-hash', {
            'swift_hash_path_prefix': 'saio-%s' % self.name,
            'swift_hash_path_suffix': 'saio-%s' % self.name})])
        for index, name in enumerate(self.storage_policies):
            sections['storage-policy:%d' % index] = collections.OrderedDict(
                [('name', name)] + ([('default', 'yes')] if index == 0 else []))
            if index:  # object-0 is object.ring.gz
                _build_ring(os.path.join(self.etc_dir, 'object-%d.ring.gz' % index),
                            self.ports['object'])
        _write(os.path.join(self.etc_dir, 'swift.conf'), _render_conf(sections))
        for server in BACKENDS:
            _build_ring(os.path.join(self.etc_dir, '%s.ring.gz' % server), self.ports[server])
            self._write_backend_conf(server)
        self._write_proxy_conf()

    def _server_defaults(self, server):
        return collections.OrderedDict([
            ('bind_ip', '127.0.0.1'), ('bind_port', self.ports[server]),
            ('user', getpass.getuser()), ('swift_dir', self.etc_dir),
            ('devices', self.devices), ('mount_check', 'false'),
            ('disable_fallocate', 'true'), ('log_name', '%s-%s' % (self.name, server)),
        ])

    def _write_backend_conf(self, server):
        defaults = self._server_defaults(server)
        defaults['workers'] = 0  # serve in the process we started: fewer processes, faster
        app = {'use': 'egg:swift#%s' % server}
        _write(self._conf_path(server), _render_conf(collections.OrderedDict([
            ('DEFAULT', defaults),
            ('pipeline:main', {'pipeline': 'healthcheck %s-server' % server}),
            ('filter:healthcheck', {'use': 'egg:swift#healthcheck'}),
            ('app:%s-server' % server, app),
        ])))

    def _write_proxy_conf(self):
        defaults = self._server_defaults('proxy')
        defaults['workers'] = 1
        defaults.update(self.default_conf)
        app = collections.OrderedDict([
            ('use', 'egg:swift#proxy'), ('allow_account_management', 'true'),
            ('account_autocreate', 'true')])
        # the proxy's own backend timeouts (defaults 0.5 s and 10 s) sized for a
        # loaded 2-core test machine: a test's load on its one object server must
        # not turn into a 503 of the cluster itself
        app.update(BACKEND_TIMEOUTS)
        app.update(self.proxy_conf)
        sections = collections.OrderedDict([
            ('DEFAULT', defaults),
            ('pipeline:main', {'pipeline': ' '.join(self._pipeline())}),
            ('app:proxy-server', app)])
        sections.update(self._swift_filter_sections())
        for name, options in self.filters.items():
            section = collections.OrderedDict(
                [('use', options.get('use', 'egg:swift_forwarder#%s' % name))])
            section.update(options)
            sections['filter:%s' % name] = section
        _write(self._conf_path('proxy'), _render_conf(sections))

    def _pipeline(self):
        available = _swift_filter_entry_points()
        pipeline = [name for name in self.middlewares
                    if name == 'proxy-server' or _entry_point(name) in available]
        if self.filters and self.pipeline_before not in pipeline:
            raise ClusterError('pipeline_before %r is not in the pipeline %s'
                               % (self.pipeline_before, ' '.join(pipeline)))
        at = pipeline.index(self.pipeline_before) if self.filters else 0
        return pipeline[:at] + list(self.filters) + pipeline[at:]

    def _swift_filter_sections(self):
        sections = collections.OrderedDict()
        for name in self.middlewares[:-1]:
            sections['filter:%s' % name] = {'use': 'egg:swift#%s' % _entry_point(name)}
        options = {
            'cache': {'memcache_servers': '127.0.0.1:%d' % self.ports['memcached']},
            'tempauth': dict(TEMPAUTH_USERS, **self.tempauth_conf),
            'versioned_writes': {'allow_versioned_writes': 'true',
                                 'allow_object_versioning': 'true'},
        }
        for name, extra in options.items():
            if 'filter:' + name in sections:
                sections['filter:' + name].update(extra)
        return sections

    def _write_backend_proxy_conf(self, pipeline):
        defaults = self._server_defaults('backend')
        defaults['workers'] = 1
        sections = collections.OrderedDict([
            ('DEFAULT', defaults),
            ('pipeline:main', {'pipeline': ' '.join(pipeline)}),
            ('app:proxy-server', collections.OrderedDict(
                [('use', 'egg:swift#proxy'), ('account_autocreate', 'true')]
                + sorted(BACKEND_TIMEOUTS.items())))])
        swift_filters = self._swift_filter_sections()
        for name in pipeline[:-1]:
            if name != 'forwarder_backend':
                sections['filter:%s' % name] = swift_filters['filter:%s' % name]
        sections['filter:forwarder_backend'] = dict(
            {'use': 'egg:swift_forwarder#backend'}, **self.backend_conf)
        _write(self._conf_path('backend'), _render_conf(sections))

    def _conf_path(self, server):
        return os.path.join(self.etc_dir, '%s-server.conf' % server)


class SwiftCluster(ClusterFiles):
    """One Swift dev cluster on 127.0.0.1: its files (:class:`ClusterFiles`, whose
    arguments it takes) and its processes (memcached, the account, container and object
    servers, the proxy, and a backend endpoint when asked for): started, probed until ready,
    and stopped.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._procs = collections.OrderedDict()  # server -> _Process

    def __repr__(self):
        return '<SwiftCluster %s %s %s>' % (
            self.name, self.proxy_url, 'running' if self._procs else 'stopped')

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # -- public properties

    @property
    def proxy_url(self):
        return 'http://127.0.0.1:%d' % self.ports['proxy']

    @property
    def backend_url(self):
        """The backend endpoint's URL (see :meth:`start_backend`)."""
        return 'http://127.0.0.1:%d' % self.ports['backend']

    @property
    def auth_url(self):
        return self.proxy_url + '/auth/v1.0'

    @property
    def proxy_pid(self):
        """Pid of the proxy's parent process (its worker is a child), or None if stopped."""
        proc = self._procs.get('proxy')
        return proc.pid if proc else None

    def proxy_worker_pids(self):
        """Pids of the proxy's workers (``workers = 1``: one)."""
        pid = self.proxy_pid
        return sorted(_children(pid)) if pid else []

    # -- start / stop

    def start(self, timeout=30, check_auth=True):
        """Write configs and rings, start every server, and wait until the cluster is ready.

        Ready means every server's ``/healthcheck`` answers 200 and, with ``check_auth``, a
        tempauth login succeeds.

        :raises ClusterError: a port is taken, a server died or it wasn't ready in time
            (the message holds the log tails).  Whatever was started is stopped again.
        """
        self._launch()
        try:
            self._wait_ready(time.monotonic() + timeout, BACKENDS + ('memcached', 'proxy'),
                             check_auth)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Stop every server (by recorded pid and start time) and remove the /dev/shm
        devices.  Safe to call twice."""
        try:
            _stop_processes(list(self._procs.values()))
        finally:
            self._procs.clear()
            _LIVE.discard(self)
            if self._shm_dir:
                shutil.rmtree(self._shm_dir, ignore_errors=True)
                self._shm_dir = None

    def restart_proxy(self, timeout=30, check_auth=True):
        """Stop the proxy only, rewrite its config (see :meth:`set_filter_conf`), start it
        and wait until it is ready.

        :raises ClusterError: as :meth:`start`; the rest of the cluster stays up.
        """
        if not self._procs:
            raise ClusterError('%s is not running' % self.name)
        proc = self._procs.pop('proxy', None)
        if proc:
            _stop_processes([proc])
        self._write_proxy_conf()
        self._check_ports(['proxy'])
        self._spawn_server('proxy')
        self._wait_ready(time.monotonic() + timeout, ('proxy',), check_auth)

    def start_backend(self, options, timeout=30, pipeline=BACKEND_PIPELINE):
        """Start a backend endpoint on ``ports['backend']``: a second proxy-server of this
        cluster with :data:`BACKEND_PIPELINE`, the same rings, memcache and users.

        :param options: ``[filter:forwarder_backend]`` options (``key``, ``key2``).
        :param pipeline: another pipeline (names of this module's proxy pipeline, and
            ``forwarder_backend``), e.g. to test a misconfigured backend endpoint.
        :raises ClusterError: as :meth:`start`; the rest of the cluster stays up.
        """
        if not self._procs:
            raise ClusterError('%s is not running' % self.name)
        self.backend_conf = dict(options)
        self._write_backend_proxy_conf(list(pipeline))
        self._check_ports(['backend'])
        self._spawn_server('backend')
        self._wait_ready(time.monotonic() + timeout, ('backend',))

    def stop_backend(self):
        """Stop the backend endpoint (if it runs)."""
        proc = self._procs.pop('backend', None)
        self.backend_conf = None
        if proc:
            _stop_processes([proc])

    def set_filter_conf(self, name, options, restart=True):
        """Replace the options of filter ``name`` (adding it if new) and, if the cluster runs
        and ``restart`` is true, restart the proxy to apply them.

        Pass every option, e.g. ``dict(local.filters['forwarder'], pool_size='2')``.
        """
        self.filters[name] = dict(options)
        if restart and self._procs:
            self.restart_proxy()

    def get_auth(self, user='test:tester', key='testing'):
        """Log in with tempauth.

        :returns: (storage_url, token)
        :raises ClusterError: the login failed.
        """
        status, headers = _http_get(self.ports['proxy'], '/auth/v1.0',
                                    {'X-Auth-User': user, 'X-Auth-Key': key})
        url, token = headers.get('X-Storage-Url'), headers.get('X-Auth-Token')
        if status is None or not 200 <= status < 300 or not (url and token):
            raise ClusterError('%s: login as %s failed: %s' % (self.name, user, status))
        return url, token

    def create_account(self, user='test:tester', key='testing'):
        """Make sure ``user``'s account exists (a container PUT autocreates it; the
        container is deleted again), so that its HEAD answers 204, as on a cluster in use,
        not the 200 of an account that does not exist yet.

        :raises ClusterError: the login or a request failed.
        """
        storage_url, token = self.get_auth(user, key)
        path = urllib.parse.urlsplit(storage_url).path + '/saio-account-setup'
        for method, wanted in (('PUT', 201), ('DELETE', 204)):
            conn = http.client.HTTPConnection('127.0.0.1', self.ports['proxy'], timeout=10)
            try:
                conn.request(method, path, headers={'X-Auth-Token': token})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException) as e:
                raise ClusterError('%s: %s %s: %s' % (self.name, method, path, e))
            finally:
                conn.close()
            if resp.status != wanted:
                raise ClusterError('%s: %s %s: %d' % (self.name, method, path, resp.status))

    # -- internals

    def _launch(self):
        """Write everything and spawn every server, without waiting."""
        if self._procs:
            raise ClusterError('%s is already running' % self.name)
        reason = missing_requirement(keystone=False)
        if reason:
            raise ClusterError(reason)
        self._check_ports(PORT_OFFSETS)
        _LIVE.add(self)
        try:
            for path in (self.etc_dir, self.log_dir):
                os.makedirs(path, exist_ok=True)
            self._make_devices()
            self._write_configs()
            self._spawn_memcached()
            for server in BACKENDS + ('proxy',):
                self._spawn_server(server)
        except BaseException:
            self.stop()
            raise

    def _check_ports(self, servers):
        taken = ['%s %d' % (s, self.ports[s]) for s in servers if not port_is_free(self.ports[s])]
        if taken:
            raise ClusterError('%s: port(s) already in use on 127.0.0.1: %s'
                               % (self.name, ', '.join(taken)))

    def _spawn_memcached(self):
        argv = [_memcached_binary(), '-l', '127.0.0.1', '-p', str(self.ports['memcached']),
                '-U', '0', '-m', '64', '-t', '2']
        if os.geteuid() == 0:
            argv += ['-u', 'root']  # memcached refuses to run as root without it
        proc = _Process.spawn('memcached', argv, self.log_path('memcached'))
        # memcached takes ~1 s to act on SIGTERM, and it holds nothing worth keeping
        proc.stop_signal = signal.SIGKILL
        self._procs['memcached'] = proc

    def _spawn_server(self, server):
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        # so that `-m swift_forwarder.testing.saio` works even when not pip-installed
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (_PKG_ROOT, env.get('PYTHONPATH')) if p)
        argv = [sys.executable, '-m', 'swift_forwarder.testing.saio', 'serve',
                os.path.join(self.etc_dir, 'swift.conf'), '%s-server' % server,
                self._conf_path(server)]
        self._procs[server] = _Process.spawn(server, argv, self.log_path(server), env)

    def _probe(self, server, check_auth):
        if server == 'memcached':
            return _tcp_open(self.ports[server])
        if _http_get(self.ports[server], '/healthcheck')[0] != 200:
            return False
        if server == 'proxy' and check_auth:
            try:
                self.get_auth()
            except ClusterError:
                return False
        return True

    def _wait_ready(self, deadline, servers, check_auth=True):
        """Poll ``servers`` until each is ready.

        :raises ClusterError: a server exited, or the deadline passed.
        """
        pending = list(servers)
        while True:
            dead = [s for s in pending if self._procs[s].exited()]
            if dead:
                raise ClusterError(self._failure('%s exited' % ', '.join(dead), dead))
            pending = [s for s in pending if not self._probe(s, check_auth)]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ClusterError(self._failure('not ready in time: %s' % ', '.join(pending),
                                                 pending))
            time.sleep(0.05)
        if 'proxy' in servers:
            self._procs['proxy'].remember_children()

    def _failure(self, what, servers):
        tails = ['--- %s:\n%s' % (self.log_path(s), _tail(self.log_path(s))) for s in servers]
        return '%s (%s): %s\n%s' % (self.name, self.proxy_url, what, '\n'.join(tails))


def _entry_point(filter_name):
    """Swift's entry point name for a pipeline element."""
    return 'memcache' if filter_name == 'cache' else filter_name.replace('-', '_')


def _memcached_binary():
    return shutil.which('memcached') or shutil.which('memcached', path='/usr/bin:/usr/sbin')


def missing_requirement(keystone=True):
    """Why the clusters, and the tests run on them, can't run here (a message saying what
    to install), or None.

    :param keystone: also require python-keystoneclient, which swiftclient needs for
        Keystone (v2/v3) service credentials: the functional tests use them.  Starting a
        cluster does not.
    """
    if importlib.util.find_spec('swift') is None:
        return 'Swift is not installed: pip install swift (or pip install -e .[test])'
    if not _memcached_binary():
        return 'memcached not found (tempauth needs it): apt-get install memcached'
    if keystone and importlib.util.find_spec('keystoneclient') is None:
        return ('python-keystoneclient is not installed (Keystone service credentials '
                'need it): pip install python-keystoneclient (or pip install -e .[test])')
    return None


def start_pair(workdir, forwarder_conf, local_base=None, target_base=None, timeout=30,
               **cluster_options):
    """Start a *target* cluster and a *local* cluster with the forwarder right after cache.

    Both start at once (the forwarder must not need the target while it loads); the local
    proxy's forwarder gets ``target_url`` = the target's proxy URL.

    :param workdir: parent directory of ``target/`` and ``local/``.
    :param forwarder_conf: ``[filter:forwarder]`` options (``target_url`` is set for you).
    :param local_base: port base of the local cluster (default: a free one).
    :param target_base: port base of the target cluster (default: a free one).
    :param cluster_options: more :class:`SwiftCluster` arguments (``tempauth_conf``,
        ``proxy_conf``, ``storage_policies``, ``middlewares``...), the same for both.
    :returns: (local, target), both ready.
    :raises ClusterError: as :meth:`SwiftCluster.start`; nothing is left running.
    """
    if target_base is None:
        target_base = find_free_base(avoid=[local_base] if local_base else [])
    if local_base is None:
        local_base = find_free_base(avoid=[target_base])
    target = SwiftCluster('target', workdir, target_base, **cluster_options)
    conf = dict(forwarder_conf, target_url=target.proxy_url)
    # gateway placement: right after cache, before anything that acts on the
    # request for the local cluster (listing_formats, tempurl, ratelimit, tempauth...)
    local = SwiftCluster('local', workdir, local_base, filters={'forwarder': conf},
                         pipeline_before='listing_formats', **cluster_options)
    deadline = time.monotonic() + timeout
    try:
        target._launch()
        local._launch()
        for cluster in (target, local):
            cluster._wait_ready(deadline, BACKENDS + ('memcached', 'proxy'))
    except BaseException:
        local.stop()
        target.stop()
        raise
    return local, target


# --- safety net and entry points --------------------------------------------------------------

_LIVE = set()


@atexit.register
def _stop_all():
    for cluster in list(_LIVE):
        try:
            cluster.stop()
        except Exception as e:  # at exit: report and go on with the others
            sys.stderr.write('saio: stopping %s: %s\n' % (cluster.name, e))


class _NoSyslog(logging.NullHandler):
    """Stands in for Swift's syslog handler in the servers: accepts its arguments,
    sends nothing."""

    def __init__(self, *args, **kwargs):
        logging.NullHandler.__init__(self)


def serve(swift_conf, server, conf_file):
    """Run one Swift server the way its ``swift-<server>`` script does, with storage
    policies, constraints and hash prefix/suffix from ``swift_conf``.  ``backend-server``
    is a backend endpoint's proxy-server (see :func:`swift_forwarder.backend.main`).

    :returns: run_wsgi's exit status.
    """
    from swift.common import utils
    from swift.common.utils import logs
    utils.SWIFT_CONF_FILE = swift_conf
    utils.HASH_PATH_PREFIX = utils.HASH_PATH_SUFFIX = b''
    utils.validate_hash_conf()
    from swift.common import constraints, storage_policy, wsgi
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    # no /dev/log here: log to stderr (the log file) only, see the module docstring
    logs.ThreadSafeSysLogHandler = _NoSyslog
    kwargs = {'verbose': True}
    if server == 'backend-server':  # as swift-forwarder-backend-server runs it
        server = 'proxy-server'
        kwargs['allow_modify_pipeline'] = False
    if server == 'object-server':
        from swift.obj.server import global_conf_callback
        kwargs['global_conf_callback'] = global_conf_callback
    return wsgi.run_wsgi(conf_file, server, **kwargs)


def _up(workdir):
    os.makedirs(workdir, exist_ok=True)
    start = time.monotonic()
    local, target = start_pair(workdir, {})
    try:
        print('ready in %.1fs' % (time.monotonic() - start))
        for cluster in (target, local):
            print('%-6s proxy %s  auth %s  logs %s' % (
                cluster.name, cluster.proxy_url, cluster.auth_url, cluster.log_dir))
        print('users (on both): %s' % ', '.join(
            '%s:%s/%s' % (tuple(k.split('_')[1:]) + (v.split()[0],))
            for k, v in TEMPAUTH_USERS.items()))
        print('through the forwarder: %s/v1/AUTH_test with a token from %s'
              % (local.proxy_url, target.auth_url))
        print('Ctrl-C to stop')
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()
        target.stop()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m swift_forwarder.testing.saio',
                                     description='Swift dev clusters on 127.0.0.1')
    sub = parser.add_subparsers(dest='command')
    up = sub.add_parser('up', help='start a local/target pair and wait for Ctrl-C')
    up.add_argument('workdir')
    srv = sub.add_parser('serve', help='(internal) run one Swift server')
    srv.add_argument('swift_conf')
    srv.add_argument('server')
    srv.add_argument('conf_file')
    args = parser.parse_args(argv)
    if args.command == 'up':
        return _up(args.workdir)
    if args.command == 'serve':
        return serve(args.swift_conf, args.server, args.conf_file)
    parser.print_help()
    return 2


if __name__ == '__main__':
    sys.exit(main())

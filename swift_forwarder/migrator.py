# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""
``swift-forwarder-migrate``: copy everything a source's ``migrate`` rules
name into the local cluster, verified and resumable::

    swift-forwarder-migrate /etc/swift/proxy-server.conf [options]
    swift-forwarder-migrate /etc/swift/proxy-server.conf --verify
    swift-forwarder-migrate /etc/swift/proxy-server.conf --forever

The sources, their backend endpoints, service credentials, TLS settings and
``account_map`` come from the forwarder's own filter section (and its
``targets_conf``): every target with ``migrate`` rules is a source.

How it reads
    From the source's backend endpoint (``backend_endpoint = true``), with
    the forwarder's service identity and its connection pool, so every
    object arrives as stored: sysmeta, SLO manifests (their JSON),
    symlinks (their sysmeta), and the reserved-name containers of object
    versioning (``\\x00versions\\x00<container>``).
How it writes
    Through Swift's ``InternalClient``, in this process, with a pipeline
    without gatekeeper: ``catch_errors proxy-logging cache proxy-server``,
    built from the proxy-server.conf's ``[app:proxy-server]`` and its
    memcache filter (``--internal-client-conf FILE`` gives another).  The
    source's ``X-Timestamp`` is kept, so Last-Modified is unchanged and a
    client's newer write or delete on the local cluster wins: Swift answers
    the older PUT with 202, counted as *skipped* (newer locally).
What, in order
    Per account: first every container (metadata, ACLs, versioning
    settings, storage policy when the local cluster has one of that name).
    A container the migrator creates is marked (sysmeta
    ``X-Container-Sysmeta-Forwarder-Migrated-From``) with a digest of the
    source's settings, and re-set when the source's settings change.  Then
    the objects, compared by listing entry (name, ETag, bytes,
    last_modified), paged past 10,000: an object missing locally or older
    locally is copied, with its metadata, Content-Type, Content-Encoding,
    Content-Disposition and X-Delete-At.  SLO and DLO manifests and
    symlinks are copied as stored, after every plain object of the account
    (their segments and targets first); each version of a versioned
    container is an object of its versions container.
How it verifies
    The MD5 of every byte read is checked against the source's ETag, and
    the same ETag goes with the local PUT, so the local object server checks
    it too.  A mismatch is retried once, then counted failed; it is never
    stored (the PUT is aborted before its last chunk).
Resuming
    Each container's progress (the marker before which everything is done,
    and the counts) is kept in the local container's sysmeta
    (``X-Container-Sysmeta-Forwarder-Migrator-State``), saved every few
    seconds.  A run killed with SIGKILL resumes after that marker; what was
    copied after it is found equal in the listings and not copied again.
Sharding
    ``--shard I/N``: this process takes the containers whose
    ``md5(account/container) % N == I`` (a versions container goes with its
    container).  Run N processes, on as many nodes, with I = 0 .. N-1.
    ``--shard ring``: the containers whose first primary in the local
    container ring is a device of this node (run one on every container
    node; a container whose first primary's node is down waits for it).
Accounts
    A rule naming one account (``AUTH_a``, ``AUTH_a/c``, ``AUTH_a/pre*``)
    names its account.  Swift cannot list accounts, so a rule of any
    account (``*``) or of an account prefix (``AUTH_*``-style, ``AUTH_a*``)
    migrates the local accounts of the source's ``account_map`` that it
    matches, and those given with ``--account`` (repeatable).  With none,
    the command stops (exit 2) saying so.

Options (``[forwarder-migrator]`` in the same proxy-server.conf; a
command-line option wins)::

    [forwarder-migrator]
    # filter_name = forwarder        the forwarder's [filter:NAME]
    # interval = 300                 seconds between passes (--forever)
    # workers = 8                    concurrent object copies
    # max_bytes_per_second = 0       0: unbounded
    # retries = 5                    per request, with backoff
    # retry_delay = 1                first backoff (doubles, at most 30 s)
    # state_save_interval = 5        seconds between state saves
    # log_interval = 30              progress lines without a terminal
    # internal_client_conf_path =    default: built from this file
    # log_statsd_host = ...          migrator.copied/skipped/failed/bytes

Exit status: 0 all done (``--verify``: no difference); 1 some object
failed (``--verify``: differences, listed); 2 bad configuration or usage;
3 a source or the local cluster kept failing: the run stopped, its state is
intact, run it again.
"""

import argparse
import collections
import hashlib
import json
import logging
import os
import random
import sys
import time
import urllib.parse

import tqdm

from swift_forwarder import migrate, routing, stored
from swift_forwarder.config import parse_conf
from swift_forwarder.exceptions import ConfigError, EtagMismatch, \
    ForwarderError
from swift_forwarder.forward import UpstreamRequest
from swift_forwarder.green import Timeout, sleep
from swift_forwarder.iterators import ResponseBody
from swift_forwarder.paths import RequestPath, quote_name

__all__ = ['Migrator', 'MigratorOptions', 'Counts', 'Tracker', 'Throttle',
           'decide', 'in_shard', 'internal_client_conf', 'main']

#: The source's name, on a container the migrator (or migration mode,
#: whose constant this is) created.
MIGRATED_FROM = migrate.MIGRATED_FROM
#: The digest of the source's settings last applied.
SETTINGS_DIGEST = 'X-Container-Sysmeta-Forwarder-Migrated-Settings'
#: A container's progress in the current pass (JSON).
STATE = 'X-Container-Sysmeta-Forwarder-Migrator-State'
#: The private header the in-process wrapper of the internal client turns
#: into ``swift.content_type_overridden`` (an SLO manifest's swift_bytes).
OVERRIDE_HEADER = 'X-Forwarder-Migrator-Content-Type-Overridden'
_OVERRIDE_KEY = 'HTTP_X_FORWARDER_MIGRATOR_CONTENT_TYPE_OVERRIDDEN'

#: ``--shard ring``
RING = 'ring'

#: Objects at least this big are HEADed locally before they are read: a
#: local tombstone or newer copy saves the transfer.
HEAD_FIRST_BYTES = 1 << 20
MAX_BACKOFF = 30.0
MAX_MANIFEST = 8 << 20

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

#: (name, converter, default) of [forwarder-migrator]
OPTIONS = (
    ('filter_name', str, 'forwarder'),
    ('interval', float, '300'),
    ('workers', int, '8'),
    ('max_bytes_per_second', float, '0'),
    ('retries', int, '5'),
    ('retry_delay', float, '1'),
    ('state_save_interval', float, '5'),
    ('log_interval', float, '30'),
    ('internal_client_conf_path', str, ''),
)


class MigratorError(Exception):
    """A failure of the whole run (exit status ``exit_status``)."""
    exit_status = EXIT_UNAVAILABLE


class Unavailable(MigratorError):
    """A side kept failing after every retry."""

    def __init__(self, side, what, err):
        super().__init__('%s kept failing (%s): %s; the state is saved, run '
                         'again when it is back' % (side, what, err))


class ObjectFailed(Exception):
    """One object could not be copied (a reason for the report)."""


# -- small pure pieces ---------------------------------------------------------

MigratorOptions = collections.namedtuple(
    'MigratorOptions', [name for name, _c, _d in OPTIONS] + [
        'shard', 'accounts', 'verify', 'dry_run', 'report', 'forever',
        'progress'])


def in_shard(account, container, shard, mine=None):
    """Does ``(index, count)`` take this container?  A versions container
    goes with the container whose versions it keeps.

    :param shard: None (all), ``(index, count)``, or ``'ring'``: then
        ``mine(account, container)`` says whether this node holds the
        container's first primary in the local container ring.
    """
    if shard is None:
        return True
    if container.startswith(routing.VERSIONS_PREFIX):
        container = container[len(routing.VERSIONS_PREFIX):]
    if shard == RING:
        return mine(account, container)
    index, count = shard
    digest = hashlib.md5(('%s/%s' % (account, container)).encode(
        'utf-8', 'surrogateescape')).hexdigest()
    return int(digest, 16) % count == index


def parse_shard(value):
    """``I/N`` -> (I, N), 0 <= I < N; ``ring`` as it is."""
    if str(value).strip() == RING:
        return RING
    index, sep, count = str(value).partition('/')
    try:
        index, count = int(index), int(count)
    except ValueError:
        index = count = -1
    if not sep or count < 1 or not 0 <= index < count:
        raise ValueError('expected I/N with 0 <= I < N, or ring, got %r'
                         % value)
    return index, count


def listing_hash(entry):
    """A listing entry's ETag without its parameters (slo_etag, ...)."""
    return entry['hash'].split(';')[0].strip().strip('"')


def decide(source, local):
    """What to do with one source listing entry, given the local one (or
    None): ``copy``, ``unchanged``, ``newer`` (skipped: newer locally) or
    ``conflict`` (the same time, other content: a PUT cannot fix it)."""
    if local is None or local['last_modified'] < source['last_modified']:
        return 'copy'
    if local['last_modified'] > source['last_modified']:
        return 'newer'
    if listing_hash(local) == listing_hash(source) and \
            local['bytes'] == source['bytes']:
        return 'unchanged'
    return 'conflict'


def settings_digest(settings):
    return hashlib.md5(json.dumps(sorted(settings)).encode(
        'utf-8', 'surrogateescape')).hexdigest()


class Counts(object):
    """copied / skipped / unchanged / failed / bytes, and why each failure."""
    FIELDS = ('copied', 'skipped', 'unchanged', 'failed', 'bytes', 'to_copy')

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)
        self.failures = []
        self.seconds = 0.0

    def add(self, other):
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self, failures=True):
        result = {name: getattr(self, name) for name in self.FIELDS}
        if failures:
            result['failures'] = list(self.failures)
            result['seconds'] = round(self.seconds, 3)
        return result


class Tracker(object):
    """The names of one container in listing order, and which are done:
    ``marker`` is the last name before which everything succeeded, the
    point a resumed run starts listing from."""

    def __init__(self, marker=''):
        self.marker = marker
        self._pending = collections.OrderedDict()  # name -> None/True/False

    def add(self, name):
        self._pending[name] = None

    def finish(self, name, ok=True):
        self._pending[name] = ok
        while self._pending:
            first, state = next(iter(self._pending.items()))
            if state is not True:
                break
            self._pending.popitem(last=False)
            self.marker = first

    @property
    def held(self):
        """Names not finished well yet (failed, deferred, in flight)."""
        return len(self._pending)


class Throttle(object):
    """``--max-bytes-per-second`` across every worker (0: none)."""

    def __init__(self, rate, clock=time.monotonic, sleeper=None):
        self.rate = rate
        self.clock = clock
        self.sleep = sleeper or sleep
        self.start = None
        self.sent = 0

    def consume(self, nbytes):
        if not self.rate:
            return
        now = self.clock()
        if self.start is None:
            self.start = now
        self.sent += nbytes
        ahead = self.sent / self.rate - (now - self.start)
        if ahead > 0:
            self.sleep(ahead)


# -- the internal client ---------------------------------------------------------

def _conf_sections(conf_path):
    from swift.common.utils import readconf
    return readconf(conf_path, raw=True)


def _section_with(sections, kind, egg):
    for name, options in sections.items():
        if isinstance(options, dict) and name.startswith(kind) and \
                options.get('use', '').strip() == egg:
            return options
    return None


INTERNAL_PIPELINE = 'catch_errors proxy-logging cache proxy-server'
_NOT_COPIED = frozenset(('bind_ip', 'bind_port', 'workers', 'cert_file',
                         'key_file', 'log_name', 'use', '__file__', 'here',
                         'user', 'set log_name'))


def internal_client_conf(conf_path):
    """The text of an internal client conf built from proxy-server.conf:
    its ``[app:proxy-server]`` (with [DEFAULT]'s options) and memcache
    filter, Swift's internal pipeline (no gatekeeper, no composite
    middleware)."""
    sections = _conf_sections(conf_path)
    app = sections.get('app:proxy-server') or _section_with(
        sections, 'app:', 'egg:swift#proxy')
    if app is None:
        raise ConfigError('%s: no [app:proxy-server] to build the internal '
                          'client from (give --internal-client-conf)'
                          % conf_path)
    cache = _section_with(sections, 'filter:', 'egg:swift#memcache') or {}

    def lines(options):
        return ''.join('%s = %s\n' % (name, str(value).replace('%', '%%'))
                       for name, value in sorted(options.items())
                       if name not in _NOT_COPIED)
    return (
        '[DEFAULT]\nlog_name = forwarder-migrator-internal\n\n'
        '[pipeline:main]\npipeline = %s\n\n'
        '[app:proxy-server]\nuse = egg:swift#proxy\n%s'
        'account_autocreate = true\n\n'
        '[filter:cache]\nuse = egg:swift#memcache\n%s\n'
        '[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n'
        '[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n' % (
            INTERNAL_PIPELINE,
            lines(dict(app, account_autocreate='true')).replace(
                'account_autocreate = true\n', ''),
            lines(cache)))


def use_swift_conf(swift_dir):
    """Point Swift's storage policies, constraints and hash path at
    ``swift_dir/swift.conf`` (in production, /etc/swift: nothing
    changes), as the proxy that runs with this proxy-server.conf sees them."""
    from swift.common import utils
    path = os.path.join(swift_dir, 'swift.conf')
    if not os.path.exists(path) or path == utils.SWIFT_CONF_FILE:
        return
    utils.SWIFT_CONF_FILE = path
    utils.HASH_PATH_PREFIX = utils.HASH_PATH_SUFFIX = b''
    utils.validate_hash_conf()
    from swift.common import constraints, storage_policy
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()


class _InternalEnviron(object):
    """In front of the internal client's pipeline, in-process only (no
    client ever reaches it): every request is the owner's
    (``swift_owner``: proxy-server shows a container's ACLs only to an
    owner), and our own header becomes ``swift.content_type_overridden``,
    which proxy-server needs to store an SLO manifest's ``;swift_bytes=``
    Content-Type (slo sets it, and there is no slo in the internal
    pipeline)."""

    def __init__(self, app):
        self.app = app
        self._pipeline_final_app = getattr(app, '_pipeline_final_app', app)

    def __call__(self, env, start_response):
        env['swift_owner'] = True
        if env.pop(_OVERRIDE_KEY, None):
            env['swift.content_type_overridden'] = True
        return self.app(env, start_response)


class Local(object):
    """The local cluster, through Swift's InternalClient."""

    def __init__(self, ic_conf, retry):
        from swift.common.internal_client import InternalClient
        from swift.common.wsgi import ConfigString
        conf = ic_conf if os.path.exists(ic_conf) else ConfigString(ic_conf)
        self.client = InternalClient(conf, 'swift-forwarder-migrate', 1)
        self.client.app = _InternalEnviron(self.client.app)
        self.retry = retry
        self._my_ips = None

    def request(self, method, path, headers=(), body=None, ok=(2, 404)):
        from swift.common.internal_client import UnexpectedResponse

        def once():
            try:
                resp = self.client.make_request(method, path, dict(headers),
                                                ok, body_file=body)
            except UnexpectedResponse as err:
                resp = err.resp
                if resp.status_int < 500:
                    return resp
                raise Retryable('%s %s: %s' % (method, path, resp.status),
                                'the local cluster')
            return resp
        if body is not None:  # a body is read once: the caller retries
            return once()
        return self.retry('the local cluster', '%s %s' % (method, path), once)

    def first_primary_is_here(self, account, container):
        """``--shard ring``: is the container's first primary in the local
        container ring a device of this node (the way Swift's daemons
        split work among nodes)?"""
        from swift.common.utils import whataremyips
        if self._my_ips is None:
            self._my_ips = set(whataremyips())
        _part, nodes = self.client.container_ring.get_nodes(account,
                                                            container)
        return bool(nodes) and (nodes[0]['ip'] in self._my_ips or nodes[0].get(
            'replication_ip') in self._my_ips)

    def listing(self, account, container, marker=''):
        """Every entry after ``marker``, paged."""
        def page(query):
            resp = self.request('GET', _path(account, container) + '?' + query)
            return None if resp.status_int == 404 else json.loads(resp.body)
        return _paged(page, marker)


class Retryable(Exception):
    """Worth another try: a 5xx, a connection that failed.

    :param side: who failed ('the local cluster', 'source NAME').
    """

    def __init__(self, msg, side=None):
        super().__init__(msg)
        self.side = side


def _path(account, container=None, obj=None):
    parts = ['', 'v1', account] + [p for p in (container, obj)
                                   if p is not None]
    return '/'.join(quote_name(p) if i > 1 else p
                    for i, p in enumerate(parts))


# -- the source ------------------------------------------------------------------

class Source(object):
    """A source's backend endpoint, through the forwarder's own
    TargetForwarder (pool, service token with re-auth, account_map)."""

    def __init__(self, target, chunk_size, retry=None):
        self.target = target
        self.name = target.name
        self.chunk_size = chunk_size
        self.retry = retry

    def _send(self, method, target_path, headers=()):
        request = UpstreamRequest(method, RequestPath.of(target_path),
                                  self.target.upstream.side_headers(
                                      [('X-Backend-Allow-Reserved-Names',
                                        'true')] + list(headers)))
        return self.target.send({'REQUEST_METHOD': method}, request)

    def side(self, method, target_path, max_body=64 << 20):
        def once():
            env = {'REQUEST_METHOD': method}
            try:
                resp = self.target.service.side(
                    env, method, target_path, max_body, traced=False,
                    headers=[('X-Backend-Allow-Reserved-Names', 'true')])
            except ForwarderError as err:
                raise Retryable(str(err))
            if resp.status >= 500:
                raise Retryable('%s %s: %d' % (method, target_path,
                                               resp.status))
            return resp
        return self.retry('source %s' % self.name, '%s %s' % (
            method, target_path), once)

    def containers(self, account):
        return (entry['name'] for entry in _paged(
            lambda query: self._page(account, None, query)))

    def listing(self, account, container, marker=''):
        return _paged(lambda query: self._page(account, container, query),
                      marker)

    def _page(self, account, container, query):
        resp = self.side('GET', '%s?%s' % (_path(account, container), query))
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise MigratorError('source %s: %s listing: %d' % (
                self.name, '/'.join(filter(None, (account, container))),
                resp.status))
        return json.loads(resp.body)

    def open(self, account, container, obj, method='GET', retry=True):
        """The object as stored: (status, headers dict lower-cased, a
        :class:`ResponseBody` checking the MD5 against the ETag, or None)."""
        target_path = _path(account, container, obj) + (
            '?multipart-manifest=get&symlink=get' if method == 'GET' else '')

        def once():
            try:
                conn = self._send(method, target_path)
            except ForwarderError as err:
                raise Retryable(str(err), 'source %s' % self.name)
            resp = conn.response
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.status >= 500 or resp.status == 401 or method == 'HEAD' \
                    or resp.status != 200:
                ResponseBody(self.target.pool, conn, self.chunk_size).drain()
                if resp.status >= 500:
                    raise Retryable('%s %s: %d' % (method, target_path,
                                                   resp.status),
                                    'source %s' % self.name)
                return resp.status, headers, None
            etag = headers.get('etag', '').strip('"')
            return resp.status, headers, ResponseBody(
                self.target.pool, conn, self.chunk_size, etag=etag or None)
        if not retry:
            return once()
        return self.retry('source %s' % self.name, '%s %s' % (
            method, target_path), once)


def _paged(page, marker=''):
    """Every entry of a listing after ``marker``: ``page(query)`` gives one
    page's entries (None for a 404).  No ``limit`` is asked for, so each
    page is as long as the cluster's own ``container_listing_limit`` or
    ``account_listing_limit`` allows (asking for more is a 412), and only
    an empty page ends the listing (as in InternalClient)."""
    while True:
        entries = page(urllib.parse.urlencode({'format': 'json',
                                               'marker': marker}))
        if not entries:
            return
        for entry in entries:
            yield entry
        marker = entries[-1]['name']


class BodyReader(object):
    """The source's body as the local PUT's ``wsgi.input``, throttled; an
    error (an ETag mismatch at the last chunk) is kept to tell apart."""

    def __init__(self, body, throttle):
        self.body = body
        self.throttle = throttle
        self.buffer = b''
        self.error = None
        self.bytes = 0

    def read(self, size=-1):
        try:
            while size < 0 or len(self.buffer) < size:
                chunk = next(self.body, None)
                if chunk is None:
                    break
                self.buffer += chunk
        except Exception as err:
            self.error = err
            raise
        if size < 0:
            data, self.buffer = self.buffer, b''
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        self.bytes += len(data)
        self.throttle.consume(len(data))
        return data

    def readline(self, size=-1):  # swob may ask; an object body has none
        return self.read(size)


# -- the migrator ------------------------------------------------------------------

class Migrator(object):
    """One or more passes over every source's ``migrate`` rules: per
    account, its containers first (:class:`LocalContainers`), then their
    objects, copied by ``workers`` concurrent jobs of an
    :class:`ObjectCopier`; what a pass did is in its :class:`Ledger`.

    :param options: :class:`MigratorOptions`.
    :param sources: {name: (:class:`Source`, TargetConf)} of the sources.
    :param local: a :class:`Local`.
    :param logger: a Swift-style logger (``info``, ``increment``,
        ``update_stats``).
    """

    def __init__(self, options, sources, local, logger):
        self.options = options
        self.logger = logger
        self.local = local
        self.sources = sources
        for source, _tconf in sources.values():
            source.retry = self.retry
        self.ledger = Ledger(options, logger)
        self.copier = ObjectCopier(local, self.ledger, self.retry, logger,
                                   Throttle(options.max_bytes_per_second))
        self.local_containers = LocalContainers(options, local, self.ledger,
                                                logger)
        self.error = None
        local.retry = self.retry

    @property
    def totals(self):
        """The :class:`Counts` of the pass (its containers' added up)."""
        return self.ledger.totals

    def report(self, status):
        """The pass's report (the ``--report`` JSON, as a dict)."""
        return self.ledger.report(status, self.error)

    # -- retries

    def retry(self, side, what, func):
        attempts = self.options.retries + 1
        for attempt in range(attempts):
            try:
                return func()
            except (Retryable, Timeout, OSError) as err:
                side = getattr(err, 'side', None) or side
                if attempt == attempts - 1:
                    raise Unavailable(side, what, err)
                delay = min(MAX_BACKOFF, self.options.retry_delay * 2 **
                            attempt) * random.uniform(0.75, 1.0)
                self.logger.warning('%s: %s: %s; retrying in %.1fs', side,
                                    what, err, delay)
                sleep(delay)

    # -- one pass

    def run_once(self):
        """One pass; returns the exit status."""
        from eventlet import GreenPool
        start = time.monotonic()
        self.pool = GreenPool(max(1, self.options.workers))
        self.copier.abort = None
        status = EXIT_OK
        self.ledger.start()
        try:
            for name, (source, tconf) in self.sources.items():
                for account in self.accounts(tconf):
                    self.migrate_account(source, tconf, account)
        except MigratorError as err:
            self.pool.waitall()
            err = self.copier.abort or err
            self.logger.error('stopped: %s', err)
            self.error = str(err)
            status = err.exit_status
        else:
            self.error = None
        finally:
            self.pool.waitall()
            self.ledger.stop()
        self.totals.seconds = time.monotonic() - start
        if status == EXIT_OK and (self.totals.failed or
                                  self.ledger.differences):
            status = EXIT_FAILED
        self.ledger.write_report(status, self.error)
        return status

    def run_forever(self):
        """A pass every ``interval`` seconds (Swift's daemons' loop)."""
        while True:
            begin = time.monotonic()
            status = self.run_once()
            self.logger.info('pass done (status %d): %s', status, json.dumps(
                self.totals.as_dict(failures=False)))
            self.ledger.reset()
            sleep(max(0.0, self.options.interval -
                      (time.monotonic() - begin)))

    def accounts(self, tconf):
        """The local accounts the rules name (see the module docstring)."""
        found = []
        named = [rule.account for rule in tconf.migrate
                 if rule.account is not None and not (
                     rule.prefix and rule.container is None)]
        others = list(tconf.auth['account_map']) + list(
            self.options.accounts)
        for account in named + others:
            if account in found:
                continue
            path = RequestPath.of('/v1/%s' % quote_name(account))
            if any(_account_matches(rule, path.account)
                   for rule in tconf.migrate):
                found.append(account)
        if not found:
            raise UsageError(
                'source %s: migrate %s names no single account, and '
                'account_map and --account name none it matches: give '
                '--account ACCOUNT' % (tconf.address.name, ' '.join(
                    routing.rule_text(rule) for rule in tconf.migrate)))
        return found

    def migrate_account(self, source, tconf, account):
        names = [name for name in source.containers(account)
                 if routing.should_forward(RequestPath.of('/v1/%s/%s' % (
                     quote_name(account), quote_name(name))), tconf.migrate)
                 and in_shard(account, name, self.options.shard,
                              lambda a, c: self.local.first_primary_is_here(
                                  a, c))]
        heads = collections.OrderedDict()
        for name in names:  # containers first
            heads[name] = self.local_containers.migrate_settings(
                source, account, name)
        deferred = []
        for name in names:
            if heads[name] is not None:
                self.migrate_objects(source, account, name, heads[name],
                                     deferred)
        self._wait()
        for job in deferred:  # manifests and symlinks, after the rest
            self._check_abort()
            self.pool.spawn_n(self.copier.copy_guarded, job, False)
        self._wait()
        for name in names:
            job = self.ledger.containers.get((account, name))
            if job is not None:
                self.finish_container(job)

    def _check_abort(self):
        if self.copier.abort is not None:
            raise self.copier.abort

    def _wait(self):
        self.pool.waitall()
        self._check_abort()

    # -- objects

    def migrate_objects(self, source, account, name, local_headers,
                        deferred):
        state = {} if self.options.verify or self.options.dry_run else \
            LocalContainers.load_state(local_headers)
        marker = state.get('marker') or ''
        job = ContainerJob(account, name, Tracker(marker), source)
        self.ledger.containers[(account, name)] = job
        if marker:
            self.logger.info('%s/%s: resuming after %r', account, name,
                             marker)
        local_entries = self.local.listing(account, name, marker)
        local = next(local_entries, None)
        for entry in source.listing(account, name, marker):
            while local is not None and local['name'] < entry['name']:
                local = next(local_entries, None)
            mine = local if local is not None and \
                local['name'] == entry['name'] else None
            self.ledger.listed += 1
            self.ledger.listed_bytes += entry['bytes']
            self._check_abort()
            job.tracker.add(entry['name'])
            self._take(job, entry, mine, deferred)
            self.local_containers.save_state(job)

    def _take(self, job, entry, mine, deferred):
        """Copy (or compare, or count) one source listing entry, given the
        local one (or None)."""
        action = decide(entry, mine)
        if action == 'copy':
            if self.options.verify:
                self.pool.spawn_n(self.copier.guard,
                                  self.copier.verify_missing, job, entry,
                                  mine)
            elif self.options.dry_run:
                print(json.dumps({'copy': '%s/%s/%s' % (
                    job.account, job.container, entry['name']),
                    'bytes': entry['bytes']}))
                self.ledger.done(job, entry['name'], 'to_copy')
            else:
                self.pool.spawn_n(self.copier.copy_guarded,
                                  (job, entry, deferred), True)
        elif action == 'conflict':
            self.ledger.failed(job, entry['name'], 'the same timestamp as '
                               'the local object, but another ETag or size')
            if self.options.verify:
                self.ledger.differences.append({
                    'object': '%s/%s/%s' % (job.account, job.container,
                                            entry['name']),
                    'difference': 'conflict', 'source': entry,
                    'local': mine})
        elif self.options.verify and action == 'unchanged':
            self.pool.spawn_n(self.copier.guard, self.copier.verify_metadata,
                              job, entry)
        else:
            self.ledger.done(job, entry['name'],
                             'skipped' if action == 'newer' else 'unchanged')

    def finish_container(self, job):
        """The pass over a container is over: a clean one starts the next
        pass from the beginning; one with failures resumes at them."""
        job.counts.seconds = job.last_done - job.started
        key = '%s/%s' % (job.account, job.container)
        self.ledger.containers[(job.account, job.container)] = job
        self.ledger.totals.add(job.counts)
        if not (self.options.verify or self.options.dry_run):
            if job.tracker.held == 0:
                job.tracker.marker = ''
            job.saved_marker = None
            self.local_containers.save_state(job, force=True)
        self.logger.info('%s: %s', key, json.dumps(job.counts.as_dict(
            failures=False)))


class LocalContainers(object):
    """The local side of each container: created from the source's (its
    metadata, ACLs, versioning settings, storage policy) and kept in step
    with them, and the container's progress in the current pass, kept in
    its sysmeta (``STATE``) so that a killed run resumes.

    :param ledger: the pass's :class:`Ledger` (``--verify``'s differences).
    """

    def __init__(self, options, local, ledger, logger):
        self.options = options
        self.local = local
        self.ledger = ledger
        self.logger = logger

    def migrate_settings(self, source, account, name):
        """Create or update the local container; returns the local HEAD's
        headers (None when the source container is gone)."""
        resp = source.side('HEAD', _path(account, name))
        if resp.status == 404:
            return None
        if resp.status // 100 != 2:
            raise MigratorError('source %s: HEAD %s/%s: %d' % (
                source.name, account, name, resp.status))
        settings = stored.container_put_headers(resp.headers.items())
        digest = settings_digest(settings)
        path = _path(account, name)
        local = self.local.request('HEAD', path)
        key = '%s/%s' % (account, name)
        if self.options.verify:
            self._verify_settings(key, settings, local)
            return dict(local.headers) if local.status_int // 100 == 2 \
                else {}
        if local.status_int == 404:
            if self.options.dry_run:
                print(json.dumps({'create': key}))
                return {}
            marks = [(MIGRATED_FROM, source.name), (SETTINGS_DIGEST, digest)]
            policy = resp.headers.get('X-Storage-Policy')
            put = self.local.request('PUT', path, settings + marks + (
                [('X-Storage-Policy', policy)] if policy else []))
            if put.status_int == 400 and policy:
                self.logger.warning('%s: no storage policy %s here: the '
                                    "local default", key, policy)
                put = self.local.request('PUT', path, settings + marks)
            if put.status_int // 100 != 2:
                raise MigratorError('local PUT %s: %s' % (key, put.status))
            return dict(self.local.request('HEAD', path).headers)
        headers = {k.lower(): v for k, v in local.headers.items()}
        if headers.get(MIGRATED_FROM.lower()) == source.name and \
                headers.get(SETTINGS_DIGEST.lower()) != digest and \
                not self.options.dry_run:
            # the source's settings changed since they were applied
            wanted = dict(settings)
            removed = [(n, '') for n, _v in stored.container_put_headers(
                headers.items()) if n not in wanted]
            self.local.request('POST', path, settings + removed + [
                (SETTINGS_DIGEST, digest)])
            self.logger.info('%s: settings re-applied from the source', key)
        return headers

    def _verify_settings(self, key, settings, local):
        if local.status_int == 404:
            self.ledger.differences.append({'container': key,
                                            'difference': 'missing locally'})
            return
        mine = stored.container_put_headers(local.headers.items())
        if dict(mine) != dict(settings):
            self.ledger.differences.append({
                'container': key, 'difference': 'settings',
                'source': dict(settings), 'local': dict(mine)})

    @staticmethod
    def load_state(headers):
        """The progress saved in a local container's headers ({} if none)."""
        raw = {k.lower(): v for k, v in headers.items()}.get(STATE.lower())
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def save_state(self, job, force=False):
        """Save the container's progress, at most every
        ``state_save_interval`` seconds and when it moved (``force``: now)."""
        if self.options.verify or self.options.dry_run:
            return
        now = time.monotonic()
        if not force and now - job.saved < self.options.state_save_interval:
            return
        job.saved = now
        state = {'marker': job.tracker.marker, 'source': job.source.name,
                 'updated': time.time()}
        state.update(job.counts.as_dict(failures=False))
        if job.tracker.marker == job.saved_marker and not force:
            return
        job.saved_marker = job.tracker.marker
        self.local.request('POST', _path(job.account, job.container),
                           [(STATE, json.dumps(state))])


class ObjectCopier(object):
    """What the workers run, one object at a time: its copy from the source
    into the local cluster, every byte verified (or, with ``--verify``, its
    comparison); each outcome goes into the :class:`Ledger`.

    :param retry: the migrator's ``retry(side, what, func)``.
    :param throttle: a :class:`Throttle` shared by every worker.
    """

    def __init__(self, local, ledger, retry, logger, throttle):
        self.local = local
        self.ledger = ledger
        self.retry = retry
        self.logger = logger
        self.throttle = throttle
        #: the MigratorError a worker met: the run stops
        self.abort = None

    def guard(self, func, job, *args):
        try:
            func(job, *args)
        except MigratorError as err:
            if self.abort is None:
                self.abort = err

    def copy_guarded(self, job_args, may_defer):
        job, entry, deferred = job_args
        try:
            outcome = self.copy(job, entry, may_defer)
        except MigratorError as err:
            self.ledger.failed(job, entry['name'], str(err), count=False)
            if self.abort is None:
                self.abort = err
            return
        except ObjectFailed as err:
            self.ledger.failed(job, entry['name'], str(err))
            return
        except Exception as err:  # one object must not stop the others
            self.logger.exception('%s/%s/%s', job.account, job.container,
                                  entry['name'])
            self.ledger.failed(job, entry['name'], '%s: %s' % (
                type(err).__name__, err))
            return
        if outcome == 'deferred':
            deferred.append((job, entry, deferred))
            return
        self.ledger.done(job, entry['name'], outcome[0], outcome[1])

    def copy(self, job, entry, may_defer):
        """Copy one object; returns ('copied'|'skipped', bytes) or
        'deferred'.  An ETag mismatch is tried once more."""
        account, container, obj = job.account, job.container, entry['name']
        path = _path(account, container, obj)
        if entry['bytes'] >= HEAD_FIRST_BYTES:
            newer = self._newer_locally(job, path, entry)
            if newer:
                return 'skipped', 0

        def attempt():
            status, headers, body = job.source.open(account, container, obj,
                                                    retry=False)
            if status == 404 and attempt_number == 2:
                # Swift's object server quarantines what fails its own MD5
                raise ObjectFailed("ETag mismatch: the bytes read did not "
                                   "match the source's ETag; then the "
                                   "source had it no more (quarantined?); "
                                   "not stored")
            if status == 404:
                return 'skipped', 0  # gone from the source meanwhile
            if body is None:
                raise ObjectFailed('source GET: %d' % status)
            if may_defer and not stored.is_plain_object(headers):
                body.close()
                return 'deferred'
            try:
                return self._put(path, headers, body)
            finally:
                body.close()
        for attempt_number in (1, 2):
            result = self.retry('source %s' % job.source.name,
                                'copying ' + path, attempt)
            if result != 'mismatch':
                return result
            self.logger.warning('%s/%s/%s: the body read does not match the '
                                "source's ETag%s", account, container, obj,
                                '; trying again' if attempt_number == 1
                                else '')
        raise ObjectFailed("ETag mismatch: the bytes read do not match the "
                           "source's ETag (twice); not stored")

    def _newer_locally(self, job, path, entry):
        head = self.local.request('HEAD', path)
        stamp = head.headers.get('X-Timestamp') or head.headers.get(
            'X-Backend-Timestamp')
        if not stamp:
            return False
        from swift.common.utils import Timestamp
        return Timestamp(stamp).isoformat >= entry['last_modified']

    def _put(self, path, headers, body):
        put_headers, overridden = stored.object_put_headers(headers)
        length = headers.get('content-length')
        put_headers = dict(put_headers)
        if length is not None:
            put_headers['Content-Length'] = length
        else:
            put_headers['Transfer-Encoding'] = 'chunked'
        if overridden:
            put_headers[OVERRIDE_HEADER] = 'true'
        reader = BodyReader(body, self.throttle)
        try:
            resp = self.local.request('PUT', path, put_headers, body=reader,
                                      ok=(2,))
        except Retryable:
            if isinstance(reader.error, EtagMismatch):
                return 'mismatch'
            if reader.error is not None:
                raise Retryable('reading the source: %s' % reader.error)
            raise
        error = reader.error or body.error
        if isinstance(error, EtagMismatch):
            return 'mismatch'
        if error is not None:
            raise Retryable('reading the source: %s' % error)
        if resp.status_int == 202 and self._stored_already(path, headers):
            # an earlier attempt's PUT stored it (then its answer was a
            # 5xx and it was retried): copied, once
            return 'copied', reader.bytes
        if resp.status_int == 202:
            return 'skipped', 0
        if resp.status_int == 201:
            return 'copied', reader.bytes
        if resp.status_int == 422:
            return 'mismatch'
        raise ObjectFailed('local PUT: %s' % resp.status)

    def _stored_already(self, path, headers):
        """Is the local object the source's, with its timestamp and ETag
        (a 202 that an earlier attempt of this copy caused)?"""
        head = self.local.request('HEAD', path)
        mine = {k.lower(): v for k, v in head.headers.items()}
        return head.status_int == 200 and \
            mine.get('x-timestamp') == headers.get('x-timestamp') and \
            mine.get('etag') == headers.get('etag')

    # -- verify

    def verify_missing(self, job, entry, mine):
        path = _path(job.account, job.container, entry['name'])
        try:
            if self._newer_locally(job, path, entry):
                self.ledger.done(job, entry['name'], 'skipped')
                return
        except MigratorError:
            pass
        self.ledger.differences.append({
            'object': '%s/%s/%s' % (job.account, job.container,
                                    entry['name']),
            'difference': 'missing locally' if mine is None else
            'older locally', 'source': entry, 'local': mine})
        self.ledger.done(job, entry['name'], 'unchanged')

    def verify_metadata(self, job, entry):
        obj = entry['name']
        status, src, _b = job.source.open(job.account, job.container, obj,
                                          'HEAD')
        local = self.local.request('HEAD', _path(job.account, job.container,
                                                 obj))
        mine = {k.lower(): v for k, v in local.headers.items()}
        theirs = dict(stored.object_put_headers(src)[0])
        ours = dict(stored.object_put_headers(mine)[0])
        if status == 200 and local.status_int == 200 and theirs != ours:
            self.ledger.differences.append({
                'object': '%s/%s/%s' % (job.account, job.container, obj),
                'difference': 'metadata', 'source': theirs, 'local': ours})
        self.ledger.done(job, obj, 'unchanged')


class Ledger(object):
    """What a pass did, as it goes: each container's :class:`Counts` and
    the totals, the differences ``--verify`` found, the statsd counters, a
    progress bar on a terminal (log lines without one), and the report."""

    def __init__(self, options, logger):
        self.options = options
        self.logger = logger
        self.reset()
        #: source listing entries seen (the progress bar's total)
        self.listed = self.listed_bytes = 0
        self.bar = None
        self._last_log = time.monotonic()

    def reset(self):
        """Forget the last pass (``--forever``: before the next)."""
        self.totals = Counts()
        #: {(account, container): ContainerJob}
        self.containers = collections.OrderedDict()
        self.differences = []

    # -- outcomes

    def done(self, job, name, outcome, nbytes=0):
        job.last_done = time.monotonic()
        setattr(job.counts, outcome, getattr(job.counts, outcome) + 1)
        job.counts.bytes += nbytes
        job.tracker.finish(name, True)
        if outcome in ('copied', 'skipped') and not self.options.verify:
            self.logger.increment(outcome)
            if outcome == 'copied':
                self.logger.update_stats('bytes', nbytes)
                self.logger.debug('copied %s/%s/%s (%d bytes)', job.account,
                                  job.container, name, nbytes)
        self.progress(1, nbytes)

    def failed(self, job, name, reason, count=True):
        job.last_done = time.monotonic()
        job.tracker.finish(name, False)
        if count:
            job.counts.failed += 1
            job.counts.failures.append({'name': name, 'reason': reason})
            self.logger.increment('failed')
            self.logger.error('%s/%s/%s: %s', job.account, job.container,
                              name, reason)
            self.progress(1, 0)

    # -- progress and report

    def start(self):
        if self.options.progress and sys.stderr.isatty():
            self.bar = tqdm.tqdm(total=0, unit='obj', dynamic_ncols=True,
                                 file=sys.stderr)
        self._done_objects = self._done_bytes = 0
        self._started = time.monotonic()

    def progress(self, objects, nbytes):
        self._done_objects += objects
        self._done_bytes += nbytes
        if self.bar is not None:
            self.bar.total = max(self.listed, self._done_objects)
            self.bar.set_postfix_str('%.1f MiB' % (self._done_bytes / 2 ** 20),
                                     refresh=False)
            self.bar.update(objects)
            return
        now = time.monotonic()
        if now - self._last_log >= self.options.log_interval:
            self._last_log = now
            elapsed = max(now - self._started, 1e-6)
            self.logger.info(
                'progress: %d of %d objects listed so far, %.1f MiB copied '
                '(%.1f objects/s, %.2f MiB/s)', self._done_objects,
                self.listed, self._done_bytes / 2 ** 20,
                self._done_objects / elapsed,
                self._done_bytes / 2 ** 20 / elapsed)

    def stop(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def report(self, status, error):
        result = self.totals.as_dict(failures=False)
        result.update({
            'status': status, 'seconds': round(self.totals.seconds, 3),
            'error': error, 'verify': self.options.verify,
            'dry_run': self.options.dry_run,
            'containers': {'%s/%s' % key: job.counts.as_dict()
                           for key, job in self.containers.items()}})
        if self.options.verify:
            result['differences'] = self.differences
        return result

    def write_report(self, status, error):
        report = self.report(status, error)
        if self.options.report:
            tmp = self.options.report + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(report, f, indent=1, sort_keys=True)
            os.rename(tmp, self.options.report)
        if self.options.verify:
            for diff in self.differences:
                print(json.dumps(diff, sort_keys=True))


class ContainerJob(object):
    def __init__(self, account, container, tracker, source):
        self.account, self.container = account, container
        self.tracker = tracker
        self.source = source
        self.counts = Counts()
        self.started = time.monotonic()
        self.saved = time.monotonic()
        self.saved_marker = tracker.marker
        #: when its last object was done (its seconds: from start to that)
        self.last_done = self.started


class UsageError(MigratorError):
    exit_status = EXIT_USAGE


def _account_matches(rule, account):
    if rule.account is None:
        return True
    if rule.prefix and rule.container is None:
        return account.startswith(rule.account)
    return account == rule.account


# -- the command -------------------------------------------------------------------

def build_parser():
    parser = argparse.ArgumentParser(
        prog='swift-forwarder-migrate',
        description='Copy what the forwarder\'s migrate rules name from '
        'each source into the local cluster (see the docs).')
    parser.add_argument('conf', help='the proxy-server.conf with the '
                        'forwarder')
    parser.add_argument('--verify', action='store_true',
                        help='copy nothing; compare both sides, exit 1 on '
                        'a difference (listed on stdout)')
    parser.add_argument('--dry-run', action='store_true',
                        help='copy nothing; list what would be copied')
    parser.add_argument('--forever', action='store_true',
                        help='run as a daemon: a pass every interval')
    parser.add_argument('--shard', type=parse_shard, default=None,
                        help='I/N: the Ith of N processes sharing the work; '
                        'ring: the containers whose first primary in the '
                        'local container ring is on this node')
    parser.add_argument('--account', action='append', default=[],
                        help='a local account for rules of many accounts '
                        '(*, a prefix); repeatable')
    parser.add_argument('--workers', type=int)
    parser.add_argument('--max-bytes-per-second', type=float)
    parser.add_argument('--retries', type=int)
    parser.add_argument('--retry-delay', type=float)
    parser.add_argument('--interval', type=float)
    parser.add_argument('--log-interval', type=float)
    parser.add_argument('--state-save-interval', type=float)
    parser.add_argument('--filter-name')
    parser.add_argument('--internal-client-conf',
                        dest='internal_client_conf_path')
    parser.add_argument('--report', help='write the JSON report here')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar, even on a terminal')
    parser.add_argument('--log-level', default=None)
    return parser


def load(conf_path, args):
    """(MigratorOptions, {name: (TargetForwarder, TargetConf)}, conf text
    or path of the internal client, swift_dir, the migrator's conf)."""
    from swift_forwarder import check, middleware
    sections = _conf_sections(conf_path)
    own = dict(sections.get('forwarder-migrator', {}))
    values = {}
    for name, convert, default in OPTIONS:
        raw = getattr(args, name, None)
        try:
            values[name] = convert(raw if raw is not None else
                                   own.get(name, default))
        except ValueError as err:
            raise UsageError('[forwarder-migrator] %s: %s' % (name, err))
    if values['workers'] < 1 or values['retries'] < 0:
        raise UsageError('workers must be >= 1 and retries >= 0')
    options = MigratorOptions(
        shard=args.shard, accounts=tuple(args.account), verify=args.verify,
        dry_run=args.dry_run, report=args.report, forever=args.forever,
        progress=not args.no_progress, **values)
    filters = [f for f in check.load_filters(conf_path)
               if f.name == options.filter_name] or \
        check.load_filters(conf_path)
    fconf = filters[0]
    swift_dir = fconf.global_conf.get('swift_dir', '/etc/swift')
    parsed = parse_conf(fconf.local_conf, swift_dir=swift_dir,
                        global_conf=fconf.global_conf)
    logger = logging.getLogger('swift_forwarder.migrator.source')
    sources = collections.OrderedDict()
    for name, tconf in parsed.targets.items():
        if tconf.migrate:
            sources[name] = (Source(middleware.TargetForwarder(
                parsed, tconf, logger, statsd=False),
                parsed.client_chunk_size), tconf)
    if not sources:
        raise UsageError('%s: no target of [filter:%s] has migrate rules'
                         % (conf_path, fconf.name))
    ic = options.internal_client_conf_path or internal_client_conf(
        conf_path)
    return options, sources, ic, swift_dir, own, parsed


def get_logger(own, level):
    """Swift's logger: statsd (``migrator.``) from [forwarder-migrator],
    lines on stderr."""
    from swift.common.utils import get_logger as swift_get_logger
    conf = dict(own, log_name='forwarder-migrator')
    if level:
        conf['log_level'] = level
    try:
        return swift_get_logger(conf, log_to_console=True,
                                log_route='forwarder-migrator',
                                statsd_tail_prefix='migrator')
    except TypeError:  # Swift < 2.34
        logger = swift_get_logger(conf, log_to_console=True,
                                  log_route='forwarder-migrator')
        logger.set_statsd_prefix('migrator')
        return logger


def main(argv=None):
    import eventlet
    eventlet.monkey_patch()
    args = build_parser().parse_args(argv)
    try:
        options, sources, ic, swift_dir, own, parsed = load(args.conf, args)
        use_swift_conf(swift_dir)
        # the internal pipeline's loggers first: Swift gives every logger
        # made after one with log_to_console a console handler too, and its
        # access log lines belong in syslog, not on our stderr
        local = Local(ic, None)
        logger = get_logger(own, args.log_level)
        migrator = Migrator(options, sources, local, logger)
    except (ConfigError, UsageError) as err:
        sys.stderr.write('swift-forwarder-migrate: %s\n' % err)
        return EXIT_USAGE
    except Exception as err:  # check.load_filters: NothingToCheck, paste
        sys.stderr.write('swift-forwarder-migrate: %s: %s\n' % (
            type(err).__name__, err))
        return EXIT_USAGE
    if options.forever:
        migrator.run_forever()
    status = migrator.run_once()
    totals = migrator.report(status)
    sys.stderr.write('swift-forwarder-migrate: %s\n' % json.dumps(
        {k: totals[k] for k in ('copied', 'skipped', 'unchanged', 'failed',
                                'bytes', 'seconds', 'error')}))
    return status


if __name__ == '__main__':
    sys.exit(main())

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Migration mode: clients use the local (new) cluster while the data of a
*source* (the old one) moves.

A target's ``migrate`` rules name what is being moved from it.  The filter
sits in core placement, right before proxy-server (``self.app`` here is
the local cluster), and reads the source through its backend endpoint with
the service identity, so manifests, symlinks and sysmeta arrive as stored
and Swift's own copy/slo/dlo/symlink subrequests read through like any
request.  For a request in a migrating path:

* object GET/HEAD: local first; on a local 404, the source.  A local
  tombstone (the 404's ``X-Backend-Timestamp``, which proxy-server passes
  on from the object server) at least as new as the source's object keeps
  the 404: a deleted object never comes back.  With ``migrate_on_read``, a
  whole GET of a plain object is also written locally as it streams
  (:class:`Restore`).
* object PUT: local; a container that only the source has is first made
  locally with the source's settings (:meth:`LocalCopy.ensure_container`).
* object POST: local; on a local 404 the object is first copied from the
  source with its timestamp, then the POST applies.
* object DELETE: local and on the source; success only when neither side
  failed, so nothing can come back once the local tombstone is reclaimed.
* container and account GET (listings): both sides asked the same query,
  merged (:mod:`swift_forwarder.listing`); a source that fails gives 503,
  never a short listing.  A container only the source has: the source's.
* container HEAD: local; on a local 404, the source's answer.  Swift's
  own lookups (``get_container_info``, with ``swift.source``) get the local
  answer, which memcache keeps for proxy-server; a container only the
  source has is made here first, so that its versioning and quotas apply
  from the first request (:meth:`LocalCopy.ensure_container`).
* container POST: local (a container only the source has is made locally
  first); DELETE: on the source first (409 when it is not empty), then
  locally.

Authorization is the local cluster's: proxy-server authorizes the local
request, and only what it let through reaches the source.  Where the
container does not exist locally yet, its ACLs are the source's, as if it
were already here.
"""

import io
import json
import urllib.parse

from swift_forwarder import listing, stored
from swift_forwarder.exceptions import ForwarderError, Refused, UpstreamError
from swift_forwarder.green import Queue, QueueEmpty, QueueFull, Timeout, spawn
from swift_forwarder.paths import RequestPath
from swift_forwarder.policy import LOCAL_ACLS
from swift_forwarder.routing import Rule, rule_matches, rule_text, \
    rules_overlap

try:
    from swift.common.wsgi import make_pre_authed_env
    from swift.common.storage_policy import POLICIES
    from swift.common.swob import Request
    from swift.common.utils import Timestamp
    from swift.proxy.controllers.base import clear_info_cache, \
        get_container_info
except ImportError:  # unit tests and tools without Swift installed
    make_pre_authed_env = POLICIES = Request = Timestamp = None
    clear_info_cache = get_container_info = None

__all__ = ['Source', 'LocalCopy', 'AccountListing', 'Restore', 'MIGRATED_FROM',
           'describe']

#: Sysmeta of a local container made from a source's (its name).
MIGRATED_FROM = 'X-Container-Sysmeta-Forwarder-Migrated-From'

#: The longest listing page read from either side (Swift's pages hold at
#: most 10,000 entries of names up to 1,024 bytes).
MAX_LISTING_BODY = 64 * 1024 * 1024

#: The most source pages read for one page of an account listing (the
#: source account's other containers are skipped).
MAX_ACCOUNT_PAGES = 100

#: The longest body of an error, a HEAD or a DELETE read whole.
MAX_SMALL_BODY = 65536

#: Chunks a restore may lag behind the client before the client waits
#: (each as read from the source: up to 16 x client_chunk_size).
RESTORE_QUEUE = 4

_EOF = object()
_ABORT = object()
_STALLED = object()
#: Why a restore was abandoned: the IOError its local PUT's reads raise.
_ABANDONED = {_ABORT: 'the client went away: restore abandoned',
              _STALLED: 'the client stalled: restore abandoned'}


def describe(target):
    """What is migrated from a :class:`TargetForwarder`, for the
    healthcheck and ``/info``."""
    return {'migrate': [rule_text(rule) for rule in target.migrate_rules],
            'migrate_on_read': target.migrate_on_read}


def _reserved(path):
    """The header a request in a reserved-name container (object
    versioning's ``\\x00versions\\x00<container>``) needs, as Swift's own
    middlewares send it."""
    return [('X-Backend-Allow-Reserved-Names', 'true')] \
        if '\x00' in path.path_info else []


def _count_source_error(source, err):
    """``migrate.source_errors``, once per request."""
    if not getattr(err, 'counted', False):
        err.counted = True
        source.metrics.increment('migrate.source_errors')


def _status(line):
    return int(line.split(' ', 1)[0])


def _ok(status):
    return 200 <= status < 300


class LocalAnswer(object):
    """What the local cluster answered (``app`` called with a copy of the
    request's environ, so that what proxy-server sets in it, such as its
    storage policy index or timestamp, never reaches the source)."""

    def __init__(self, app, env):
        head = []

        def start_response(status, headers, exc_info=None):
            head[:] = [status, list(headers)]
        self.env = dict(env)
        self.body = app(self.env, start_response)
        self.status_line, self.headers = head
        self.status = _status(self.status_line)

    def header(self, name):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def read(self, limit=MAX_SMALL_BODY):
        """The body, whole (an error's or a listing's), then closed."""
        data = b''
        try:
            for chunk in self.body:
                data += chunk
                if len(data) > limit:
                    raise ForwarderError('the local answer is larger than '
                                         '%d bytes' % limit)
        finally:
            self.close()
        self.body = [data]
        return data

    def close(self):
        if hasattr(self.body, 'close'):
            self.body.close()

    def relay(self, start_response):
        start_response(self.status_line, self.headers)
        return self.body

    def app(self, env, start_response):
        """This answer as a WSGI app (read first), to answer instead of
        the source's."""
        return self.relay(start_response)


def _answer(start_response, status_line, headers, body):
    start_response(status_line, [(name, value) for name, value in headers
                                 if name.lower() != 'content-length'] + [
        ('Content-Length', str(len(body)))])
    return [body]


def _pre_authed(env, method, path_info, headers=(), body=b'', source='FWD'):
    """A pre-authorized subrequest of ``env`` to the local proxy-server."""
    sub = make_pre_authed_env(env, method, path_info, agent='%(orig)s '
                              'Forwarder', query_string='', swift_source=source)
    for name, value in headers:
        key = name.upper().replace('-', '_')
        if key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            sub[key] = value
        else:
            sub['HTTP_' + key] = value
    if '\x00' in path_info:
        sub['HTTP_X_BACKEND_ALLOW_RESERVED_NAMES'] = 'true'
    if 'HTTP_TRANSFER_ENCODING' not in sub:  # (a chunked body has none)
        sub.setdefault('CONTENT_LENGTH', str(len(body)))
    sub['wsgi.input'] = io.BytesIO(body)
    return sub


def _length_headers(length):
    """How a local PUT says the length of a body copied from the source:
    its Content-Length, or chunked if it came without one."""
    return [('Content-Length', length)] if length else [
        ('Transfer-Encoding', 'chunked')]


def _timestamp(headers):
    value = headers.get('X-Backend-Timestamp') or headers.get('X-Timestamp')
    return Timestamp(value) if value else None


class LocalCopy(object):
    """What migration mode writes into the local cluster as stored, for a
    :class:`Source`: a container made from the source's, an object copied
    before a POST applies to it."""

    def __init__(self, source):
        self.source = source

    def ensure_container(self, env, path, extra=False):
        """Make the local container from the source's, if only the source
        has it: its metadata, ACLs and versioning settings, marked with
        :data:`MIGRATED_FROM`.  Returns True if it was made.

        :param extra: the request holds a connection to the source already
            (a restore, while the client reads).
        """
        if self.source.local_container(env).get('status') != 404:
            return False
        return self.make_container(env, path, extra)

    def make_container(self, env, path, extra=False):
        """Make the local container from the source's (its HEAD), if the
        source has it.  Returns True if it was made."""
        source = self.source
        src = source.service.container_request(
            env, 'HEAD', path.container, _reserved(path), MAX_SMALL_BODY, extra)
        if src.status == 404:
            return False
        if not _ok(src.status):
            raise UpstreamError(source.name, 'HEAD of the source container '
                                'got %d %s' % (src.status, src.reason), 503)
        headers = stored.container_put_headers(src.headers) + [
            (MIGRATED_FROM, source.name)]
        policy = src.headers.get('X-Storage-Policy')
        if policy and POLICIES.get_by_name(policy) is not None:
            headers.append(('X-Storage-Policy', policy))
        account, container = path.segments[1], path.segments[2]
        put_env = _pre_authed(env, 'PUT', '/v1/%s/%s' % (account, container),
                              headers, source='FWD_MIGRATE')
        put_env['swift_owner'] = True  # (else proxy-server drops the ACLs)
        answer = LocalAnswer(source.app, put_env)
        answer.read()
        clear_info_cache(env, account, container)
        if not _ok(answer.status):
            raise ForwarderError('making the local container %s from the '
                                 'source got %s' % (path.container,
                                                    answer.status_line), 503)
        source.metrics.increment('migrate.containers_made')
        source.logger.info('migrate: container %s/%s made from %s',
                           path.account, path.container, source.name)
        return True

    def copy_object(self, env, path):
        """Copy one object from the source as stored (its timestamp, ETag,
        metadata and sysmeta), verified.  Returns False if the source has
        no such object."""
        source = self.source
        self.ensure_container(env, path)
        get_env = _pre_authed(env, 'GET', path.path_info,
                              source='FWD_MIGRATE')
        head = []

        def capture(status, headers, exc_info=None):
            head[:] = [_status(status), headers]
        body = source.target.forward(get_env, capture,
                                     RequestPath.from_environ(get_env))
        try:
            status, headers = head
            if status == 404:
                return False
            if status != 200:
                raise UpstreamError(source.name, 'GET on the source got %d' %
                                    status, 503)
            put_headers, overridden = stored.object_put_headers(headers)
            length = dict((k.lower(), v) for k, v in headers).get(
                'content-length')
            put_env = _pre_authed(env, 'PUT', path.path_info,
                                  put_headers + _length_headers(length),
                                  source='FWD_MIGRATE')
            put_env['wsgi.input'] = _IterInput(body)
            if overridden:
                put_env['swift.content_type_overridden'] = True
            answer = LocalAnswer(source.app, put_env)
            answer.read()
        finally:
            if hasattr(body, 'close'):
                body.close()
        if answer.status not in (201, 202):
            raise ForwarderError('copying %s from the source got %s' % (
                path.quoted, answer.status_line), 503)
        source.metrics.increment('migrate.copied' if answer.status == 201
                                 else 'migrate.copy_skipped')
        source.logger.info('migrate: %s copied from %s: %s', path.quoted,
                           source.name, answer.status_line)
        return True


class Source(object):
    """One source's migrating paths: see the module docstring.

    :param target: the source's :class:`TargetForwarder` (a backend
        endpoint in service mode).
    :param app: the local cluster (the next app: proxy-server).
    :param logger: the middleware's logger.
    """

    def __init__(self, target, app, logger):
        self.target = target
        self.app = app
        self.logger = logger
        self.metrics = target.metrics
        self.rules = target.migrate_rules
        self.on_read = target.migrate_on_read
        self.copies = LocalCopy(self)

    @property
    def name(self):
        """The source's name, for error bodies."""
        return self.target.name

    @property
    def service(self):
        return self.target.service

    def forward(self, env, start_response, path):
        method = env['REQUEST_METHOD']
        if path.obj is not None:
            handler = {'GET': self.read, 'HEAD': self.read, 'PUT': self.put,
                       'POST': self.post, 'DELETE': self.delete}.get(method)
        elif path.container is not None:
            handler = {'GET': self.listing, 'HEAD': self.container_head,
                       'POST': self.container_post,
                       'DELETE': self.container_delete}.get(method)
        else:
            handler = None  # account listings: AccountListing
        if handler is None:
            return self.app(env, start_response)
        try:
            return handler(env, start_response, path)
        except UpstreamError as err:
            _count_source_error(self, err)
            raise

    # -- the local side

    def local_container(self, env):
        """The local container's info, as proxy-server sees it."""
        return get_container_info(env, self.app, swift_source='FWD')

    def _refused_here(self, env, local):
        """Did the local auth refuse, where the container is only on the
        source?  Then the source's ACLs decide (as if it were here):
        :meth:`ServiceMode.check_request` raises the local auth's refusal
        with them."""
        if local.status not in (401, 403) or \
                self.local_container(env).get('status') != 404:
            return False
        self.service.check_request(env, RequestPath.from_environ(env), False,
                                   0)
        return True

    def _local_acls(self, env, path):
        """The source is asked with the local container's ACLs, when it
        exists (else the source's: the service checks fetch them)."""
        info = self.local_container(env)
        if _ok(info.get('status') or 0):
            env.setdefault(LOCAL_ACLS, {})[path.container] = (
                info.get('read_acl'), info.get('write_acl'))

    # -- objects

    def read(self, env, start_response, path):
        local = LocalAnswer(self.app, env)
        tombstone = None
        if local.status == 404:
            tombstone = local.header('X-Backend-Timestamp')
            local.read()
        elif local.status in (401, 403):
            local.read()
            try:
                if not self._refused_here(env, local):
                    return local.relay(start_response)
            except Refused:
                return local.relay(start_response)
        else:
            return local.relay(start_response)
        if tombstone and not self._newer_on_source(env, path, tombstone):
            return local.relay(start_response)
        self._local_acls(env, path)
        self.metrics.increment('migrate.read_through')
        self.logger.info('migrate: %s %s read through from %s',
                         env['REQUEST_METHOD'], path.quoted, self.name)

        def answer(resp):
            if resp.status == 404:  # on neither side
                err = Refused('not on the source either', local.status)
                err.app = local.app
                raise err
            if self.on_read and Restore.applies(env, resp):
                return Restore(self, env, path, resp).wrap
            return None
        return self.target.forward(env, start_response, path, answer)

    def _newer_on_source(self, env, path, tombstone):
        """Is the source's object newer than the local tombstone?"""
        src = self.service.side(env, 'HEAD', path.quoted,
                                headers=_reserved(path))
        if src.status == 404:
            return False
        if not _ok(src.status):
            raise UpstreamError(self.name, 'HEAD on the source got %d %s' % (
                src.status, src.reason), 503)
        stamp = _timestamp(src.headers)
        return stamp is not None and stamp > Timestamp(tombstone)

    def put(self, env, start_response, path):
        self.copies.ensure_container(env, path)
        return self.app(env, start_response)

    def post(self, env, start_response, path):
        local = LocalAnswer(self.app, env)
        if local.status not in (401, 403, 404):
            return local.relay(start_response)
        local.read()
        try:
            if local.status != 404 and not self._refused_here(env, local):
                return local.relay(start_response)
        except Refused:
            return local.relay(start_response)
        tombstone = local.header('X-Backend-Timestamp')
        if tombstone and not self._newer_on_source(env, path, tombstone) or \
                not self.copies.copy_object(env, path):
            return local.relay(start_response)
        return self.app(env, start_response)

    def delete(self, env, start_response, path):
        local = LocalAnswer(self.app, env)
        local.read()
        if local.status in (401, 403):
            try:
                if not self._refused_here(env, local):
                    return local.relay(start_response)
            except Refused:
                return local.relay(start_response)
        elif not (_ok(local.status) or local.status == 404):
            return local.relay(start_response)
        src = self.service.side(env, 'DELETE', path.target,
                                max_body=MAX_SMALL_BODY,
                                headers=_reserved(path))
        self.logger.info('migrate: DELETE %s: local %d, on %s %d',
                         path.quoted, local.status, self.name, src.status)
        if not (_ok(src.status) or src.status == 404):
            raise UpstreamError(self.name, 'DELETE on the source got %d %s '
                                '(deleted here: retry to delete it there)' % (
                                    src.status, src.reason), 503)
        if _ok(local.status) or not _ok(src.status):
            return local.relay(start_response)
        return _answer(start_response, '204 No Content', [
            (name, value) for name, value in local.headers
            if name.lower() not in ('content-type', 'x-backend-timestamp')],
            b'')

    # -- containers and accounts

    def listing(self, env, start_response, path):
        """A container listing: both sides merged; the source's alone for
        a container not here yet."""
        local = LocalAnswer(self.app, env)
        if local.status == 404 or self._refused_here_read(env, local):
            local.close()
            return self.target.forward(env, start_response, path)
        return merged_listing([self], local, env, start_response, path)

    def entries(self, env, path, query):
        """The source's page of a listing for ``query`` (a
        :class:`listing.ListingQuery`), or None if it has no such
        container or account.  Of an account listing, only the containers
        the ``migrate`` rules name: more pages are read (at most
        :data:`MAX_ACCOUNT_PAGES`) until a page's worth is found."""
        found, source_query = [], path.query
        for _page in range(MAX_ACCOUNT_PAGES):
            src = self.service.side(env, 'GET', path.with_query(_source_query(
                source_query, query.limit)).target, max_body=MAX_LISTING_BODY,
                headers=_reserved(path))
            if src.status == 404:
                return None
            if not _ok(src.status):
                raise UpstreamError(self.name, 'the source listing got %d %s'
                                    % (src.status, src.reason), 503)
            try:
                page = json.loads(src.body) if src.body else []
            except ValueError as err:
                raise UpstreamError(self.name, 'a listing that is not JSON: '
                                    '%s' % err, 503)
            if path.container is not None:
                return page
            found.extend(entry for entry in page if self._migrates(
                path.account, entry))
            if len(page) < query.limit or len(found) >= query.limit:
                return found
            source_query = _with_marker(source_query, listing.entry_key(
                page[-1]))
        raise UpstreamError(self.name, 'more than %d listing pages of '
                            'containers the migrate rules do not name' %
                            MAX_ACCOUNT_PAGES, 503)

    def _migrates(self, account, entry):
        """Does an account listing's entry (a container, or a delimiter's
        roll-up of some) hold what is migrated from here?"""
        if 'subdir' in entry:
            rolled = Rule(account, entry['subdir'], True)
            return any(rules_overlap(rolled, rule) for rule in self.rules)
        return any(rule_matches(rule, account, entry['name'])
                   for rule in self.rules)

    def _refused_here_read(self, env, local):
        try:
            return self._refused_here(env, local)
        except Refused:
            return False

    def container_head(self, env, start_response, path):
        local = LocalAnswer(self.app, env)
        if env.get('swift.source'):
            # Swift's own lookups (proxy-server's, object versioning's,
            # quotas'...) get what proxy-server itself sees, which memcache
            # keeps: a container only the source has is made here first,
            # so that its versioning and quotas apply from the first write
            if local.status == 404 and self.copies.make_container(env, path):
                local.close()
                return self.app(env, start_response)
            return local.relay(start_response)
        if local.status == 404 or self._refused_here_read(env, local):
            local.close()
            return self.target.forward(env, start_response, path)
        return local.relay(start_response)

    def container_post(self, env, start_response, path):
        local = LocalAnswer(self.app, env)
        if local.status != 404:
            return local.relay(start_response)
        local.read()
        if not self.copies.ensure_container(env, path):
            return local.relay(start_response)
        return self.app(env, start_response)

    def container_delete(self, env, start_response, path):
        """On the source first: if it is not empty (409) or cannot be
        deleted, nothing is deleted locally."""
        authorize = env.get('swift.authorize')
        refusal = authorize(Request(env)) if authorize else None
        if refusal is not None:
            return refusal(env, start_response)
        src = self.service.container_request(env, 'DELETE', path.container,
                                             _reserved(path), MAX_SMALL_BODY)
        self.logger.info('migrate: DELETE of container %s on %s: %d',
                         path.quoted, self.name, src.status)
        if src.status == 409:
            return _answer(start_response, '409 Conflict', [
                ('Content-Type', 'text/html; charset=UTF-8')], src.body)
        if not (_ok(src.status) or src.status == 404):
            raise UpstreamError(self.name, 'DELETE of the source container '
                                'got %d %s' % (src.status, src.reason), 503)
        local = LocalAnswer(self.app, env)
        if local.status == 404 and _ok(src.status):
            local.read()
            return _answer(start_response, '204 No Content', [], b'')
        return local.relay(start_response)


def merged_listing(sources, local, env, start_response, path):
    """The local listing (a :class:`LocalAnswer`) merged with each
    source's page of it, Swift's own listing of the union; a source that
    fails gives 503, never a short listing."""
    if not _ok(local.status):
        return local.relay(start_response)
    data = local.read(MAX_LISTING_BODY)
    try:
        merged = json.loads(data) if data else []
    except ValueError as err:
        raise ForwarderError('a local listing that is not JSON: %s' % err,
                             503)
    query = listing.listing_query(path.query)
    for source in sources:
        try:
            entries = source.entries(env, path, query)
        except UpstreamError as err:
            _count_source_error(source, err)
            raise
        if entries is None:
            continue
        count = len(merged)
        merged = listing.merge(merged, entries, query.limit, query.reverse)
        source.metrics.increment('migrate.listing_merges')
        source.logger.info('migrate: listing %s merged with %s: %d+%d -> %d',
                           path.quoted, source.name, count, len(entries),
                           len(merged))
    if not merged:
        return local.relay(start_response)
    return _answer(start_response, '200 OK', local.headers,
                   listing.encode(merged))


class AccountListing(object):
    """An account GET where containers are migrating from ``sources``:
    the local listing merged with each source's containers that its
    ``migrate`` rules name."""

    def __init__(self, sources, app):
        self.sources = sources
        self.app = app

    @property
    def name(self):
        return ', '.join(source.name for source in self.sources)

    def forward(self, env, start_response, path):
        return merged_listing(self.sources, LocalAnswer(self.app, env), env,
                              start_response, path)


def _with_marker(query, marker):
    kept = [item for item in query.split('&')
            if item and item.partition('=')[0] != 'marker']
    return '&'.join(kept + ['marker=' + urllib.parse.quote(
        marker.encode('utf-8'), safe='')])


def _source_query(query, limit):
    """The listing query for the source: the client's, with ``format=json``
    (what the local proxy-server answers with, whatever was asked) and
    the local ``limit`` said outright (a source with a smaller
    ``container_listing_limit`` would otherwise send a shorter page)."""
    kept = [item for item in query.split('&')
            if item and item.partition('=')[0] not in ('format', 'limit')]
    return '&'.join(kept + ['format=json', 'limit=%d' % limit])


class _IterInput(object):
    """``wsgi.input`` over an iterator of chunks (a body read from the
    source): ``read(size)`` as proxy-server calls it."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b''
        self._at = 0  # where the part of _buffer not read yet starts

    def read(self, size=-1):
        while self._at >= len(self._buffer):
            chunk = self._next()
            if chunk is None:
                return b''
            self._buffer, self._at = chunk, 0
        if size is None or size < 0:
            size = len(self._buffer) - self._at
        # a slice of what is returned only: a chunk (up to 16 x
        # client_chunk_size) read client_chunk_size at a time is copied
        # once, not once per read
        data = self._buffer[self._at:self._at + size]
        self._at += len(data)
        return data

    def _next(self):
        try:
            return bytes(next(self._chunks))
        except StopIteration:
            return None
        except (ForwarderError, Timeout) as err:
            # proxy-server's answer to a broken client upload: the object
            # servers are hung up on, nothing is stored
            raise IOError('the source body broke off: %s' % err)


class _QueueInput(_IterInput):
    """``wsgi.input`` fed by the client's stream through a queue."""

    def __init__(self, queue, timeout):
        super().__init__(())
        self._queue = queue
        self._timeout = timeout
        self._end = None  # once the stream is over: _EOF or why it ended

    def _next(self):
        if self._end is None:
            try:
                item = self._queue.get(timeout=self._timeout)
            except QueueEmpty:
                item = _STALLED
            if item is not _EOF and item is not _ABORT and \
                    item is not _STALLED:
                return item
            self._end = item
        # over: a read again gives b'' (or raises) again, at once, rather
        # than waiting client_timeout on a queue that nobody feeds
        if self._end is _EOF:
            return None
        raise IOError(_ABANDONED[self._end])


class Restore(object):
    """``migrate_on_read``: a whole GET of a plain object read through is
    written locally as the client reads it, with the source's timestamp,
    ETag and metadata.  The local PUT runs in a green thread of its own,
    fed by the client's stream (at most :data:`RESTORE_QUEUE` chunks
    behind it).  If the client goes away, or the body breaks off, the PUT
    is abandoned before its last byte, so nothing is stored; the ETag sent
    with it makes the object server check every byte.  A 202 (a newer
    local object) is "skipped"."""

    @staticmethod
    def applies(env, resp):
        return env['REQUEST_METHOD'] == 'GET' and resp.status == 200 and \
            'HTTP_RANGE' not in env and \
            stored.is_plain_object(resp.getheaders())

    def __init__(self, source, env, path, resp):
        self.source = source
        self.path = path
        self.timeout = source.target.conf.client_timeout
        headers, overridden = stored.object_put_headers(resp.getheaders())
        length = resp.getheader('Content-Length')
        self.queue = Queue(RESTORE_QUEUE)
        self.put_env = _pre_authed(
            env, 'PUT', path.path_info, headers + _length_headers(length),
            source='FWD_RESTORE')
        self.put_env['wsgi.input'] = _QueueInput(self.queue, self.timeout)
        if overridden:
            self.put_env['swift.content_type_overridden'] = True
        self.env = env
        self.ended = False
        self.thread = spawn(self._put)

    def wrap(self, app_iter):
        return _Tee(app_iter, self)

    def _put(self):
        try:
            # (never waiting for a pool slot: the client's GET holds one)
            self.source.copies.ensure_container(self.env, self.path, extra=True)
            answer = LocalAnswer(self.source.app, self.put_env)
            answer.read()
            return answer.status_line
        finally:
            self._drain()

    def _drain(self):
        """The PUT is over, maybe before reading it all (proxy-server's
        202 or 503 comes before 100 Continue): empty the queue, so that a
        client waiting to put a chunk in goes on at once (and then sees
        the thread dead) instead of after ``client_timeout``."""
        while True:
            try:
                self.queue.get_nowait()
            except QueueEmpty:
                return

    def feed(self, chunk):
        if self.ended or self.thread.dead:
            return
        try:
            self.queue.put(chunk, timeout=self.timeout)
        except QueueFull:  # the local PUT is stuck: let it time out
            self.ended = True

    def end(self, item):
        """No more chunks: ``_EOF`` (the whole body) or ``_ABORT``."""
        if self.ended:
            return
        self.ended = True
        if not self.thread.dead:
            try:
                self.queue.put(item, timeout=self.timeout)
            except QueueFull:
                pass

    def finish(self):
        """Once the client's stream is over: the PUT's outcome, counted
        and logged."""
        self.end(_ABORT)  # (a no-op after the whole body)
        source, metrics = self.source, self.source.metrics
        try:
            with Timeout(self.timeout + source.target.conf.node_timeout):
                status = self.thread.wait()
        except BaseException as err:  # the PUT's own failure: logged
            self.thread.kill()
            status = 'failed: %s' % (err,)
        if status.startswith('201 '):
            metrics.increment('migrate.restored')
        elif status.startswith('202 '):
            metrics.increment('migrate.restore_skipped')
        else:
            metrics.increment('migrate.restore_failed')
        source.logger.info('migrate: restore of %s from %s: %s',
                           self.path.quoted, source.name, status)


class _Tee(object):
    """The client's body, each chunk also handed to a :class:`Restore`."""

    def __init__(self, app_iter, restore):
        self.app_iter = app_iter
        self.chunks = iter(app_iter)
        self.restore = restore
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = next(self.chunks)
        except StopIteration:
            self.restore.end(_EOF)
            raise
        except BaseException:
            self.restore.end(_ABORT)
            raise
        self.restore.feed(chunk)
        return chunk

    def close(self):
        """Safe to call twice (the restore is counted once)."""
        if self.closed:
            return
        self.closed = True
        try:
            if hasattr(self.app_iter, 'close'):
                self.app_iter.close()
        finally:
            self.restore.finish()

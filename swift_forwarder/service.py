# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Service mode (federation placement, after the local auth).

The local auth middleware authenticates the client and decides, through
``env['swift.authorize']``, with the *target* container's ACLs set on the
request first, as Swift's proxy does with its own containers.  The target
then sees the forwarder's service token, in the mapped account.

The service identity may do anything in the mapped account, so whatever
the target will do for a request besides its path is authorized here as
the client, the way Swift checks each of those steps against the client:

* :meth:`ServiceMode.check_request`, before anything is sent: the request's
  own container, the containers its headers name (copy source and
  destination, symlink target, DLO segments), an SLO manifest's segments,
  what a copy reads through, what a manifest DELETE deletes;
* :meth:`ServiceMode.check_response`, once the target answered a GET or
  HEAD: what it read by following a symlink, a DLO or an SLO;
* :meth:`ServiceMode.round_trip`: every request to the target, mapped to
  the target account, with the service token, retried once on a 401.

Toward a *backend endpoint* (core placement, ``backend_endpoint = true``)
the forwarder sits below Swift's composite middlewares: copy, slo, dlo,
symlink and versioning make their subrequests above it, and each comes
through on its own, so only the request's own container is authorized,
the way proxy-server authorizes (``swift.authorize`` first without an ACL,
then with the container's; a pre-authorized subrequest's no-op authorize
costs no ACL read, and a request without one is not checked, as in the
proxy).  The checks above, of what the *target's* middlewares would do with
the forwarder's identity, have no object there: a backend endpoint runs
none.  What those middlewares tell proxy-server in the environ goes along,
signed (see :mod:`swift_forwarder.backend`).

A refusal raises :class:`Refused`, like every other error of the
forwarder; the local auth's own refusal travels in it as it is.
"""

import io
import json
import urllib.parse

from swift_forwarder import backend
from swift_forwarder.cache import TTLCache
from swift_forwarder.exceptions import BadRequest, ForwarderError, \
    Refused, ResponseTooLarge, UpstreamError
from swift_forwarder.headers import header_name
from swift_forwarder.iterators import RequestBody, ResponseBody
from swift_forwarder.paths import object_path, quote_name, reference, \
    str_to_wsgi, wsgi_to_str
from swift_forwarder.policy import LOCAL_ACLS

try:
    from swift.common.swob import Request
except ImportError:  # unit tests and tools without Swift installed
    Request = None

__all__ = ['ServiceMode', 'References', 'account_from_storage_url', 'manifest_segments',
           'check_names', 'is_manifest_put', 'TEMPURL_PARAMS']

#: Seconds a target container's ACLs are cached per worker.  Short: an ACL
#: change made through the forwarder clears it at once; one made directly on
#: the target takes at most this long to apply here.
ACL_CACHE_TIME = 10.0

#: Target containers whose ACLs are cached at most, per worker and target.
ACL_CACHE_SIZE = 10000

#: The largest SLO manifest read to authorize its segments (Swift's slo
#: ``max_manifest_size`` default), and how many manifests (nested ones
#: included) are read for one request at most.
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MAX_MANIFESTS = 20

_READ_METHODS = ('GET', 'HEAD')

#: Request headers (environ keys) naming another object of the account,
#: which the target then reads or writes with the forwarder's identity,
#: and the access the client needs to it: copy's source and destination, a
#: symlink's target, a DLO's segments (an SLO manifest's are in its body).
REFERENCES = (('HTTP_X_COPY_FROM', 'GET'), ('HTTP_DESTINATION', 'PUT'),
              ('HTTP_X_SYMLINK_TARGET', 'GET'),
              ('HTTP_X_OBJECT_MANIFEST', 'GET'))
#: ...and naming another account: only the request's own is forwarded (and
#: then dropped: the target takes the mapped account by default).
ACCOUNT_REFERENCES = ('HTTP_X_COPY_FROM_ACCOUNT', 'HTTP_DESTINATION_ACCOUNT',
                      'HTTP_X_SYMLINK_TARGET_ACCOUNT')

#: Query parameters of Swift's bulk middleware: a body that names objects
#: in any container of the account.
BULK_PARAMS = frozenset(('bulk-delete', 'extract-archive'))

#: The query parameters of a tempurl; the local tempurl middleware checked
#: them, and they do not go to the target.
TEMPURL_PARAMS = frozenset(('temp_url_sig', 'temp_url_expires',
                            'temp_url_prefix', 'temp_url_ip_range'))


def account_from_storage_url(storage_url):
    """``http://t/v1/AUTH_a`` -> ``AUTH_a`` (unquoted)."""
    parts = urllib.parse.urlsplit(storage_url).path.split('/')
    if len(parts) < 3 or not parts[2]:
        raise ValueError('no account in storage URL %r' % storage_url)
    return urllib.parse.unquote(parts[2])


def manifest_segments(data):
    """``(container, object, is_a_manifest)`` of each segment an SLO
    manifest names, in the form a client PUTs (``path``) or the one
    ``?multipart-manifest=get`` returns (``name``, ``sub_slo``); the names
    as WSGI strings.  Inline data segments name nothing.

    :raises ValueError: ``data`` is not a manifest.
    """
    segments = json.loads(data)
    if not isinstance(segments, list):
        raise ValueError('not a list')
    found = []
    for segment in segments:
        if not isinstance(segment, dict):
            raise ValueError('not a list of objects')
        path = segment.get('path', segment.get('name'))
        if path is None:
            continue  # a data segment, inline
        if not isinstance(path, str):
            raise ValueError('a path that is not a string')
        container, sep, obj = path.lstrip('/').partition('/')
        if not (container and sep and obj):
            raise ValueError('a path not of the form /container/object')
        found.append((str_to_wsgi(container), str_to_wsgi(obj),
                      segment.get('sub_slo') is True))
    return found


def check_names(env, path):
    """The account and container the client is authorized for must be the
    ones the target sees.  The upstream path keeps the client's quoting, so
    an encoded ``/`` in the account or container (``/v1/AUTH_a%2Fc/o``)
    would move the split there: refuse it.

    :raises BadRequest: nothing has gone upstream.
    """
    sent = path.quoted.split('/', 4)[2:4]
    seen = (env.get('SCRIPT_NAME', '') + path.path_info).split('/', 4)[2:4]
    if [urllib.parse.unquote_to_bytes(part) for part in sent] != \
            [part.encode('latin-1') for part in seen]:
        raise BadRequest("Invalid path: an encoded '/' in the account or "
                         "container name")


def is_manifest_put(env, path):
    """An SLO manifest PUT (``?multipart-manifest=put``)?"""
    return env['REQUEST_METHOD'] == 'PUT' and \
        path.param('multipart-manifest') == 'put'


def _read_manifest(env, length, chunk_size, timeout):
    """Read the manifest a client PUTs (at most :data:`MAX_MANIFEST_SIZE`
    bytes, as Swift's slo) and put it back as the body to send."""
    too_large = ForwarderError('Manifest is larger than %d bytes'
                               % MAX_MANIFEST_SIZE, 413)
    if length is not None and length > MAX_MANIFEST_SIZE:
        raise too_large
    data = bytearray()
    for chunk in RequestBody(env['wsgi.input'], length, chunk_size, timeout):
        data += chunk
        if len(data) > MAX_MANIFEST_SIZE:
            raise too_large
    env['wsgi.input'] = io.BytesIO(data)
    env['CONTENT_LENGTH'] = str(len(data))
    env.pop('HTTP_TRANSFER_ENCODING', None)
    return bytes(data)


def _refused(status, message):
    return Refused(message, status)


def _acl_applies(method, path):
    """Does a container ACL decide ``method`` on ``path``?  Container
    reads and object requests; a container's PUT, POST and DELETE are the
    owner's."""
    return path.container is not None and (
        path.obj is not None or method in _READ_METHODS)


def _is_slo(headers):
    return (headers.get('X-Static-Large-Object') or '').lower() == 'true'


class ServiceMode(object):
    """One target's service mode.

    :param upstream: the target's :class:`Upstream`.
    :param tokens: its :class:`TokenCache`.
    :param account_map: {local account: target account}, one-to-one;
        requests in other local accounts are refused.  Empty: every
        account maps to the service storage URL's account (the config
        allows that only where one local account is forwarded).
    :param allow_account_requests: forward PUT/POST/DELETE on the account.
    :param conf: the :class:`ForwarderConfig` (``client_chunk_size``,
        ``client_timeout``).
    :param backend_key: the target is a backend endpoint, and this is the
        key the environ state sent to it is signed with (else None).
    """

    def __init__(self, upstream, tokens, account_map, allow_account_requests,
                 conf, clock=None, backend_key=None):
        self.upstream = upstream
        self.tokens = tokens
        self.account_map = account_map
        self.allow_account_requests = allow_account_requests
        self.conf = conf
        self.backend_key = backend_key
        self.acls = TTLCache(ACL_CACHE_TIME, ACL_CACHE_SIZE, clock)
        #: what the target's own middlewares read and write besides the
        #: path (none toward a backend endpoint: the local ones do it)
        self.references = References(self) if backend_key is None else None

    def target_account(self, local_account):
        return self.account_map.get(local_account) or \
            account_from_storage_url(self.tokens.get()[0])

    # -- the one way requests reach the target

    def round_trip(self, env, request, extra=False):
        """``request`` in the mapped account, with the service token; on a
        401, one re-auth and one retry if nothing of the body was read yet
        (the target refused before 100 Continue).  Returns the connection,
        as :meth:`Upstream.round_trip`."""
        path = request.path
        for attempt in (1, 2):
            _storage_url, token = self.tokens.get()
            target_account = self.target_account(path.account)
            mapped = path.with_account(target_account)
            conn = self.upstream.round_trip(request._replace(
                path=mapped, headers=request.headers + [
                    ('X-Auth-Token', token)] + self._backend_state(
                        env, request.method, mapped)), extra=extra)
            if conn.response.status != 401:
                break
            self._drain(conn)
            if attempt == 2:
                raise UpstreamError(self.upstream.name, 'the target refused '
                                    'the service token, also after re-auth')
            self.tokens.invalidate(token)
            if request.body is not None and request.body.bytes_read:
                raise UpstreamError(self.upstream.name, 'the target refused '
                                    'the service token mid-upload')
        if path.container is not None and request.method in (
                'PUT', 'POST', 'DELETE'):
            self.acls.pop((target_account, path.container))
        return conn

    def _backend_state(self, env, method, mapped):
        """The signed environ state for a backend endpoint: what the local
        middlewares told proxy-server about the write ``env`` makes."""
        if self.backend_key is None or method not in ('PUT', 'POST') or \
                method != env['REQUEST_METHOD']:
            return []
        states = [name for name, key in sorted(backend.STATES.items())
                  if env.get(key)]
        if not states:
            return []
        return backend.signed_headers(
            self.backend_key, method,
            urllib.parse.unquote_to_bytes(mapped.quoted), states)

    def _drain(self, conn):
        ResponseBody(self.upstream.pool, conn,
                     self.conf.client_chunk_size).drain()

    def side(self, env, method, target, max_body=0, extra=False,
             traced=True, headers=()):
        """A side request of the checks, as the service identity.

        :param traced: with the request's transaction id (not an ACL HEAD,
            which is cached and serves many requests).
        """
        headers = list(headers) + ([('X-Trans-Id-Extra', env[
            'swift.trans_id'])] if traced and env.get('swift.trans_id')
            else [])
        return self.upstream.side_request(
            method, target, headers, max_body, extra,
            send=lambda request, extra: self.round_trip(env, request, extra))

    def container_request(self, env, method, container, headers=(),
                          max_body=0, extra=False):
        """``method`` on the target's ``container`` (text) of the
        request's (mapped) account, as the service identity: storage-policy
        routing's and migration's own requests.  A :class:`SideResponse`.

        :param extra: the request holds a pooled connection already (see
            :meth:`ConnectionPool.get`).
        """
        quoted_account = urllib.parse.quote(
            env['PATH_INFO'].split('/', 3)[2].encode('latin-1'), safe='')
        return self.side(env, method, '/v1/%s/%s' % (
            quoted_account, quote_name(container)), max_body, extra=extra,
            headers=headers)

    # -- before sending

    def check_request(self, env, path, has_body, length):
        """Authorize ``env`` as the client before anything is sent.

        :param path: its :class:`RequestPath`.
        :returns: ``(path, has_body, length)`` to send: the path without
            tempurl parameters; for an SLO manifest PUT, the manifest read
            here and put back as the body.
        :raises Refused: the client may not; nothing was sent.
        """
        if not path.path_info.startswith('/v1/'):
            return path, has_body, length
        check_names(env, path)
        self._check_scope(env, path)
        if self.backend_key is not None:
            self._authorize_as_proxy(env, path)
            return path.without_params(TEMPURL_PARAMS), has_body, length
        self._authorize(env, path)
        has_body, length = self.references.check_request(
            env, path, has_body, length)
        # the local tempurl middleware checked these; the target would
        # check them against its own account's keys
        return path.without_params(TEMPURL_PARAMS), has_body, length

    def _check_scope(self, env, path):
        """Only mapped accounts, and the account itself only when allowed;
        not bulk requests (in front of a target's bulk middleware)."""
        method = env['REQUEST_METHOD']
        if self.account_map and path.account not in self.account_map:
            raise _refused(403, 'Account %s is not forwarded (not in '
                           'account_map)' % path.account)
        if path.container is None and method not in _READ_METHODS and \
                not self.allow_account_requests:
            raise _refused(403, 'Account %s is not forwarded (set '
                           'allow_account_requests)' % method)
        bulk = BULK_PARAMS.intersection(path.params) if path.query else ()
        if bulk and self.backend_key is None:
            raise _refused(
                403, '%s is not forwarded in service mode: the target would '
                "act on every object it names with the forwarder's identity"
                % min(bulk))

    def _authorize(self, env, path):
        """The request's own container, then every container a header
        makes the target read or write (:data:`REFERENCES`)."""
        method = env['REQUEST_METHOD']
        authorize = env.get('swift.authorize')
        if authorize is None:
            raise _refused(401, 'No local auth before the forwarder')
        if method == 'OPTIONS':  # CORS preflight: never authorized
            return
        req = Request(env)
        if _acl_applies(method, path):
            # COPY reads the object here and writes the Destination
            read, write = self._acls_of(env, path.container)
            req.acl = read if method in _READ_METHODS + ('COPY',) else write
        self._decide(authorize(req))

    def _authorize_as_proxy(self, env, path):
        """A backend endpoint's request, authorized as proxy-server does:
        ``swift.authorize`` (when the request carries one) first without
        an ACL, then, if it refused, with the target container's (read
        for GET and HEAD, write for an object's PUT, POST and DELETE).
        An owner, or a pre-authorized subrequest, costs no ACL read."""
        authorize = env.get('swift.authorize')
        if authorize is None or env['REQUEST_METHOD'] == 'OPTIONS':
            return
        req = Request(env)
        refusal = authorize(req)
        if refusal is not None and _acl_applies(env['REQUEST_METHOD'], path):
            read, write = self._acls_of(env, path.container)
            req.acl = read if env['REQUEST_METHOD'] in _READ_METHODS \
                else write
            refusal = authorize(req)
        self._decide(refusal)

    @staticmethod
    def _decide(refusal):
        """The local auth's answer: None, or its refusal (raised)."""
        if refusal is not None:
            err = Refused('refused by the local auth',
                          getattr(refusal, 'status_int', 403))
            err.app = refusal
            raise err

    def authorize_containers(self, env, containers, access='GET',
                             extra=False):
        """:meth:`authorize_reference` for each of ``containers``."""
        for container in containers:
            self.authorize_reference(env, container, '', access, extra)

    def authorize_reference(self, env, container, obj, access='GET',
                            extra=False):
        """May the client ``access`` (GET: read; PUT or DELETE: write) the
        object ``container``/``obj`` (WSGI strings) of the request's
        account, as the target would act on it for this request?

        :param extra: the request holds a pooled connection already (see
            :meth:`ConnectionPool.get`).
        :raises Refused: the local auth's refusal.
        """
        account_wsgi = env['PATH_INFO'].split('/', 3)[2]
        sub_env = dict(env, REQUEST_METHOD=access, PATH_INFO='/v1/%s/%s/%s' % (
            account_wsgi, container, obj or '.'))
        sub_env.pop('swift.authorize_override', None)
        req = Request(sub_env)
        read, write = self._acls_of(env, wsgi_to_str(container), extra)
        req.acl = read if access in _READ_METHODS else write
        self._decide(env['swift.authorize'](req))

    def _acls_of(self, env, container, extra=False):
        """(read ACL, write ACL) of the target's ``container`` (text) in
        the request's account, cached for :data:`ACL_CACHE_TIME` s; for a
        container routed by storage policy, the local container's (its
        container info, see :mod:`swift_forwarder.policy`)."""
        local = env.get(LOCAL_ACLS, {}).get(container)
        if local is not None:  # a container routed by storage policy
            return local
        account = wsgi_to_str(env['PATH_INFO'].split('/', 3)[2])
        key = (self.target_account(account), container)
        acls = self.acls.get(key)
        if acls is not None:
            return acls
        resp = self.side(env, 'HEAD', '/v1/%s/%s' % (
            urllib.parse.quote(env['PATH_INFO'].split('/', 3)[2].encode(
                'latin-1'), safe=''),
            urllib.parse.quote(container)), extra=extra, traced=False)
        if resp.status == 404:
            acls = (None, None)
        elif 200 <= resp.status < 300:
            acls = (resp.headers.get('X-Container-Read'),
                    resp.headers.get('X-Container-Write'))
        else:
            raise UpstreamError(self.upstream.name, 'reading the ACLs of '
                                'container %s got %d' % (container,
                                                         resp.status))
        self.acls.put(key, acls)
        return acls

    # -- after the target answered

    def check_response(self, env, request, resp):
        """After the target answered: see :meth:`References.check_response`
        (a backend endpoint follows no reference: nothing to check)."""
        if self.references is not None:
            self.references.check_response(env, request, resp)


class References(object):
    """Federation placement, toward a target that is not a backend
    endpoint: the target's own middlewares (copy, slo, dlo, symlink) read
    and write, with the forwarder's identity, more than the request's path.
    Each of those is authorized here as the client, as Swift checks each
    such step against the client.

    :param mode: the target's :class:`ServiceMode`.
    """

    def __init__(self, mode):
        self.mode = mode

    def check_request(self, env, path, has_body, length):
        """:meth:`ServiceMode.check_request`'s part: the headers' references,
        an SLO manifest's segments (read here and put back as the body),
        what a copy reads and a manifest DELETE deletes."""
        self.check_headers(env, path.account)
        if is_manifest_put(env, path):
            self._authorize_segments(env, length)
            has_body, length = True, int(env['CONTENT_LENGTH'])
        self._authorize_sources(env, path)
        return has_body, length

    def check_headers(self, env, account):
        """The containers a request header names (:data:`REFERENCES`), and
        no other account (:data:`ACCOUNT_REFERENCES`)."""
        for key in ACCOUNT_REFERENCES:
            value = env.get(key)
            if value is not None and urllib.parse.unquote(
                    wsgi_to_str(value.strip())) != account:
                raise _refused(403, '%s: a reference to another account is '
                               'not forwarded' % header_name(key))
        for key, access in REFERENCES:
            value = env.get(key)
            if value is None:
                continue
            named = reference(value)
            if named is None:
                raise _refused(400, '%s must be of the form '
                               '<container>/<object>' % header_name(key))
            self.mode.authorize_reference(env, *named, access=access)

    def _authorize_segments(self, env, length):
        """An SLO manifest PUT names its segments in its body, and the
        target reads them with the forwarder's identity: authorize the
        client to read each segment's container."""
        data = _read_manifest(env, length, self.mode.conf.client_chunk_size,
                              self.mode.conf.client_timeout)
        try:
            segments = manifest_segments(data)
        except ValueError:
            raise BadRequest('Invalid SLO manifest: expected a JSON list of '
                             'segments')
        self.mode.authorize_containers(env, sorted(set(
            container for container, _obj, _nested in segments)))

    def _authorize_sources(self, env, path):
        """What a copy reads (its source, and whatever the source refers
        to: :meth:`check_response` on a HEAD of it), and what a manifest
        DELETE deletes (every segment: write access)."""
        method = env['REQUEST_METHOD']
        source = None
        if method == 'COPY':
            source = path.quoted
        elif env.get('HTTP_X_COPY_FROM') is not None:
            # (well-formed: _authorize_references refused it otherwise)
            source = object_path(path.quoted_account,
                                 *reference(env['HTTP_X_COPY_FROM']))
        if source is not None and path.param('multipart-manifest') != 'get' \
                and path.param('symlink') != 'get':
            resp = self.mode.side(env, 'HEAD', source)
            if 200 <= resp.status < 300:
                self._authorize_read_through(env, 'GET', path, source,
                                             resp.headers)
        if method == 'DELETE' and \
                path.param('multipart-manifest') == 'delete' and \
                _is_slo(self.mode.side(env, 'HEAD', path.quoted).headers):
            self.mode.authorize_containers(
                env, self._manifest_containers(env, path.quoted),
                access='DELETE')

    def check_response(self, env, request, resp):
        """A GET or HEAD that the target answered (``resp``) by following
        a reference: the client must be allowed to read there too.

        :raises Refused: 403; 409 for an SLO segment, as Swift's slo.
        """
        if request.method in _READ_METHODS and 200 <= resp.status < 300:
            self._authorize_read_through(env, request.method, request.path,
                                         request.path.quoted, resp.msg,
                                         extra=True)

    def _authorize_read_through(self, env, method, path, target, headers,
                                extra=False):
        """What ``method`` of ``target`` (quoted) read besides it, by the
        target's answer ``headers``: a symlink's ``Content-Location``, a
        DLO's ``X-Object-Manifest``, an SLO's segments (nested manifests
        too).  ``path``: the client's request."""
        named = []
        location = headers.get('Content-Location')
        if location:
            parts = location.split('/', 3) + [''] * 4
            if urllib.parse.unquote(parts[2]) != self.mode.target_account(
                    path.account):
                named.append(None)
            else:
                named.append(reference(parts[3]))
        manifest = headers.get('X-Object-Manifest')
        slo = method == 'GET' and _is_slo(headers)
        # a GET of the manifest itself reads no segment
        manifest_get = (manifest or slo) and \
            path.param('multipart-manifest') == 'get'
        if manifest and not manifest_get:
            named.append(reference(manifest))
        for ref in named:
            if ref is None:
                raise _refused(403, 'Forbidden: the object refers outside '
                               'the account')
            self.mode.authorize_reference(env, *ref, extra=extra)
        if slo and not manifest_get:
            containers = self._manifest_containers(env, target, extra)
            try:
                self.mode.authorize_containers(env, containers, extra=extra)
            except Refused:
                raise _refused(409, 'Conflict: a segment of this manifest '
                               'is in a container the client may not read')

    def _manifest_containers(self, env, target, extra=False):
        """The containers of an SLO's segments, its nested manifests'
        included (at most :data:`MAX_MANIFESTS` manifests are read)."""
        def read(path):
            return self.mode.side(env, 'GET', path + '?multipart-manifest=get',
                                  MAX_MANIFEST_SIZE, extra)
        return _segment_containers(read, self.mode.upstream.name, target)


def _segment_containers(read, name, target):
    """:meth:`References._manifest_containers`, each manifest (quoted
    path) read with ``read``."""
    quoted_account = target.split('/', 3)[2]
    containers, queue, count = set(), [target.partition('?')[0]], 0
    while queue:
        count += 1
        if count > MAX_MANIFESTS:
            raise UpstreamError(name, 'more than %d nested manifests to '
                                'authorize' % MAX_MANIFESTS)
        try:
            resp = read(queue.pop())
            if resp.status != 200:
                raise ValueError(resp.status)
            segments = manifest_segments(resp.body)
        except (ValueError, ResponseTooLarge):
            raise UpstreamError(name, 'cannot read the SLO manifest to '
                                'authorize its segments')
        for container, obj, nested in segments:
            containers.add(container)
            if nested:
                queue.append(object_path(quoted_account, container, obj))
    return sorted(containers)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The forwarder's own credentials for a target (service mode).

:class:`TokenCache` holds one ``(storage_url, token)`` for a target, shared
by every request and pooled connection of the worker.  It comes from
python-swiftclient's ``get_auth`` (v1 tempauth; v2 and v3 Keystone with the
``os_*`` options).  A token older than ``token_refresh_interval`` is
refreshed, and a token the target refuses (401) is replaced, by one
greenlet at a time: the others wait for that refresh instead of
stampeding the auth system (single flight).

Tokens and keys are never logged.
"""

import time
import urllib.parse

from swift_forwarder import routing
from swift_forwarder.exceptions import UpstreamError
from swift_forwarder.green import Event

__all__ = ['TokenCache', 'AuthError', 'ServiceAuth',
           'account_from_storage_url', 'auth_refusal']


class AuthError(UpstreamError):
    """The forwarder could not authenticate to the target."""
    status_hint = 502


def account_from_storage_url(storage_url):
    """``http://t/v1/AUTH_a`` -> ``AUTH_a`` (unquoted)."""
    parts = urllib.parse.urlsplit(storage_url).path.split('/')
    if len(parts) < 3 or not parts[2]:
        raise ValueError('no account in storage URL %r' % storage_url)
    return urllib.parse.unquote(parts[2])


class TokenCache(object):
    """One target's service token.

    :param name: the target's name, for messages.
    :param fetch: a callable returning ``(storage_url, token)``; raises on
        failure.  (``swiftclient.get_auth`` with our options bound.)
    :param refresh_interval: seconds a token is used before it is renewed.
    :param clock: ``time.monotonic``, or a test's.
    """

    def __init__(self, name, fetch, refresh_interval, clock=time.monotonic):
        self.name = name
        self._fetch = fetch
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._value = None      # (storage_url, token)
        self._fetched_at = None
        self._refreshing = None  # Event while a refresh is in flight
        self.fetches = 0

    def get(self):
        """A current ``(storage_url, token)``, fetching one if needed."""
        value = self._value
        if value is not None and \
                self._clock() - self._fetched_at < self.refresh_interval:
            return value
        return self._refresh(value)

    def invalidate(self, token):
        """The target refused ``token`` (401): the next :meth:`get`
        re-authenticates, unless another request already did."""
        if self._value is not None and self._value[1] == token:
            self._value = None

    def _refresh(self, stale):
        if self._refreshing is not None:
            self._refreshing.wait()
            if self._value is not None and self._value is not stale:
                return self._value
            raise AuthError(self.name, 'authentication failed (see the '
                            'error logged by the request that tried)')
        self._refreshing = event = Event()
        try:
            self.fetches += 1
            try:
                self._value = self._fetch()
            except Exception as err:
                self._value = None
                raise AuthError(self.name, 'authentication failed: %s'
                                % _safe_reason(err)) from err
            self._fetched_at = self._clock()
            return self._value
        finally:
            self._refreshing = None
            event.send()


def _safe_reason(err):
    """Why auth failed, without echoing anything secret back: swiftclient
    exceptions carry the status; others their class and message."""
    status = getattr(err, 'http_status', None)
    if status:
        return 'auth server answered %s %s' % (
            status, getattr(err, 'http_reason', '') or '')
    return '%s: %s' % (type(err).__name__, err)


#: Seconds a target container's ACLs are cached per worker.  Short: an ACL
#: change made through the forwarder clears it at once; one made directly on
#: the target takes at most this long to apply here.
ACL_CACHE_TIME = 10.0

_READ_METHODS = ('GET', 'HEAD')

#: Request headers (environ keys) naming another object of the account,
#: which the target then reads or writes with the forwarder's identity,
#: and the access the client needs to it: copy's source and destination, a
#: symlink's target, a DLO's segments (an SLO manifest's are in its body:
#: see the middleware).
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

#: Target containers whose ACLs are cached at most, per worker and target.
ACL_CACHE_SIZE = 10000


class ServiceAuth(object):
    """Service mode (federation placement, after the local auth).

    The local auth middleware authenticates the client and decides, through
    ``env['swift.authorize']``, with the *target* container's ACLs set on
    the request first, as Swift's proxy does with its own containers.  The
    target then sees the forwarder's service token, in the mapped account.

    :param upstream: the target's :class:`Upstream`.
    :param tokens: its :class:`TokenCache`.
    :param account_map: {local account: target account}, one-to-one;
        requests in other local accounts are refused.  Empty: every
        account maps to the service storage URL's account (the config
        allows that only where one local account is forwarded).
    :param allow_account_requests: forward PUT/POST/DELETE on the account.
    """

    def __init__(self, upstream, tokens, account_map, allow_account_requests,
                 netloc, clock=time.monotonic):
        self.upstream = upstream
        self.tokens = tokens
        self.account_map = account_map
        self.allow_account_requests = allow_account_requests
        self.netloc = netloc
        self._clock = clock
        self._acls = {}

    def target_account(self, local_account, storage_url):
        return self.account_map.get(local_account) or \
            account_from_storage_url(storage_url)

    def authorize(self, env, swob_request):
        """None if the client may go on, else the local auth's (or our)
        refusal, a WSGI app.  Nothing reaches the target for a refused
        request, except the cached HEADs that read its containers' ACLs.

        Besides the request's own container, every container a header
        makes the target read or write (:data:`REFERENCES`) is authorized
        too: the target acts with the forwarder's identity, which may do
        anything in the mapped account.
        """
        account, container, obj = routing.split_account(env['PATH_INFO'])
        method = env['REQUEST_METHOD']
        if self.account_map and account not in self.account_map:
            return auth_refusal(403, 'Account %s is not forwarded (not in '
                                'account_map)' % account)
        if container is None and method not in _READ_METHODS and \
                not self.allow_account_requests:
            return auth_refusal(403, 'Account %s is not forwarded (set '
                                'allow_account_requests)' % method)
        bulk = BULK_PARAMS.intersection(routing.query_params(env)) \
            if env.get('QUERY_STRING') else ()
        if bulk:
            return auth_refusal(
                403, '%s is not forwarded in service mode: the target would '
                "act on every object it names with the forwarder's identity"
                % min(bulk))
        authorize = env.get('swift.authorize')
        if authorize is None:
            return auth_refusal(401, 'No local auth before the forwarder')
        if method == 'OPTIONS':  # CORS preflight: never authorized
            return None
        req = swob_request(env)
        if container is not None and (obj is not None or
                                      method in _READ_METHODS):
            # COPY reads the object here and writes the Destination
            read, write = self._acls_of(account, container)
            req.acl = read if method in _READ_METHODS + ('COPY',) else write
        refusal = authorize(req)
        if refusal is not None:
            return refusal
        return self._authorize_references(env, swob_request, account)

    def _authorize_references(self, env, swob_request, account):
        for key in ACCOUNT_REFERENCES:
            value = env.get(key)
            if value is not None and urllib.parse.unquote(
                    routing.wsgi_to_str(value.strip())) != account:
                return auth_refusal(
                    403, '%s: a reference to another account is not '
                    'forwarded' % routing.header_name(key))
        for key, access in REFERENCES:
            value = env.get(key)
            if value is None:
                continue
            named = routing.reference(value)
            if named is None:
                return auth_refusal(
                    400, '%s must be of the form <container>/<object>'
                    % routing.header_name(key))
            refusal = self.authorize_reference(env, swob_request, *named,
                                               access=access)
            if refusal is not None:
                return refusal
        return None

    def authorize_containers(self, env, swob_request, containers,
                             access='GET', extra=False):
        """:meth:`authorize_reference` for each of ``containers``: None,
        or the first refusal."""
        for container in containers:
            refusal = self.authorize_reference(env, swob_request, container,
                                               '', access, extra)
            if refusal is not None:
                return refusal
        return None

    def authorize_reference(self, env, swob_request, container, obj,
                            access='GET', extra=False):
        """May the client ``access`` (GET: read; PUT or DELETE: write) the
        object ``container``/``obj`` (WSGI strings) of the request's
        account, as the target would act on it for this request?  None, or
        the local auth's refusal.

        :param extra: the request holds a pooled connection already (see
            :meth:`ConnectionPool.get`).
        """
        account_wsgi = env['PATH_INFO'].split('/', 3)[2]
        sub_env = dict(env, REQUEST_METHOD=access, PATH_INFO='/v1/%s/%s/%s' % (
            account_wsgi, container, obj or '.'))
        sub_env.pop('swift.authorize_override', None)
        req = swob_request(sub_env)
        account, container, _obj = routing.split_account(sub_env['PATH_INFO'])
        read, write = self._acls_of(account, container, extra)
        req.acl = read if access in _READ_METHODS else write
        return env['swift.authorize'](req)

    def _acls_of(self, account, container, extra=False):
        storage_url, _token = self.tokens.get()
        return self.container_acls(
            self.target_account(account, storage_url), container, extra)

    def container_acls(self, target_account, container, extra=False):
        """(read ACL, write ACL) of the target's container, cached."""
        key = (target_account, container)
        cached = self._acls.get(key)
        now = self._clock()
        if cached is not None and now - cached[0] < ACL_CACHE_TIME:
            return cached[1]
        from swift_forwarder.forward import UpstreamRequest
        path = '/v1/%s/%s' % (urllib.parse.quote(target_account),
                              urllib.parse.quote(container))
        for _attempt in (1, 2):
            storage_url, token = self.tokens.get()
            conn = self.upstream.round_trip(UpstreamRequest(
                'HEAD', path, [('Host', self.netloc), ('X-Auth-Token', token)],
                None, None, extra))
            status = conn.response.status
            acls = (conn.response.getheader('X-Container-Read'),
                    conn.response.getheader('X-Container-Write'))
            self.upstream.pool.release(conn)  # a HEAD: nothing to read
            if status != 401:
                break
            self.tokens.invalidate(token)
        if status == 404:
            acls = (None, None)
        elif not 200 <= status < 300:
            raise UpstreamError(self.upstream.name, 'reading the ACLs of '
                                'container %s got %d' % (container, status))
        if len(self._acls) >= ACL_CACHE_SIZE:
            self._acls = {k: v for k, v in self._acls.items()
                          if now - v[0] < ACL_CACHE_TIME}
            if len(self._acls) >= ACL_CACHE_SIZE:
                self._acls.clear()
        self._acls[key] = (now, acls)
        return acls

    def forget_acls(self, target_account, container):
        """A request that may have changed them went through."""
        self._acls.pop((target_account, container), None)


def auth_refusal(status, message):
    """A WSGI app answering ``status`` with ``message`` (text/plain)."""
    from swift_forwarder.green import http_client

    def app(env, start_response):
        body = ('%s\n' % message).encode('utf-8')
        start_response('%d %s' % (status, http_client.responses[status]), [
            ('Content-Type', 'text/plain; charset=UTF-8'),
            ('Content-Length', str(len(body)))])
        return [] if env['REQUEST_METHOD'] == 'HEAD' else [body]
    return app

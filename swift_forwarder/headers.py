# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Headers on the way through: what the target sees of a request, what
the client sees of a response.  Pure: plain values in, plain values out.
"""

import urllib.parse

__all__ = ['HOP_HEADER', 'HOP_BY_HOP', 'header_name', 'upstream_headers',
           'response_headers', 'is_cluster_only', 'client_base_url',
           'rewrite_storage_url', 'rewrite_location', 'OWNER_HEADERS',
           'without_owner_headers']

#: Loop guard: each forwarder appends its ``forwarder_id``.
HOP_HEADER = 'X-Forwarder-Hops'

#: Hop-by-hop headers (RFC 9110 7.6.1), plus headers the forwarder sets
#: itself on the upstream request.  Compared lower-case.
HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding',
    'upgrade', 'proxy-authorization', 'proxy-authenticate',
    'proxy-connection',
))
_SET_BY_US = frozenset(('host', 'expect', 'content-length',
                        'x-trans-id-extra', HOP_HEADER.lower(),
                        # a backend endpoint's signed state: ours only
                        'x-forwarder-backend-state',
                        'x-forwarder-backend-sig'))
_DROPPED = HOP_BY_HOP | _SET_BY_US

#: Response headers the local proxy sets itself (catch_errors); the
#: target's transaction id comes back as ``X-Forwarder-Trans-Id``.
_RESPONSE_RENAMED = {'x-trans-id': 'X-Forwarder-Trans-Id'}
_RESPONSE_DROPPED = HOP_BY_HOP | {'x-openstack-request-id'}

#: Service mode: request headers that never cross from a client to the
#: target (``_CLUSTER_ONLY_PREFIXES``, the three groups below).  The target
#: trusts the forwarder's service token, so anything a cluster sets for
#: itself, or that names the client's local identity, or that would spoof
#: where the request came from, stays behind.
#:
#: What a cluster's own middlewares set for its proxy-server (backend
#: headers, timestamps, sysmeta): these do cross to a backend endpoint.
_BACKEND_PREFIXES = (
    'x-backend-', 'x-timestamp', 'x-account-sysmeta-',
    'x-container-sysmeta-', 'x-object-sysmeta-',
    'x-object-transient-sysmeta-')
#: ...and what never crosses: the client's local identity and credentials,
#: where it came from.
_IDENTITY_PREFIXES = (
    'x-auth-', 'x-storage-token', 'x-storage-user',
    'x-storage-pass', 'x-service-', 'x-forwarded-', 'x-user', 'x-tenant',
    'x-project-', 'x-domain-', 'x-role',
    'x-identity-status', 'x-is-admin-project', 'x-cluster-client-ip',
    'forwarded', 'authorization')
#: A reference to another account: refused unless it is the request's own
#: (see the service mode), which the target takes by default anyway.
_ACCOUNT_REFERENCE_PREFIXES = (
    'x-copy-from-account', 'destination-account',
    'x-symlink-target-account')
_CLUSTER_ONLY_PREFIXES = _BACKEND_PREFIXES + _IDENTITY_PREFIXES + \
    _ACCOUNT_REFERENCE_PREFIXES


#: What Swift's proxy shows of an account or container to its owner only
#: (its default ``swift_owner_headers``).  In service mode the target
#: answers the forwarder's identity, an owner, whoever the client is.
OWNER_HEADERS = frozenset((
    'x-container-read', 'x-container-write', 'x-container-sync-key',
    'x-container-sync-to', 'x-account-meta-temp-url-key',
    'x-account-meta-temp-url-key-2', 'x-container-meta-temp-url-key',
    'x-container-meta-temp-url-key-2', 'x-account-access-control'))


def without_owner_headers(headers):
    """``headers`` (pairs) without :data:`OWNER_HEADERS`."""
    return [(name, value) for name, value in headers
            if name.lower() not in OWNER_HEADERS]


def header_name(environ_key):
    """``HTTP_X_COPY_FROM`` -> ``X-Copy-From``."""
    return environ_key[5:].replace('_', '-').title()


#: environ key: (header name, lower-cased), for the keys seen so far (at
#: most _NAMES_KEPT: a client may send any names it likes)
_NAMES = {}
_NAMES_KEPT = 4096


def _names(environ_key):
    names = _NAMES.get(environ_key)
    if names is None:
        name = header_name(environ_key)
        names = (name, name.lower())
        if len(_NAMES) < _NAMES_KEPT:
            _NAMES[environ_key] = names
    return names


def is_cluster_only(lowered_name, backend=False):
    """See ``_CLUSTER_ONLY_PREFIXES``; ``x-forwarded-for`` is rebuilt from
    the client's address only.

    :param backend: the target is a backend endpoint (core placement):
        what the local cluster's middlewares set for proxy-server crosses
        (the local gatekeeper removed the client's own), identities and
        credentials never do.
    """
    if backend:
        return lowered_name.startswith(_IDENTITY_PREFIXES)
    return lowered_name.startswith(_CLUSTER_ONLY_PREFIXES)


def upstream_headers(env, netloc, hops, txn_id, via, service=False,
                     backend=False):
    """End-to-end request headers for the target, as a list of pairs.

    Hop-by-hop headers (and any named in ``Connection``) are dropped; Host,
    the loop guard, ``X-Trans-Id-Extra``, ``X-Forwarded-For`` and ``Via`` are
    set.  Content-Length/Transfer-Encoding/Expect are the sender's business.

    :param service: service mode: also drop every header only a cluster may
        set or that carries the client's local identity (see
        :func:`is_cluster_only`); the caller adds the service token.
    :param backend: service mode toward a backend endpoint (see
        :func:`is_cluster_only`).
    """
    dropped = _DROPPED
    if 'HTTP_CONNECTION' in env:
        dropped = dropped | {name.strip().lower()
                             for name in env['HTTP_CONNECTION'].split(',')}
    headers = [('Host', netloc), (HOP_HEADER, hops)]
    if env.get('CONTENT_TYPE'):
        headers.append(('Content-Type', env['CONTENT_TYPE']))
    forwarded_for = via_value = None
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        name, lowered = _names(key)
        if lowered in dropped or lowered.startswith('proxy-') or (
                service and is_cluster_only(lowered, backend)):
            continue
        if lowered == 'x-forwarded-for':
            forwarded_for = value
        elif lowered == 'via':
            via_value = value
        else:
            headers.append((name, value))
    client = env.get('REMOTE_ADDR')
    if client:
        forwarded_for = ', '.join(filter(None, (forwarded_for, client)))
    if forwarded_for:
        headers.append(('X-Forwarded-For', forwarded_for))
    headers.append(('Via', ', '.join(filter(None, (via_value, via)))))
    if txn_id:
        headers.append(('X-Trans-Id-Extra', txn_id))
    return headers


def response_headers(headers, connection=None):
    """The target's response headers as the client should see them:
    hop-by-hop ones dropped, with any its ``Connection`` header names.

    :param connection: the value of the response's ``Connection`` headers
        (joined with ','; '' for none), if the caller has it at hand; else
        it is looked for in ``headers``.
    """
    if connection is None:
        connection = ','.join(value for name, value in headers
                              if name.lower() == 'connection')
    if not connection:  # the usual case: each name's fate is known already
        names = _CLIENT_NAMES
        if len(names) > _NAMES_KEPT:
            names.clear()
        kept = []
        for name, value in headers:
            client_name = names.get(name)
            if client_name is None:
                client_name = names[name] = _client_name(name, _RESPONSE_DROPPED)
            if client_name is not False:
                kept.append((client_name, value))
        return kept
    dropped = _RESPONSE_DROPPED | {token.strip().lower()
                                   for token in connection.split(',')}
    return [(client_name, value) for name, value in headers
            if (client_name := _client_name(name, dropped)) is not False]


#: a target's response header name: what the client gets it as (False:
#: nothing, it is dropped)
_CLIENT_NAMES = {}


def _client_name(name, dropped):
    lowered = name.lower()
    if lowered in dropped or lowered.startswith('proxy-'):
        return False
    return _RESPONSE_RENAMED.get(lowered, name)


def client_base_url(env, scheme='default'):
    """``scheme://host[:port]`` as the client addressed this proxy.

    :param scheme: ``default`` (the scheme this proxy was reached with), or
        ``http``/``https`` (e.g. behind a TLS terminator), as tempauth's
        ``storage_url_scheme``.
    """
    if scheme == 'default':
        scheme = env.get('wsgi.url_scheme', 'http')
    host = env.get('HTTP_HOST')
    if not host:
        host = env.get('SERVER_NAME', 'localhost')
        port = env.get('SERVER_PORT')
        default = '443' if env.get('wsgi.url_scheme') == 'https' else '80'
        if port and port != default:
            host = '%s:%s' % (host, port)
    return '%s://%s' % (scheme, host)


def rewrite_storage_url(headers, base_url):
    """Point ``X-Storage-Url`` in an auth response at this proxy: same
    path, the scheme and host the client used."""
    return [(name, _rebased(value, base_url)
             if name.lower() == 'x-storage-url' else value)
            for name, value in headers]


def rewrite_location(headers, netloc, base_url):
    """Point a ``Location`` the target built from the ``Host`` it was sent
    (``netloc``: staticweb's redirects) at this proxy, as the client
    reached it; any other ``Location`` stays as it is."""
    return [(name, _rebased(value, base_url) if name.lower() == 'location'
             and _netloc_of(value) == netloc else value)
            for name, value in headers]


def _netloc_of(url):
    """The host[:port] of ``url``; None for one urllib cannot split (a
    target's ``http://[bad``: relayed as it came, not a 500)."""
    try:
        return urllib.parse.urlsplit(url).netloc
    except ValueError:
        return None


def _rebased(url, base_url):
    parsed = urllib.parse.urlsplit(url)
    return base_url + urllib.parse.urlunsplit(
        ('', '', parsed.path, parsed.query, parsed.fragment))

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Pure request logic: which requests go upstream, and how they look there.

No I/O happens here.  Everything takes a WSGI environ (or plain values) and
returns plain values, or raises a :class:`ForwarderError` for bad input
*before* anything is sent upstream.
"""

import collections
import json
import urllib.parse

from swift_forwarder.exceptions import BadRequest, ForwarderError, \
    LoopDetected

__all__ = [
    'ALLOWED_METHODS', 'HOP_HEADER', 'Rule', 'parse_forward', 'should_forward',
    'check_request', 'check_loop', 'upstream_path', 'upstream_headers',
    'response_headers', 'is_auth_path', 'client_base_url', 'map_account',
    'split_account', 'is_cluster_only', 'check_service_path', 'reference',
    'is_manifest_put', 'manifest_segments', 'query_param', 'query_params',
    'without_params',
    'TEMPURL_PARAMS',
    'wsgi_to_str', 'header_name',
    'rewrite_storage_url', 'put_etag_checkable', 'body_etag', 'resumable_span',
    'content_range', 'multipart_boundary',
]

#: Methods forwarded to the target; anything else gets 405, as from Swift.
ALLOWED_METHODS = frozenset(
    ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'))

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
                        'x-trans-id-extra', HOP_HEADER.lower()))

#: Response headers the local proxy sets itself (catch_errors); the
#: target's transaction id comes back as ``X-Forwarder-Trans-Id``.
_RESPONSE_RENAMED = {'x-trans-id': 'X-Forwarder-Trans-Id'}
_RESPONSE_DROPPED = HOP_BY_HOP | {'x-openstack-request-id'}

_BAD_URL_CHARS = frozenset('\r\n\0 \t')
_DOT_SEGMENTS = frozenset(('.', '..'))
#: A header name's environ key: HTTP_ + token characters as the WSGI server
#: upper-cases them ('-' becomes '_'); anything else (a space before the
#: colon, a name that isn't a token) is refused.
_HEADER_KEY_CHARS = frozenset(
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&\'*+.^`|~')
_BAD_HEADER_CHARS = frozenset('\r\n\0')

#: ``forward`` rule: an account, optionally a container, and whether the
#: last part is a prefix (``AUTH_a/logs*``).  ``account=None`` is ``*``.
Rule = collections.namedtuple('Rule', 'account container prefix')


def parse_forward(value):
    """Parse ``forward``: ``*``, ``AUTH_a``, ``AUTH_a/cont``, ``AUTH_a/pre*``.

    :returns: a tuple of :class:`Rule`.
    """
    rules = []
    for word in str(value).split():
        account, sep, container = word.partition('/')
        prefix = word.endswith('*')
        if word == '*':
            rules.append(Rule(None, None, True))
            continue
        if prefix:
            if sep:
                container = container[:-1]
            else:
                account = account[:-1]
        if not account or '*' in account + container or '/' in container \
                or (sep and not container and not prefix):
            raise ValueError('expected *, ACCOUNT, ACCOUNT/CONTAINER or '
                             'ACCOUNT/PREFIX*, got %r' % (word,))
        # 'AUTH_a/*' is every container of AUTH_a: container prefix ''
        rules.append(Rule(account, container if sep else None, prefix))
    if not rules:
        raise ValueError('expected at least one rule such as *')
    return tuple(rules)


def _split_swift_path(path_info):
    """``/v1/a/c/o`` -> ('a', 'c') or None for paths outside the Swift API.

    Works on the WSGI (latin-1) string, so names are compared as bytes.
    """
    if not path_info.startswith('/v1/'):
        return None
    parts = path_info[4:].split('/', 2)
    if not parts[0]:
        return None
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _rule_matches(rule, account, container):
    if rule.account is None:
        return True
    if rule.container is None:
        if rule.prefix:
            return account.startswith(rule.account)
        return account == rule.account
    if account != rule.account or container is None:
        return False
    if rule.prefix:
        return container.startswith(rule.container)
    return container == rule.container


def should_forward(path_info, rules):
    """Does this request belong to the target?

    Only the Swift API (``/v1/<account>...``) is forwarded; ``/info``,
    ``/auth/...`` and anything else stay local.
    """
    split = _split_swift_path(path_info)
    if split is None:
        return False
    # rules hold str from the conf file; PATH_INFO is latin-1 WSGI str
    account, container = (wsgi_to_str(part) if part else part
                          for part in split)
    return any(_rule_matches(rule, account, container) for rule in rules)


def is_auth_path(path_info):
    """An auth request (tempauth's ``/auth/v1.0``, ``/auth/v2.0``..., the
    old ``/v1.0``), forwarded in the gateway placement with forward_auth."""
    return path_info.startswith('/auth/') or path_info in ('/auth', '/v1.0') \
        or path_info.startswith('/v1.0/')


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
    result = []
    for name, value in headers:
        if name.lower() == 'x-storage-url':
            parsed = urllib.parse.urlsplit(value)
            value = base_url + urllib.parse.urlunsplit(
                ('', '', parsed.path, parsed.query, ''))
        result.append((name, value))
    return result


def _str_to_wsgi(value):
    return value.encode('utf-8', 'surrogateescape').decode('latin-1')


def wsgi_to_str(value):
    """A WSGI (latin-1) string as the text it encodes in UTF-8 (or as it
    is, if that is not UTF-8)."""
    try:
        return value.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return value


def check_loop(env, forwarder_id, max_hops):
    """Raise :class:`LoopDetected` if we have seen this request before.

    :returns: the hop header value to send upstream.
    """
    seen = [hop.strip() for hop in
            env.get('HTTP_X_FORWARDER_HOPS', '').split(',') if hop.strip()]
    if forwarder_id in seen:
        raise LoopDetected('Loop detected: this request already passed '
                           'through forwarder %s' % forwarder_id)
    if len(seen) >= max_hops:
        raise LoopDetected('Loop detected: more than %d forwarder hops'
                           % max_hops)
    return ', '.join(seen + [forwarder_id])


def check_request(env):
    """Validate what we are about to send; nothing has gone upstream yet.

    :returns: ``(has_body, content_length)``; ``content_length`` is None for
        a chunked upload.
    :raises ForwarderError: 400/405/412/417 with the reason.
    """
    method = env['REQUEST_METHOD']
    if method not in ALLOWED_METHODS:
        err = ForwarderError('Method %s is not allowed' % method, 405)
        err.headers = (('Allow', ', '.join(sorted(ALLOWED_METHODS))),)
        raise err
    path = env['PATH_INFO']
    try:
        decoded = path.encode('latin-1').decode('utf-8')
    except UnicodeError:
        decoded = '\0'
    if '\0' in decoded:
        raise ForwarderError('Invalid UTF8 or contains NULL', 412)
    if _DOT_SEGMENTS.intersection(decoded.split('/')):
        # Swift itself takes '..' as a name, but anything between here and
        # the target that normalises paths would take it as "up": refuse.
        raise BadRequest("Invalid path: '.' and '..' segments are not "
                         "forwarded")
    # Only what goes on the request line verbatim: a decoded name may hold
    # spaces (and even CR/LF); upstream_path() quotes it.
    raw = env.get('RAW_PATH_INFO', '') + env.get('QUERY_STRING', '')
    if _BAD_URL_CHARS.intersection(raw):
        raise BadRequest('Invalid character in the request URL')
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        if not _HEADER_KEY_CHARS.issuperset(key):
            raise BadRequest('Invalid header name %r' % header_name(key))
        if _BAD_HEADER_CHARS.intersection(value):
            raise BadRequest('Invalid character in header %s'
                             % header_name(key))
    expect = env.get('HTTP_EXPECT')
    if expect is not None and expect.strip().lower() != '100-continue':
        raise ForwarderError('Expectation %r is not supported' % expect, 417)
    return _check_body(env)


def _check_body(env):
    te = env.get('HTTP_TRANSFER_ENCODING', '').strip().lower()
    length = env.get('CONTENT_LENGTH', '').strip()
    if te:
        if te != 'chunked':  # Swift's answer too
            raise BadRequest('Transfer-Encoding %s is not supported' % te)
        if length:
            # RFC 9112 6.1 allows a recipient to refuse this, the classic
            # request-smuggling shape.  (Swift would take the body as
            # chunked; the clients that send both, python-swiftclient with
            # an iterator among them, send an unchunked body that Swift then
            # fails to read anyway.)
            raise BadRequest('Content-Length and Transfer-Encoding are both '
                             'set')
        return True, None
    if not length:
        return False, None
    if not (length.isascii() and length.isdigit()):  # not '\xb2' either
        raise BadRequest('Invalid Content-Length %r' % length)
    length = int(length)
    return length > 0, length


def header_name(environ_key):
    """``HTTP_X_COPY_FROM`` -> ``X-Copy-From``."""
    return environ_key[5:].replace('_', '-').title()


def upstream_path(env):
    """The request target for the upstream request line.

    The path goes out quoted exactly as the client sent it (``%2F`` stays
    ``%2F``, unicode stays as its escapes), unless a middleware before us
    rewrote ``PATH_INFO``, in which case we quote what it wrote.
    """
    path = env.get('SCRIPT_NAME', '') + env['PATH_INFO']
    raw = env.get('RAW_PATH_INFO')
    if raw is None or urllib.parse.unquote_to_bytes(raw) != \
            path.encode('latin-1'):
        raw = urllib.parse.quote(path.encode('latin-1'), safe="/:@!$&'()*+,;=")
    query = env.get('QUERY_STRING')
    return raw + '?' + query if query else raw


def upstream_headers(env, netloc, hops, txn_id, via, service=False):
    """End-to-end request headers for the target, as a list of pairs.

    Hop-by-hop headers (and any named in ``Connection``) are dropped; Host,
    the loop guard, ``X-Trans-Id-Extra``, ``X-Forwarded-For`` and ``Via`` are
    set.  Content-Length/Transfer-Encoding/Expect are the sender's business.

    :param service: service mode: also drop every header only a cluster may
        set or that carries the client's local identity (see
        :func:`is_cluster_only`); the caller adds the service token.
    """
    dropped = HOP_BY_HOP | _SET_BY_US | {
        name.strip().lower()
        for name in env.get('HTTP_CONNECTION', '').split(',')}
    headers = [('Host', netloc), (HOP_HEADER, hops)]
    if env.get('CONTENT_TYPE'):
        headers.append(('Content-Type', env['CONTENT_TYPE']))
    forwarded_for = via_value = None
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        name = header_name(key)
        lowered = name.lower()
        if lowered in dropped or lowered.startswith('proxy-') or (
                service and is_cluster_only(lowered)):
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


#: Service mode: request headers that never cross from a client to the
#: target.  The target trusts the forwarder's service token, so anything a
#: cluster sets for itself, or that names the client's local identity, or
#: that would spoof where the request came from, stays behind.
_CLUSTER_ONLY_PREFIXES = (
    'x-backend-', 'x-auth-', 'x-storage-token', 'x-storage-user',
    'x-storage-pass', 'x-service-', 'x-forwarded-', 'x-user', 'x-tenant',
    'x-project-', 'x-domain-', 'x-role',
    'x-identity-status', 'x-is-admin-project', 'x-timestamp',
    'x-account-sysmeta-', 'x-container-sysmeta-', 'x-object-sysmeta-',
    'x-object-transient-sysmeta-', 'x-cluster-client-ip', 'forwarded',
    'authorization',
    # a reference to another account: refused unless it is the request's
    # own (see ServiceAuth), which the target takes by default anyway
    'x-copy-from-account', 'destination-account',
    'x-symlink-target-account')


def is_cluster_only(lowered_name):
    """See ``_CLUSTER_ONLY_PREFIXES``; ``x-forwarded-for`` is rebuilt from
    the client's address only."""
    return lowered_name.startswith(_CLUSTER_ONLY_PREFIXES)


def map_account(target, account):
    """Put ``account`` (unquoted) in place of the request target's account
    segment; the rest stays quoted exactly as received."""
    path, sep, query = target.partition('?')
    parts = path.split('/', 3)  # '', 'v1', account, rest
    parts[2] = urllib.parse.quote(account.encode('utf-8'), safe='')
    return '/'.join(parts) + sep + query


def check_service_path(env, target):
    """Service mode: the account and container the client is authorized
    for must be the ones the target sees.  The upstream path keeps the
    client's quoting, so an encoded ``/`` in the account or container
    (``/v1/AUTH_a%2Fc/o``) would move the split there: refuse it.

    :param target: :func:`upstream_path` of ``env``.
    :raises BadRequest: nothing has gone upstream.
    """
    sent = target.partition('?')[0].split('/', 4)[2:4]
    seen = (env.get('SCRIPT_NAME', '') + env['PATH_INFO']).split('/', 4)[2:4]
    if [urllib.parse.unquote_to_bytes(part) for part in sent] != \
            [part.encode('latin-1') for part in seen]:
        raise BadRequest("Invalid path: an encoded '/' in the account or "
                         "container name")


def reference(value):
    """``(container, rest)`` named by a header such as ``X-Copy-From``
    (``[/]container/object``, URL-quoted), as WSGI strings; None if it names
    no container.  Swift's middlewares unquote these values before (copy,
    symlink) or after (dlo) splitting them: a container whose name only one
    of the two readings would give (one with an encoded ``/``) is None."""
    text = wsgi_to_str(value.strip()).lstrip('/')
    container, sep, rest = text.partition('/')
    container = urllib.parse.unquote(container)
    if not container or not sep or '/' in container:
        return None
    return _str_to_wsgi(container), _str_to_wsgi(urllib.parse.unquote(rest))


#: The query parameters of a tempurl; in service mode the local tempurl
#: middleware checked them, and they do not go to the target.
TEMPURL_PARAMS = frozenset(('temp_url_sig', 'temp_url_expires',
                            'temp_url_prefix', 'temp_url_ip_range'))


def query_params(env):
    """The query parameters as Swift's middlewares read them
    (``req.params``: the last of several wins; ``?name`` alone is '')."""
    return dict(urllib.parse.parse_qsl(env.get('QUERY_STRING', ''),
                                       keep_blank_values=True))


def query_param(env, name):
    """One of :func:`query_params`, or None."""
    return query_params(env).get(name)


def without_params(target, names):
    """The request target without the query parameters ``names``; the rest
    of it exactly as it was."""
    path, sep, query = target.partition('?')
    kept = [item for item in query.split('&') if urllib.parse.unquote_plus(
        item.partition('=')[0]) not in names]
    return path + (sep + '&'.join(kept) if any(kept) else '')


def is_manifest_put(env):
    """An SLO manifest PUT (``?multipart-manifest=put``)?"""
    return env['REQUEST_METHOD'] == 'PUT' and \
        query_param(env, 'multipart-manifest') == 'put'


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
        found.append((_str_to_wsgi(container), _str_to_wsgi(obj),
                      segment.get('sub_slo') is True))
    return found


def split_account(path_info):
    """(account, container, object) of a ``/v1/...`` WSGI path, as str;
    missing parts are None."""
    parts = path_info.split('/', 4)[2:]
    parts = [wsgi_to_str(part) or None for part in parts]
    return tuple(parts + [None] * (3 - len(parts)))


def response_headers(headers):
    """The target's response headers as the client should see them:
    hop-by-hop ones dropped, with any its ``Connection`` header names."""
    dropped = _RESPONSE_DROPPED | {
        token.strip().lower() for name, value in headers
        if name.lower() == 'connection' for token in value.split(',')}
    result = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in dropped or lowered.startswith('proxy-'):
            continue
        result.append((_RESPONSE_RENAMED.get(lowered, name), value))
    return result


# Integrity: which bodies can be checked against their ETag, and resumed.

#: Headers of the original request left out of a resume request (it sets
#: its own Range and If-Match) and of a raise_and_delete DELETE.
RESUME_DROPPED = frozenset((
    'range', 'if-match', 'if-none-match', 'if-modified-since',
    'if-unmodified-since', 'if-range'))
DELETE_DROPPED = frozenset((
    'content-type', 'content-length', 'transfer-encoding', 'expect', 'etag',
    'x-delete-at', 'x-delete-after')) | RESUME_DROPPED

_MD5_HEX = frozenset('0123456789abcdef')


def _object_path(path):
    """Does this path (quoted or not) name an object?"""
    parts = path.split('?', 1)[0].split('/', 4)  # '', v1, a, c, o
    return len(parts) == 5 and parts[1] == 'v1' and all(parts[2:])


def put_etag_checkable(env):
    """Is the target's ETag for this PUT the MD5 of the bytes we send?

    Not for: an SLO manifest (``?multipart-manifest=put``: the ETag is the
    segments'), COPY or ``X-Copy-From`` (the body is not what is stored),
    symlinks, or a client-supplied ETag (the target already checks that
    one against the body, and answers 422 itself).
    """
    if env['REQUEST_METHOD'] != 'PUT' or not _object_path(env['PATH_INFO']):
        return False
    return not (query_param(env, 'multipart-manifest') == 'put' or
                env.get('HTTP_X_COPY_FROM') or
                env.get('HTTP_X_SYMLINK_TARGET') or env.get('HTTP_ETAG'))


def _md5_etag(resp):
    etag = (resp.getheader('Etag') or '').strip('"')
    return etag if len(etag) == 32 and _MD5_HEX.issuperset(etag) else None


def body_etag(method, target, resp):
    """The MD5 a GET response body must have, or None if it can't be
    checked: only whole (200), plain objects (not SLO/DLO manifests, whose
    ETag is not the body's MD5) with an MD5-shaped ETag."""
    if method != 'GET' or resp.status != 200 or not _object_path(target):
        return None
    if resp.getheader('X-Static-Large-Object') or \
            resp.getheader('X-Object-Manifest'):
        return None
    return _md5_etag(resp)


def content_range(resp):
    """``(first, last)`` from a single-range 206's Content-Range, or None
    (another status, no or a malformed Content-Range, multipart)."""
    if resp.status != 206:
        return None
    value = resp.getheader('Content-Range') or ''
    unit, _sep, rest = value.partition(' ')
    span = rest.split('/', 1)[0].split('-')
    if unit != 'bytes' or len(span) != 2 or not all(
            part.isascii() and part.isdigit() for part in span):
        return None
    return int(span[0]), int(span[1])


def multipart_boundary(resp):
    """The boundary of a multipart/byteranges response (bytes), or None."""
    kind, _sep, params = (resp.getheader('Content-Type') or '').partition(';')
    if kind.strip().lower() != 'multipart/byteranges':
        return None
    for param in params.split(';'):
        name, _sep, value = param.strip().partition('=')
        if name.lower() == 'boundary' and value.strip('"'):
            return value.strip('"').encode('latin-1')
    return None


def resumable_span(method, resp):
    """``(first, last, etag)`` of the bytes a GET response carries, to ask
    for the rest with ``Range`` and ``If-Match`` if it breaks off, or None
    (not a GET, no ETag to pin, multipart ranges...).  ``last`` may be
    None: up to the end."""
    etag = resp.getheader('Etag')
    if method != 'GET' or not etag:
        return None
    if resp.status == 200:
        length = resp.getheader('Content-Length')
        last = int(length) - 1 if length and length.isascii() and \
            length.isdigit() else None
        return 0, last, etag
    if resp.status == 206:
        span = content_range(resp)
        return span + (etag,) if span else None
    return None

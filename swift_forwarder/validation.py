# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Input checks: a request the forwarder would send upstream is checked
here first, and bad input gets a 4xx before any upstream I/O.  Pure.
"""

from swift_forwarder.config import TRUE_VALUES
from swift_forwarder.exceptions import BadRequest, ForwarderError, \
    LoopDetected, SwiftError
from swift_forwarder.headers import header_name

__all__ = ['ALLOWED_METHODS', 'check_loop', 'check_request']

#: Methods forwarded to the target; anything else gets 405, as from Swift.
ALLOWED_METHODS = frozenset(
    ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS'))

#: What may not go on the request line in the query string (the path is
#: quoted anew when it holds such bytes: see RequestPath).
_BAD_QUERY_CHARS = frozenset('\r\n\0')
_DOT_SEGMENTS = frozenset(('.', '..'))
#: A header name's environ key: HTTP_ + token characters as the WSGI server
#: upper-cases them ('-' becomes '_'); anything else (a space before the
#: colon, a name that isn't a token) is refused.
_HEADER_KEY_CHARS = frozenset(
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&\'*+.^`|~')
#: Control characters but HTAB may not be in a header value (RFC 9110
#: 5.5): an intermediary must not pass them on.
_BAD_HEADER_CHARS = frozenset(chr(c) for c in range(32) if c != 9) | {'\x7f'}

#: Swift's own answers to a name that is not valid UTF-8 or holds a NUL
#: (proxy-server), and to transfer codings it does not do (swob).
_INVALID_UTF8 = ('Invalid UTF8 or contains NULL', 412, 'text/html; charset=UTF-8')
_TE_LIST = ('Unsupported Transfer-Coding header value specified in '
            'Transfer-Encoding header', 501, None)
_TE_INVALID = ('Invalid Transfer-Encoding header value', 400, None)


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


def check_request(env, backend=False):
    """Validate what we are about to send; nothing has gone upstream yet.

    :param backend: the target is a backend endpoint: reserved names (a
        NUL in a name) go to it when the request allows them
        (``X-Backend-Allow-Reserved-Names``, which only the local
        cluster's middlewares set), as to the local proxy-server.
    :returns: ``(has_body, content_length)``; ``content_length`` is None for
        a chunked upload.
    :raises ForwarderError: 400/405/412/417 with the reason.
    """
    _check_method(env['REQUEST_METHOD'])
    _check_path(env, backend and env.get(
        'HTTP_X_BACKEND_ALLOW_RESERVED_NAMES', '').strip().lower() in
        TRUE_VALUES)
    _check_headers(env)
    expect = env.get('HTTP_EXPECT')
    if expect is not None and expect.strip().lower() != '100-continue':
        raise ForwarderError('Expectation %r is not supported' % expect, 417)
    return _check_body(env)


def _check_method(method):
    if method not in ALLOWED_METHODS:
        err = ForwarderError('Method %s is not allowed' % method, 405)
        err.headers = (('Allow', ', '.join(sorted(ALLOWED_METHODS))),)
        raise err


def _check_headers(env):
    for key, value in env.items():
        if not key.startswith('HTTP_'):
            continue
        if not _HEADER_KEY_CHARS.issuperset(key):
            raise BadRequest('Invalid header name %r' % header_name(key))
        if not _BAD_HEADER_CHARS.isdisjoint(value):
            raise BadRequest('Invalid character in header %s'
                             % header_name(key))
    # the WSGI server keeps the first of several; the target might read
    # another (RFC 9112 6.3: a recipient must refuse differing values)
    lengths = set(value.strip() for name, value in env.get('headers_raw', ())
                  if name.lower() == 'content-length')
    if len(lengths) > 1:
        raise BadRequest('Content-Length given twice with different values')


def _check_path(env, reserved_names=False):
    try:
        decoded = env['PATH_INFO'].encode('latin-1').decode('utf-8')
    except UnicodeError:
        raise SwiftError(*_INVALID_UTF8)
    if '\0' in decoded and not reserved_names:
        raise SwiftError(*_INVALID_UTF8)
    if _DOT_SEGMENTS.intersection(decoded.split('/')):
        # Swift itself takes '..' as a name, but anything between here and
        # the target that normalises paths would take it as "up": refuse.
        raise BadRequest("Invalid path: '.' and '..' segments are not "
                         "forwarded")
    # Only what goes on the request line verbatim: a path holding spaces
    # (and even CR/LF) is quoted by RequestPath, a query string is not.
    if _BAD_QUERY_CHARS.intersection(env.get('QUERY_STRING', '')):
        raise BadRequest('Invalid character in the request URL')


def _check_body(env):
    te = env.get('HTTP_TRANSFER_ENCODING', '').strip().lower()
    # str(): Swift's bulk middleware (slo's manifest delete) sets an int
    length = str(env.get('CONTENT_LENGTH', '')).strip()
    if te:
        if ',' in te:  # Swift's answers, as swob's message_length() gives
            raise SwiftError(*_TE_LIST)
        if te != 'chunked':
            raise SwiftError(*_TE_INVALID)
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

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""One upstream round trip: connection, request, body, response head.

The shape is urllib3's ``urlopen``: a ``clean_exit`` flag and a ``finally``
that closes the connection and frees its pool slot on *any* failure, so a
socket in an unknown state is never pooled.  Socket and http.client errors
become :mod:`swift_forwarder.exceptions` here and nowhere else.

Retries (never once body bytes have been read from the client):

* connect refused or timed out: up to ``retries`` more attempts;
* a reused keep-alive connection that turns out dead before the target
  answered anything: once more, on a fresh connection.
"""

import collections

from swift_forwarder.exceptions import ForwarderError, UpstreamBodyError, \
    UpstreamConnectError, UpstreamError, UpstreamTimeout
from swift_forwarder.green import http_client

__all__ = ['UpstreamRequest', 'round_trip']

#: What to send.  ``body`` is a :class:`RequestBody` or None; ``chunked``
#: says whether its length is unknown (Transfer-Encoding: chunked).
UpstreamRequest = collections.namedtuple(
    'UpstreamRequest', 'method target headers body content_length')

#: Errors that show a pooled keep-alive socket was already dead.
_STALE_ERRORS = (http_client.RemoteDisconnected, ConnectionResetError,
                 BrokenPipeError)


class _StaleConnection(Exception):
    """A reused connection died before the target said anything."""


def round_trip(pool, request, retries):
    """Send ``request`` to the pool's target; return the connection.

    The connection's ``response`` has its status and headers read; its body
    is for the caller to read (see :class:`ResponseBody`), and the caller
    owns the connection from then on.

    :raises ForwarderError: with the status the client should get.
    """
    connect_failures = stale_retries = 0
    while True:
        try:
            conn = pool.get(fresh=stale_retries > 0)
        except UpstreamConnectError:
            connect_failures += 1
            if connect_failures > retries or _body_started(request):
                raise
            continue
        clean_exit = False
        try:
            _exchange(conn, request, pool.name)
            clean_exit = True
            return conn
        except _StaleConnection:
            if stale_retries or _body_started(request):
                raise UpstreamBodyError(pool.name, 'connection closed by the '
                                        'target before it answered')
            stale_retries += 1
        except TimeoutError as err:
            raise UpstreamTimeout(pool.name, 'no response within %gs'
                                  % pool.node_timeout) from err
        except (OSError, http_client.HTTPException) as err:
            raise UpstreamError(pool.name, 'bad response: %r' % err) from err
        finally:
            if not clean_exit:
                pool.discard(conn)


def _body_started(request):
    return request.body is not None and request.body.bytes_read > 0


def _exchange(conn, request, name):
    """Write the request and read the response head, on one connection."""
    headers = list(request.headers)
    if request.body is not None:
        if request.content_length is None:
            headers.append(('Transfer-Encoding', 'chunked'))
        else:
            headers.append(('Content-Length', str(request.content_length)))
        headers.append(('Expect', '100-continue'))
    elif request.content_length is not None:
        headers.append(('Content-Length', str(request.content_length)))
    reused = conn.requests > 0
    try:
        conn.send_head(request.method, request.target, headers)
        if request.body is None:
            conn.getresponse()
            return
        if conn.expect() is not None:
            # The target answered without wanting the body (401, 413...):
            # relay that; the body stays unread and the connection is not
            # reused (the server closes it, or expects the body).
            conn.response.will_close = True
            return
    except _STALE_ERRORS as err:
        if reused:
            raise _StaleConnection() from err
        raise
    _send_body(conn, request, name)
    conn.getresponse()


def _send_body(conn, request, name):
    """Stream the client's body; a client error propagates as is (the
    caller then closes the connection, so the target sees a short body and
    stores nothing)."""
    sendall = conn.sock.sendall
    chunked = request.content_length is None
    try:
        for chunk in request.body:
            if chunked:
                sendall(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            else:
                sendall(chunk)
        if chunked:
            sendall(b'0\r\n\r\n')
    except ForwarderError:
        raise
    except TimeoutError as err:
        raise UpstreamTimeout(name, 'target accepted no data for %gs'
                              % conn.node_timeout) from err

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""One upstream round trip: connection, request, body, response head.

The shape is urllib3's ``urlopen``: a ``clean_exit`` flag and a ``finally``
that closes the connection and frees its pool slot on *any* failure, so a
socket in an unknown state is never pooled.  Socket and http.client errors
become :mod:`swift_forwarder.exceptions` here and nowhere else.

Retries (never once body bytes have been read from the client):

* connect refused or timed out: up to ``retries`` more attempts, after a
  jittered, growing pause (not when the target's certificate does not
  verify: that would fail the same way);
* a reused keep-alive connection that turns out dead before the target
  answered anything: once more, on a fresh connection.

:class:`Upstream` puts one target's pool, error limiter and counters
together: after ``error_limit`` failures in ``error_window`` seconds the
target is suppressed for ``error_suppression_interval`` seconds, and
requests fail fast with 503 instead of piling up on timeouts (as Swift's
proxy does for its nodes); then one request probes it.
"""

import collections
import http.client
import random
import time

from swift_forwarder.exceptions import ErrorLimitedError, ForwarderError, \
    PoolExhaustedError, ResponseReadError, ResponseTooLarge, \
    UpstreamBodyError,     UpstreamConnectError, UpstreamError, UpstreamTimeout
from swift_forwarder.green import Timeout, http_client, sleep, ssl
from swift_forwarder.iterators import ResponseBody
from swift_forwarder.paths import RequestPath

__all__ = ['ErrorLimiter', 'Upstream', 'UpstreamRequest', 'SideResponse',
           'round_trip']

#: Connect retries pause ``uniform(0, min(cap, base * 2 ** n))`` seconds.
BACKOFF_BASE = 0.05
BACKOFF_CAP = 1.0

#: Counters kept per target (healthcheck JSON; metrics).
COUNTERS = ('retries', 'resumes', 'etag_mismatches', 'error_limited',
            'suppressions', 'loop_refusals')

#: What to send.  ``path`` is a :class:`RequestPath`; ``body`` a
#: :class:`RequestBody` or None; ``content_length`` None with a body means
#: chunked.
UpstreamRequest = collections.namedtuple(
    'UpstreamRequest', 'method path headers body content_length',
    defaults=(None, None))

#: A side request's answer: the status and reason, the headers (an
#: :class:`http.client.HTTPMessage`) and the body (bytes).
SideResponse = collections.namedtuple('SideResponse',
                                      'status reason headers body')

#: Errors that show a pooled keep-alive socket was already dead.
_STALE_ERRORS = (http_client.RemoteDisconnected, ConnectionResetError,
                 BrokenPipeError)


class _StaleConnection(Exception):
    """A reused connection died before the target said anything."""


class ErrorLimiter(object):
    """Fail fast on a target that keeps failing.

    :param limit: failures within ``window`` seconds that suppress it...
    :param interval: ...for this many seconds.  Then one request (the
        probe) may try; its failure suppresses the target again at once,
        its success clears the suppression.
    """

    def __init__(self, limit, window, interval, clock=time.monotonic):
        self.limit, self.window, self.interval = limit, window, interval
        self._clock = clock
        self._failures = collections.deque()
        self.suppressed_until = 0.0
        self._probing = self._probe_in_flight = False

    def allow(self):
        """May a request go to the target now?

        :returns: True if this request is the probe after a suppression.
        :raises ErrorLimitedError: no, fail fast.
        """
        now = self._clock()
        if now < self.suppressed_until or (
                self._probing and self._probe_in_flight):
            raise ErrorLimitedError(
                None, 'error-limited after %d failures in %gs; retrying in '
                '%.0fs' % (self.limit, self.window,
                           max(self.suppressed_until - now, 1)))
        if self._probing:
            self._probe_in_flight = True
        return self._probing

    def failure(self):
        """The target failed a request (connect, timeout, bad answer).

        :returns: True if this failure suppressed the target (one that was
            already suppressed only stays so for longer).
        """
        now = self._clock()
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self.window:
            self._failures.popleft()
        if len(self._failures) >= self.limit or self._probing:
            newly = now >= self.suppressed_until
            self.suppressed_until = now + self.interval
            self._probing = True
            self._probe_in_flight = False
            self._failures.clear()
            return newly
        return False

    def finish(self, probe, ok):
        """After an allowed request: ``ok`` True (the target answered),
        False (it failed: already counted with :meth:`failure`), or None
        (we gave up for reasons of our own, e.g. the pool was exhausted)."""
        if probe:
            self._probe_in_flight = False
            if ok:  # even if a retry of the probe failed first
                self._probing = False
                self.suppressed_until = 0.0


class Upstream(object):
    """One target: its pool, error limiter, retries and counters, and the
    side requests the forwarder makes there on its own behalf.

    :param pool: the target's :class:`ConnectionPool`.
    :param retries: connect retries per request.
    :param limiter: its :class:`ErrorLimiter`.
    :param netloc: the target's ``Host``.
    :param user_agent: the ``User-Agent`` of side requests (the forwarder's
        ``Via`` entry).

    The counters go to the pool's metrics as well.
    """

    def __init__(self, pool, retries, limiter, netloc=None, user_agent=None):
        self.pool, self.retries, self.limiter = pool, retries, limiter
        self.name = pool.name
        self.netloc = netloc or pool.address.host
        self.user_agent = user_agent
        self.counters = dict.fromkeys(COUNTERS, 0)

    def count(self, name):
        """One more of counter ``name`` (one of :data:`COUNTERS`)."""
        self.counters[name] += 1
        self.pool.metrics.increment(name)

    def round_trip(self, request, extra=False):
        """:func:`round_trip` under the error limiter.

        :param extra: the client's request holds a pooled connection
            already (see :meth:`ConnectionPool.get`).
        :raises ErrorLimitedError: the target is suppressed: fail fast.
        """
        try:
            probe = self.limiter.allow()
        except ErrorLimitedError as err:
            self.count('error_limited')
            err.set_target(self.name)
            raise
        ok = None
        try:
            conn = round_trip(self.pool, request, self.retries,
                              on_retry=self._on_retry, extra=extra)
            ok = True
            return conn
        except PoolExhaustedError:
            raise
        except UpstreamError:
            ok = False
            self._failed()
            raise
        finally:
            self.limiter.finish(probe, ok)

    def side_headers(self, headers=()):
        """``headers`` with the ``Host`` and ``User-Agent`` of a side
        request, unless they name their own."""
        given = {name.lower() for name, _value in headers}
        return [(name, value) for name, value in (
            ('Host', self.netloc), ('User-Agent', self.user_agent))
            if value and name.lower() not in given] + list(headers)

    def side_request(self, method, target, headers=(), max_body=0,
                     extra=False, send=None):
        """A request the forwarder makes on its own behalf (a HEAD of a
        copy source, a manifest GET, a container's ACLs, a check), read
        whole: a :class:`SideResponse`.  The connection is disposed of
        here, whatever happens: pooled again if the body was read to the
        end, else closed.

        :param target: the quoted path, with its query if any.
        :param max_body: the longest body read; a longer one raises
            :class:`ResponseTooLarge`.
        :raises ResponseReadError: the body broke off (or a Timeout came
            while it was read); the head's failures as
            :meth:`round_trip`.
        :param send: how to send it (default :meth:`round_trip`; service
            mode passes its own, which maps the account and adds the
            token); called with the :class:`UpstreamRequest` and ``extra``.
        """
        request = UpstreamRequest(method, RequestPath.of(target),
                                  self.side_headers(headers))
        conn = (send or self.round_trip)(request, extra=extra)
        resp = conn.response
        body = ResponseBody(self.pool, conn, max(max_body, 1) + 1)
        data = b''
        try:
            for chunk in body:
                data += chunk
                if len(data) > max_body:
                    break
        except (ForwarderError, Timeout, OSError, ValueError,
                http_client.HTTPException, http.client.HTTPException) as err:
            # (ResponseBody translates the green http.client's errors; a
            # response object of another make raises the stdlib's)
            raise ResponseReadError(self.name, 'reading the response: %s'
                                    % err) from err
        finally:
            body.close()
        if len(data) > max_body:
            raise ResponseTooLarge(self.name, '%s %s: response body larger '
                                   'than %d bytes' % (
                                       method, request.path.quoted, max_body))
        return SideResponse(resp.status, resp.reason, resp.msg, data)

    def probe(self, path, timeout):
        """``GET path`` on a connection of its own (never a pooled one,
        which a busy pool may not have free), closed after it, within
        ``timeout`` seconds in all.

        :returns: a :class:`SideResponse` (at most 64 KiB of its body).
        :raises ForwarderError: the target could not be reached, or did
            not answer within ``timeout`` (:class:`UpstreamTimeout`); the
            message does not name the target.
        """
        conn = None
        deadline = Timeout(timeout)
        try:
            with deadline:
                conn = self.pool.connect()
                _exchange(conn, UpstreamRequest(
                    'GET', RequestPath.of(path), self.side_headers()),
                    self.name)
                resp = conn.response
                return SideResponse(resp.status, resp.reason, resp.msg,
                                    resp.read(65536))
        except Timeout as err:
            if err is not deadline:
                raise
            raise UpstreamTimeout(None, 'timed out')
        except (OSError, http_client.HTTPException) as err:
            raise UpstreamError(None, str(err)) from err
        finally:
            if conn is not None:
                conn.close()

    def _on_retry(self, err):
        self.count('retries')
        if not isinstance(err, _StaleConnection):
            # a keep-alive socket the target timed out is routine, not a
            # sign of a sick target
            self._failed()

    def _failed(self):
        if self.limiter.failure():
            self.count('suppressions')


def _backoff(attempt):
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


def round_trip(pool, request, retries, on_retry=None, extra=False):
    """Send ``request`` to the pool's target; return the connection.

    The connection's ``response`` has its status and headers read; its body
    is for the caller to read (see :class:`ResponseBody`, whose ``close()``
    gives the connection back), and the caller owns the connection from
    then on.

    :param on_retry: called with the error before each retry.
    :param extra: see :meth:`ConnectionPool.get`.
    :raises ForwarderError: with the status the client should get.
    """
    connect_failures = stale_retries = 0
    while True:
        try:
            conn = pool.get(fresh=stale_retries > 0, extra=extra)
        except UpstreamConnectError as err:
            connect_failures += 1
            if connect_failures > retries or not err.retryable or \
                    _body_started(request):
                raise
            if on_retry is not None:
                on_retry(err)
            sleep(_backoff(connect_failures - 1))
            continue
        clean_exit = False
        fresh = conn.requests == 0
        try:
            _exchange(conn, request, pool.name)
            clean_exit = True
            return conn
        except _StaleConnection as err:
            if stale_retries or _body_started(request):
                raise UpstreamBodyError(pool.name, 'connection closed by the '
                                        'target before it answered')
            stale_retries += 1
            if on_retry is not None:
                on_retry(err)
        except (OSError, http_client.HTTPException) as err:
            raise _translated(err, pool, fresh) from err
        finally:
            if not clean_exit:
                pool.discard(conn)


def _translated(err, pool, fresh):
    """The :class:`UpstreamError` for a low-level error of an exchange on a
    connection (``fresh``: its first)."""
    if isinstance(err, TimeoutError):
        return UpstreamTimeout(pool.name, 'no response within %gs'
                               % pool.node_timeout)
    if fresh and isinstance(err, ssl.SSLError):
        # TLS 1.3: the target refuses our certificate (or its absence)
        # after the client's side of the handshake is done, with an alert
        # the first read gets
        reason = 'the target closed the connection (does it want a client ' \
            'certificate: cert_file, key_file?)' if isinstance(
                err, ssl.SSLEOFError) else err.reason or err
        error = UpstreamConnectError(pool.name, 'TLS handshake failed: %s'
                                     % reason)
        error.retryable = False
        return error
    return UpstreamError(pool.name, 'bad response: %r' % err)


def _body_started(request):
    return request.body is not None and request.body.bytes_read > 0


def _exchange(conn, request, name):
    """Write the request and read the response head, on one connection."""
    framing = ()
    if request.body is not None:
        framing = (('Transfer-Encoding', 'chunked'),) \
            if request.content_length is None else \
            (('Content-Length', str(request.content_length)),)
        framing += (('Expect', '100-continue'),)
    elif request.content_length is not None:
        framing = (('Content-Length', str(request.content_length)),)
    reused = conn.requests > 0
    try:
        conn.send_head(request.method, request.path.target, request.headers,
                       framing)
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
            else:  # a view: what a partial send leaves is not copied
                sendall(memoryview(chunk))
        if chunked:
            sendall(b'0\r\n\r\n')
    except ForwarderError:
        raise
    except TimeoutError as err:
        raise UpstreamTimeout(name, 'target accepted no data for %gs'
                              % conn.node_timeout) from err

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Nothing lost or corrupted on the way: which bodies are checked against
their ETag, how a broken GET body is resumed, and what a PUT whose ETag
does not match gets (``etag_mismatch_policy``).

:class:`Integrity` builds the :class:`ResponseBody` of each forwarded
response (the only owner of its connection from then on: its ``close()``
gives the connection back) with the ETag to check and the resumer to call
when the target breaks off.
"""

import functools

from swift_forwarder.exceptions import EtagMismatch, UpstreamBodyError
from swift_forwarder.forward import UpstreamRequest
from swift_forwarder.iterators import READ_AHEAD, ResponseBody
from swift_forwarder.metrics import loggable_path

__all__ = ['Integrity', 'SplicedResponse', 'put_etag_checkable',
           'body_etag', 'resumable_span', 'content_range',
           'multipart_boundary', 'RESUME_DROPPED', 'DELETE_DROPPED']

#: Headers of the original request left out of a resume request (it sets
#: its own Range and If-Match) and of a raise_and_delete DELETE.
RESUME_DROPPED = frozenset((
    'range', 'if-match', 'if-none-match', 'if-modified-since',
    'if-unmodified-since', 'if-range'))
DELETE_DROPPED = frozenset((
    'content-type', 'content-length', 'transfer-encoding', 'expect', 'etag',
    'x-delete-at', 'x-delete-after')) | RESUME_DROPPED

_MD5_HEX = frozenset('0123456789abcdef')


def _names_object(path):
    """Does this :class:`RequestPath` name an object?"""
    return path.version == 'v1' and all(path.segments[1:])


def put_etag_checkable(env, path):
    """Is the target's ETag for this PUT the MD5 of the bytes we send?

    Not for: an SLO manifest (``?multipart-manifest=put``: the ETag is the
    segments'), COPY or ``X-Copy-From`` (the body is not what is stored),
    symlinks, or a client-supplied ETag (the target already checks that
    one against the body, and answers 422 itself).
    """
    if env['REQUEST_METHOD'] != 'PUT' or not _names_object(path):
        return False
    return not (path.param('multipart-manifest') == 'put' or
                env.get('HTTP_X_COPY_FROM') or
                env.get('HTTP_X_SYMLINK_TARGET') or env.get('HTTP_ETAG'))


def _md5_etag(resp):
    etag = (resp.getheader('Etag') or '').strip('"')
    return etag if len(etag) == 32 and _MD5_HEX.issuperset(etag) else None


def body_etag(method, path, resp):
    """The MD5 a GET response body must have, or None if it can't be
    checked: only whole (200), plain objects (not SLO/DLO manifests, whose
    ETag is not the body's MD5) with an MD5-shaped ETag."""
    if method != 'GET' or resp.status != 200 or not _names_object(path):
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


class _ShortBody(list):
    """A short response body, read whole: ``close()`` calls ``on_close``."""

    def __init__(self, data, on_close):
        super().__init__((data,))
        self._on_close = on_close

    def close(self):
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


class _Lazy(functools.partial):
    """A resumer worked out only when a body breaks off (see
    :class:`ResponseBody`)."""

    lazy = True


class Integrity(object):
    """One target's response bodies and PUT checks.

    :param upstream: the target's :class:`Upstream`.
    :param conf: the :class:`ForwarderConfig` (``client_chunk_size``,
        ``retries``, ``etag_mismatch_policy``).
    :param verify_get: check whole plain-object GET bodies.
    :param logger: the middleware's logger.
    :param send: ``send(env, request)``: how a request derived from the
        client's (a resume, a raise_and_delete DELETE) is sent: as the
        client's was (service mode maps the account and adds the token).
    """

    def __init__(self, upstream, conf, verify_get, logger, send):
        self.upstream = upstream
        self.chunk_size = conf.client_chunk_size
        self.retries = conf.retries
        self.policy = conf.etag_mismatch_policy
        self.verify_get = verify_get
        self.logger = logger
        self.send = send

    def response_body(self, env, request, conn):
        """The :class:`ResponseBody` of ``conn``'s response, which owns the
        connection from now on: verified against its ETag and resumed if
        the target breaks off.  It is read as it arrives, up to
        :data:`READ_AHEAD` times ``client_chunk_size`` at once: a read never
        waits for more than has arrived, so this adds no latency, while a
        busy forwarder (the target sending faster than it relays) makes a
        sixteenth of the reads and writes per GiB."""
        resp = conn.response
        etag = body_etag(request.method, request.path, resp) \
            if self.verify_get else None
        return ResponseBody(self.upstream.pool, conn,
                            self.chunk_size * READ_AHEAD, etag=etag,
                            resume=_Lazy(self._resumer, env, request, resp),
                            max_resumes=self.retries)

    def app_iter(self, body, record):
        """What the client gets of ``body``: a short one is read at once
        and the connection put back before the client sees anything;
        anything longer streams.  Either way ``record`` is finished when the
        WSGI server closes it, after the client got the body: the log line
        costs the client no wait."""
        length = body.response.length
        if length is None or length > self.chunk_size:
            body.on_close = functools.partial(self._on_close, record)
            return body
        try:
            data = b''.join(body)
        except EtagMismatch:  # a 502 for the client
            self.upstream.count('etag_mismatches')
            raise
        finally:
            body.close()
        return _ShortBody(data, functools.partial(
            record.finish, body.response.status, len(data)))

    def _on_close(self, record, body):
        if body.error is not None:
            if isinstance(body.error, EtagMismatch):
                self.upstream.count('etag_mismatches')
            record.finish(record.status, body.bytes_sent, error=True,
                          outcome='response body aborted: %s' % body.error)
        elif not body.complete:
            record.finish(record.status, body.bytes_sent,
                          outcome='client closed the response early; '
                          'upstream connection closed')
        else:
            record.finish(record.status, body.bytes_sent)

    def _derived(self, env, request, method, path, dropped, added=()):
        """A body-less request derived from ``request`` (its headers but
        ``dropped``, plus ``added``), sent as ``request`` was."""
        headers = [(name, value) for name, value in request.headers
                   if name.lower() not in dropped]
        return self.send(env, UpstreamRequest(
            method, path, headers + list(added)))

    def _resumer(self, env, request, resp):
        """None, or a function that asks the target for the rest of this
        GET response from a given offset, pinned to the same ETag."""
        span = resumable_span(request.method, resp)
        if span is None:
            return self._multipart_resumer(env, request, resp)
        first, last, etag = span

        def resume(offset):
            start = first + offset
            self._resuming(request, 'at byte %d' % start)
            conn = self._derived(
                env, request, 'GET', request.path, RESUME_DROPPED,
                [('Range', 'bytes=%d-%s' % (
                    start, '' if last is None else last)),
                 ('If-Match', etag)])
            span = content_range(conn.response)
            if span is None or span[0] != start or (
                    last is not None and span[1] != last):
                again = conn.response
                self.upstream.pool.discard(conn)
                raise UpstreamBodyError(self.upstream.name, 'resume at byte '
                                        '%d got %d %s' % (
                                            start, again.status,
                                            again.getheader('Content-Range')
                                            or 'without Content-Range'))
            return conn
        return resume

    def _multipart_resumer(self, env, request, resp):
        """For a multi-range GET (a multipart/byteranges 206 with an ETag
        and a length): the same ranges asked for again, pinned to the ETag,
        the answer spliced onto what the client has (see
        :class:`SplicedResponse`); None for anything else."""
        boundary = multipart_boundary(resp)
        etag, length = resp.getheader('Etag'), resp.getheader('Content-Length')
        ranges = [value for name, value in request.headers
                  if name.lower() == 'range']
        if request.method != 'GET' or resp.status != 206 or not (
                boundary and etag and length and len(ranges) == 1):
            return None

        def resume(offset):
            self._resuming(request, 'at byte %d of its multi-range body'
                           % offset)
            conn = self._derived(env, request, 'GET', request.path,
                                 RESUME_DROPPED,
                                 [('Range', ranges[0]), ('If-Match', etag)])
            again = conn.response
            new = multipart_boundary(again)
            if again.status != 206 or new is None or \
                    len(new) != len(boundary) or \
                    again.getheader('Content-Length') != length:
                self.upstream.pool.discard(conn)
                raise UpstreamBodyError(self.upstream.name, 'resume at byte '
                                        '%d of a multi-range body got %d, '
                                        'not the same ranges' % (
                                            offset, again.status))
            conn.response = SplicedResponse(again, new, boundary, offset)
            return conn
        return resume

    def _resuming(self, request, where):
        self.upstream.count('resumes')
        self.logger.warning('Resuming GET %s %s', request.path.quoted, where)

    def check_put(self, env, request, body, sent):
        """Compare the MD5 of the bytes sent with the target's ETag, and
        apply ``etag_mismatch_policy``: on a mismatch (but with ``log``),
        ``body`` (the target's short answer) is read and closed, and
        :class:`EtagMismatch` raised."""
        etag = (body.response.getheader('Etag') or '').strip('"')
        if etag == sent or not etag:  # Swift always sends one; else no check
            return
        self.upstream.count('etag_mismatches')
        msg = 'ETag mismatch on PUT: sent MD5 %s, target ETag %s' % (
            sent, etag)
        if self.policy == 'log':
            self.logger.error('%s %s: %s', request.method,
                              loggable_path(env), msg)
            return
        body.drain()
        if self.policy == 'raise_and_delete':
            status = self._delete(env, request)
            msg += '; object deleted' if status // 100 == 2 or \
                status == 404 else '; DELETE got %d' % status
        else:
            msg += '; object kept'
        raise EtagMismatch(self.upstream.name, msg)

    def _delete(self, env, request):
        """DELETE what ``request`` wrote; returns the target's status."""
        conn = self._derived(env, request, 'DELETE',
                             request.path.with_query(''), DELETE_DROPPED)
        body = ResponseBody(self.upstream.pool, conn, self.chunk_size)
        body.drain()
        return body.response.status


class SplicedResponse(object):
    """A multi-range response asked for again after the first one broke
    off, made to continue the first one byte for byte.

    The target frames both the same way (Swift's multipart/byteranges) but
    with a new random boundary of the same length: each occurrence of
    ``boundary`` is written as ``original`` (the client's), and the first
    ``skip`` bytes (those the client has) are dropped.  Anything else is
    the wrapped response's.
    """

    def __init__(self, resp, boundary, original, skip):
        if len(boundary) != len(original):
            raise ValueError('boundaries of different lengths')
        self._resp = resp
        self._boundary, self._original = boundary, original
        self._skip = skip
        self._carry = b''  # may hold the start of a boundary

    def __getattr__(self, name):
        return getattr(self._resp, name)

    def read1(self, size):
        keep = len(self._boundary) - 1
        while True:
            data = self._resp.read1(size)
            buf = (self._carry + data).replace(self._boundary, self._original)
            if data and keep:
                buf, self._carry = buf[:-keep], buf[-keep:]
            else:
                self._carry = b''
            if self._skip:
                dropped = min(self._skip, len(buf))
                buf, self._skip = buf[dropped:], self._skip - dropped
            if buf or not data:
                return buf

    def complete(self):
        return not self._carry and self._resp.complete()

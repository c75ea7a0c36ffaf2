# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Bodies in both directions, streamed, never held whole.

:class:`RequestBody` reads the client's ``wsgi.input`` in bounded chunks.
:class:`ResponseBody` is the WSGI iterable handed back for an upstream
response.  Per PEP 333 the server calls its ``close()``; that is where the
upstream connection goes back to the pool (body read to the end) or is
closed (anything else: client gone, timeout, error).
"""

import array
import fcntl
import hashlib
import termios

from swift_forwarder.exceptions import ClientDisconnect, ClientTimeout, \
    EtagMismatch, ForwarderError, UpstreamBodyError, UpstreamTimeout
from swift_forwarder.green import ClientReadTimeout, GreenSocket, \
    WsgiInput, http_client

try:
    from swift.common.utils import InputProxy
except ImportError:  # unit tests and tools without Swift installed
    InputProxy = ()

__all__ = ['RequestBody', 'PrefixedInput', 'ResponseBody', 'md5',
           'arrived_bytes']

#: A read (of the client's upload, of a response body) may take up to this
#: many times ``client_chunk_size`` at once, when that much has arrived.
READ_AHEAD = 16


def arrived_bytes(env):
    """A function that says how many bytes of the client's upload have
    arrived (in the kernel's receive queue: a read of that many returns at
    once), or None where that cannot be known.

    Only for eventlet's ``wsgi.input`` of a plain socket, not chunked, seen
    through nothing but Swift's byte-counting ``InputProxy`` (proxy-logging):
    anything else between (a middleware's own body, TLS, chunked framing)
    could make a read of that many bytes wait for more.
    """
    source = env.get('eventlet.input')
    if not isinstance(source, WsgiInput) or source.chunked_input:
        return None
    layer = env.get('wsgi.input')
    while layer is not source:
        if not isinstance(layer, InputProxy):
            return None
        layer = layer.wsgi_input
    sock = source.get_socket()
    if type(sock) is not GreenSocket:  # not TLS
        return None
    fileno = sock.fileno()
    count = array.array('i', [0])

    def arrived():
        try:
            fcntl.ioctl(fileno, termios.FIONREAD, count)
        except OSError:  # gone: the read will say how
            return 0
        return count[0]
    return arrived


class RequestBody(object):
    """The client's upload, read ``chunk_size`` at a time, or more (up to
    :data:`READ_AHEAD` times that) when more has already arrived.

    :param wsgi_input: ``env['wsgi.input']``.
    :param content_length: the declared length, or None for chunked.
    :param chunk_size: ``client_chunk_size``.
    :param client_timeout: bound of each read.
    :param checksum: keep the MD5 of the bytes read in ``md5``.
    :param arrived: None, or a function that says how many bytes have
        arrived (see :func:`arrived_bytes`).  A read then takes those at
        once if there are more than ``chunk_size``, so that it never waits
        longer than a read of ``chunk_size`` would: ``client_timeout``
        bounds the same wait for a slow client, while a fast one costs
        fewer reads and writes per GiB.
    """

    def __init__(self, wsgi_input, content_length, chunk_size,
                 client_timeout, checksum=False, arrived=None):
        self._read = wsgi_input.read
        self.content_length = content_length
        self.chunk_size = chunk_size
        self.client_timeout = client_timeout
        self.bytes_read = 0
        self.md5 = md5() if checksum else None
        self._arrived = arrived
        self._max_size = chunk_size * READ_AHEAD

    def __iter__(self):
        while True:
            chunk = self._read_chunk()
            if not chunk:
                return
            yield chunk

    def _read_chunk(self):
        size = self.chunk_size
        left = None
        if self.content_length is not None:
            left = self.content_length - self.bytes_read
            if left <= 0:
                return b''
        if self._arrived is not None and (left is None or left > size):
            size = max(size, min(self._arrived(), self._max_size))
        if left is not None:
            size = min(size, left)
        try:
            with ClientReadTimeout(self.client_timeout):
                chunk = self._read(size)
        except ClientReadTimeout:
            raise ClientTimeout('Request timeout: no data from the client '
                                'within %gs after %d bytes'
                                % (self.client_timeout, self.bytes_read))
        except (OSError, ValueError) as err:
            # eventlet raises ValueError/IOError for a broken chunked body
            raise ClientDisconnect('Client disconnected after %d bytes: %s'
                                   % (self.bytes_read, err))
        self.bytes_read += len(chunk)
        if self.md5 is not None:
            self.md5.update(chunk)
        if not chunk and self.content_length is not None:
            raise ClientDisconnect(
                'Client disconnected after %d of %d bytes'
                % (self.bytes_read, self.content_length))
        return chunk


class PrefixedInput(object):
    """A ``wsgi.input`` whose first bytes were read already: ``prefix``,
    then the rest of ``wsgi_input``."""

    def __init__(self, prefix, wsgi_input):
        self.prefix = prefix
        self.wsgi_input = wsgi_input

    def read(self, size=-1):
        if self.prefix:
            chunk, self.prefix = self.prefix, b''
            return chunk
        return self.wsgi_input.read(size)


class ResponseBody(object):
    """The upstream response body as a closeable WSGI iterable.

    The connection is given back to the pool as soon as the last byte has
    been read (so the next request can reuse it before the WSGI server gets
    round to ``close()``), and closed on ``close()`` before that.  A read
    error or timeout closes the connection and, unless the body can be
    resumed, raises, so the WSGI server aborts the client's stream instead
    of ending it cleanly short.

    :param pool: the :class:`ConnectionPool` the connection came from.
    :param conn: the connection; the response is ``conn.response``.
    :param chunk_size: the largest chunk to read at once.
    :param on_close: called once with this object when it closes (may be
        set later, as the attribute of that name); its
        ``complete``, ``error``, ``resumes`` and ``bytes_sent`` tell how it
        went.
    :param etag: the MD5 (hex) the whole body must have, or None.  On a
        mismatch the last chunk is withheld and the stream aborted.
    :param resume: None, or ``resume(offset)`` returning a fresh connection
        whose response carries the body from ``offset`` on; tried up to
        ``max_resumes`` times when the body breaks off.  Or a callable
        that returns such a ``resume`` or None, marked ``lazy = True``:
        called when the body first breaks off, so that what a resume needs
        is worked out only when one is.
    """

    def __init__(self, pool, conn, chunk_size, on_close=None, etag=None,
                 resume=None, max_resumes=0):
        self._pool = pool
        self._conn = conn
        self._resp = conn.response
        self._chunk_size = chunk_size
        self.on_close = on_close
        self._etag = etag
        self._md5 = md5() if etag else None
        self._resume = resume
        self._max_resumes = max_resumes if resume else 0
        self.resumes = 0
        self.bytes_sent = 0
        self.complete = False
        self.closed = False
        self.error = None

    @property
    def response(self):
        """The response being read (a resumed one after a resume)."""
        return self._resp

    def __iter__(self):
        return self

    def drain(self):
        """Read the rest and close: for a short answer the client does
        not get (an error, a PUT's), so that the connection can serve the
        next request."""
        try:
            for _chunk in self:
                pass
        finally:
            self.close()

    def __next__(self):
        try:
            return self._next_chunk()
        except BaseException:
            # anything else (an eventlet Timeout of the caller's, the
            # greenlet killed): the socket is in an unknown state
            self._abort()
            raise

    def _next_chunk(self):
        if self._conn is not None and self._resp.complete():
            self._finish()  # no body at all (HEAD, 204, 304): read nothing
        while self._conn is not None:
            try:
                chunk = self._read()
            except ForwarderError as err:
                err = self._resume_after(err)
                if err is not None:
                    raise self._fail(err)
                continue
            if self._md5 is not None:
                self._md5.update(chunk)
            if self._resp.complete():
                self._check_etag()
                self._finish()
            if chunk:
                self.bytes_sent += len(chunk)
                return chunk
        self.close()
        raise StopIteration

    def _read(self):
        """One chunk; a broken or stalled body raises a ForwarderError."""
        try:
            chunk = self._resp.read1(self._chunk_size)
        except TimeoutError:
            raise UpstreamTimeout(self._pool.name, 'no data for %gs after '
                                  '%d bytes of the response body' % (
                                      self._pool.node_timeout,
                                      self.bytes_sent))
        except (OSError, ValueError, http_client.HTTPException) as err:
            raise UpstreamBodyError(self._pool.name, 'response body broke off '
                                    'after %d bytes: %r' % (
                                        self.bytes_sent, err))
        if not chunk and not self._resp.complete():
            raise UpstreamBodyError(self._pool.name, 'response body ended '
                                    'early after %d bytes' % self.bytes_sent)
        return chunk

    def _check_etag(self):
        if self._md5 is not None and self._md5.hexdigest() != self._etag:
            raise self._fail(EtagMismatch(
                self._pool.name, 'ETag mismatch: body MD5 %s, ETag %s; '
                'stream aborted' % (self._md5.hexdigest(), self._etag)))

    def _resume_after(self, err):
        """Go on from where ``err`` broke the body off, on a fresh
        connection; returns None, or the last error once resumes run out."""
        if getattr(self._resume, 'lazy', False):
            self._resume = self._resume()
            if self._resume is None:
                self._max_resumes = 0
        while self.resumes < self._max_resumes:
            self.resumes += 1
            self._abort()
            try:
                self._conn = self._resume(self.bytes_sent)
            except ForwarderError as resume_err:
                err = resume_err
                continue
            self._resp = self._conn.response
            return None
        return err

    def _finish(self):
        """Read to the end: the connection may serve the next request."""
        conn, self._conn = self._conn, None
        self.complete = True
        self._pool.put(conn)

    def _fail(self, error):
        """Drop the connection and remember why; returns ``error``."""
        self.error = error
        self._abort()
        return error

    def _abort(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.discard(conn)

    def close(self):
        """Safe to call any number of times; closes the socket unless the
        body was read to the end."""
        if self.closed:
            return
        self.closed = True
        self._abort()
        if self.on_close is not None:
            self.on_close(self)


def md5():
    try:
        return hashlib.md5(usedforsecurity=False)
    except TypeError:  # Python < 3.9
        return hashlib.md5()

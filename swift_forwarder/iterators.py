# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Bodies in both directions, streamed, never held whole.

:class:`RequestBody` reads the client's ``wsgi.input`` in bounded chunks.
:class:`ResponseBody` is the WSGI iterable handed back for an upstream
response.  Per PEP 333 the server calls its ``close()``; that is where the
upstream connection goes back to the pool (body read to the end) or is
closed (anything else: client gone, timeout, error).
"""

from swift_forwarder.exceptions import ClientDisconnect, ClientTimeout, \
    UpstreamBodyError, UpstreamTimeout
from swift_forwarder.green import ClientReadTimeout, http_client

__all__ = ['RequestBody', 'ResponseBody']


class RequestBody(object):
    """The client's upload, read ``chunk_size`` at a time.

    :param wsgi_input: ``env['wsgi.input']``.
    :param content_length: the declared length, or None for chunked.
    :param chunk_size: ``client_chunk_size``.
    :param client_timeout: bound of each read.
    """

    def __init__(self, wsgi_input, content_length, chunk_size,
                 client_timeout):
        self._read = wsgi_input.read
        self.content_length = content_length
        self.chunk_size = chunk_size
        self.client_timeout = client_timeout
        self.bytes_read = 0

    def __iter__(self):
        while True:
            chunk = self._read_chunk()
            if not chunk:
                return
            yield chunk

    def _read_chunk(self):
        size = self.chunk_size
        if self.content_length is not None:
            size = min(size, self.content_length - self.bytes_read)
            if size <= 0:
                return b''
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
        if not chunk and self.content_length is not None:
            raise ClientDisconnect(
                'Client disconnected after %d of %d bytes'
                % (self.bytes_read, self.content_length))
        return chunk


class ResponseBody(object):
    """The upstream response body as a closeable WSGI iterable.

    The connection is given back to the pool as soon as the last byte has
    been read (so the next request can reuse it before the WSGI server gets
    round to ``close()``), and closed on ``close()`` before that.  A read
    error or timeout closes the connection and raises, so the WSGI server
    aborts the client's stream instead of ending it cleanly short.

    :param pool: the :class:`ConnectionPool` the connection came from.
    :param conn: the connection; the response is ``conn.response``.
    :param chunk_size: the largest chunk to read at once.
    :param on_close: called once with this object when it closes; its
        ``complete``, ``error`` and ``bytes_sent`` tell how it went.
    """

    def __init__(self, pool, conn, chunk_size, on_close=None):
        self._pool = pool
        self._conn = conn
        self._resp = conn.response
        self._chunk_size = chunk_size
        self._on_close = on_close
        self.bytes_sent = 0
        self.complete = False
        self.closed = False
        self.error = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._conn is not None and self._resp.complete():
            self._release()  # no body at all (HEAD, 204, 304): read nothing
        if self._conn is None:
            self.close()
            raise StopIteration
        try:
            chunk = self._resp.read1(self._chunk_size)
        except TimeoutError:
            raise self._fail(UpstreamTimeout(
                self._pool.name, 'no data for %gs after %d bytes of the '
                'response body' % (self._pool.node_timeout, self.bytes_sent)))
        except (OSError, ValueError, http_client.HTTPException) as err:
            raise self._fail(UpstreamBodyError(
                self._pool.name, 'response body broke off after %d bytes: '
                '%r' % (self.bytes_sent, err)))
        if not chunk and not self._resp.complete():
            raise self._fail(UpstreamBodyError(
                self._pool.name, 'response body ended early after %d bytes'
                % self.bytes_sent))
        self.bytes_sent += len(chunk)
        if self._resp.complete():
            self._release()
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def _release(self):
        """Read to the end: the connection may serve the next request."""
        conn, self._conn = self._conn, None
        self.complete = True
        if self._resp.will_close:
            self._pool.discard(conn)
        else:
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
        if self._on_close is not None:
            self._on_close(self)

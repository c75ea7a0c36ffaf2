# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Green HTTP/1.1 connections to a target proxy, Swift bufferedhttp style.

:class:`BufferedHTTPConnection` keeps http.client's connect logic (and TLS
in the HTTPS flavour) but writes the request head itself, in one
``sendall``, and never uses http.client's request state machine: a pooled
connection's state is decided by the pool, from whether the previous
response was read to the end.  ``Expect: 100-continue`` is supported the
way Swift's object PUTs use it: :meth:`BufferedHTTPConnection.expect`
returns None on ``100 Continue``, or the early final response.

Socket timeouts bound every operation: ``conn_timeout`` the connect (and
TLS handshake), ``node_timeout`` each later send or receive.
"""

import time

from swift_forwarder.green import http_client, original_select, socket, ssl

__all__ = ['BufferedHTTPConnection', 'BufferedHTTPSConnection',
           'BufferedHTTPResponse', 'make_ssl_context']


class BufferedHTTPResponse(http_client.HTTPResponse):
    """An http.client response that can first read an interim response."""

    def expect_response(self):
        """Read ``100 Continue`` (returns True) or the final status line.

        For a final response the status line is kept for :meth:`begin`,
        which then reads the headers (the trick Swift's bufferedhttp uses).
        """
        version, status, reason = self._read_status()
        if status == http_client.CONTINUE:
            http_client.parse_headers(self.fp)  # interim headers: skip
            return True
        self._read_status = lambda: (version, status, reason)
        self.begin()
        return False

    def complete(self):
        """True once the body has been read to its end (or had none)."""
        if self.length == 0:  # read to the end, or none: HEAD, 204, 304
            return True       # (even if a HEAD response says chunked)
        if self.chunked:
            return self.fp is None and self.chunk_left is None
        return self.fp is None and self.length is None


class _BufferedMixin(object):
    """What both flavours add to http.client's connection classes."""

    response_class = BufferedHTTPResponse

    def __init__(self, host, port, conn_timeout, node_timeout, **kwargs):
        super().__init__(host, port, timeout=conn_timeout, **kwargs)
        self.node_timeout = node_timeout
        self.created_at = self.last_used = time.monotonic()
        self.requests = 0
        self.response = None

    def connect(self):
        super().connect()  # bounded by conn_timeout
        self._connected()

    def _connected(self):
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.node_timeout)

    def send_head(self, method, target, headers):
        """Send the request line and headers in one write.

        :param target: the already-quoted path and query.
        :param headers: (name, value) pairs, already validated.
        """
        lines = ['%s %s HTTP/1.1' % (method, target)]
        lines.extend('%s: %s' % pair for pair in headers)
        lines.append('\r\n')
        self.requests += 1
        self.sock.sendall('\r\n'.join(lines).encode('latin-1'))
        self.response = self.response_class(self.sock, method=method)

    def expect(self):
        """After a head with ``Expect: 100-continue``: None on 100, or else
        the final response, which the server sent without wanting the body.
        """
        if self.response.expect_response():
            return None
        return self.response

    def getresponse(self):
        """Read the final response's status line and headers."""
        if not isinstance(self.response.status, int):
            self.response.begin()
        return self.response

    def is_dropped(self):
        """An idle keep-alive socket must have nothing to read: readable
        means the peer closed it (EOF) or sent garbage; either way, drop it.
        """
        if self.sock is None:
            return True
        poller = original_select.poll()
        poller.register(self.sock.fileno(), original_select.POLLIN)
        return bool(poller.poll(0))

    def release_response(self):
        """Let go of the last response.  Its buffered file holds a reference
        to the socket, which a close() would otherwise leave open for as
        long as anyone (a body iterator, a traceback) holds the response.
        """
        response, self.response = self.response, None
        if response is not None:
            response.close()

    def close(self):
        self.release_response()
        super().close()


class BufferedHTTPConnection(_BufferedMixin, http_client.HTTPConnection):
    """A plain-HTTP connection to the target."""


class BufferedHTTPSConnection(_BufferedMixin, http_client.HTTPSConnection):
    """A TLS connection to the target; certificates verified by default."""

    def connect(self):
        """TCP, then the TLS handshake (both within conn_timeout).  A failed
        handshake closes the socket at once: eventlet's ssl socket would
        otherwise keep it open for as long as the exception is referenced."""
        http_client.HTTPConnection.connect(self)
        tls = self._context.wrap_socket(self.sock, server_hostname=self.host,
                                        do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        self.sock = tls
        self._connected()


def make_ssl_context(ca_certs=None, insecure=False, cert_file=None,
                     key_file=None):
    """The client-side TLS context for one target (built once, at startup).

    :param ca_certs: CA bundle to verify the target with (else the system's).
    :param insecure: skip certificate and host name checks (tests only).
    """
    context = ssl.create_default_context(cafile=ca_certs)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context

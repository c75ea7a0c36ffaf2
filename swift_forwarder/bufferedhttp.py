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

The response head is parsed here too, without the ``email`` package that
http.client hands the header block to (a third of the forwarder's own CPU
per small request): plain ``Name: value`` lines, the only kind a Swift
proxy sends, are split here; a block with anything else in it (a folded
line, a name with a space, a bare CR) goes to ``email`` as before, so the
headers come out exactly as http.client's either way.
"""

import re
import time

from swift_forwarder.green import http_client, original_select, socket, ssl

__all__ = ['BufferedHTTPConnection', 'BufferedHTTPSConnection',
           'BufferedHTTPResponse', 'make_ssl_context', 'parse_header_block']

#: http.client's bound on a line (and on the headers: its ``_MAXHEADERS``,
#: read when used, since Swift's bufferedhttp raises it).
_MAXLINE = 65536
#: Header lines ``email``'s parser reads as just ``name: value``: a name of
#: printable characters but ``:`` (email's ``headerRE``), no bare CR; and
#: one such line's name and value (leading blanks stripped, as email's).
_PLAIN_BLOCK = re.compile(r'(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n)*\Z')
_FIELD = re.compile(r'([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)\r?\n')


def _read_header_block(fp):
    """The header block (bytes: its lines, each with its line end) and the
    blank line (or b'' at EOF) that ends it, with http.client's bounds (the
    blank line counts).

    When the whole block is already buffered and ends with a CRLF line, it
    is taken in one read; else line by line, as http.client does.
    """
    most = getattr(http_client, '_MAXHEADERS', 100)
    data = fp.peek(_MAXLINE) if hasattr(fp, 'peek') else b''
    last = data.find(b'\n\r\n')  # the end of the line before a CRLF line
    if last > 0 and not data.startswith((b'\r\n', b'\n')) and \
            data.find(b'\n\n', 0, last + 1) < 0 and last < _MAXLINE and \
            data.count(b'\n', 0, last + 1) + 1 <= most:
        block = fp.read(last + 3)
        return block[:-2], b'\r\n'
    lines, end = _read_header_lines(fp, most)
    return b''.join(lines), end


def _read_header_lines(fp, most):
    lines = []
    while True:
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            raise http_client.LineTooLong('header line')
        if len(lines) + 1 > most:  # this line counts (a float, in Swift)
            raise http_client.HTTPException('got more than %d headers'
                                            % most)
        if line in (b'\r\n', b'\n', b''):
            return lines, line
        lines.append(line)


def parse_header_block(fp):
    """Read a header block: ``(pairs, message)``, the ``(name, value)``
    pairs in order as :func:`http.client.parse_headers` would give them,
    and its :class:`http.client.HTTPMessage` if one was made (None: see
    :func:`message_of`)."""
    block, end = _read_header_block(fp)
    text = block.decode('latin-1')
    if _PLAIN_BLOCK.match(text):
        return _FIELD.findall(text), None
    message = http_client.email.parser.Parser(
        _class=http_client.HTTPMessage).parsestr(text + end.decode('latin-1'))
    return list(message.items()), message


def message_of(pairs):
    """The :class:`http.client.HTTPMessage` of plain header pairs."""
    message = http_client.HTTPMessage()
    for name, value in pairs:
        message[name] = value
    return message


class BufferedHTTPResponse(http_client.HTTPResponse):
    """An http.client response that can first read an interim response,
    and parses its head with :func:`parse_header_block`; ``getheader`` is
    a dict lookup."""

    #: once the head is read: lower-cased name: its values joined with
    #: ', ' (what getheader() gives); and the first value of a name given
    #: more than once (what HTTPMessage.get() gives)
    _fields = _firsts = None
    _pairs = _message = None

    @property
    def headers(self):
        """The :class:`http.client.HTTPMessage` (``msg`` too), made when
        first asked for."""
        if self._message is None and self._pairs is not None:
            self._message = message_of(self._pairs)
        return self._message

    @headers.setter
    def headers(self, value):
        self._message = value

    msg = headers

    def begin(self):
        """http.client's ``begin()``, with the header block parsed by
        :func:`parse_header_block`."""
        if self._fields is not None or self._message is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http_client.CONTINUE:
                break
            while True:  # an interim response's headers: skip them
                skip = self.fp.readline(_MAXLINE + 1)
                if len(skip) > _MAXLINE:
                    raise http_client.LineTooLong('header line')
                if not skip.strip():
                    break
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ('HTTP/1.0', 'HTTP/0.9'):
            self.version = 10
        elif version.startswith('HTTP/1.'):
            self.version = 11
        else:
            raise http_client.UnknownProtocol(version)
        self._pairs, self._message = parse_header_block(self.fp)
        self._fields = fields = {}
        for name, value in self._pairs:
            lowered = name.lower()
            if lowered in fields:  # rare
                self._firsts = firsts = self._firsts or {}
                firsts.setdefault(lowered, fields[lowered])
                value = fields[lowered] + ', ' + value
            fields[lowered] = value
        self._framing(status)

    def _framing(self, status):
        """Chunked or not, the length, and whether the connection closes
        after: as http.client's ``begin()`` decides them."""
        encoding = self._first('transfer-encoding')
        self.chunked = bool(encoding) and encoding.lower() == 'chunked'
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self._first('content-length')
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                pass
            else:
                if self.length < 0:
                    self.length = None
        if status in (http_client.NO_CONTENT, http_client.NOT_MODIFIED) or \
                100 <= status < 200 or self._method == 'HEAD':
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True

    def _first(self, lowered):
        """The first value of a header, as ``HTTPMessage.get`` gives it."""
        if self._firsts is not None and lowered in self._firsts:
            return self._firsts[lowered]
        return self._fields.get(lowered)

    def _check_close(self):
        conn = self._first('connection')
        if self.version == 11:
            return bool(conn) and 'close' in conn.lower()
        if self._first('keep-alive'):
            return False
        if conn and 'keep-alive' in conn.lower():
            return False
        pconn = self._first('proxy-connection')
        return not (pconn and 'keep-alive' in pconn.lower())

    def getheader(self, name, default=None):
        """As http.client's: the values of every header ``name``, joined
        with ', ', or ``default``."""
        if self._fields is None:
            return super().getheader(name, default)
        value = self._fields.get(name.lower())
        if value is not None:
            return value
        if isinstance(default, str) or not hasattr(default, '__iter__'):
            return default
        return ', '.join(default)

    def getheaders(self):
        if self._fields is None:
            return super().getheaders()
        return list(self._pairs)

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
        self._poller = None

    def connect(self):
        super().connect()  # bounded by conn_timeout
        self._connected()

    def _connected(self):
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.node_timeout)
        self._poller = None

    def send_head(self, method, target, headers, more=()):
        """Send the request line and headers in one write.

        :param target: the already-quoted path and query.
        :param headers: (name, value) pairs, already validated; ``more``,
            more of them, after.
        """
        lines = ['%s %s HTTP/1.1\r\n' % (method, target)]
        lines += ['%s: %s\r\n' % pair for pair in headers]
        lines += ['%s: %s\r\n' % pair for pair in more]
        lines.append('\r\n')
        self.requests += 1
        self.sock.sendall(''.join(lines).encode('latin-1'))
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
        if self._poller is None:  # one per connection: one syscall a check
            self._poller = original_select.poll()
            self._poller.register(self.sock.fileno(), original_select.POLLIN)
        return bool(self._poller.poll(0))

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
        self._poller = None
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

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.bufferedhttp, on real loopback sockets."""

import gc
import http.client as std_http_client
import io
import os
import random
import unittest
import shutil
import ssl as std_ssl
import tempfile
from unittest import mock

import eventlet

from swift_forwarder import bufferedhttp
from swift_forwarder.bufferedhttp import BufferedHTTPConnection, \
    BufferedHTTPResponse, BufferedHTTPSConnection, make_ssl_context, \
    parse_header_block
from swift_forwarder.green import socket

from test.functional.util import tcp_connections
from test.unit.helpers import GreenTestCase, keep_alive_handler, make_cert, \
    tls_wrapper

HEAD = [('Host', 'target'), ('X-Auth-Token', 'AUTH_tk')]


class BufferedHTTPTestCase(GreenTestCase):

    def connect(self, server, node_timeout=1.0, conn_cls=None, **kwargs):
        conn = (conn_cls or BufferedHTTPConnection)(
            '127.0.0.1', server.port, 0.5, node_timeout, **kwargs)
        self.addCleanup(conn.close)
        conn.connect()
        return conn


class TestBufferedHTTPConnection(BufferedHTTPTestCase):

    def test_head_in_one_write(self):
        """The request line and headers go out in a single sendall."""
        server = self.start_server(keep_alive_handler(b'ok'))
        conn = self.connect(server)
        with mock.patch.object(conn.sock, 'sendall',
                               wraps=conn.sock.sendall) as sendall:
            conn.send_head('GET', '/v1/AUTH_a/c/o?x=1', HEAD)
        expected = (b'GET /v1/AUTH_a/c/o?x=1 HTTP/1.1\r\nHost: target\r\n'
                    b'X-Auth-Token: AUTH_tk\r\n\r\n')
        sendall.assert_called_once_with(expected)
        resp = conn.getresponse()
        self.assertEqual((200, b'ok'), (resp.status, resp.read()))
        self.assertEqual(expected, server.requests[0].raw)

    def test_keep_alive(self):
        """Several requests, one after the other, share the socket."""
        server = self.start_server(keep_alive_handler(b'body'))
        conn = self.connect(server)
        for count in (1, 2, 3):
            conn.send_head('GET', '/v1/AUTH_a/%d' % count, HEAD)
            resp = conn.getresponse()
            self.assertEqual(b'body', resp.read())
            self.assertTrue(resp.complete())
            self.assertEqual(count, conn.requests)
        self.assertEqual(1, server.accepted)
        self.assertEqual(['/v1/AUTH_a/1', '/v1/AUTH_a/2', '/v1/AUTH_a/3'],
                         [request.target for request in server.requests])

    def test_expect_100_then_final(self):
        """expect() is None on 100 Continue; the final response follows the
        body."""
        def handler(sock):
            request = sock.read_head()
            assert request.header('Expect') == '100-continue'
            sock.sendall(b'HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n')
            body = sock.read_body(request)
            sock.respond(201, b'', [('Etag', 'md5-of-%s' % body.decode())])
        server = self.start_server(handler)
        conn = self.connect(server)
        conn.send_head('PUT', '/v1/AUTH_a/c/o', HEAD + [
            ('Content-Length', '5'), ('Expect', '100-continue')])
        self.assertIsNone(conn.expect())
        conn.sock.sendall(b'hello')
        resp = conn.getresponse()
        self.assertEqual(201, resp.status)
        self.assertEqual('md5-of-hello', resp.getheader('Etag'))
        self.assertIsNone(resp.getheader('X-Interim'))
        self.assertEqual(b'hello', server.requests[0].body)

    def test_early_final_response(self):
        """A final response instead of 100 is returned by expect(), whole,
        and the server never got the body."""
        seen = []

        def handler(sock):
            sock.read_head()
            sock.respond(401, b'Unauthorized', [('Connection', 'close')])
            seen.append(sock.read_to_eof())
        server = self.start_server(handler)
        conn = self.connect(server)
        conn.send_head('PUT', '/v1/AUTH_a/c/o', HEAD + [
            ('Content-Length', '5'), ('Expect', '100-continue')])
        resp = conn.expect()
        self.assertIs(conn.response, resp)
        self.assertEqual((401, 'Unauthorized'), (resp.status, resp.reason))
        self.assertIs(resp, conn.getresponse())  # head not read twice
        self.assertEqual(b'Unauthorized', resp.read())
        conn.close()
        server.wait()
        self.assertEqual([b''], seen)

    def test_is_dropped(self):
        """An idle socket is dropped once the peer closes it, or sends
        anything unasked."""
        events = {'garbage': eventlet.Event(), 'close': eventlet.Event()}

        def handler(sock):
            request = sock.read_request()
            sock.respond(200, b'x')
            events[request.path.strip('/')].wait()
            if request.path == '/garbage':
                sock.sendall(b'HTTP/1.1 200 OK\r\n')
                sock.read_to_eof()
        server = self.start_server(handler)
        for what in ('close', 'garbage'):
            conn = self.connect(server)
            conn.send_head('GET', '/' + what, HEAD)
            conn.getresponse().read()
            self.assertFalse(conn.is_dropped())
            events[what].send()
            self.wait_for(conn.is_dropped)
            conn.close()
            self.assertTrue(conn.is_dropped())

    def test_socket_options(self):
        """TCP_NODELAY is set; later operations use node_timeout."""
        server = self.start_server(keep_alive_handler())
        conn = self.connect(server, node_timeout=7.5)
        self.assertEqual(0.5, conn.timeout)
        self.assertTrue(conn.sock.getsockopt(socket.IPPROTO_TCP,
                                             socket.TCP_NODELAY))
        self.assertEqual(7.5, conn.sock.gettimeout())

    def test_response_to_head_request(self):
        """A HEAD response has no body, whatever its Content-Length says."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n')
            sock.read_to_eof()
        server = self.start_server(handler)
        conn = self.connect(server)
        conn.send_head('HEAD', '/v1/AUTH_a/c/o', HEAD)
        resp = conn.getresponse()
        self.assertEqual('1000', resp.getheader('Content-Length'))
        self.assertTrue(resp.complete())
        self.assertEqual(b'', resp.read1(10))

    def test_chunked_head_response(self):
        """A HEAD response that names chunked coding has no body either."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n')
            sock.read_to_eof()
        server = self.start_server(handler)
        conn = self.connect(server)
        conn.send_head('HEAD', '/v1/AUTH_a/c/o', HEAD)
        resp = conn.getresponse()
        self.assertTrue(resp.complete())
        self.assertFalse(resp.will_close)

    def test_complete(self):
        """complete() is true only once the body was read to its end."""
        def handler(sock):
            sock.read_head()
            sock.respond(200, b'0123456789')
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                         b'\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n')
            sock.read_to_eof()
        server = self.start_server(handler)
        conn = self.connect(server)
        for path in ('/length', '/chunked'):
            conn.send_head('GET', path, HEAD)
            resp = conn.getresponse()
            data = b''
            while len(data) < 10:
                self.assertFalse(resp.complete(), path)
                data += resp.read1(4)
            self.assertEqual(b'0123456789', data)
            if path == '/chunked':  # the last chunk is still to be read
                self.assertFalse(resp.complete())
                self.assertEqual(b'', resp.read1(4))
            self.assertTrue(resp.complete(), path)

    def test_close_closes_response(self):
        """close() lets go of the socket at once, even while someone still
        holds the response object: the peer sees EOF."""
        seen = []

        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'part')
            seen.append(sock.read_to_eof())
        server = self.start_server(handler)
        conn = self.connect(server)
        conn.send_head('GET', '/', HEAD)
        resp = conn.getresponse()
        self.assertEqual(b'part', resp.read1(10))
        conn.close()
        self.assertIsNone(conn.response)
        server.wait(timeout=1)
        self.assertEqual([b''], seen)
        self.assertIsNone(resp.fp)


#: Header blocks, each as http.client must read it: plain ones (the fast
#: path) and every kind the email parser reads otherwise.
HEADER_BLOCKS = [
    b'Content-Length: 5\r\nEtag: "abc"\r\nX-Trans-Id: tx1\r\n\r\n',
    b'A: 1\r\na: 2\r\nA: 3\r\nB:\r\nC:   \r\nD:\t x \t\r\n\r\n',
    b'X-Object-Meta-Caf\xe9: \xe9t\xe9\r\n\r\n',
    b'LF-Only: yes\nOther: 1\n\n',
    b'No-Blank-Line: 1\r\n',
    b'',
    b'Folded: one\r\n two\r\n\tthree\r\nAfter: x\r\n\r\n',
    b'Bad Name: x\r\nLater: y\r\n\r\n',
    b'Bare: a\rb\r\nNext: 1\r\n\r\n',
    b'Cr-End: a\r\r\n\r\n',
    b':empty-name\r\nX: 1\r\n\r\n',
    b'From someone\r\nX: 1\r\n\r\n',
    b'no colon at all\r\nX: 1\r\n\r\n',
    b'X: 1\r\n   \r\nY: 2\r\n\r\n',
    b'Colon:in:value: a:b\r\n\r\n',
]


class TestParseHeaderBlock(unittest.TestCase):
    """The response head as http.client reads it, byte for byte."""

    def test_same_as_http_client(self):
        """Read line by line, or at once from a buffer that holds the whole
        block (and from one too small for it): the same headers, and the
        same bytes left for the body."""
        blocks = HEADER_BLOCKS + [
            b'X: 1\r\n\r\n\r\n', b'X: 1\n\r\n', b'X: 1\r\nY: 2\n\nZ: 3\r\n\r\n',
            b'\r\nX: 1\r\n\r\n', b'\nX: 1\r\n\r\n', b'X: 1\r\n\r',
            b'X: %s\r\n\r\n' % (b'y' * 70000)]
        for block in blocks:
            for fp in self.files(block + b'BODY\r\n\r\nMORE'):
                try:
                    expected = std_http_client.parse_headers(
                        io.BytesIO(block + b'BODY\r\n\r\nMORE'))
                except std_http_client.HTTPException as err:
                    # the green http.client's exception of the same name
                    with self.assertRaises(getattr(
                            bufferedhttp.http_client, type(err).__name__)):
                        parse_header_block(fp)
                    continue
                pairs, message = parse_header_block(fp)
                self.assertEqual(list(expected.items()), pairs, block)
                if message is None:  # plain pairs: made when asked for
                    message = bufferedhttp.message_of(pairs)
                self.assertEqual(list(expected.items()),
                                 list(message.items()), block)
                self.assertEqual([type(d) for d in expected.defects],
                                 [type(d) for d in message.defects], block)
                rest = io.BytesIO(block + b'BODY\r\n\r\nMORE')
                std_http_client.parse_headers(rest)
                self.assertEqual(rest.read(), fp.read(), block)

    def test_buffered_block_read_at_once(self):
        """A block all in the buffer, ending in a CRLF line: one read, no
        line-by-line reading."""
        class Reader(io.BufferedReader):
            lines = 0

            def readline(self, *args):
                Reader.lines += 1
                return super().readline(*args)
        fp = Reader(io.BytesIO(HEADER_BLOCKS[0] + b'BODY'), 4096)
        pairs, _message = parse_header_block(fp)
        self.assertEqual(3, len(pairs))
        self.assertEqual((0, b'BODY'), (Reader.lines, fp.read()))

    @staticmethod
    def files(data):
        """The same bytes as a file without peek(), and buffered (peek()
        then shows what is buffered), in a large and a small buffer."""
        return [io.BytesIO(data), io.BufferedReader(io.BytesIO(data), 1 << 20),
                io.BufferedReader(io.BytesIO(data), 8)]

    def test_getheader_as_http_client(self):
        """getheader() joins repeated headers, and the response's framing
        (length, chunked, will_close) is http.client's."""
        heads = [b'HTTP/1.1 200 OK\r\n' + block for block in HEADER_BLOCKS
                 if block.endswith(b'\n\n')] + [
            b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n'
            b'Content-Length: 9\r\n\r\n',
            b'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n'
            b'Content-Length: 7\r\n\r\n',
            b'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\n\r\n',
            b'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n',
            b'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n'
            b'Connection: keep-alive\r\n\r\n',
            b'HTTP/1.0 200 OK\r\nKeep-Alive: 5\r\n\r\n',
            b'HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\n\r\n',
            b'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n',
            b'HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n',
            b'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n',
            b'HTTP/1.1 100 Continue\r\nX: 1\r\n\r\n'
            b'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
        ]

        class Sock(object):
            def __init__(self, data):
                self.data = data

            def makefile(self, mode):
                return io.BytesIO(self.data)
        names = ['Content-Length', 'a', 'B', 'c', 'd', 'Transfer-Encoding',
                 'X-Object-Meta-Caf\xe9', 'missing', 'Folded', 'bare']
        for head in heads:
            for method in ('GET', 'HEAD'):
                ours = BufferedHTTPResponse(Sock(head), method=method)
                theirs = std_http_client.HTTPResponse(Sock(head), method=method)
                ours.begin()
                theirs.begin()
                for attr in ('status', 'reason', 'version', 'chunked',
                             'length', 'will_close'):
                    self.assertEqual(getattr(theirs, attr),
                                     getattr(ours, attr), (head, attr))
                self.assertEqual(theirs.getheaders(), ours.getheaders())
                self.assertEqual(list(theirs.msg.items()),
                                 list(ours.msg.items()))
                self.assertIs(ours.msg, ours.headers)
                for name in names:
                    self.assertEqual(theirs.getheader(name),
                                     ours.getheader(name), (head, name))
                    self.assertEqual(theirs.getheader(name, ['d', 'e']),
                                     ours.getheader(name, ['d', 'e']))

    def test_random_heads_as_green_http_client(self):
        """Heads made at random from what trips parsers (bare CRs and LFs,
        folds, blanks, NUL, VT, NEL, colons, odd names, 100 Continue first
        with a blank-looking line) read as the green http.client, which the
        forwarder used before, reads them: the same headers, framing and
        bytes left for the body, or the same error."""
        green = bufferedhttp.http_client
        atoms = [b'X', b'Content-Length', b'Connection', b'Transfer-Encoding',
                 b'Set-Cookie', b':', b': ', b' ', b'\t', b'\r', b'\n',
                 b'\r\n', b'\r\n', b'\r\n', b'\r\n ', b'\n\r\n', b'\x00',
                 b'\x0b', b'\x85', b'\xe9', b'\x7f', b'From ', b'5', b'-1',
                 b'chunked', b'close', b'keep-alive', b'(']
        interim = [b'', b'HTTP/1.1 100 Continue\r\nA: 1\r\n\r\n',
                   b'HTTP/1.1 100 Continue\r\n \r\nA: 1\r\n\r\n']
        rnd = random.Random(15)

        class Sock(object):
            def __init__(self, data, size):
                self.data, self.size = data, size

            def makefile(self, mode):
                return io.BufferedReader(io.BytesIO(self.data), self.size)

        def read(resp):
            try:
                resp.begin()
            except green.HTTPException as err:
                return type(err)
            return (resp.status, resp.version, resp.chunked, resp.length,
                    resp.will_close, resp.getheaders(), list(resp.msg.items()),
                    [resp.getheader(name) for name in (
                        'content-length', 'connection', 'x', 'set-cookie',
                        'transfer-encoding', 'missing')], resp.fp.read())
        for _ in range(600):
            block = b''.join(rnd.choice(atoms) for _ in range(
                rnd.randint(0, 24))) + rnd.choice([b'\r\n\r\n', b'\n\n', b''])
            head = rnd.choice(interim) + b'HTTP/1.%d 200 OK\r\n' % (
                rnd.randint(0, 1)) + block + b'BODY\r\n\r\nMORE'
            for size in (8, 8192):
                for method in ('GET', 'HEAD'):
                    self.assertEqual(
                        read(green.HTTPResponse(Sock(head, size), method=method)),
                        read(BufferedHTTPResponse(Sock(head, size),
                                                  method=method)),
                        head)

    def test_too_many_headers(self):
        """http.client's bounds: _MAXHEADERS lines (the blank one counts;
        Swift's bufferedhttp raises it), 64 KiB a line."""
        green = bufferedhttp.http_client
        most = int(green._MAXHEADERS)
        for block in (b'X: 1\r\n' * most + b'\r\n',
                      b'X: ' + b'y' * 65536 + b'\r\n\r\n'):
            with self.assertRaises(green.HTTPException):
                green.parse_headers(io.BytesIO(block))
            for fp in TestParseHeaderBlock.files(block):
                with self.assertRaises(green.HTTPException):
                    parse_header_block(fp)
        block = b'X: 1\r\n' * (most - 1) + b'\r\n'
        for fp in TestParseHeaderBlock.files(block):
            self.assertEqual(len(green.parse_headers(io.BytesIO(block))),
                             len(parse_header_block(fp)[0]))
        with mock.patch.object(green, '_MAXHEADERS', 3):
            for fp in TestParseHeaderBlock.files(b'X: 1\r\n' * 3 + b'\r\n'):
                with self.assertRaises(green.HTTPException):
                    parse_header_block(fp)
            for fp in TestParseHeaderBlock.files(b'X: 1\r\n' * 2 + b'\r\n'):
                self.assertEqual(2, len(parse_header_block(fp)[0]))


class TestTLS(BufferedHTTPTestCase):
    """A scripted TLS server with a certificate made for the test."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp()
        cls.cert, cls.key = make_cert(cls.tmpdir)
        cls.other_cert, cls.other_key = make_cert(
            cls.tmpdir, hosts=('www.example.com',), name='other')
        cls.client_cert, cls.client_key = make_cert(
            cls.tmpdir, hosts=('client',), name='client')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    def tls_request(self, context, expect_errors=False, server_cert=None,
                    client_ca=None):
        cert, key = server_cert or (self.cert, self.key)
        server = self.start_server(
            keep_alive_handler(b'secret'), expect_errors=expect_errors,
            wrap=tls_wrapper(cert, key, client_ca=client_ca))
        conn = self.connect(server, conn_cls=BufferedHTTPSConnection,
                            context=context)
        conn.send_head('GET', '/v1/AUTH_a', HEAD)
        resp = conn.getresponse()
        return conn, resp.status, resp.read()

    def test_verified_with_ca_certs(self):
        """The target's certificate verifies against ca_certs."""
        conn, status, body = self.tls_request(make_ssl_context(self.cert))
        self.assertEqual((200, b'secret'), (status, body))
        self.assertIn(conn.sock.version(), ('TLSv1.2', 'TLSv1.3'))
        self.assertTrue(conn.sock.getsockopt(socket.IPPROTO_TCP,
                                             socket.TCP_NODELAY))

    def test_refused_without_ca_certs(self):
        """Without ca_certs an unknown certificate is refused at connect."""
        with self.assertRaises(std_ssl.SSLCertVerificationError):
            self.tls_request(make_ssl_context(), expect_errors=True)

    def test_failed_handshake_closes_at_once(self):
        """A refused certificate closes the socket right away, even while
        the exception (and its traceback) is still referenced and no
        garbage collection runs."""
        server = self.start_server(
            keep_alive_handler(b'secret'), expect_errors=True,
            wrap=tls_wrapper(self.cert, self.key))
        conn = BufferedHTTPSConnection('127.0.0.1', server.port, 0.5, 1.0,
                                       context=make_ssl_context())
        gc.disable()
        try:
            try:
                conn.connect()
            except std_ssl.SSLCertVerificationError as err:
                held = err.__traceback__  # the frames, with their locals
            self.assertIsNotNone(held)
            self.assertEqual([], tcp_connections(os.getpid(),
                                                 remote_port=server.port))
        finally:
            del held
            gc.enable()

    def test_refused_for_other_host(self):
        """A trusted certificate for another host name is refused."""
        with self.assertRaises(std_ssl.SSLCertVerificationError) as caught:
            self.tls_request(make_ssl_context(self.other_cert),
                             expect_errors=True,
                             server_cert=(self.other_cert, self.other_key))
        self.assertIn('127.0.0.1', str(caught.exception))

    def test_insecure_accepted(self):
        """insecure skips verification (for tests only)."""
        context = make_ssl_context(insecure=True)
        self.assertEqual(std_ssl.CERT_NONE, context.verify_mode)
        self.assertFalse(context.check_hostname)
        _conn, status, body = self.tls_request(context)
        self.assertEqual((200, b'secret'), (status, body))

    def test_default_context_verifies(self):
        """By default certificates and host names are checked."""
        context = make_ssl_context()
        self.assertEqual(std_ssl.CERT_REQUIRED, context.verify_mode)
        self.assertTrue(context.check_hostname)

    def test_client_certificate(self):
        """cert_file/key_file are presented to a target that asks."""
        context = make_ssl_context(self.cert, cert_file=self.client_cert,
                                   key_file=self.client_key)
        _conn, status, body = self.tls_request(context,
                                               client_ca=self.client_cert)
        self.assertEqual((200, b'secret'), (status, body))

    def test_client_certificate_missing(self):
        """A target that requires a client certificate refuses us
        without one (the check that the test above means something)."""
        with self.assertRaises(OSError):
            self.tls_request(make_ssl_context(self.cert),
                             client_ca=self.client_cert, expect_errors=True)

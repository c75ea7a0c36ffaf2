# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.iterators, on real loopback sockets."""

import hashlib
import io
import itertools
import time
import unittest
from unittest import mock

import eventlet
import eventlet.wsgi
from greenlet import GreenletExit

from swift_forwarder.exceptions import ClientDisconnect, ClientTimeout, \
    EtagMismatch, UpstreamBodyError, UpstreamTimeout
from swift_forwarder.iterators import RequestBody, ResponseBody, \
    arrived_bytes

from test.unit.helpers import GreenTestCase, keep_alive_handler, \
    listen_zero


class TestRequestBody(GreenTestCase):
    """The client's upload, read from a real socket as wsgi.input."""

    def client_input(self, script):
        """A connected socket pair: ``script(client_sock)`` runs in a
        greenlet as the client; returns the server side's read file."""
        listener = self.closing(listen_zero())
        client = self.closing(eventlet.connect(listener.getsockname()))
        server_sock, _addr = listener.accept()
        self.closing(server_sock)
        wsgi_input = self.closing(server_sock.makefile('rb'))
        thread = eventlet.spawn(script, client)
        self.addCleanup(thread.kill)
        return wsgi_input

    def test_chunking(self):
        """Reads come in chunk_size pieces, never past Content-Length."""
        def client(sock):
            sock.sendall(b'x' * 25 + b'NEXT REQUEST')
        body = RequestBody(self.client_input(client), 25, 10, 1)
        chunks = list(body)
        self.assertEqual([10, 10, 5], [len(chunk) for chunk in chunks])
        self.assertEqual(b'x' * 25, b''.join(chunks))
        self.assertEqual(25, body.bytes_read)

    def test_chunked_input(self):
        """Without a length, reads go on until wsgi.input says EOF."""
        def client(sock):
            sock.sendall(b'y' * 12)
            sock.shutdown(eventlet.green.socket.SHUT_WR)
        body = RequestBody(self.client_input(client), None, 5, 1)
        self.assertEqual(b'y' * 12, b''.join(body))
        self.assertEqual(12, body.bytes_read)

    def test_short_body(self):
        """A client that closes before Content-Length bytes is a
        ClientDisconnect (499) saying how far it got."""
        def client(sock):
            sock.sendall(b'z' * 40)
            sock.close()
        body = RequestBody(self.client_input(client), 100, 16, 1)
        with self.assertRaises(ClientDisconnect) as caught:
            list(body)
        self.assertEqual(499, caught.exception.status_hint)
        self.assertIn('after 40 of 100 bytes', str(caught.exception))
        self.assertEqual(40, body.bytes_read)

    def test_stall(self):
        """A client that stops sending mid-body is a ClientTimeout (408)
        after client_timeout."""
        def client(sock):
            sock.sendall(b'a' * 10)
            eventlet.sleep(5)
        body = iter(RequestBody(self.client_input(client), 100, 10, 0.1))
        self.assertEqual(b'a' * 10, next(body))
        start = time.monotonic()
        with self.assertRaises(ClientTimeout) as caught:
            next(body)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual(408, caught.exception.status_hint)
        self.assertIn('within 0.1s after 10 bytes', str(caught.exception))

    def test_broken_input(self):
        """wsgi.input errors (a broken chunked body, a reset) are a
        ClientDisconnect."""
        class Broken(object):
            def __init__(self, err):
                self.err = err

            def read(self, size):
                raise self.err
        for err in (ValueError('invalid chunk size'),
                    ConnectionResetError('reset'), OSError('unexpected EOF')):
            body = RequestBody(Broken(err), None, 10, 1)
            with self.assertRaises(ClientDisconnect) as caught:
                list(body)
            self.assertIn(str(err), str(caught.exception))

    def test_zero_length(self):
        """A zero Content-Length reads nothing at all."""
        class NoRead(object):
            def read(self, size):
                raise AssertionError('read')
        self.assertEqual([], list(RequestBody(NoRead(), 0, 10, 1)))

    def test_reads_what_has_arrived(self):
        """With ``arrived``, a read takes what has arrived when that is more
        than chunk_size (up to READ_AHEAD times it, never past
        Content-Length), and chunk_size otherwise; ``arrived`` is not asked
        when what is left fits in one chunk."""
        sizes, asked = [], []

        class Spy(object):
            def read(self, size):
                sizes.append(size)
                return b'x' * size
        arrived = itertools.chain([5, 10 ** 6, 300, 15], itertools.repeat(0))
        body = RequestBody(Spy(), 1000, 10, 1,
                           arrived=lambda: asked.append(1) or next(arrived))
        self.assertEqual(1000, len(b''.join(body)))
        # 5 arrived: 10; 10 ** 6: 160 (READ_AHEAD x 10); 300: 160; 15: 15;
        # then nothing: 10 at a time; the last 5 without asking
        self.assertEqual([10, 160, 160, 15] + [10] * 65 + [5], sizes)
        self.assertEqual(4 + 65, len(asked))

    def test_arrived_needs_eventlet_input(self):
        """Where the bytes that arrived cannot be known, reads are
        chunk_size ones: no eventlet input, another wsgi.input in front of
        it, a chunked upload."""
        listener = self.closing(listen_zero())
        client = self.closing(eventlet.connect(listener.getsockname()))
        server_sock, _addr = listener.accept()
        self.closing(server_sock)
        rfile = self.closing(server_sock.makefile('rb'))
        source = eventlet.wsgi.Input(rfile, 100, server_sock)
        self.assertIsNone(arrived_bytes({'wsgi.input': source}))
        self.assertIsNone(arrived_bytes({'wsgi.input': io.BytesIO(b'x'),
                                         'eventlet.input': source}))
        chunked = eventlet.wsgi.Input(rfile, None, server_sock,
                                      chunked_input=True)
        self.assertIsNone(arrived_bytes({'wsgi.input': chunked,
                                         'eventlet.input': chunked}))
        arrived = arrived_bytes({'wsgi.input': source,
                                 'eventlet.input': source})
        self.assertEqual(0, arrived())
        client.sendall(b'y' * 70)
        for _ in range(100):
            if arrived() == 70:
                break
            eventlet.sleep(0.01)
        self.assertEqual(70, arrived())
        body = RequestBody(source, 100, 10, 1, arrived=arrived)
        self.assertEqual(b'y' * 70, next(iter(body)))
        with mock.patch('fcntl.ioctl', side_effect=OSError(9, 'EBADF')):
            self.assertEqual(0, arrived())

    def test_arrived_through_input_proxy(self):
        """Swift's InputProxy (proxy-logging's byte counter) passes bytes
        through as they are: what arrived is known through it."""
        from swift.common.utils import InputProxy
        listener = self.closing(listen_zero())
        client = self.closing(eventlet.connect(listener.getsockname()))
        server_sock, _addr = listener.accept()
        self.closing(server_sock)
        source = eventlet.wsgi.Input(self.closing(server_sock.makefile('rb')),
                                     100, server_sock)
        client.sendall(b'z' * 30)
        arrived = arrived_bytes({'wsgi.input': InputProxy(InputProxy(source)),
                                 'eventlet.input': source})
        for _ in range(100):
            if arrived() == 30:
                break
            eventlet.sleep(0.01)
        self.assertEqual(30, arrived())


class TestResponseBody(GreenTestCase):
    """The upstream response body over a pooled connection."""

    def response(self, handler, method='GET', chunk_size=4, node_timeout=1.0,
                 on_close=None):
        """Start ``handler``, send one request, return (pool, body)."""
        server = self.start_server(handler)
        pool = self.make_pool(server.port, node_timeout=node_timeout)
        conn = pool.get()
        conn.send_head(method, '/v1/AUTH_a/c/o', [('Host', 'target')])
        conn.getresponse()
        return server, pool, ResponseBody(pool, conn, chunk_size, on_close)

    def test_read_to_eof_pools_connection(self):
        """Read to its end, the connection goes back to the pool at the last
        byte, before close()."""
        closed = []
        server, pool, body = self.response(keep_alive_handler(b'0123456789'),
                                           on_close=closed.append)
        chunks = []
        for chunk in body:
            chunks.append(chunk)
            if len(b''.join(chunks)) == 10:
                self.assertTrue(body.complete)
                self.assertStats(pool, in_use=0, idle=1, discarded=0)
        self.assertEqual([b'0123', b'4567', b'89'], chunks)
        self.assertEqual(10, body.bytes_sent)
        self.assertEqual([body], closed)  # StopIteration closed it
        body.close()
        self.assertStats(pool, in_use=0, idle=1, created=1, discarded=0)
        conn = pool.get()  # and the next request reuses the socket
        conn.send_head('GET', '/again', [('Host', 'target')])
        self.assertEqual(b'0123456789', conn.getresponse().read())
        pool.put(conn)
        self.assertEqual(1, server.accepted)

    def test_close_before_eof_discards(self):
        """close() before the end closes the socket at once: the target
        sees EOF, the slot is free."""
        seen = []

        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123456789')
            seen.append(sock.read_to_eof())
        closed = []
        server, pool, body = self.response(handler, on_close=closed.append)
        self.assertEqual(b'0123', next(body))
        body.close()
        self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
        self.assertFalse(body.complete)
        self.assertEqual([body], closed)
        server.wait(timeout=1)
        self.assertEqual([b''], seen)  # while we still hold ``body``
        self.assertRaises(StopIteration, next, body)

    def test_foreign_exception_discards_at_once(self):
        """An exception no read error (an eventlet Timeout of the
        caller's, GreenletExit) drops the socket as it passes through, not
        only at close()."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123456789')
            sock.read_to_eof()
        for error in (eventlet.Timeout(), GreenletExit(), KeyboardInterrupt()):
            server, pool, body = self.response(handler)
            self.assertEqual(b'0123', next(body))
            with mock.patch.object(body._resp, 'read1', side_effect=error):
                with self.assertRaises(type(error)):
                    next(body)
            self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
            body.close()
            self.assertStats(pool, in_use=0, idle=0, created=1, discarded=1)
            if isinstance(error, eventlet.Timeout):
                error.cancel()

    def test_discard_after_reuse(self):
        """A reused connection that is discarded really closes, even while
        the previous request's finished body is still referenced."""
        seen = []

        def handler(sock):
            sock.read_request()
            sock.respond(200, b'first')
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')
            seen.append(sock.read_to_eof())
        server, pool, first = self.response(handler, chunk_size=64)
        self.assertEqual(b'first', b''.join(first))
        self.assertStats(pool, in_use=0, idle=1)
        conn = pool.get()
        conn.send_head('GET', '/second', [('Host', 'target')])
        conn.getresponse()
        second = ResponseBody(pool, conn, 64)
        second.close()  # the client went away
        self.assertStats(pool, in_use=0, idle=0, reused=1, discarded=1)
        server.wait(timeout=1)
        self.assertEqual([b''], seen)  # ``first`` is still alive here
        self.assertTrue(first.complete)

    def test_close_twice(self):
        """close() is safe to repeat; on_close runs once."""
        closed = []
        server, pool, body = self.response(keep_alive_handler(b'x' * 20),
                                           on_close=closed.append)
        next(body)
        body.close()
        body.close()
        self.assertEqual([body], closed)
        self.assertStats(pool, in_use=0, discarded=1)

    def test_close_after_eof_keeps_connection(self):
        """close() after the last byte keeps the pooled connection."""
        server, pool, body = self.response(keep_alive_handler(b'abc'),
                                           chunk_size=3)
        self.assertEqual(b'abc', next(body))
        self.assertStats(pool, in_use=0, idle=1)
        body.close()
        body.close()
        self.assertStats(pool, in_use=0, idle=1, discarded=0)

    def test_truncated_content_length(self):
        """A body shorter than its Content-Length raises UpstreamBodyError
        (the client's stream is aborted, never cleanly short) and the
        socket is dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123456789')
        server, pool, body = self.response(handler, chunk_size=64)
        self.assertEqual(b'0123456789', next(body))
        with self.assertRaises(UpstreamBodyError) as caught:
            next(body)
        self.assertEqual(502, caught.exception.status_hint)
        self.assertIn('ended early after 10 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        self.assertRaises(StopIteration, next, body)
        body.close()
        self.assertStats(pool, in_use=0, discarded=1)

    def test_chunked(self):
        """A chunked body is relayed whole and the connection pooled."""
        def handler(sock):
            while sock.read_head():
                sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                             b'\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n')
        server, pool, body = self.response(handler, chunk_size=64)
        self.assertEqual(b'abcdefgh', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=1, discarded=0)

    def test_truncated_chunked(self):
        """A chunked body that breaks off raises UpstreamBodyError."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                         b'\r\n\r\n3\r\nabc\r\n5\r\nde')
        server, pool, body = self.response(handler, chunk_size=64)
        with self.assertRaises(UpstreamBodyError) as caught:
            b''.join(body)
        self.assertIn('broke off after 5 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_read_timeout(self):
        """A target that stalls mid-body: UpstreamTimeout after
        node_timeout, socket dropped."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
                         b'0123')
            sock.read_to_eof()
        server, pool, body = self.response(handler, node_timeout=0.1)
        self.assertEqual(b'0123', next(body))
        start = time.monotonic()
        with self.assertRaises(UpstreamTimeout) as caught:
            next(body)
        self.assertLess(time.monotonic() - start, 1)
        self.assertEqual(504, caught.exception.status_hint)
        self.assertIn('no data for 0.1s after 4 bytes', str(caught.exception))
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        body.close()

    def test_connection_close_not_pooled(self):
        """A response with Connection: close is read whole but its socket
        is closed, not pooled."""
        server, pool, body = self.response(
            keep_alive_handler(b'bye', headers=[('Connection', 'close')]))
        self.assertEqual(b'bye', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_read_until_close(self):
        """No length and not chunked: the body ends when the target closes;
        complete, but the socket is not reusable."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\n\r\nuntil the end')
        server, pool, body = self.response(handler)
        self.assertEqual(b'until the end', b''.join(body))
        self.assertTrue(body.complete)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_no_body_responses(self):
        """HEAD, 204 and 304 have no body: nothing is read, the connection
        is pooled, even when the head says chunked."""
        responses = {
            '/head': b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
            '/head-chunked': b'HTTP/1.1 200 OK\r\n'
                             b'Transfer-Encoding: chunked\r\n\r\n',
            '/204': b'HTTP/1.1 204 No Content\r\n\r\n',
            '/304': b'HTTP/1.1 304 Not Modified\r\nEtag: x\r\n\r\n',
            '/304-chunked': b'HTTP/1.1 304 Not Modified\r\n'
                            b'Transfer-Encoding: chunked\r\n\r\n',
        }

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                sock.sendall(responses[request.path])
        server = self.start_server(handler)
        pool = self.make_pool(server.port, maxsize=1, node_timeout=0.5)
        for path in sorted(responses):
            conn = pool.get()
            method = 'HEAD' if path.startswith('/head') else 'GET'
            conn.send_head(method, path, [('Host', 'target')])
            conn.getresponse()
            body = ResponseBody(pool, conn, 64)
            self.assertEqual([], list(body), path)
            self.assertTrue(body.complete, path)
            self.assertStats(pool, in_use=0, idle=1, discarded=0)
        self.assertEqual(1, server.accepted)
        self.assertEqual(len(responses), len(server.requests))

    def test_error_reading(self):
        """Garbage where a chunk size should be is an UpstreamBodyError."""
        def handler(sock):
            sock.read_head()
            sock.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'
                         b'\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')
        server, pool, body = self.response(handler)
        with self.assertRaises(UpstreamBodyError):
            list(body)
        self.assertStats(pool, in_use=0, discarded=1)


class TestRequestBodyChecksum(unittest.TestCase):
    """RequestBody(checksum=True) keeps the MD5 of what it read."""

    def test_md5(self):
        """The MD5 covers every byte read, across chunks."""
        data = bytes(range(256)) * 40
        for length in (len(data), None):
            body = RequestBody(io.BytesIO(data), length, 999, 1,
                               checksum=True)
            self.assertEqual(hashlib.md5(b'').hexdigest(),
                             body.md5.hexdigest())
            self.assertEqual(data, b''.join(body))
            self.assertEqual(hashlib.md5(data).hexdigest(),
                             body.md5.hexdigest())

    def test_md5_of_what_was_read(self):
        """A body cut short: the MD5 is of the bytes actually read."""
        body = RequestBody(io.BytesIO(b'partial'), 100, 3, 1, checksum=True)
        with self.assertRaises(ClientDisconnect):
            list(body)
        self.assertEqual(hashlib.md5(b'partial').hexdigest(),
                         body.md5.hexdigest())

    def test_off_by_default(self):
        """No checksum asked: no MD5 kept."""
        body = RequestBody(io.BytesIO(b'data'), 4, 10, 1)
        self.assertEqual(b'data', b''.join(body))
        self.assertIsNone(body.md5)


DATA = b'abcdefghijklmnopqrst'
DATA_MD5 = hashlib.md5(DATA).hexdigest()


def head(status, headers):
    """A response head as bytes."""
    lines = ['HTTP/1.1 %s' % status] + ['%s: %s' % pair for pair in headers]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def whole_then_cut(cut, etag=DATA_MD5):
    """A 200 for DATA that breaks off after ``cut`` bytes."""
    return head('200 OK', [('Content-Length', len(DATA)),
                           ('Etag', etag)]) + DATA[:cut]


def range_start(request):
    """The first byte of a ``Range: bytes=N-[M]`` request header."""
    return int(request.header('Range')[len('bytes='):].split('-')[0])


class TestResponseBodyEtag(GreenTestCase):
    """The MD5 of the whole body against the ETag, at EOF."""

    def response(self, data, etag, chunk_size=4, on_close=None):
        server = self.start_server(keep_alive_handler(data))
        pool = self.make_pool(server.port)
        conn = pool.get()
        conn.send_head('GET', '/v1/AUTH_a/c/o', [('Host', 'target')])
        conn.getresponse()
        return pool, ResponseBody(pool, conn, chunk_size, on_close=on_close,
                                  etag=etag)

    def test_match(self):
        """Matching MD5: every byte, complete, the connection pooled."""
        closed = []
        pool, body = self.response(DATA, DATA_MD5, on_close=closed.append)
        self.assertEqual(DATA, b''.join(body))
        self.assertTrue(body.complete)
        self.assertIsNone(body.error)
        self.assertEqual([body], closed)
        self.assertStats(pool, in_use=0, idle=1, discarded=0)

    def test_mismatch_withholds_last_chunk(self):
        """A mismatch raises EtagMismatch instead of the last chunk: the
        client gets fewer bytes than the body, and the socket is dropped."""
        closed = []
        wrong = hashlib.md5(b'something else').hexdigest()
        pool, body = self.response(DATA, wrong, on_close=closed.append)
        chunks = []
        with self.assertRaises(EtagMismatch) as caught:
            for chunk in body:
                chunks.append(chunk)
        self.assertEqual(DATA[:16], b''.join(chunks))
        self.assertEqual(16, body.bytes_sent)
        err = caught.exception
        self.assertEqual(502, err.status_hint)
        self.assertIn('body MD5 %s, ETag %s' % (DATA_MD5, wrong), str(err))
        self.assertIs(err, body.error)
        self.assertFalse(body.complete)
        self.assertStats(pool, in_use=0, idle=0, discarded=1)
        self.assertRaises(StopIteration, next, body)
        self.assertEqual([body], closed)
        body.close()
        self.assertStats(pool, in_use=0, idle=0, discarded=1)

    def test_mismatch_single_chunk(self):
        """A body read in one chunk: the client gets nothing of it."""
        pool, body = self.response(DATA, '0' * 32, chunk_size=64)
        self.assertRaises(EtagMismatch, next, body)
        self.assertEqual(0, body.bytes_sent)
        body.close()
        self.assertStats(pool, in_use=0, discarded=1)


class TestResponseBodyResume(GreenTestCase):
    """A body that breaks off goes on from the next byte, via resume()."""

    def start(self, handler, node_timeout=1.0, maxsize=4):
        self.server = self.start_server(handler)
        self.pool = self.make_pool(self.server.port,
                                   node_timeout=node_timeout,
                                   maxsize=maxsize)
        self.offsets = []
        conn = self.pool.get()
        conn.send_head('GET', '/v1/AUTH_a/c/o', [('Host', 'target')])
        conn.getresponse()
        return conn

    def resume(self, offset):
        """Ask for the rest from ``offset`` on a fresh connection (what the
        middleware's resumer does, without If-Match)."""
        self.offsets.append(offset)
        conn = self.pool.get(fresh=True)
        conn.send_head('GET', '/v1/AUTH_a/c/o', [
            ('Host', 'target'), ('Range', 'bytes=%d-' % offset)])
        conn.getresponse()
        return conn

    def partial_handler(self, cut=8, tail=None, stall=False):
        """Connection 1 breaks off (or stalls) after ``cut`` bytes; later
        connections answer a 206 for the rest (only ``tail`` bytes of it,
        then close, if set)."""
        def handler(sock):
            request = sock.read_head()
            if sock.server.accepted == 1:
                sock.sendall(whole_then_cut(cut))
                if stall:
                    sock.read_to_eof()
                return
            start = range_start(request)
            rest = DATA[start:]
            sock.sendall(head('206 Partial Content', [
                ('Content-Length', len(rest)), ('Etag', DATA_MD5),
                ('Content-Range', 'bytes %d-%d/%d' % (
                    start, len(DATA) - 1, len(DATA)))]) + rest[:tail])
            if tail is None:
                sock.read_to_eof()
        return handler

    def test_resume_after_break(self):
        """The target hangs up mid-body: the rest comes from a second
        connection; the bytes yielded are exactly the body, once."""
        closed = []
        conn = self.start(self.partial_handler(cut=8))
        body = ResponseBody(self.pool, conn, 4, on_close=closed.append,
                            etag=DATA_MD5, resume=self.resume,
                            max_resumes=2)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual([8], self.offsets)
        self.assertEqual(1, body.resumes)
        self.assertTrue(body.complete)
        self.assertIsNone(body.error)
        self.assertEqual(len(DATA), body.bytes_sent)
        self.assertEqual([body], closed)
        self.assertEqual('bytes=8-', self.server.requests[1].header('Range'))
        self.assertStats(self.pool, in_use=0, idle=1, created=2,
                         discarded=1)

    def test_lazy_resume(self):
        """A lazy resumer is asked for the resume only when the body breaks
        off, once; if it has none, the break is the body's error, no
        resume counted."""
        made = []

        class Lazy(object):
            lazy = True

            def __init__(self, resume):
                self.resume = resume

            def __call__(self):
                made.append(1)
                return self.resume
        whole = self.start(keep_alive_handler(DATA))
        body = ResponseBody(self.pool, whole, 4, resume=Lazy(self.resume),
                            max_resumes=2)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual([], made)
        conn = self.start(self.partial_handler(cut=8))
        body = ResponseBody(self.pool, conn, 4, resume=Lazy(self.resume),
                            max_resumes=2)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual([1], made)
        self.assertEqual(([8], 1), (self.offsets, body.resumes))
        conn = self.start(self.partial_handler(cut=8))
        body = ResponseBody(self.pool, conn, 4, resume=Lazy(None),
                            max_resumes=2)
        with self.assertRaises(UpstreamBodyError) as caught:
            b''.join(body)
        self.assertIs(caught.exception, body.error)
        self.assertEqual(([1, 1], 0), (made, body.resumes))

    def test_resume_after_stall(self):
        """A target that stalls past node_timeout is resumed too."""
        conn = self.start(self.partial_handler(cut=6, stall=True),
                          node_timeout=0.1)
        body = ResponseBody(self.pool, conn, 4, etag=DATA_MD5,
                            resume=self.resume, max_resumes=1)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual([6], self.offsets)
        self.assertTrue(body.complete)

    def test_resume_with_single_pool_slot(self):
        """The broken connection's slot is freed before the resume asks
        for a new one (pool_size 1 must not deadlock)."""
        conn = self.start(self.partial_handler(cut=8), maxsize=1)
        body = ResponseBody(self.pool, conn, 4, resume=self.resume,
                            max_resumes=1)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual(1, body.resumes)

    def test_resumes_exhausted(self):
        """Every connection breaks off: after max_resumes the error is
        raised (the client's stream is aborted), every connection gone."""
        closed = []
        conn = self.start(self.partial_handler(cut=4, tail=4))
        body = ResponseBody(self.pool, conn, 64, on_close=closed.append,
                            etag=DATA_MD5, resume=self.resume,
                            max_resumes=2)
        chunks = []
        with self.assertRaises(UpstreamBodyError) as caught:
            for chunk in body:
                chunks.append(chunk)
        self.assertEqual(DATA[:12], b''.join(chunks))
        self.assertEqual([4, 8], self.offsets)
        self.assertEqual(2, body.resumes)
        self.assertIs(caught.exception, body.error)
        self.assertIn('after 12 bytes', str(caught.exception))
        self.assertFalse(body.complete)
        body.close()
        self.assertEqual([body], closed)
        self.assertStats(self.pool, in_use=0, idle=0, created=3,
                         discarded=3)

    def test_failed_resume_counts(self):
        """A resume that fails (raises a ForwarderError) uses up one of
        the resumes; the next one may still work."""
        conn = self.start(self.partial_handler(cut=8))
        calls = []

        def resume(offset):
            calls.append(offset)
            if len(calls) == 1:
                raise UpstreamBodyError(self.pool.name, 'resume got 412')
            return self.resume(offset)
        body = ResponseBody(self.pool, conn, 4, resume=resume,
                            max_resumes=2)
        self.assertEqual(DATA, b''.join(body))
        self.assertEqual([8, 8], calls)
        self.assertEqual(2, body.resumes)

    def test_failed_resumes_exhausted(self):
        """Resumes that all fail: the last resume error is raised."""
        conn = self.start(self.partial_handler(cut=8))

        def resume(offset):
            raise UpstreamBodyError(self.pool.name, 'resume %d' % offset)
        body = ResponseBody(self.pool, conn, 64, resume=resume,
                            max_resumes=2)
        self.assertEqual(DATA[:8], next(body))
        with self.assertRaises(UpstreamBodyError) as caught:
            next(body)
        self.assertIn('resume 8', str(caught.exception))
        self.assertEqual(2, body.resumes)
        body.close()
        self.assertStats(self.pool, in_use=0, discarded=1)

    def test_no_resume_without_max_resumes(self):
        """max_resumes = 0 (retries = 0): no resume, the error is raised."""
        conn = self.start(self.partial_handler(cut=8))
        body = ResponseBody(self.pool, conn, 64, resume=self.resume,
                            max_resumes=0)
        self.assertEqual(DATA[:8], next(body))
        self.assertRaises(UpstreamBodyError, next, body)
        self.assertEqual([], self.offsets)
        body.close()

    def test_etag_checked_across_resume(self):
        """The MD5 runs over the bytes of both responses: corrupt bytes in
        the resumed part are a mismatch, and its last chunk is withheld."""
        def handler(sock):
            request = sock.read_head()
            if sock.server.accepted == 1:
                sock.sendall(whole_then_cut(8))
                return
            rest = DATA[range_start(request):].upper()
            sock.sendall(head('206 Partial Content', [
                ('Content-Length', len(rest)),
                ('Content-Range', 'bytes 8-19/20')]) + rest)
            sock.read_to_eof()
        conn = self.start(handler)
        body = ResponseBody(self.pool, conn, 4, etag=DATA_MD5,
                            resume=self.resume, max_resumes=1)
        chunks = []
        with self.assertRaises(EtagMismatch):
            for chunk in body:
                chunks.append(chunk)
        self.assertEqual(DATA[:8] + b'IJKLMNOP', b''.join(chunks))
        body.close()
        self.assertStats(self.pool, in_use=0, idle=0, discarded=2)


if __name__ == '__main__':
    unittest.main()

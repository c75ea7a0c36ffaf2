# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Shared test helpers: real loopback sockets, scripted servers, leak checks.

The test process is not monkey-patched.  swift_forwarder uses green sockets
(``swift_forwarder.green``), so the servers here are green too
(``eventlet.listen`` and ``eventlet.spawn``): the test's own greenlet blocks
in green socket calls, the hub runs, and the scripted server answers.

Leak checks.  eventlet's ``GreenSocket.__del__`` closes the socket quietly,
so Python's ``ResourceWarning`` never fires for a green socket that was
dropped without ``close()``.  :class:`GreenTestCase` checks instead: it
records green sockets garbage-collected while still open, compares the
process's open socket file descriptors before and after each test, and makes
sure no greenlet is left waiting on a socket.
"""

import datetime
import gc
import hashlib
import io
import ipaddress
import os
import re
import select
import sys
import traceback
import unittest
import urllib.parse
from unittest import mock

import eventlet
import eventlet.hubs
import greenlet
from eventlet.green import socket as green_socket
from eventlet.greenio.base import GreenSocket

from swift_forwarder import service
from swift_forwarder.config import TargetAddress
from swift_forwarder.middleware import ForwarderMiddleware
from swift_forwarder.pool import ConnectionPool

#: Every test is bounded by this many seconds (green operations only).
TEST_TIMEOUT = 5
#: Every scripted server handler is bounded by this many seconds.
HANDLER_TIMEOUT = 3


def listen_zero(backlog=50):
    """A real, green, listening socket on 127.0.0.1, on a free port."""
    return eventlet.listen(('127.0.0.1', 0), backlog=backlog)


def refused_port():
    """A bound but not listening socket: connecting to it is refused.

    Keep the socket open while the port is in use (nobody else gets it), and
    close it after.
    """
    sock = green_socket.socket()
    sock.bind(('127.0.0.1', 0))
    return sock, sock.getsockname()[1]


def full_backlog_listener():
    """A listening socket whose backlog is full: a connect to it hangs.

    Linux drops the SYN when a listener's accept queue is full, so the
    client's connect times out, all on loopback.
    :returns: ``(listener, fillers)``; close them all after the test.
    """
    listener = listen_zero(backlog=0)
    fillers = []
    for _ in range(3):
        sock = green_socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(listener.getsockname())
        except BlockingIOError:
            pass
        fillers.append(sock)
    eventlet.sleep(0.05)  # let the handshakes fill the queue
    return listener, fillers


def make_target(port, scheme='http', host='127.0.0.1', **tls):
    """A :class:`TargetAddress` for a test server."""
    return TargetAddress('default', scheme, host, port, tls.get('ca_certs'),
                         tls.get('insecure', False), tls.get('cert_file'),
                         tls.get('key_file'))


def make_pool(port, maxsize=4, pool_timeout=1.0, conn_timeout=0.5,
              node_timeout=1.0, max_idle_time=60, **target_kwargs):
    """A :class:`ConnectionPool` for a test server, with short timeouts."""
    return ConnectionPool(make_target(port, **target_kwargs), maxsize,
                          pool_timeout, conn_timeout, node_timeout,
                          max_idle_time)


# -- scripted servers -------------------------------------------------------

class RecordedRequest(object):
    """One request head as a scripted server read it off the wire."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw.decode('latin-1').split('\r\n')
        self.method, self.target, self.version = lines[0].split(' ', 2)
        self.headers = []
        for line in lines[1:]:
            if line:
                name, _sep, value = line.partition(':')
                self.headers.append((name, value.strip()))
        self.body = None

    @property
    def path(self):
        return self.target.partition('?')[0]

    def header(self, name, default=None):
        """The value of header ``name`` (case-insensitive), or default."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_names(self):
        return [name.lower() for name, _value in self.headers]

    def __repr__(self):
        return '<RecordedRequest %s %s>' % (self.method, self.target)


class ScriptedSocket(object):
    """The server side of one accepted connection, given to a handler.

    A thin, buffered wrapper over the green socket with the reads a script
    needs (a request head, an exact number of bytes, up to a marker, to EOF)
    and :meth:`respond` to send a canned response.
    """

    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self._buf = b''
        self.eof = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
        self._buf += data
        return data

    def read_until(self, marker):
        """Bytes up to and including ``marker``; ``b''`` at EOF before it."""
        while marker not in self._buf:
            if not self._fill():
                return b''
        index = self._buf.index(marker) + len(marker)
        data, self._buf = self._buf[:index], self._buf[index:]
        return data

    def read_exact(self, size):
        """``size`` bytes, or fewer if the peer closes first."""
        while len(self._buf) < size:
            if not self._fill():
                break
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def read_to_eof(self):
        """Everything until the peer closes (the way to stall: the handler
        waits here until the client gives up and closes its socket)."""
        while self._fill():
            pass
        data, self._buf = self._buf, b''
        return data

    def read_head(self):
        """The next request head, recorded on the server; None at EOF."""
        raw = self.read_until(b'\r\n\r\n')
        if not raw:
            return None
        request = RecordedRequest(raw)
        self.server.requests.append(request)
        return request

    def read_body(self, request):
        """The request body as declared by its head (dechunked)."""
        length = request.header('Content-Length')
        if request.header('Transfer-Encoding', '').lower() == 'chunked':
            parts = []
            while True:
                size = int(self.read_until(b'\r\n').strip(), 16)
                parts.append(self.read_exact(size))
                self.read_exact(2)
                if not size:
                    break
            request.body = b''.join(parts)
        else:
            request.body = self.read_exact(int(length or 0))
        return request.body

    def read_request(self):
        """Head and body (for a head without ``Expect: 100-continue``)."""
        request = self.read_head()
        if request is not None:
            self.read_body(request)
        return request

    def sendall(self, data):
        self.sock.sendall(data)

    def respond(self, status=200, body=b'', headers=(), reason=None,
                content_length=True):
        """Send a whole response; Content-Length is added unless told not."""
        reason = reason or {100: 'Continue', 200: 'OK', 201: 'Created',
                            204: 'No Content', 304: 'Not Modified',
                            401: 'Unauthorized',
                            503: 'Service Unavailable'}.get(status, 'Status')
        lines = ['HTTP/1.1 %d %s' % (status, reason)]
        lines.extend('%s: %s' % pair for pair in headers)
        if content_length:
            lines.append('Content-Length: %d' % len(body))
        head = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        self.sock.sendall(head + body)

    def send_continue(self):
        self.sock.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')

    def close(self):
        self.sock.close()


class ScriptedServer(object):
    """A green HTTP server on loopback whose every connection is scripted.

    Each accepted connection runs ``handler(sock)`` (``sock`` is a
    :class:`ScriptedSocket`) in its own greenlet, bounded by
    ``eventlet.Timeout(HANDLER_TIMEOUT)``.  An exception in a handler (an
    assertion, a timeout) fails the test at :meth:`stop`, unless
    ``expect_errors`` is set; it is kept in :attr:`errors` either way.

    :attr:`accepted` counts connections, :attr:`requests` keeps every request
    head read, in order.
    """

    def __init__(self, handler, expect_errors=False, wrap=None):
        self.handler = handler
        self.expect_errors = expect_errors
        self.wrap = wrap
        self.listener = listen_zero()
        self.host, self.port = self.listener.getsockname()[:2]
        self.accepted = 0
        self.requests = []
        self.errors = []
        self._conns = []
        self._threads = []
        self._acceptor = eventlet.spawn(self._accept_loop)

    def _accept_loop(self):
        while True:
            sock, _addr = self.listener.accept()
            self.accepted += 1
            self._threads.append(eventlet.spawn(self._handle, sock))

    def _handle(self, sock):
        conn = None
        try:
            with eventlet.Timeout(HANDLER_TIMEOUT):
                if self.wrap is not None:
                    sock = self.wrap(sock)
                conn = ScriptedSocket(sock, self)
                self._conns.append(conn)
                self.handler(conn)
        except greenlet.GreenletExit:
            raise
        except BaseException:
            self.errors.append(traceback.format_exc())
        finally:
            sock.close()

    def _pending(self):
        """A connection waits in the listener's backlog."""
        poller = select.poll()
        poller.register(self.listener.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def wait(self, timeout=2):
        """Wait for every handler to return (they do once clients close)."""
        with eventlet.Timeout(timeout, False):
            for thread in list(self._threads):
                thread.wait()

    def stop(self):
        """Stop accepting, wait for the handlers, and close everything.

        :raises AssertionError: a handler failed, or was still running.
        """
        with eventlet.Timeout(1, False):
            while self._pending():  # let every handler run its script
                eventlet.sleep(0.001)
        self._acceptor.kill()
        self.listener.close()
        self.wait()
        running = [thread for thread in self._threads if not thread.dead]
        for thread in running:
            thread.kill()
        for conn in self._conns:
            conn.close()
        problems = []
        if running:
            problems.append('%d handler(s) still running at stop'
                            % len(running))
        if self.errors and not self.expect_errors:
            problems.extend(self.errors)
        if problems:
            raise AssertionError('scripted server:\n' + '\n'.join(problems))


def scripted_server(handler, **kwargs):
    """Start a :class:`ScriptedServer`; the caller must ``stop()`` it
    (:meth:`GreenTestCase.start_server` does that in a cleanup)."""
    return ScriptedServer(handler, **kwargs)


def serving(answer):
    """A handler that reads every request on the connection (sending
    ``100 Continue`` when asked, reading the body) and answers it with
    ``answer(sock, request)``."""
    def handler(sock):
        while True:
            request = sock.read_head()
            if request is None:
                return
            if request.header('Expect', '').lower() == '100-continue':
                sock.send_continue()
            sock.read_body(request)
            answer(sock, request)
    return handler


def keep_alive_handler(body=b'hello', status=200, headers=()):
    """A handler answering every request on the connection the same way."""
    def answer(sock, request):
        payload = b'' if request.method == 'HEAD' else body
        sock.respond(status, payload, headers)
    return serving(answer)


# -- leak checks ------------------------------------------------------------

def open_socket_fds():
    """The file descriptors of this process that are sockets."""
    fds = set()
    try:
        names = os.listdir('/proc/self/fd')
    except OSError as err:  # not Linux: the leak checks cannot run
        raise RuntimeError('the socket leak checks need /proc/self/fd '
                           '(Linux): %s' % err)
    for name in names:
        try:
            if os.readlink('/proc/self/fd/' + name).startswith('socket:'):
                fds.add(int(name))
        except OSError:
            pass
    return fds


class _DroppedSocketRecorder(object):
    """Records green sockets garbage-collected without ``close()``."""

    def __init__(self):
        self.dropped = []
        original = GreenSocket.__del__
        recorder = self

        def __del__(sock):
            fd = sock.__dict__.get('fd')
            if fd is not None and getattr(fd, '_closed', True) is False:
                recorder.dropped.append(repr(fd))
            original(sock)
        self.patcher = mock.patch.object(GreenSocket, '__del__', __del__)


class GreenTestCase(unittest.TestCase):
    """A test bounded in time that fails on leaked sockets and greenlets.

    Use :meth:`start_server` and :meth:`make_pool`: their cleanups stop the
    server (failing on handler errors) and check that no pooled connection
    is still in use before closing the pool.
    """

    time_limit = TEST_TIMEOUT

    def setUp(self):
        super().setUp()
        recorder = _DroppedSocketRecorder()
        recorder.patcher.start()
        self.addCleanup(self._check_leaks, recorder, open_socket_fds())
        guard = eventlet.Timeout(self.time_limit)
        self.addCleanup(guard.cancel)

    def _check_leaks(self, recorder, fds_before):
        gc.collect()
        recorder.patcher.stop()
        eventlet.sleep(0)  # let killed greenlets unregister
        hub = eventlet.hubs.get_hub()
        waiting = list(hub.get_readers()) + list(hub.get_writers())
        leaked = open_socket_fds() - fds_before
        problems = []
        if recorder.dropped:
            problems.append('green sockets dropped without close(): %s'
                            % recorder.dropped)
        if leaked:
            problems.append('socket fds left open: %s' % sorted(leaked))
        if waiting:
            problems.append('greenlets still waiting on sockets: %s'
                            % waiting)
        if problems:
            self.fail('; '.join(problems))

    def closing(self, obj):
        """Close ``obj`` at cleanup, and keep it referenced till then (a
        green socket nobody references closes itself)."""
        self.addCleanup(lambda: obj.close())
        return obj

    def start_server(self, handler, **kwargs):
        """A :class:`ScriptedServer`, stopped (and checked) at cleanup."""
        server = scripted_server(handler, **kwargs)
        self.addCleanup(server.stop)
        return server

    def make_pool(self, port, **kwargs):
        """A pool to ``port``; at cleanup it must have nothing in use."""
        pool = make_pool(port, **kwargs)

        def check_and_close():
            in_use = pool.in_use
            pool.close()
            self.assertEqual(0, in_use, 'connections left in use: %r'
                             % pool)
        self.addCleanup(check_and_close)
        return pool

    def assertStats(self, pool, **expected):
        """Assert some of ``pool.stats()``; the message shows the pool."""
        stats = pool.stats()
        actual = dict((key, stats[key]) for key in expected)
        self.assertEqual(expected, actual, repr(pool))

    def wait_for(self, predicate, timeout=1.0, interval=0.01):
        """Let the hub run until ``predicate()`` is true; fail after timeout.
        """
        with eventlet.Timeout(timeout, False):
            while not predicate():
                eventlet.sleep(interval)
            return
        self.fail('condition not met within %gs' % timeout)


# -- TLS ----------------------------------------------------------------------

def make_cert(directory, hosts=('127.0.0.1', 'localhost'), name='test'):
    """A self-signed certificate and its key, written to ``directory``.

    :returns: ``(cert_file, key_file)``; the cert is its own CA.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    alt_names = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                       critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True,
            content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH,
             ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names),
                       critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ski), critical=False)
        .sign(key, hashes.SHA256()))
    cert_file = os.path.join(directory, name + '.crt')
    key_file = os.path.join(directory, name + '.key')
    with open(cert_file, 'wb') as fp:
        fp.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, 'wb') as fp:
        fp.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
    return cert_file, key_file


def tls_wrapper(cert_file, key_file, client_ca=None):
    """A ``wrap`` for :class:`ScriptedServer`: TLS on each accepted socket.

    :param client_ca: if set, the server requires a client certificate
        signed by this CA file.
    """
    from eventlet.green import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)

    def wrap(sock):
        return context.wrap_socket(sock, server_side=True)
    return wrap


class FakeClock(object):
    """An injectable monotonic clock: advance it by setting ``now``."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


# -- WSGI -----------------------------------------------------------------------

def wsgi_path(text):
    """The PATH_INFO form (latin-1 str of UTF-8 bytes) of a unicode path."""
    return text.encode('utf-8').decode('latin-1')


def make_env(method='GET', path='/v1/AUTH_test/c/o', headers=None,
             body=None, query='', **extra):
    """A WSGI environ as eventlet.wsgi builds it from a request line.

    :param path: the request target's path as sent on the wire (quoted);
        ``PATH_INFO`` is its unquoted, latin-1 WSGI form.
    :param body: bytes for ``wsgi.input`` (sets CONTENT_LENGTH), or None.
    """
    env = {
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'RAW_PATH_INFO': path,
        'PATH_INFO': urllib.parse.unquote(path, encoding='latin-1'),
        'QUERY_STRING': query,
        'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '8080',
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'REMOTE_ADDR': '127.0.0.2',
        'wsgi.version': (1, 0),
        'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(body or b''),
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': True,
        'wsgi.multiprocess': False,
        'wsgi.run_once': False,
    }
    if body is not None:
        env['CONTENT_LENGTH'] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        if key in ('CONTENT_LENGTH', 'CONTENT_TYPE'):
            env[key] = value
        else:
            env['HTTP_' + key] = value
    env.update(extra)
    return env


class SpyInput(io.BytesIO):
    """wsgi.input that counts reads."""

    def __init__(self, data):
        super().__init__(data)
        self.reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)


class LeakTrackingIter(object):
    """A WSGI body that remembers whether it was closed (Swift's idea).

    The test plays the WSGI server: it must call :meth:`close`, as a server
    does per PEP 3333, on every body it got; :class:`LeakTracker` fails the
    test otherwise.
    """

    def __init__(self, inner):
        self.inner = inner
        self.closed = False
        self._iter = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._iter is None:
            self._iter = iter(self.inner)
        return next(self._iter)

    def close(self):
        if not self.closed:
            self.closed = True
            close = getattr(self.inner, 'close', None)
            if close is not None:
                close()


class WSGIResponse(object):
    """What a WSGI app answered: status, headers and a tracked body."""

    def __init__(self):
        self.status = None
        self.headers = None
        self.inner = None  # what the app returned
        self.body = None   # the same, wrapped in a LeakTrackingIter

    @property
    def status_int(self):
        return int(self.status.split(' ', 1)[0])

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def read(self):
        """Iterate the whole body, then close it (like a WSGI server)."""
        try:
            return b''.join(self.body)
        finally:
            self.body.close()


class LeakTracker(object):
    """Calls WSGI apps like a server and tracks every body they return."""

    def __init__(self):
        self.bodies = []

    def call(self, app, env):
        """:returns: a :class:`WSGIResponse`; its body must be closed."""
        response = WSGIResponse()

        def start_response(status, headers, exc_info=None):
            response.status = status
            response.headers = list(headers)

        app_iter = app(env, start_response)
        response.inner = app_iter
        response.body = LeakTrackingIter(app_iter)
        self.bodies.append(response.body)
        return response

    def unclosed(self):
        return [body for body in self.bodies if not body.closed]


class FakeApp(object):
    """The local pipeline's next app: records each call, answers canned.

    :attr:`calls` holds the environ objects as received (not copies), and
    :attr:`bodies` the :class:`LeakTrackingIter` bodies returned.
    """

    def __init__(self, status='200 OK', body=b'local response',
                 headers=(('Content-Type', 'text/plain'),)):
        self.status = status
        self.body = body
        self.headers = list(headers)
        self.calls = []
        self.bodies = []

    def __call__(self, env, start_response):
        self.calls.append(env)
        start_response(self.status, self.headers + [
            ('Content-Length', str(len(self.body)))])
        body = LeakTrackingIter([self.body])
        self.bodies.append(body)
        return body

    def unclosed(self):
        return [body for body in self.bodies if not body.closed]


def app_factory(global_conf, **local_conf):
    """paste.deploy app factory for :class:`FakeApp`."""
    return FakeApp()


class FakeLogger(object):
    """A Swift-style logger that keeps its lines: ``(level, text)``.

    Like Swift's LogAdapter, lines end with ``(txn: ...)`` when
    :attr:`txn_id` is set.
    """

    def __init__(self):
        self.lines = []
        self.txn_id = None

    def _log(self, level, msg, *args, **kwargs):
        text = msg % args if args else msg
        if self.txn_id:
            text = '%s (txn: %s)' % (text, self.txn_id)
        self.lines.append((level, text))

    def debug(self, msg, *args, **kwargs):
        self._log('debug', msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self._log('info', msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self._log('warning', msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self._log('error', msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self._log('error', msg, *args, **kwargs)

    def get_lines(self, level):
        return [text for lvl, text in self.lines if lvl == level]


# -- the middleware over a scripted target ------------------------------------

_TIMINGS = re.compile(r'\b(ttfb|time)=\d+\.\d{4}\b')


class MiddlewareTestCase(GreenTestCase):

    def setUp(self):
        super().setUp()
        self.tracker = LeakTracker()
        self.app = FakeApp()
        self.logger = FakeLogger()

    def middleware(self, handler=None, port=None, **options):
        """A middleware whose target is a scripted server (or ``port``)."""
        if handler is not None:
            self.server = self.start_server(handler)
            port = self.server.port
        conf = {'target_url': 'http://127.0.0.1:%d' % port,
                'forwarder_id': 'fwd-test', 'conn_timeout': '0.5',
                'node_timeout': '1', 'pool_timeout': '1',
                'client_timeout': '1'}
        conf.update(options)
        mw = ForwarderMiddleware(self.app, conf, logger=self.logger)
        self.addCleanup(self.check_no_leaks, mw)
        return mw

    def check_no_leaks(self, mw):
        unclosed = self.tracker.unclosed() + self.app.unclosed()
        pool = self.target(mw).pool
        in_use = pool.in_use
        pool.close()
        self.assertEqual([], unclosed, 'response bodies left unclosed')
        self.assertEqual(0, in_use, repr(pool))

    def target(self, mw):
        """The middleware's inline target (``target_url``), with its
        ``pool`` and ``upstream``."""
        return mw.targets['default']

    def counters(self, mw):
        return self.target(mw).upstream.counters

    def assertPool(self, mw, **expected):
        """Assert some of the target pool's stats."""
        pool = self.target(mw).pool
        stats = pool.stats()
        self.assertEqual(expected, dict((name, stats[name])
                                        for name in expected), repr(pool))

    def call(self, mw, env):
        return self.tracker.call(mw, env)

    def read_aborted(self, resp, error):
        """Read ``resp``'s body until it raises ``error`` (it must);
        returns (the bytes received before, the exception)."""
        received = []
        with self.assertRaises(error) as caught:
            for chunk in resp.body:
                received.append(chunk)
        resp.body.close()
        return b''.join(received), caught.exception

    def access_lines(self):
        """Every line logged, as ``(level, text)``, with the ``ttfb=`` and
        ``time=`` figures (seconds, four decimals) replaced by ``T``; a
        ``ttfb=-`` (no response head) stays."""
        return [(level, _TIMINGS.sub(r'\1=T', text))
                for level, text in self.logger.lines]


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


WRONG_ETAG = md5_hex(b'not what was sent')


def put_handler(etag, delete_status=204):
    """Answers PUTs with 201 and ``etag`` (no ETag header if None), and
    DELETEs with ``delete_status``, keep-alive."""
    def answer(sock, request):
        if request.method == 'PUT':
            sock.respond(201, b'', [('Etag', etag)] if etag else [])
        else:
            sock.respond(delete_status, b'')
    return serving(answer)


def response_head(status, headers):
    lines = ['HTTP/1.1 %s' % status] + ['%s: %s' % pair for pair in headers]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


#: The body :func:`resume_and_mismatch_handler` serves.
RESUMED_DATA = bytes(range(256)) * 4


def resume_and_mismatch_handler():
    """A target whose ``.../bad`` object has a wrong ETag (64 bytes: read at
    once, a 502), and whose other objects break off after 300 of 1024 bytes
    and serve the rest to a Range request (one resume)."""
    etag = md5_hex(RESUMED_DATA)

    def handler(sock):
        request = sock.read_head()
        if request.path.endswith('/bad'):
            sock.respond(200, RESUMED_DATA[:64], [('Etag', WRONG_ETAG)])
        elif request.header('Range'):
            sock.respond(206, RESUMED_DATA[300:], [
                ('Etag', etag), ('Content-Range', 'bytes 300-1023/1024')])
        else:
            sock.sendall(response_head('200 OK', [
                ('Content-Length', 1024), ('Etag', etag)]) + RESUMED_DATA[:300])
            return
        sock.read_to_eof()
    return handler


# -- service mode ---------------------------------------------------------------

class FakeSwobRequest(object):
    """What tempauth's authorize reads: the environ and ``acl``."""

    def __init__(self, env):
        self.environ = env
        self.acl = None


def forbidden(env, start_response):
    """The local auth's refusal."""
    start_response('403 Forbidden', [('Content-Length', '9')])
    return [b'Forbidden']


def recording(answer, requests):
    """:func:`serving` ``answer``, each request appended to ``requests``."""
    def record_and_answer(sock, request):
        requests.append(request)
        answer(sock, request)
    return serving(record_and_answer)


class ServiceModeTestCase(MiddlewareTestCase):
    """The middleware with auth_mode = service, against a scripted target
    that records what it receives."""

    def setUp(self):
        super().setUp()
        self.authorized = []

    def service_mw(self, handler, **options):
        conf = dict(auth_mode='service', auth_url='http://auth/v1.0',
                    auth_user='svc:user', auth_key='sekrit',
                    account_map='AUTH_local:AUTH_remote')
        conf.update(options)
        mw = self.middleware(handler, **conf)
        mw.targets['default'].service.tokens._fetch = lambda: (
            'http://127.0.0.1/v1/AUTH_service', 'AUTH_tkSERVICE')
        return mw

    def env(self, method='GET', path='/v1/AUTH_local/c/o', allow=True,
            **kwargs):
        env = make_env(method, path, **kwargs)

        def authorize(req):
            self.authorized.append((req.environ['PATH_INFO'], req.acl))
            return None if allow else forbidden
        env['swift.authorize'] = authorize
        return env

    def acl_then(self, responses):
        """A target answering the ACL HEAD, then ``responses`` in turn."""
        requests = []

        def respond(sock, request):
            if request.method == 'HEAD' and request.path.count('/') == 3:
                sock.respond(204, b'', [
                    ('X-Container-Read', 'local:reader'),
                    ('X-Container-Write', 'local:writer')])
            else:
                sock.respond(*responses.pop(0))
        return recording(respond, requests), requests

    def patch_swob(self):
        patcher = mock.patch.object(service, 'Request', FakeSwobRequest)
        patcher.start()
        self.addCleanup(patcher.stop)

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A bounded, green, keep-alive connection pool for one target.

Rules (DESIGN.md section 3):

1. At most ``maxsize`` connections exist at once, in use or idle.  Waiting
   for a slot is bounded by ``pool_timeout``; then :class:`PoolExhaustedError`.
2. Idle connections are reused LIFO (the warmest socket first).  One idle
   longer than ``max_idle_time``, or whose socket is readable while idle
   (peer closed it), is closed instead.
3. A connection comes back with :meth:`ConnectionPool.put` only when its
   last response was read to the end (and is kept only if that response
   did not say ``Connection: close``).  Any doubt:
   :meth:`ConnectionPool.discard` closes it and frees the slot.  The two
   callers are ``ResponseBody.close()`` and ``round_trip``'s ``finally``.
4. The pool belongs to one worker process.  After a fork the child starts
   empty and never touches sockets it inherited.

No lock is needed: the bookkeeping below never yields to another greenlet;
only the semaphore wait and the connect do.
"""

import os
import time

from swift_forwarder.bufferedhttp import BufferedHTTPConnection, \
    BufferedHTTPSConnection, make_ssl_context
from swift_forwarder.exceptions import PoolExhaustedError, \
    UpstreamConnectError
from swift_forwarder.green import Semaphore, ssl
from swift_forwarder.metrics import NULL_METRICS

__all__ = ['ConnectionPool']


class ConnectionPool(object):
    """Connections to one target (scheme, host, port) for this worker.

    :param address: a :class:`swift_forwarder.config.TargetAddress`.
    :param maxsize: ``pool_size``: connections in use plus idle.
    :param pool_timeout: seconds to wait for a free slot.
    :param conn_timeout: connect (and TLS handshake) timeout.
    :param node_timeout: timeout of each later socket operation.
    :param max_idle_time: idle connections older than this are closed.
    :param metrics: where ``pool.*`` metrics go (see
        :mod:`swift_forwarder.metrics`).
    """

    def __init__(self, address, maxsize, pool_timeout, conn_timeout,
                 node_timeout, max_idle_time, metrics=NULL_METRICS):
        self.address = address
        self.name = '%s://%s:%s' % (address.scheme, address.host,
                                    address.port)
        self.maxsize = maxsize
        self.pool_timeout = pool_timeout
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.max_idle_time = max_idle_time
        self.metrics = metrics
        self._conn_kwargs = {}
        if address.scheme == 'https':
            self._conn_cls = BufferedHTTPSConnection
            self._conn_kwargs['context'] = make_ssl_context(
                address.ca_certs, address.insecure, address.cert_file,
                address.key_file)
        else:
            self._conn_cls = BufferedHTTPConnection
        self._reset()

    def _reset(self):
        self._pid = os.getpid()
        self._slots = Semaphore(self.maxsize)
        self._idle = []
        self.in_use = self.created = self.reused = self.discarded = 0
        self.exhausted = 0

    @property
    def idle(self):
        return len(self._idle)

    def stats(self):
        """The counters, as tests, the healthcheck and metrics read them."""
        return {'in_use': self.in_use, 'idle': self.idle,
                'created': self.created, 'reused': self.reused,
                'discarded': self.discarded, 'exhausted': self.exhausted,
                'maxsize': self.maxsize}

    def __repr__(self):
        return ('<ConnectionPool %s [%d in use, %d idle | created %d, '
                'reused %d, discarded %d, exhausted %d]>' % (
                    self.name, self.in_use, self.idle, self.created,
                    self.reused, self.discarded, self.exhausted))

    def get(self, fresh=False, extra=False):
        """A connection for one request: a live idle one, or a new one.

        :param fresh: connect anew, skipping idle connections (a retry after
            a reused one turned out dead: the others may be just as dead).
        :param extra: for a request that holds a connection already and
            needs a second one meanwhile (the ACLs or the manifest of what
            it reads): never wait for a slot, which the request itself may
            be holding; go over pool_size if none is free (such a
            connection is not kept idle beyond pool_size).
        :raises PoolExhaustedError: no slot within ``pool_timeout``.
        :raises UpstreamConnectError: connect refused or timed out.
        """
        if self._pid != os.getpid():
            self._reset()
        metrics = self.metrics
        if extra:
            slot = self._slots.acquire(blocking=False)
        else:
            started = time.monotonic()
            if not self._slots.acquire(timeout=self.pool_timeout):
                self.exhausted += 1
                metrics.increment('pool.exhausted')
                raise PoolExhaustedError(
                    self.name, 'no free connection within %gs (pool_size %d)'
                    % (self.pool_timeout, self.maxsize))
            metrics.timing('pool.wait', time.monotonic() - started)
            slot = True
        try:
            conn = (not fresh and self._get_idle()) or self._new_conn()
        except BaseException:
            if slot:
                self._slots.release()
            raise
        conn.slot = slot
        self.in_use += 1
        self._gauges()
        return conn

    def _gauges(self):
        self.metrics.gauge('pool.in_use', self.in_use)
        self.metrics.gauge('pool.idle', len(self._idle))

    def _get_idle(self):
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.last_used > self.max_idle_time or conn.is_dropped():
                self._close(conn)
                continue
            self.reused += 1
            self.metrics.increment('pool.reused')
            return conn
        return None

    def connect(self):
        """A new connection to the target (TLS handshake done), outside
        the pool's slots and counters: for probes and checks.

        :raises UpstreamConnectError: connect refused or timed out, or the
            TLS handshake failed.
        """
        conn = self._conn_cls(self.address.host, self.address.port,
                              self.conn_timeout, self.node_timeout,
                              **self._conn_kwargs)
        try:
            conn.connect()
        except (OSError, ValueError) as err:  # ValueError: idna of the host
            conn.close()
            if isinstance(err, ssl.SSLError):  # (a ValueError too)
                reason = 'TLS handshake failed: %s' % (err.strerror or err)
            elif isinstance(err, ValueError):
                reason = 'connect failed: %s' % err
            elif isinstance(err, TimeoutError):
                reason = 'connect timed out after %gs' % self.conn_timeout
            else:  # 'Connection refused', not eventlet's 'ECONNREFUSED'
                reason = 'connect failed: %s' % (
                    os.strerror(err.errno) if err.errno else err)
            error = UpstreamConnectError(self.name, reason)
            error.retryable = not isinstance(err, ssl.SSLCertVerificationError)
            raise error from err
        return conn

    def _new_conn(self):
        conn = self.connect()
        self.created += 1
        self.metrics.increment('pool.created')
        return conn

    def put(self, conn):
        """Give back a connection whose response was read to the end: it
        is pooled, unless the response said it would close (``Connection:
        close``)."""
        if conn.response is not None and conn.response.will_close:
            self.discard(conn)
            return
        conn.last_used = time.monotonic()
        conn.release_response()
        if conn.slot or len(self._idle) + self.in_use <= self.maxsize:
            self._idle.append(conn)
        else:  # one over pool_size: not kept
            self._close(conn)
        self._free_slot(conn)
        self._gauges()

    def discard(self, conn):
        """Close a connection in an unknown state and free its slot."""
        self._close(conn)
        self._free_slot(conn)
        self._gauges()

    def _close(self, conn):
        conn.close()
        self.discarded += 1
        self.metrics.increment('pool.discarded')

    def _free_slot(self, conn):
        self.in_use -= 1
        if conn.slot:
            self._slots.release()

    def close(self):
        """Close every idle connection (the ones in use close on return)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            self._close(conn)

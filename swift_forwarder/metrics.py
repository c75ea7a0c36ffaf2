# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Statsd metrics and the per-request log line, in Swift's conventions.

Metrics go through Swift's logger, so proxy-server.conf's
``log_statsd_host``, ``log_statsd_port``, ``log_statsd_metric_prefix`` and
``log_statsd_default_sample_rate`` apply exactly as for Swift's own
middlewares.  Every name is under ``forwarder.<target>.`` (the target's
name with anything but letters, digits, ``_`` and ``-`` made ``_``, so
``//realm/cluster`` becomes ``__realm_cluster``).  The README lists them.

Swift's statsd client has counters and timers only; the two pool gauges are
sent with its low-level sender when it has one (every Swift release to
date), and not at all otherwise.
"""

import logging
import re
import time
import urllib.parse

__all__ = ['TargetMetrics', 'RequestRecord', 'NULL_METRICS',
           'metric_name']

#: Methods counted under their own name; any other is ``BAD_METHOD``, as
#: in Swift's proxy-logging.
METHODS = frozenset(('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY',
                     'OPTIONS'))

_UNSAFE = re.compile(r'[^A-Za-z0-9_-]')


def metric_name(target_name):
    """A target name as one statsd name component."""
    return _UNSAFE.sub('_', target_name)


class TargetMetrics(object):
    """One target's metrics, ``forwarder.<target>.<name>``.

    :param logger: a Swift logger made with ``statsd_tail_prefix =
        'forwarder'`` (anything without ``update_stats`` sends nothing).
    :param target_name: the target's name.
    """

    def __init__(self, logger, target_name):
        self._prefix = metric_name(target_name) + '.'
        self._update_stats = getattr(logger, 'update_stats', None)
        self._timing = getattr(logger, 'timing', None)
        self._logger = logger
        self._failures = 0

    def increment(self, name, value=1):
        """A counter (``c``)."""
        if self._update_stats is not None and value:
            self._emit(self._update_stats, self._prefix + name, value)

    def timing(self, name, seconds):
        """A timer (``ms``), given in seconds."""
        if self._timing is not None:
            self._emit(self._timing, self._prefix + name, seconds * 1000.0)

    def gauge(self, name, value):
        """A gauge (``g``): the value now, in this worker."""
        # looked up each time, as Swift's logger looks up its client
        client = getattr(getattr(self._logger, 'logger', None),
                         'statsd_client', None)
        send = getattr(client, '_send', None)
        if send is not None:
            self._emit(send, self._prefix + name, value, 'g', None)

    def _emit(self, send, *args):
        """Send one metric; a metric that cannot be sent (no file
        descriptor left for the UDP socket...) is lost, never the request
        it was about: callers count in places (a pool slot held, a
        connection open) where an exception would leak."""
        try:
            send(*args)
        except Exception:
            self._failures += 1
            if self._failures == 1 or self._failures % 1000 == 0:
                self._logger.warning('Metric %s not sent (%d so far)',
                                     args[0], self._failures,
                                     exc_info=True)


class _NullMetrics(object):
    """Metrics that go nowhere (a pool or upstream used on its own)."""

    def increment(self, name, value=1):
        pass

    def timing(self, name, seconds):
        pass

    def gauge(self, name, value):
        pass


NULL_METRICS = _NullMetrics()


def loggable_path(env):
    """The request path, quoted as Swift's proxy-logging quotes it; never
    the query string, which may carry tempurl signatures."""
    return _quoted(env.get('PATH_INFO', ''))


def _quoted(path):
    return urllib.parse.quote(path.encode('latin-1', 'replace'), safe='/')


class RequestRecord(object):
    """One forwarded request, from routing to the last byte: its access
    log line and its request metrics, emitted once by :meth:`finish`.

    :param target: the target's name.
    :param metrics: the target's :class:`TargetMetrics`.
    :param logger: the middleware's logger (its txn id goes on the line).
    :param env: the WSGI environment.

    The forwarder sets :attr:`request_body` (the client's upload, if any)
    and :attr:`log_info` (``(list, index)``: the entry of
    ``swift.log_info`` naming the target, for proxy-logging).
    """

    def __init__(self, target, metrics, logger, env):
        self.target, self.metrics, self.logger = target, metrics, logger
        self.method = env.get('REQUEST_METHOD', '')
        self.path_info = env.get('PATH_INFO', '')  # quoted when logged
        self.start = time.monotonic()
        self.request_body = self.log_info = None
        self.status = self.ttfb = None
        self.finished = False

    def response_head(self, status, target_txn_id):
        """The target's response head has arrived: time to first byte,
        and the target's transaction id next to ours in proxy-logging."""
        self.ttfb = time.monotonic() - self.start
        self.status = status
        self.metrics.timing('ttfb', self.ttfb)
        if target_txn_id and self.log_info is not None:
            entries, index = self.log_info
            entries[index] = 'forwarder:%s:%s' % (self.target, target_txn_id)

    def finish(self, status, bytes_down=0, outcome=None, error=False):
        """Log and count the request (once; later calls do nothing).

        :param status: what the client got (the target's status, or the
            forwarder's own error status).
        :param bytes_down: response body bytes relayed to the client.
        :param outcome: why the request did not end cleanly, if it did not
            (the forwarder's error, client gone, stream aborted...).
        :param error: log at error level (a failure of ours or the
            target's), not info.
        """
        if self.finished:
            return
        self.finished = True
        elapsed = time.monotonic() - self.start
        bytes_up = 0 if self.request_body is None else \
            self.request_body.bytes_read
        logger = self.logger
        enabled = getattr(logger, 'isEnabledFor', None)
        if enabled is None or enabled(logging.ERROR if error else
                                      logging.INFO):
            (logger.error if error else logger.info)(
                'forwarded to %s: %s %s %d bytes_up=%d bytes_down=%d ttfb=%s '
                'time=%.4f%s', self.target, self.method,
                _quoted(self.path_info), status, bytes_up, bytes_down,
                '-' if self.ttfb is None else '%.4f' % self.ttfb, elapsed,
                '' if outcome is None else ': %s' % outcome)
        metrics = self.metrics
        metrics.increment('requests.%s.%dxx' % (
            self.method if self.method in METHODS else 'BAD_METHOD',
            status // 100))
        metrics.increment('bytes_up', bytes_up)
        metrics.increment('bytes_down', bytes_down)
        metrics.timing('time', elapsed)

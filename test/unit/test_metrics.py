# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.metrics: statsd names and types, the access
line, and what the pool and the middleware count.

Most tests record through :class:`StatsLogger`, a :class:`FakeLogger` with
Swift's statsd methods.  :class:`TestOnTheWire` uses Swift's real logger
and reads the statsd and syslog datagrams off loopback UDP sockets.
"""

import io
import logging
import os
import socket
import tempfile
import types
import unittest
from unittest import mock

import swift_forwarder.middleware as middleware
from swift_forwarder import metrics, service
from swift_forwarder.forward import COUNTERS, ErrorLimiter, Upstream
from swift_forwarder.iterators import RequestBody
from swift_forwarder.metrics import NULL_METRICS, RequestRecord, \
    TargetMetrics, metric_name
from swift_forwarder.exceptions import PoolExhaustedError
from swift_forwarder.integrity import READ_AHEAD
from swift_forwarder.middleware import ForwarderMiddleware, \
    _TxnLoggerAdapter

from test.unit.helpers import RESUMED_DATA, WRONG_ETAG, FakeApp, \
    FakeLogger, FakeSwobRequest, GreenTestCase, LeakTracker, \
    MiddlewareTestCase, keep_alive_handler, make_env, make_pool, \
    refused_port, resume_and_mismatch_handler, serving


class FakeStatsdClient(object):
    """Swift's StatsdClient as far as gauges use it: ``_send``."""

    def __init__(self, sent):
        self.sent = sent
        self.sample_rates = []

    def _send(self, name, value, metric_type, sample_rate):
        self.sent.append((name, value, metric_type))
        self.sample_rates.append(sample_rate)


class StatsLogger(FakeLogger):
    """A :class:`FakeLogger` with Swift's statsd methods (``update_stats``,
    ``timing``) and its ``logger.statsd_client``.  Every metric lands in
    :attr:`sent` as ``(name, value, type)``, type ``c``, ``ms`` or ``g``.
    """

    def __init__(self):
        super().__init__()
        self.sent = []
        self.statsd_client = FakeStatsdClient(self.sent)
        self.logger = types.SimpleNamespace(statsd_client=self.statsd_client)

    def update_stats(self, name, value):
        self.sent.append((name, value, 'c'))

    def timing(self, name, timing_ms):
        self.sent.append((name, timing_ms, 'ms'))

    def counts(self):
        """Counter totals by name."""
        totals = {}
        for name, value, kind in self.sent:
            if kind == 'c':
                totals[name] = totals.get(name, 0) + value
        return totals

    def values(self, name, kind):
        """Every value sent for ``name`` as a ``kind`` metric."""
        return [value for sent_name, value, sent_kind in self.sent
                if sent_name == name and sent_kind == kind]

    def names(self):
        """``{(name, type)}`` of everything sent."""
        return set((name, kind) for name, _value, kind in self.sent)


class FakeTime(object):
    """Stands in for the ``time`` module of swift_forwarder.metrics."""

    def __init__(self, now=1000.0):
        self.now = now

    def monotonic(self):
        return self.now


class TestMetricName(unittest.TestCase):

    def test_safe_names_unchanged(self):
        for name in ('default', 'east-1', 'EU_west2'):
            self.assertEqual(name, metric_name(name))

    def test_unsafe_characters(self):
        """Anything that is not a letter, digit, ``_`` or ``-`` becomes
        ``_``: dots would add levels, ``:|@`` break the statsd line."""
        for name, expected in (('//realm/cluster', '__realm_cluster'),
                               ('//REALM/C1', '__REALM_C1'),
                               ('a.b', 'a_b'), ('x:1|c@0.5', 'x_1_c_0_5'),
                               ('caf\u00e9 bar', 'caf__bar'),
                               ('tab\there\n', 'tab_here_')):
            self.assertEqual(expected, metric_name(name), name)


class TestTargetMetrics(unittest.TestCase):

    def test_no_statsd_host_no_calls(self):
        """Built from proxy-server.conf without log_statsd_host, the
        filter makes no metric calls at all (Swift's logger would send
        nothing); with it, every target has its metrics."""
        conf = {'target_url': 'http://127.0.0.1:1'}
        mw = ForwarderMiddleware(FakeApp(), conf)
        self.assertIs(NULL_METRICS, mw.targets['default'].metrics)
        self.assertIs(NULL_METRICS, mw.targets['default'].pool.metrics)
        conf['log_statsd_host'] = '127.0.0.1'
        mw = ForwarderMiddleware(FakeApp(), conf)
        self.assertIsInstance(mw.targets['default'].metrics, TargetMetrics)
        self.assertIs(mw.targets['default'].metrics,
                      mw.targets['default'].pool.metrics)

    def test_names_and_types(self):
        """Counters go to update_stats, timers (given in seconds) to
        timing in ms, gauges to the statsd client's ``_send`` with type
        ``g`` and no sample rate; every name under the target's."""
        logger = StatsLogger()
        target = TargetMetrics(logger, '//realm/cluster')
        target.increment('pool.created')
        target.increment('bytes_down', 4096)
        target.timing('ttfb', 0.25)
        target.gauge('pool.in_use', 3)
        self.assertEqual([('__realm_cluster.pool.created', 1, 'c'),
                          ('__realm_cluster.bytes_down', 4096, 'c'),
                          ('__realm_cluster.ttfb', 250.0, 'ms'),
                          ('__realm_cluster.pool.in_use', 3, 'g')],
                         logger.sent)
        self.assertEqual([None], logger.statsd_client.sample_rates)

    def test_zero_not_sent(self):
        """A counter bumped by nothing sends nothing (bytes_up of a GET)."""
        logger = StatsLogger()
        TargetMetrics(logger, 'default').increment('bytes_up', 0)
        self.assertEqual([], logger.sent)

    def test_without_statsd(self):
        """Loggers without Swift's statsd methods (the stand-in used where
        Swift is not installed, a plain FakeLogger) send nothing and fail
        nothing; one without a statsd client sends no gauges."""
        for logger in (FakeLogger(), _TxnLoggerAdapter(
                logging.getLogger('test_metrics'))):
            target = TargetMetrics(logger, 'default')
            target.increment('retries')
            target.timing('time', 1.0)
            target.gauge('pool.idle', 1)
        logger = StatsLogger()
        del logger.logger
        target = TargetMetrics(logger, 'default')
        target.increment('retries')
        target.gauge('pool.idle', 1)
        self.assertEqual([('default.retries', 1, 'c')], logger.sent)

    def test_null_metrics(self):
        """NULL_METRICS takes every call; a pool without metrics uses it."""
        self.assertIsNone(NULL_METRICS.increment('x', 5))
        self.assertIsNone(NULL_METRICS.timing('x', 1.0))
        self.assertIsNone(NULL_METRICS.gauge('x', 1))
        self.assertIs(NULL_METRICS, make_pool(1).metrics)

    def test_upstream_count(self):
        """Upstream.count bumps the healthcheck counter and the metric."""
        logger = StatsLogger()
        pool = make_pool(1)
        pool.metrics = TargetMetrics(logger, 'east')
        upstream = Upstream(pool, 0, ErrorLimiter(10, 60, 60))
        for name in COUNTERS:
            upstream.count(name)
        upstream.count('resumes')
        self.assertEqual(dict(dict.fromkeys(COUNTERS, 1), resumes=2),
                         upstream.counters)
        self.assertEqual(dict(('east.' + name, value) for name, value in
                              upstream.counters.items()), logger.counts())


class TestRequestRecord(unittest.TestCase):
    """The access line and request metrics, on a clock the test moves."""

    def setUp(self):
        self.clock = FakeTime()
        patcher = mock.patch.object(metrics, 'time', self.clock)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.logger = StatsLogger()
        self.metrics = TargetMetrics(self.logger, 'east')

    def record(self, method='GET', path='/v1/AUTH_a/c/o', **kwargs):
        return RequestRecord('east', self.metrics, self.logger,
                             make_env(method, path, **kwargs))

    def test_line_and_metrics(self):
        """Time to first byte at the response head, the rest at the end."""
        record = self.record()
        self.clock.now += 0.25
        record.response_head(200, None)
        self.assertEqual([('east.ttfb', 250.0, 'ms')], self.logger.sent)
        self.clock.now += 1.25
        record.finish(200, 4096)
        self.assertEqual([('info', 'forwarded to east: GET /v1/AUTH_a/c/o 200 '
                           'bytes_up=0 bytes_down=4096 ttfb=0.2500 '
                           'time=1.5000')], self.logger.lines)
        self.assertEqual([('east.ttfb', 250.0, 'ms'),
                          ('east.requests.GET.2xx', 1, 'c'),
                          ('east.bytes_down', 4096, 'c'),
                          ('east.time', 1500.0, 'ms')], self.logger.sent)

    def test_error_without_response(self):
        """No response head: ``ttfb=-``, no ttfb timer; the outcome after
        a colon; error level when asked."""
        record = self.record('PUT')
        self.clock.now += 0.5
        record.finish(503, outcome='http://t:80: connect failed: refused',
                      error=True)
        self.assertEqual([('error', 'forwarded to east: PUT /v1/AUTH_a/c/o '
                           '503 bytes_up=0 bytes_down=0 ttfb=- time=0.5000: '
                           'http://t:80: connect failed: refused')],
                         self.logger.lines)
        self.assertEqual([('east.requests.PUT.5xx', 1, 'c'),
                          ('east.time', 500.0, 'ms')], self.logger.sent)

    def test_finish_once(self):
        """The first finish() counts; later ones (a close after an error,
        say) do nothing."""
        record = self.record()
        record.response_head(200, None)
        record.finish(200, 10)
        record.finish(502, 0, outcome='late', error=True)
        record.finish(200, 10)
        self.assertEqual(1, len(self.logger.lines))
        self.assertEqual({'east.requests.GET.2xx': 1, 'east.bytes_down': 10},
                         self.logger.counts())
        self.assertEqual(1, len(self.logger.values('east.time', 'ms')))

    def test_methods(self):
        """Swift's methods are counted by name; anything else (and a
        lower-case name) as BAD_METHOD; the line has the method as sent,
        as in Swift's proxy-logging."""
        for method in ('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY',
                       'OPTIONS', 'PATCH', 'get', 'PROPFIND'):
            self.record(method).finish(405)
        self.assertEqual({
            'east.requests.GET.4xx': 1, 'east.requests.HEAD.4xx': 1,
            'east.requests.PUT.4xx': 1, 'east.requests.POST.4xx': 1,
            'east.requests.DELETE.4xx': 1, 'east.requests.COPY.4xx': 1,
            'east.requests.OPTIONS.4xx': 1,
            'east.requests.BAD_METHOD.4xx': 3}, self.logger.counts())
        self.assertEqual(
            ['forwarded to east: %s /v1/AUTH_a/c/o 405 bytes_up=0 '
             'bytes_down=0 ttfb=- time=0.0000' % method
             for method in ('PATCH', 'get', 'PROPFIND')],
            [text for _level, text in self.logger.lines[-3:]])

    def test_status_classes(self):
        for status in (101, 204, 304, 499, 508):
            self.record().finish(status)
        self.assertEqual(['east.requests.GET.%dxx' % n for n in range(1, 6)],
                         sorted(self.logger.counts()))

    def test_bytes_up(self):
        """bytes_up is what was read of the client's body, however far the
        upload got."""
        body = RequestBody(io.BytesIO(b'x' * 1000), 1000, 300, 1)
        chunks = iter(body)
        next(chunks)
        next(chunks)
        record = self.record('PUT')
        record.request_body = body
        record.finish(499, outcome='client gone')
        self.assertEqual([('info', 'forwarded to east: PUT /v1/AUTH_a/c/o 499 '
                           'bytes_up=600 bytes_down=0 ttfb=- time=0.0000: '
                           'client gone')], self.logger.lines)
        self.assertEqual(600, self.logger.counts()['east.bytes_up'])

    def test_log_info(self):
        """The target's transaction id joins its ``swift.log_info`` entry
        once the response head is in; without one the entry stays."""
        entries = ['tempurl:x', 'forwarder:east']
        record = self.record()
        record.log_info = (entries, 1)
        record.response_head(200, 'txTARGET')
        self.assertEqual(['tempurl:x', 'forwarder:east:txTARGET'], entries)
        entries = ['forwarder:east']
        record = self.record()
        record.log_info = (entries, 0)
        record.response_head(200, None)
        self.assertEqual(['forwarder:east'], entries)
        self.record().response_head(200, 'txT')  # no log_info: no error

    def test_quoting(self):
        """The path as proxy-logging quotes it (so one request is one line
        whatever its name holds), and never the query string."""
        cases = [
            ('/v1/AUTH_a/c/a b', '/v1/AUTH_a/c/a%20b'),
            ('/v1/AUTH_a/c/caf%C3%A9', '/v1/AUTH_a/c/caf%C3%A9'),
            ('/v1/AUTH_a/c/x%0D%0Aforwarded to evil',
             '/v1/AUTH_a/c/x%0D%0Aforwarded%20to%20evil'),
            ('/v1/AUTH_a/c/100%25%3F%23', '/v1/AUTH_a/c/100%25%3F%23'),
            ('/v1/AUTH_%E2%82%AC/c/%F0%9F%90%8D',
             '/v1/AUTH_%E2%82%AC/c/%F0%9F%90%8D'),
        ]
        for raw, logged in cases:
            self.record(path=raw, query='temp_url_sig=SIGSECRET&'
                        'temp_url_expires=1700000000').finish(200)
        self.assertEqual(['forwarded to east: GET %s 200 bytes_up=0 '
                          'bytes_down=0 ttfb=- time=0.0000' % logged
                          for _raw, logged in cases],
                         [text for _level, text in self.logger.lines])

    def test_path_beyond_latin1(self):
        """A PATH_INFO that is not WSGI's latin-1 (a broken middleware
        before us) is still logged, never an exception."""
        env = make_env()
        env['PATH_INFO'] = '/v1/AUTH_a/c/\u20ac'
        RequestRecord('east', self.metrics, self.logger, env).finish(200)
        self.assertEqual('forwarded to east: GET /v1/AUTH_a/c/%3F 200 '
                         'bytes_up=0 bytes_down=0 ttfb=- time=0.0000',
                         self.logger.lines[0][1])


class TestPoolMetrics(GreenTestCase):
    """pool.* metrics at each checkout, on real loopback sockets."""

    def setUp(self):
        super().setUp()
        self.server = self.start_server(keep_alive_handler())
        self.logger = StatsLogger()

    def pool(self, **kwargs):
        pool = self.make_pool(self.server.port, **kwargs)
        pool.metrics = TargetMetrics(self.logger, 'default')
        return pool

    def sent(self):
        """What was sent, the pool.wait figures as 'W'; then forgotten."""
        sent = [(name, 'W' if name == 'default.pool.wait' else value, kind)
                for name, value, kind in self.logger.sent]
        for name, value, kind in self.logger.sent:
            if name == 'default.pool.wait':
                self.assertGreaterEqual(value, 0)
        del self.logger.sent[:]
        return sent

    def test_checkouts(self):
        pool = self.pool(maxsize=2, pool_timeout=0.01)
        first = pool.get()
        self.assertEqual([('default.pool.wait', 'W', 'ms'),
                          ('default.pool.created', 1, 'c'),
                          ('default.pool.in_use', 1, 'g'),
                          ('default.pool.idle', 0, 'g')], self.sent())
        pool.put(first)  # the gauges again, as the connection goes back
        self.assertEqual([('default.pool.in_use', 0, 'g'),
                          ('default.pool.idle', 1, 'g')], self.sent())
        first = pool.get()
        second = pool.get()
        self.assertEqual([('default.pool.wait', 'W', 'ms'),
                          ('default.pool.reused', 1, 'c'),
                          ('default.pool.in_use', 1, 'g'),
                          ('default.pool.idle', 0, 'g'),
                          ('default.pool.wait', 'W', 'ms'),
                          ('default.pool.created', 1, 'c'),
                          ('default.pool.in_use', 2, 'g'),
                          ('default.pool.idle', 0, 'g')], self.sent())
        with self.assertRaises(PoolExhaustedError):
            pool.get()
        self.assertEqual([('default.pool.exhausted', 1, 'c')], self.sent())
        pool.discard(first)
        pool.put(second)
        self.assertEqual([('default.pool.discarded', 1, 'c'),
                          ('default.pool.in_use', 1, 'g'),
                          ('default.pool.idle', 0, 'g'),
                          ('default.pool.in_use', 0, 'g'),
                          ('default.pool.idle', 1, 'g')], self.sent())
        third = pool.get()
        self.assertEqual([('default.pool.wait', 'W', 'ms'),
                          ('default.pool.reused', 1, 'c'),
                          ('default.pool.in_use', 1, 'g'),
                          ('default.pool.idle', 0, 'g')], self.sent())
        pool.put(third)

    def test_stale_idle_discarded(self):
        """An idle connection past max_idle_time is discarded at the next
        checkout, and a new one created."""
        pool = self.pool(max_idle_time=1)
        conn = pool.get()
        pool.put(conn)
        conn.last_used -= 10
        self.sent()
        pool.put(pool.get())
        self.assertEqual([('default.pool.wait', 'W', 'ms'),
                          ('default.pool.discarded', 1, 'c'),
                          ('default.pool.created', 1, 'c'),
                          ('default.pool.in_use', 1, 'g'),
                          ('default.pool.idle', 0, 'g'),
                          ('default.pool.in_use', 0, 'g'),
                          ('default.pool.idle', 1, 'g')], self.sent())

    def test_metric_failure_loses_nothing_else(self):
        """A metric that cannot be sent (EMFILE for the UDP socket) is
        lost, logged once; the pool's slots and sockets are not."""
        pool = self.pool(maxsize=1, pool_timeout=0.01)

        def broken(*args):
            raise OSError(24, 'Too many open files')
        self.logger.update_stats = self.logger.timing = broken
        self.logger.statsd_client._send = broken
        pool.metrics = TargetMetrics(self.logger, 'default')
        for _ in range(3):
            pool.discard(pool.get())
            pool.put(pool.get())
        self.assertStats(pool, in_use=0, idle=1, discarded=3)
        self.assertEqual(1, len(self.logger.get_lines('warning')))
        self.assertIn('Metric default.pool.wait not sent (1 so far)',
                      self.logger.get_lines('warning')[0])

    def test_connect_outside_the_pool(self):
        """ConnectionPool.connect (probes): no metric, no counter."""
        pool = self.pool()
        conn = pool.connect()
        conn.close()
        self.assertEqual([], self.sent())
        self.assertStats(pool, created=0, in_use=0)


class MetricsTestCase(MiddlewareTestCase):
    """The middleware, logging to a :class:`StatsLogger`."""

    def setUp(self):
        super().setUp()
        self.logger = StatsLogger()

    def assertCountersMatch(self, mw):
        """Every Upstream counter equals its metric (0: never sent)."""
        counts = self.logger.counts()
        self.assertEqual(self.counters(mw), dict(
            (name, counts.get('default.' + name, 0)) for name in COUNTERS))


class TestMiddlewareMetrics(MetricsTestCase):

    def test_gets(self):
        """N GETs on one keep-alive connection: N requests.GET.2xx, one
        connection created and reused N-1 times, a ttfb, time and
        pool.wait timer and two gauges per request; nothing else.  Read
        at once (short body) or streamed, the same."""
        for body, chunk_size in ((b'hello', '64'), (b'x' * 200, '64')):
            self.logger = StatsLogger()
            mw = self.middleware(keep_alive_handler(body),
                                 client_chunk_size=chunk_size)
            for _ in range(5):
                self.assertEqual(body, self.call(mw, make_env()).read())
            logger = self.logger
            self.assertEqual({'default.requests.GET.2xx': 5,
                              'default.bytes_down': 5 * len(body),
                              'default.pool.created': 1,
                              'default.pool.reused': 4}, logger.counts())
            for timer in ('ttfb', 'time', 'pool.wait'):
                self.assertEqual(5, len(logger.values('default.' + timer,
                                                      'ms')), timer)
            # at each checkout, and as each connection goes back
            self.assertEqual([1, 0] * 5, logger.values('default.pool.in_use',
                                                       'g'))
            self.assertEqual([0, 1] * 5, logger.values('default.pool.idle',
                                                       'g'))
            self.assertEqual(
                {('default.requests.GET.2xx', 'c'), ('default.bytes_down', 'c'),
                 ('default.pool.created', 'c'), ('default.pool.reused', 'c'),
                 ('default.ttfb', 'ms'), ('default.time', 'ms'),
                 ('default.pool.wait', 'ms'), ('default.pool.in_use', 'g'),
                 ('default.pool.idle', 'g')}, logger.names())
            self.assertEqual(5, len(logger.get_lines('info')))
            self.assertEqual(1, self.server.accepted)

    def test_put_head_and_statuses(self):
        """bytes_up of an upload; each method and status class its own."""
        def answer(sock, request):
            status = 404 if request.path.endswith('/missing') else 201
            sock.respond(status, b'' if request.method == 'HEAD' else b'nope')
        mw = self.middleware(serving(answer))
        self.call(mw, make_env('PUT', body=b'u' * 1000)).read()
        self.call(mw, make_env('HEAD')).read()
        self.call(mw, make_env(path='/v1/AUTH_a/c/missing')).read()
        self.assertEqual({'default.requests.PUT.2xx': 1,
                          'default.requests.HEAD.2xx': 1,
                          'default.requests.GET.4xx': 1,
                          'default.bytes_up': 1000,
                          'default.bytes_down': 8,
                          'default.pool.created': 1,
                          'default.pool.reused': 2}, self.logger.counts())

    def test_pool_exhausted(self):
        """No free connection: pool.exhausted and a requests.GET.5xx; the
        request that held the connection counts its 2xx at its end."""
        mw = self.middleware(keep_alive_handler(b'q' * 1000), pool_size='1',
                             pool_timeout='0.05', client_chunk_size='64')
        first = self.call(mw, make_env())
        resp = self.call(mw, make_env())
        self.assertEqual(503, resp.status_int)
        resp.read()
        self.assertEqual({'default.pool.exhausted': 1,
                          'default.requests.GET.5xx': 1,
                          'default.pool.created': 1}, self.logger.counts())
        first.read()
        counts = self.logger.counts()
        self.assertEqual((1, 1000), (counts['default.requests.GET.2xx'],
                                     counts['default.bytes_down']))
        self.assertEqual(1, len(self.logger.values('default.ttfb', 'ms')))
        self.assertEqual(1, len(self.logger.values('default.pool.wait',
                                                   'ms')))

    def test_loop(self):
        """A loop: loop_refusals and a requests.GET.5xx (508); no pool
        metric, nothing was connected."""
        mw = self.middleware(keep_alive_handler())
        resp = self.call(mw, make_env(headers={'X-Forwarder-Hops':
                                               'fwd-test'}))
        self.assertEqual(508, resp.status_int)
        resp.read()
        self.assertEqual({'default.loop_refusals': 1,
                          'default.requests.GET.5xx': 1},
                         self.logger.counts())
        self.assertEqual({('default.loop_refusals', 'c'),
                          ('default.requests.GET.5xx', 'c'),
                          ('default.time', 'ms')}, self.logger.names())
        self.assertCountersMatch(mw)

    def test_bad_method(self):
        mw = self.middleware(keep_alive_handler())
        self.call(mw, make_env('PATCH')).read()
        self.assertEqual({'default.requests.BAD_METHOD.4xx': 1},
                         self.logger.counts())

    def test_error_limiting(self):
        """Connect retries, the suppression and the error-limited request
        are counted as metrics as in the healthcheck counters."""
        sock, port = refused_port()
        self.closing(sock)
        mw = self.middleware(port=port, retries='1', error_limit='2')
        for _ in range(2):
            self.assertEqual(503, self.call(mw, make_env()).status_int)
        for body in self.tracker.bodies:
            body.close()
        self.assertEqual({'default.retries': 1, 'default.suppressions': 1,
                          'default.error_limited': 1,
                          'default.requests.GET.5xx': 2},
                         self.logger.counts())
        self.assertCountersMatch(mw)

    def test_resume_and_etag_mismatch(self):
        """A resumed body counts resumes (and one 2xx); a body whose ETag
        does not match counts etag_mismatches and a 5xx (502)."""
        mw = self.middleware(resume_and_mismatch_handler(),
                             client_chunk_size='64')
        self.call(mw, make_env(path='/v1/AUTH_a/c/bad')).read()
        self.assertEqual(RESUMED_DATA, self.call(
            mw, make_env(path='/v1/AUTH_a/c/cut')).read())
        counts = self.logger.counts()
        self.assertEqual({'resumes': 1, 'etag_mismatches': 1, 'GET.5xx': 1,
                          'GET.2xx': 1, 'bytes_down': 1024}, {
            'resumes': counts['default.resumes'],
            'etag_mismatches': counts['default.etag_mismatches'],
            'GET.5xx': counts['default.requests.GET.5xx'],
            'GET.2xx': counts['default.requests.GET.2xx'],
            'bytes_down': counts['default.bytes_down']})
        self.assertCountersMatch(mw)

    def test_client_closes(self):
        """A client gone mid-body: pool.discarded, the bytes it got."""
        def handler(sock):
            sock.read_head()
            sock.respond(200, b'y' * 5000)
            sock.read_to_eof()
        mw = self.middleware(handler, client_chunk_size='64')
        resp = self.call(mw, make_env())
        next(resp.body)
        resp.body.close()
        counts = self.logger.counts()
        self.assertEqual((1, 1, 64 * READ_AHEAD), (
            counts['default.pool.discarded'],
            counts['default.requests.GET.2xx'], counts['default.bytes_down']))

    def test_several_targets(self):
        """Each target's metrics under its own (sanitised) name."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'targets.conf')
            self.server = self.start_server(keep_alive_handler())
            with open(path, 'w') as fp:
                fp.write('[target:east.1]\ntarget_url = http://127.0.0.1:%d\n'
                         'forward = AUTH_east\n' % self.server.port)
            mw = self.middleware(port=1, forward='AUTH_default',
                                 targets_conf=path)
        self.call(mw, make_env(path='/v1/AUTH_east/c/o')).read()
        self.assertEqual({'east_1.requests.GET.2xx': 1,
                          'east_1.bytes_down': 5, 'east_1.pool.created': 1},
                         self.logger.counts())
        mw.targets['east.1'].pool.close()


class TestLogInfo(MetricsTestCase):
    """``swift.log_info``: the target, then its transaction id."""

    def test_target_txn_id(self):
        mw = self.middleware(keep_alive_handler(headers=[
            ('X-Trans-Id', 'txTARGET')]))
        env = make_env()
        self.call(mw, env).read()
        self.assertEqual(['forwarder:default:txTARGET'], env['swift.log_info'])
        env = make_env()
        env['swift.log_info'] = ['tempurl:x']
        self.call(mw, env).read()
        self.assertEqual(['tempurl:x', 'forwarder:default:txTARGET'],
                         env['swift.log_info'])

    def test_no_response(self):
        """No response head (or none with an X-Trans-Id): the target's
        name only; refused before sending, or not forwarded: nothing."""
        mw = self.middleware(keep_alive_handler(), forward='AUTH_test')
        env = make_env()
        self.call(mw, env).read()
        self.assertEqual(['forwarder:default'], env['swift.log_info'])
        # refused before anything was sent (a loop): not the target's
        env = make_env(headers={'X-Forwarder-Hops': 'fwd-test'})
        self.call(mw, env).read()
        self.assertNotIn('swift.log_info', env)
        env = make_env(path='/v1/AUTH_local/c/o')
        self.call(mw, env).read()
        self.assertNotIn('swift.log_info', env)


class TestSecrets(MetricsTestCase):
    """No credential ever reaches a log line or a metric name."""

    SECRETS = ('AUTH_tkCLIENTSECRET', 'SIGSECRET', 'KEYSECRET',
               'AUTH_tkSERVICESECRET')

    def assertNoSecrets(self):
        self.assertTrue(self.logger.lines)
        for text in [text for _level, text in self.logger.lines] + [
                name for name, _value, _kind in self.logger.sent]:
            for secret in self.SECRETS:
                self.assertNotIn(secret, text)

    def env(self, method='GET', path='/v1/AUTH_test/c/o', **kwargs):
        return make_env(method, path, query='temp_url_sig=SIGSECRET&'
                        'temp_url_expires=1700000000', headers={
                            'X-Auth-Token': 'AUTH_tkCLIENTSECRET',
                            'X-Storage-Token': 'AUTH_tkCLIENTSECRET'},
                        **kwargs)

    def test_passthrough_mode(self):
        """Successes, the target's errors, the forwarder's refusals and
        failures, and an ETag mismatch on PUT."""
        def answer(sock, request):
            if request.method == 'PUT':
                sock.respond(201, b'', [('Etag', WRONG_ETAG)])
            elif request.path.endswith('/denied'):
                sock.respond(401, b'Unauthorized')
            else:
                sock.respond(200, b'z' * 100)
        mw = self.middleware(serving(answer), client_chunk_size='64')
        for env in (self.env(), self.env(path='/v1/AUTH_test/c/denied'),
                    self.env('PUT', body=b'data'),
                    self.env(path='/v1/AUTH_test/c/../o'),
                    self.env('PATCH')):
            self.call(mw, env).read()
        resp = self.call(mw, self.env())
        next(resp.body)
        resp.body.close()  # client gone mid-body
        self.assertEqual(6, len(self.logger.lines))
        self.assertNoSecrets()

    def test_service_mode(self):
        """Service mode: neither the auth_key nor the service token shows
        in the access lines of an allowed, a refused, and a request the
        target refuses the token for."""
        patcher = mock.patch.object(service, 'Request', FakeSwobRequest)
        patcher.start()
        self.addCleanup(patcher.stop)

        def handler(sock):
            while True:
                request = sock.read_head()
                if request is None:
                    return
                if request.method == 'HEAD':  # the ACL lookup
                    sock.respond(204, b'')
                elif request.path.endswith('/refused'):
                    sock.respond(401, b'')
                else:
                    sock.respond(200, b'data')
        mw = self.middleware(handler, auth_mode='service',
                             auth_url='http://127.0.0.1:1/auth/v1.0',
                             auth_user='svc:user', auth_key='KEYSECRET',
                             forward='AUTH_local')
        mw.targets['default'].service.tokens._fetch = lambda: (
            'http://127.0.0.1/v1/AUTH_service', 'AUTH_tkSERVICESECRET')

        def env(path, allow=True):
            env = self.env(path=path)

            def authorize(req):
                if allow:
                    return None

                def refuse(env, start_response):
                    start_response('403 Forbidden', [('Content-Length', '0')])
                    return []
                return refuse
            env['swift.authorize'] = authorize
            return env
        for request_env in (env('/v1/AUTH_local/c/o'),
                            env('/v1/AUTH_local/c/o', allow=False),
                            env('/v1/AUTH_local/c/refused')):
            self.call(mw, request_env).read()
        self.assertEqual(
            [('info', 'forwarded to default: GET /v1/AUTH_local/c/o 200 '
              'bytes_up=0 bytes_down=4'),
             ('info', 'forwarded to default: GET /v1/AUTH_local/c/o 403 '
              'bytes_up=0 bytes_down=0'),
             ('error', 'forwarded to default: GET /v1/AUTH_local/c/refused '
              '502 bytes_up=0 bytes_down=0')],
            [(level, text[:text.index(' ttfb=')])
             for level, text in self.logger.lines])
        self.assertNoSecrets()


class TestOnTheWire(GreenTestCase):
    """Swift's real logger (``get_logger``, as the middleware makes it),
    with its statsd and syslog output read off loopback UDP sockets."""

    def receiver(self):
        """A bound UDP socket on 127.0.0.1; :returns: ``(sock, port)``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(('127.0.0.1', 0))
        sock.setblocking(False)
        return sock, sock.getsockname()[1]

    def datagrams(self, sock):
        """Every datagram received so far, decoded (a loopback sendto
        has delivered by the time it returns)."""
        received = []
        while True:
            try:
                received.append(sock.recv(65536).decode('utf-8'))
            except BlockingIOError:
                return received

    def wire_conf(self, **extra):
        self.statsd, statsd_port = self.receiver()
        self.syslog, syslog_port = self.receiver()
        conf = {'log_statsd_host': '127.0.0.1',
                'log_statsd_port': str(statsd_port),
                'log_udp_host': '127.0.0.1', 'log_udp_port': str(syslog_port),
                'log_level': 'DEBUG', 'log_name': 'proxy-server'}
        conf.update(extra)
        return conf

    def swift_logger(self, conf):
        logger = middleware.get_logger(conf)
        self.addCleanup(self.close_logger, logger)
        return logger

    def close_logger(self, logger):
        """Close its syslog socket (Swift never does: a new get_logger
        for the same route only drops the old handler)."""
        logger.txn_id = None
        for handler in list(logger.logger.handlers):
            logger.logger.removeHandler(handler)
            handler.close()

    def test_names_types_prefix(self):
        """``[log_statsd_metric_prefix.]forwarder.<target>.<name>`` with
        Swift's own line format: ``c`` counters, ``ms`` timers, ``g``
        gauges."""
        for extra, prefix in (({'log_statsd_metric_prefix': 'proxy01'},
                               'proxy01.forwarder.'), ({}, 'forwarder.')):
            logger = self.swift_logger(self.wire_conf(**extra))
            target = TargetMetrics(logger, '//realm/cluster')
            target.increment('pool.created')
            target.increment('bytes_down', 4096)
            target.timing('ttfb', 0.25)
            target.gauge('pool.in_use', 3)
            self.assertEqual([prefix + line for line in (
                '__realm_cluster.pool.created:1|c',
                '__realm_cluster.bytes_down:4096|c',
                '__realm_cluster.ttfb:250.0|ms',
                '__realm_cluster.pool.in_use:3|g')],
                self.datagrams(self.statsd))
            self.close_logger(logger)  # before the next get_logger drops it

    def test_middleware(self):
        """The middleware with the logger it makes itself: the access line
        goes to syslog with the transaction id, the metrics to statsd;
        no secret in either."""
        server = self.start_server(keep_alive_handler(b'hello', headers=[
            ('X-Trans-Id', 'txTARGET')]))
        conf = self.wire_conf(log_statsd_metric_prefix='proxy01')
        conf.update(target_url='http://127.0.0.1:%d' % server.port,
                    forwarder_id='fwd-test')
        mw = ForwarderMiddleware(FakeApp(), conf)
        self.addCleanup(self.close_logger, mw.logger)
        self.addCleanup(mw.targets['default'].pool.close)
        tracker = LeakTracker()
        for method in ('GET', 'PATCH'):
            env = make_env(method, query='temp_url_sig=SIGSECRET&'
                           'temp_url_expires=1700000000', headers={
                               'X-Auth-Token': 'AUTH_tkCLIENTSECRET'},
                           **{'swift.trans_id': 'txWIRE'})
            tracker.call(mw, env).read()
        syslog = self.datagrams(self.syslog)
        statsd = self.datagrams(self.statsd)
        self.assertEqual(2, len(syslog), syslog)
        self.assertRegex(syslog[0], r'^<\d+>proxy-server: ' + (
            r'forwarded to default: GET /v1/AUTH_test/c/o 200 bytes_up=0 '
            r'bytes_down=5 ttfb=\d+\.\d{4} time=\d+\.\d{4} \(txn: txWIRE\)'
            r'\x00?$'))
        self.assertRegex(syslog[1], r'^<\d+>proxy-server: ' + (
            r'forwarded to default: PATCH /v1/AUTH_test/c/o 405 '
            r'bytes_up=0 bytes_down=0 ttfb=- time=\d+\.\d{4}: Method PATCH '
            r'is not allowed \(txn: txWIRE\)\x00?$'))
        names = sorted(line.split(':', 1)[0] + '|' + line.rsplit('|', 1)[1]
                       for line in statsd)
        self.assertEqual(sorted('proxy01.forwarder.default.' + name for name in (
            'pool.wait|ms', 'pool.created|c', 'pool.in_use|g', 'pool.idle|g',
            'pool.in_use|g', 'pool.idle|g', 'ttfb|ms', 'requests.GET.2xx|c',
            'bytes_down|c', 'time|ms',
            'requests.BAD_METHOD.4xx|c', 'time|ms')), names)
        self.assertIn('proxy01.forwarder.default.requests.GET.2xx:1|c', statsd)
        for line in syslog + statsd:
            for secret in ('SECRET', 'temp_url', 'AUTH_tk'):
                self.assertNotIn(secret, line)

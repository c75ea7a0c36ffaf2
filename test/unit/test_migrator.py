# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The migrator's pure pieces: what to copy, shards, progress markers, the
throttle, the generated internal client conf.  Runs on real clusters are
in test/functional/test_migrator.py."""

import collections
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest
import urllib.parse
from unittest import mock

from swift_forwarder import migrator
from swift_forwarder.exceptions import EtagMismatch
from swift_forwarder.routing import Rule, parse_forward


def entry(name='o', stamp='2026-01-01T00:00:00.000000', etag='abc',
          size=3):
    return {'name': name, 'last_modified': stamp, 'hash': etag,
            'bytes': size}


class TestDecide(unittest.TestCase):

    def test_missing_locally_is_copied(self):
        self.assertEqual(migrator.decide(entry(), None), 'copy')

    def test_older_locally_is_copied(self):
        self.assertEqual(migrator.decide(
            entry(stamp='2026-01-02T00:00:00.000000'), entry()), 'copy')

    def test_newer_locally_is_skipped(self):
        self.assertEqual(migrator.decide(
            entry(), entry(stamp='2026-01-02T00:00:00.000000')), 'newer')

    def test_same_is_unchanged(self):
        self.assertEqual(migrator.decide(entry(), entry()), 'unchanged')

    def test_listing_hash_parameters_ignored(self):
        self.assertEqual(migrator.decide(
            entry(etag='abc; slo_etag=def'), entry(etag='"abc"')),
            'unchanged')

    def test_same_time_other_content_is_a_conflict(self):
        self.assertEqual(migrator.decide(entry(), entry(etag='xyz')),
                         'conflict')
        self.assertEqual(migrator.decide(entry(), entry(size=4)), 'conflict')


class TestShards(unittest.TestCase):

    def test_parse(self):
        self.assertEqual(migrator.parse_shard('1/3'), (1, 3))
        for bad in ('3/3', '-1/2', '1', 'a/b', '0/0', '1/'):
            with self.assertRaises(ValueError):
                migrator.parse_shard(bad)

    def test_disjoint_and_complete(self):
        names = ['c%d' % i for i in range(200)] + ['ünï/%d' % i
                                                   for i in range(50)]
        taken = [set(n for n in names if migrator.in_shard('AUTH_a', n, (
            i, 3))) for i in range(3)]
        self.assertEqual(set().union(*taken), set(names))
        self.assertEqual(sum(len(t) for t in taken), len(names))
        self.assertTrue(all(taken))

    def test_versions_container_goes_with_its_container(self):
        for i in range(50):
            name = 'c%d' % i
            for shard in ((0, 4), (1, 4), (2, 4), (3, 4)):
                self.assertEqual(
                    migrator.in_shard('AUTH_a', name, shard),
                    migrator.in_shard('AUTH_a', '\x00versions\x00' + name,
                                      shard))

    def test_no_shard_takes_all(self):
        self.assertTrue(migrator.in_shard('AUTH_a', 'c', None))


class TestTracker(unittest.TestCase):

    def test_marker_follows_the_done_prefix(self):
        tracker = migrator.Tracker()
        for name in 'abcd':
            tracker.add(name)
        tracker.finish('b')
        self.assertEqual(tracker.marker, '')
        tracker.finish('a')
        self.assertEqual(tracker.marker, 'b')
        self.assertEqual(tracker.held, 2)

    def test_failure_holds_the_marker(self):
        tracker = migrator.Tracker('start')
        for name in 'xyz':
            tracker.add(name)
        tracker.finish('x')
        tracker.finish('y', ok=False)
        tracker.finish('z')
        self.assertEqual((tracker.marker, tracker.held), ('x', 2))
        tracker.finish('y')  # the deferred copy, later, went well
        self.assertEqual((tracker.marker, tracker.held), ('z', 0))


class TestPaged(unittest.TestCase):

    def cluster(self, names, limit):
        """A listing as a cluster with ``container_listing_limit = limit``
        serves it: a 412 for a larger ``limit``, pages of at most ``limit``
        after ``marker``."""
        queries = []

        def page(query):
            queries.append(query)
            params = dict(urllib.parse.parse_qsl(query))
            if int(params.get('limit', limit)) > limit:
                raise AssertionError('412: Maximum limit is %d' % limit)
            return [{'name': n} for n in names
                    if n > params.get('marker', '')][:limit]
        return page, queries

    def test_pages_at_the_clusters_own_limit_to_the_end(self):
        names = sorted('o%02d' % i for i in range(7))
        page, queries = self.cluster(names, 3)
        self.assertEqual([e['name'] for e in migrator._paged(page)], names)
        # 3 + 3 + 1, then the empty page that ends it
        self.assertEqual(len(queries), 4)
        self.assertNotIn('limit', queries[0])

    def test_from_a_marker(self):
        page, _queries = self.cluster(['a', 'b', 'c', 'd'], 2)
        self.assertEqual([e['name'] for e in migrator._paged(page, 'b')],
                         ['c', 'd'])

    def test_a_404_is_nothing(self):
        self.assertEqual(list(migrator._paged(lambda query: None)), [])


class TestThrottle(unittest.TestCase):

    def test_sleeps_to_the_rate(self):
        now = [100.0]
        slept = []

        def sleeper(seconds):
            slept.append(seconds)
            now[0] += seconds
        throttle = migrator.Throttle(1000, clock=lambda: now[0],
                                     sleeper=sleeper)
        throttle.consume(500)
        throttle.consume(500)
        self.assertAlmostEqual(sum(slept), 1.0)
        now[0] += 5  # idle: no credit beyond what was sent
        throttle.consume(100)
        self.assertAlmostEqual(sum(slept), 1.0)

    def test_zero_is_unbounded(self):
        throttle = migrator.Throttle(0, sleeper=self.fail)
        throttle.consume(1 << 30)


class TestCounts(unittest.TestCase):

    def test_add_and_dict(self):
        a, b = migrator.Counts(), migrator.Counts()
        a.copied, a.bytes, b.copied, b.failed = 2, 10, 1, 1
        b.failures.append({'name': 'o', 'reason': 'r'})
        a.add(b)
        self.assertEqual(a.as_dict(failures=False), {
            'copied': 3, 'skipped': 0, 'unchanged': 0, 'failed': 1,
            'bytes': 10, 'to_copy': 0})
        self.assertEqual(b.as_dict()['failures'], [{'name': 'o',
                                                    'reason': 'r'}])


class TestContainerSettings(unittest.TestCase):

    def test_digest_ignores_order(self):
        self.assertEqual(migrator.settings_digest([('a', '1'), ('b', '2')]),
                         migrator.settings_digest([('b', '2'), ('a', '1')]))
        self.assertNotEqual(migrator.settings_digest([('a', '1')]),
                            migrator.settings_digest([('a', '2')]))


class TestAccounts(unittest.TestCase):

    def _migrator(self, accounts=()):
        options = migrator.MigratorOptions(**dict(
            {name: default for name, _c, default in migrator.OPTIONS},
            retries=0, retry_delay=0, max_bytes_per_second=0, shard=None,
            accounts=tuple(accounts), verify=False, dry_run=False,
            report=None, forever=False, progress=False))
        local = type('Local', (), {'retry': None})()
        return migrator.Migrator(options, {}, local, None)

    def _tconf(self, migrate, account_map=None):
        address = collections.namedtuple('A', 'name')('src')
        return collections.namedtuple('T', 'migrate auth address')(
            parse_forward(migrate), {'account_map': account_map or {}},
            address)

    def test_named_accounts(self):
        self.assertEqual(self._migrator().accounts(self._tconf(
            'AUTH_a AUTH_b/c AUTH_c/p*')), ['AUTH_a', 'AUTH_b', 'AUTH_c'])

    def test_any_account_from_account_map_and_option(self):
        tconf = self._tconf('*', {'AUTH_x': 'AUTH_y'})
        self.assertEqual(self._migrator(['AUTH_z']).accounts(tconf),
                         ['AUTH_x', 'AUTH_z'])

    def test_prefix_filters(self):
        tconf = self._tconf('AUTH_p*', {'AUTH_px': 'A', 'AUTH_q': 'B'})
        self.assertEqual(self._migrator(['AUTH_pz', 'AUTH_r']).accounts(
            tconf), ['AUTH_px', 'AUTH_pz'])

    def test_none_is_a_usage_error(self):
        with self.assertRaises(migrator.UsageError) as caught:
            self._migrator().accounts(self._tconf('*'))
        self.assertIn('--account', str(caught.exception))
        self.assertEqual(caught.exception.exit_status, migrator.EXIT_USAGE)

    def test_rule_matching(self):
        self.assertTrue(migrator._account_matches(Rule(None, None, True),
                                                  'AUTH_x'))
        self.assertFalse(migrator._account_matches(Rule('AUTH_a', None,
                                                        False), 'AUTH_ab'))


class TestBodyReader(unittest.TestCase):

    def test_reads_sizes_and_counts(self):
        consumed = []
        throttle = collections.namedtuple('T', 'consume')(consumed.append)
        reader = migrator.BodyReader(iter([b'abc', b'defg', b'h']), throttle)
        self.assertEqual(reader.read(2), b'ab')
        self.assertEqual(reader.read(4), b'cdef')
        self.assertEqual(reader.read(), b'gh')
        self.assertEqual(reader.read(5), b'')
        self.assertEqual((reader.bytes, sum(consumed)), (8, 8))

    def test_error_kept(self):
        def body():
            yield b'abc'
            raise EtagMismatch('t', 'mismatch')
        reader = migrator.BodyReader(body(), migrator.Throttle(0))
        with self.assertRaises(EtagMismatch):
            reader.read(10)
        self.assertIsInstance(reader.error, EtagMismatch)


class TestOverride(unittest.TestCase):

    def test_header_becomes_environ_state(self):
        seen = []

        def app(env, start_response):
            seen.append(dict(env))
            return [b'']
        wrapped = migrator._InternalEnviron(app)
        wrapped({migrator._OVERRIDE_KEY: 'true'}, None)
        wrapped({}, None)
        self.assertTrue(seen[0]['swift.content_type_overridden'])
        self.assertNotIn(migrator._OVERRIDE_KEY, seen[0])
        self.assertNotIn('swift.content_type_overridden', seen[1])
        self.assertTrue(seen[0]['swift_owner'] and seen[1]['swift_owner'])


class TestInternalClientConf(unittest.TestCase):

    def test_built_from_the_proxy_conf(self):
        conf = (
            '[DEFAULT]\nbind_port = 8080\nswift_dir = /srv/swift\n'
            'workers = 4\n\n'
            '[pipeline:main]\npipeline = catch_errors gatekeeper cache '
            'forwarder proxy-server\n\n'
            '[app:proxy-server]\nuse = egg:swift#proxy\nnode_timeout = 7\n'
            'account_autocreate = false\n\n'
            '[filter:cache]\nuse = egg:swift#memcache\n'
            'memcache_servers = 10.0.0.1:11211\n\n'
            '[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n')
        with tempfile.NamedTemporaryFile('w', suffix='.conf',
                                         delete=False) as f:
            f.write(conf)
        try:
            text = migrator.internal_client_conf(f.name)
        finally:
            os.unlink(f.name)
        self.assertIn('pipeline = catch_errors proxy-logging cache '
                      'proxy-server\n', text)
        self.assertNotIn('gatekeeper', text)
        self.assertIn('node_timeout = 7\n', text)
        self.assertIn('swift_dir = /srv/swift\n', text)
        self.assertIn('memcache_servers = 10.0.0.1:11211\n', text)
        self.assertEqual(text.count('account_autocreate'), 1)
        self.assertIn('account_autocreate = true\n', text)
        self.assertNotIn('bind_port', text)
        self.assertNotIn('workers', text)


class TestParser(unittest.TestCase):

    def test_options(self):
        args = migrator.build_parser().parse_args([
            'proxy.conf', '--shard', '0/2', '--account', 'AUTH_a',
            '--account', 'AUTH_b', '--workers', '3', '--verify'])
        self.assertEqual((args.shard, args.account, args.workers,
                          args.verify), ((0, 2), ['AUTH_a', 'AUTH_b'], 3,
                                         True))


# -- a whole pass, over fakes of both sides ---------------------------------------

def _etag(data):
    return hashlib.md5(data).hexdigest()


class FakeBody(object):
    """A source body: chunks, then an ETag check at the end (as
    ResponseBody with etag=...)."""

    def __init__(self, data, etag):
        self.chunks = [data[i:i + 4] for i in range(0, len(data), 4)] or []
        self.md5 = _etag(data)
        self.etag = etag
        self.error = None
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if not self.chunks:
            if self.md5 != self.etag and self.error is None:
                self.error = EtagMismatch('src', 'mismatch')
                raise self.error
            raise StopIteration
        return self.chunks.pop(0)

    def close(self):
        self.closed = True


class FakeSource(object):
    """The source's containers and objects: {(account, container):
    {name: (data, headers)}}; ``corrupt``: names whose bytes read never
    match their ETag; ``fail_after``: the number of object GETs before the
    source is down."""
    name = 'src'

    def __init__(self, objects, corrupt=(), fail_after=None):
        self.objects = objects
        self.corrupt = set(corrupt)
        self.fail_after = fail_after
        self.gets = []
        self.retry = None

    def containers(self, account):
        return sorted(c for a, c in self.objects if a == account)

    def side(self, method, path):
        return collections.namedtuple('R', 'status headers')(
            204, {'X-Container-Meta-A': '1', 'X-Storage-Policy': 'gold'})

    def listing(self, account, container, marker=''):
        for name in sorted(self.objects[(account, container)]):
            data, headers = self.objects[(account, container)][name]
            if name > marker:
                yield {'name': name, 'hash': _etag(data), 'bytes': len(data),
                       'last_modified': headers['x-timestamp-iso']}

    def open(self, account, container, obj, method='GET', retry=True):
        def once():
            if self.fail_after is not None and \
                    len(self.gets) >= self.fail_after:
                raise migrator.Retryable('connection refused', 'source src')
            self.gets.append(obj)
            data, headers = self.objects[(account, container)][obj]
            headers = dict(headers, etag=_etag(data),
                           **{'content-length': str(len(data))})
            served = data + b'!' if obj in self.corrupt else data
            return 200, headers, FakeBody(served, _etag(data))
        return once() if not retry else self.retry('source', 'GET', once)


class FakeResp(object):
    def __init__(self, status, headers=None, body=b''):
        self.status_int = self.status = status
        self.headers = headers or {}
        self.body = body


class FakeLocal(object):
    """The local cluster: containers {(account, container): headers} and
    objects {(account, container, name): (data, timestamp)}."""

    def __init__(self):
        self.containers = {}
        self.objects = {}
        self.puts = []
        self.retry = None

    def _split(self, path):
        parts = [urllib.parse.unquote(p) for p in path.split('/')[2:]]
        return parts + [None] * (3 - len(parts))

    def request(self, method, path, headers=(), body=None, ok=(2, 404)):
        account, container, obj = self._split(path)
        headers = dict(headers)
        if obj is None:
            key = (account, container)
            if method == 'HEAD':
                if key not in self.containers:
                    return FakeResp(404)
                return FakeResp(204, dict(self.containers[key]))
            if method == 'PUT':
                self.containers[key] = dict(headers)
                return FakeResp(201)
            if method == 'POST':
                self.containers[key].update(headers)
                return FakeResp(204)
        key = (account, container, obj)
        if method == 'HEAD':
            if key not in self.objects:
                return FakeResp(404)
            data, stamp = self.objects[key]
            return FakeResp(200, {'X-Timestamp': stamp, 'Etag': _etag(data)})
        if method == 'PUT':
            try:
                data = body.read()
            except EtagMismatch:
                raise migrator.Retryable('500', 'the local cluster')
            stamp = headers['x-timestamp']
            if key in self.objects and self.objects[key][1] >= stamp:
                return FakeResp(202)
            self.objects[key] = (data, stamp)
            self.puts.append(obj)
            return FakeResp(201)
        raise AssertionError((method, path))

    def listing(self, account, container, marker=''):
        for (a, c, name), (data, stamp) in sorted(self.objects.items()):
            if (a, c) == (account, container) and name > marker:
                yield {'name': name, 'hash': _etag(data), 'bytes': len(data),
                       'last_modified': '2026-01-01T00:00:%s.000000' %
                       stamp[8:10]}


class FakeLogger(object):
    def __init__(self):
        self.counts = collections.Counter()
        self.lines = []

    def increment(self, name):
        self.counts[name] += 1

    def update_stats(self, name, value):
        self.counts[name] += value

    def _log(self, msg, *args):
        self.lines.append(msg % args if args else msg)
    debug = info = warning = error = exception = _log


def _object(data, second, **headers):
    stamp = '17000000%02d.00000' % second
    return data, dict(headers, **{
        'x-timestamp': stamp, 'content-type': 'text/plain',
        'x-timestamp-iso': '2026-01-01T00:00:%02d.000000' % second})


class TestPass(unittest.TestCase):

    def _run(self, source, local, **options):
        values = {name: conv(default)
                  for name, conv, default in migrator.OPTIONS}
        values.update(retries=1, retry_delay=0.001, state_save_interval=0,
                      workers=2)
        progress = options.pop('progress', False)
        values.update(options)
        opts = migrator.MigratorOptions(
            shard=None, accounts=(), verify=False, dry_run=False, report=None,
            forever=False, progress=progress, **values)
        tconf = collections.namedtuple('T', 'migrate auth address')(
            parse_forward('AUTH_a'), {'account_map': {}},
            collections.namedtuple('A', 'name')('src'))
        logger = FakeLogger()
        mig = migrator.Migrator(opts, {'src': (source, tconf)}, local,
                                logger)
        return mig.run_once(), mig, logger

    def test_copies_plain_objects_then_manifests(self):
        source = FakeSource({('AUTH_a', 'c'): {
            'a-manifest': _object(b'[]', 5, **{
                'x-static-large-object': 'True'}),
            'b-plain': _object(b'plain data', 6),
            'c-link': _object(b'', 7, **{
                'x-object-sysmeta-symlink-target': 'c/b-plain'}),
            'd-plain': _object(b'more', 8)}})
        local = FakeLocal()
        status, mig, logger = self._run(source, local)
        self.assertEqual(status, migrator.EXIT_OK)
        self.assertEqual(sorted(local.puts[:2]), ['b-plain', 'd-plain'])
        self.assertEqual(sorted(local.puts[2:]), ['a-manifest', 'c-link'])
        self.assertEqual(mig.totals.copied, 4)
        self.assertEqual(logger.counts['copied'], 4)
        self.assertEqual(logger.counts['bytes'], 16)
        headers = local.containers[('AUTH_a', 'c')]
        self.assertEqual(headers[migrator.MIGRATED_FROM], 'src')
        self.assertEqual(headers['X-Storage-Policy'], 'gold')
        self.assertEqual(json.loads(headers[migrator.STATE])['marker'], '')
        # a second pass: the listings compare equal, nothing is read
        source.gets[:] = []
        status, mig, _logger = self._run(source, local)
        self.assertEqual((status, mig.totals.copied, mig.totals.unchanged,
                          source.gets), (0, 0, 4, []))

    def test_mismatch_retried_once_then_failed_and_not_stored(self):
        source = FakeSource({('AUTH_a', 'c'): {
            'bad': _object(b'0123456789', 5), 'good': _object(b'ok', 6)}},
            corrupt=['bad'])
        local = FakeLocal()
        status, mig, logger = self._run(source, local)
        self.assertEqual(status, migrator.EXIT_FAILED)
        self.assertEqual(source.gets.count('bad'), 2)
        self.assertNotIn(('AUTH_a', 'c', 'bad'), local.objects)
        self.assertEqual(mig.totals.failed, 1)
        failure = mig.report(status)['containers']['AUTH_a/c']['failures']
        self.assertEqual(failure[0]['name'], 'bad')
        self.assertIn('ETag mismatch', failure[0]['reason'])
        # the failure holds the marker: the next pass starts before it
        state = json.loads(local.containers[('AUTH_a', 'c')][
            migrator.STATE])
        self.assertEqual(state['marker'], '')

    def test_newer_locally_is_skipped(self):
        source = FakeSource({('AUTH_a', 'c'): {'o': _object(b'old', 5)}})
        local = FakeLocal()
        local.containers[('AUTH_a', 'c')] = {}
        local.objects[('AUTH_a', 'c', 'o')] = (b'client', '1700000009.00000')
        status, mig, _logger = self._run(source, local)
        self.assertEqual((status, mig.totals.skipped, source.gets),
                         (0, 1, []))
        self.assertEqual(local.objects[('AUTH_a', 'c', 'o')][0], b'client')

    def test_retried_put_that_had_stored_counts_copied(self):
        """A local PUT that stored the object but answered 503 is retried;
        the retry's 202 (the same timestamp: the first attempt's object) is
        the one copy, not a newer local object."""
        source = FakeSource({('AUTH_a', 'c'): {'o': _object(b'data', 5)}})
        local = FakeLocal()
        put = local.request
        answered = []

        def request(method, path, headers=(), body=None, ok=(2, 404)):
            resp = put(method, path, headers, body, ok)
            if method == 'PUT' and path.endswith('/o') and not answered:
                answered.append(resp.status)
                raise migrator.Retryable('503 after storing it',
                                         'the local cluster')
            return resp
        local.request = request
        status, mig, _logger = self._run(source, local)
        self.assertEqual((status, answered, mig.totals.copied,
                          mig.totals.skipped), (0, [201], 1, 0))

    def test_source_down_stops_with_state_saved(self):
        objects = {'o%02d' % i: _object(b'x%d' % i, i) for i in range(20)}
        source = FakeSource({('AUTH_a', 'c'): objects}, fail_after=5)
        local = FakeLocal()
        status, mig, logger = self._run(source, local, workers=1)
        self.assertEqual(status, migrator.EXIT_UNAVAILABLE)
        self.assertIn('kept failing', mig.error)
        self.assertEqual(len(local.puts), 5)
        state = json.loads(local.containers[('AUTH_a', 'c')][
            migrator.STATE])
        self.assertEqual(state['marker'], 'o04')
        # back again: the next run resumes after the marker
        source.fail_after, source.gets[:] = None, []
        status, mig, logger = self._run(source, local)
        self.assertEqual((status, mig.totals.copied), (0, 15))
        self.assertEqual(source.gets[0], 'o05')
        self.assertTrue(any('resuming after' in line
                            for line in logger.lines))

    def test_progress_bar_on_a_terminal(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True
        source = FakeSource({('AUTH_a', 'c'): {
            'o%d' % i: _object(b'x' * 100, i) for i in range(5)}})
        terminal = Terminal()
        with mock.patch.object(sys, 'stderr', terminal):
            status, mig, _logger = self._run(source, FakeLocal(),
                                             progress=True)
        self.assertEqual(status, 0)
        self.assertIn('5/5', terminal.getvalue())
        self.assertIn('obj', terminal.getvalue())

    def test_log_lines_without_a_terminal(self):
        source = FakeSource({('AUTH_a', 'c'): {
            'o%d' % i: _object(b'x', i) for i in range(3)}})
        status, mig, logger = self._run(source, FakeLocal(), progress=True,
                                        log_interval=0)
        self.assertTrue(any(line.startswith('progress: ')
                            for line in logger.lines), logger.lines)

    def test_run_forever_passes_every_interval(self):
        source = FakeSource({('AUTH_a', 'c'): {'o': _object(b'x', 1)}})
        local = FakeLocal()
        status, mig, logger = self._run(source, local)
        mig.options = mig.options._replace(interval=60)
        naps = []

        def nap(seconds):
            naps.append(seconds)
            if len(naps) == 2:
                raise KeyboardInterrupt
        with mock.patch.object(migrator, 'sleep', nap):
            with self.assertRaises(KeyboardInterrupt):
                mig.run_forever()
        self.assertEqual(len(naps), 2)
        self.assertTrue(all(50 < n <= 60 for n in naps), naps)
        self.assertEqual(sum('pass done (status 0)' in line
                             for line in logger.lines), 2)


class TestRingShard(unittest.TestCase):

    def test_ring_asks_the_node(self):
        asked = []

        def mine(account, container):
            asked.append((account, container))
            return container == 'yes'
        self.assertEqual(migrator.parse_shard('ring'), migrator.RING)
        self.assertTrue(migrator.in_shard('AUTH_a', 'yes', 'ring', mine))
        self.assertTrue(migrator.in_shard('AUTH_a', '\x00versions\x00yes',
                                          'ring', mine))
        self.assertFalse(migrator.in_shard('AUTH_a', 'no', 'ring', mine))
        self.assertEqual(asked, [('AUTH_a', 'yes')] * 2 + [('AUTH_a', 'no')])

    def test_first_primary(self):
        local = migrator.Local.__new__(migrator.Local)
        local._my_ips = {'10.0.0.1'}
        ring = type('Ring', (), {'get_nodes': lambda self, a, c: (1, [
            {'ip': '10.0.0.1' if c == 'here' else '10.0.0.2'},
            {'ip': '10.0.0.1'}])})()
        local.client = type('IC', (), {'container_ring': ring})()
        self.assertTrue(local.first_primary_is_here('AUTH_a', 'here'))
        self.assertFalse(local.first_primary_is_here('AUTH_a', 'there'))


if __name__ == '__main__':
    unittest.main()

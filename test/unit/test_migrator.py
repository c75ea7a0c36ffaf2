# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The migrator's pure pieces: what to copy, shards, progress markers, the
throttle, the generated internal client conf.  Runs on real clusters are
in test/functional/test_migrator.py."""

import collections
import os
import tempfile
import unittest

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

    def test_own_sysmeta_never_copied(self):
        headers = {'X-Container-Meta-A': '1', 'X-Container-Read': '.r:*',
                   'X-Container-Sysmeta-Versions-Enabled': 'True',
                   migrator.STATE: '{}', migrator.MIGRATED_FROM: 'src',
                   'X-Container-Object-Count': '3'}
        self.assertEqual(dict(migrator.container_settings(headers.items())), {
            'x-container-meta-a': '1', 'x-container-read': '.r:*',
            'x-container-sysmeta-versions-enabled': 'True'})

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


if __name__ == '__main__':
    unittest.main()

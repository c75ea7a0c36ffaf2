# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.testing.saio's config writing (no server is started): the
defaults, and the storage policies, pipeline and tempauth options Swift's functional suite
needs (``make compat``)."""

import configparser
import os
import tempfile
import unittest

from swift_forwarder.testing import saio


def _written(**options):
    """{file name: parsed config} and the ring files a cluster with ``options`` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        cluster = saio.SwiftCluster('c', tmp, 20000, **options)
        os.makedirs(cluster.etc_dir)
        cluster.devices = tmp
        cluster._write_configs()
        confs = {}
        for name in ('swift.conf', 'proxy-server.conf'):
            parser = configparser.ConfigParser(interpolation=None)
            parser.optionxform = str
            parser.read(os.path.join(cluster.etc_dir, name))
            confs[name] = parser
        rings = sorted(n for n in os.listdir(cluster.etc_dir) if n.endswith('.ring.gz'))
    return confs, rings


class TestClusterConfig(unittest.TestCase):

    def test_defaults(self):
        """saio's two policies (gold, the default, and silver with a
        one-device ring, the placeholder policy routing tests use), saio's
        pipeline, the tempauth users Swift's suite expects."""
        confs, rings = _written()
        swift_conf, proxy = confs['swift.conf'], confs['proxy-server.conf']
        self.assertEqual([s for s in swift_conf.sections() if s.startswith('storage-policy')],
                         ['storage-policy:0', 'storage-policy:1'])
        self.assertEqual(dict(swift_conf['storage-policy:0']),
                         {'name': 'gold', 'default': 'yes'})
        self.assertEqual(dict(swift_conf['storage-policy:1']), {'name': 'silver'})
        self.assertEqual(rings, ['account.ring.gz', 'container.ring.gz', 'object-1.ring.gz',
                                 'object.ring.gz'])
        self.assertEqual(proxy['pipeline:main']['pipeline'].split(), saio.PROXY_PIPELINE)
        tempauth = proxy['filter:tempauth']
        for user, value in (('user_test_tester', 'testing .admin'),
                            ('user_test2_tester2', 'testing2 .admin'),
                            ('user_test_tester3', 'testing3'),
                            ('user_test5_tester5', 'testing5 service')):
            self.assertEqual(tempauth[user], value)
        self.assertNotIn('reseller_prefix', tempauth)

    def test_compat_options(self):
        """Two policies with a ring each, a pipeline of one's own, extra tempauth
        options."""
        pipeline = list(saio.PROXY_PIPELINE)
        pipeline.insert(pipeline.index('tempauth') + 1, 'staticweb')
        confs, rings = _written(storage_policies=('gold', 'silver'), middlewares=pipeline,
                                tempauth_conf=saio.SERVICE_TOKEN_TEMPAUTH,
                                proxy_conf={'allow_open_expired': 'true'})
        swift_conf, proxy = confs['swift.conf'], confs['proxy-server.conf']
        self.assertEqual(dict(swift_conf['storage-policy:1']), {'name': 'silver'})
        self.assertEqual(rings, ['account.ring.gz', 'container.ring.gz', 'object-1.ring.gz',
                                 'object.ring.gz'])
        self.assertEqual(proxy['pipeline:main']['pipeline'].split(), pipeline)
        self.assertEqual(proxy['filter:staticweb']['use'], 'egg:swift#staticweb')
        self.assertEqual(proxy['filter:tempauth']['reseller_prefix'], 'AUTH, SERVICE')
        self.assertEqual(proxy['filter:tempauth']['SERVICE_require_group'], 'service')
        self.assertEqual(proxy['app:proxy-server']['allow_open_expired'], 'true')

    def test_refused(self):
        for options in ({'storage_policies': ()},
                        {'middlewares': ['catch_errors', 'tempauth']}):
            with self.assertRaises(ValueError, msg=options):
                saio.SwiftCluster('c', '/nonexistent', 20000, **options)


if __name__ == '__main__':
    unittest.main()

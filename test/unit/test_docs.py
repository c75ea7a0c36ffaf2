# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The options table, the operator docstring and etc/proxy-server.conf-sample
say the same thing: every option, with its default."""

import configparser
import os
import re
import unittest

from swift_forwarder import config, middleware
from swift_forwarder.testing import saio

SAMPLE = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                      'proxy-server.conf-sample')

#: Defaults the sample and docstring write as a description, not a value.
DESCRIBED = {'forwarder_id': 'the host name'}


class TestDocumentedOptions(unittest.TestCase):

    def setUp(self):
        with open(SAMPLE) as f:
            sample = f.read()
        # the [filter:forwarder] section
        self.sample = sample.split('[filter:forwarder]', 1)[1].split(
            '\n[', 1)[0]
        self.doc = middleware.__doc__

    def test_sample_has_every_option_with_its_default(self):
        """``# name = default``, once (target_url is set: it is required)."""
        for name, _converter, default in config.OPTIONS:
            pattern = r'^%s =(.*)$' if name == 'target_url' else \
                r'^# %s =(.*)$'
            found = re.findall(pattern % name, self.sample, re.M)
            self.assertEqual(1, len(found), name)
            if name not in DESCRIBED and name != 'target_url':
                self.assertEqual(default, found[0].strip(), name)

    def test_docstring_has_every_option(self):
        """Each option with its default (the os_* ones as a family)."""
        for name, _converter, default in config.OPTIONS:
            if name.startswith('os_'):
                continue
            self.assertIn('``%s' % name, self.doc, name)
            if default and name not in DESCRIBED:
                self.assertIn('``%s = %s``' % (name, default), self.doc, name)
        self.assertIn('(every ``os_*`` option of swiftclient)', self.doc)

    def test_sample_names_only_options(self):
        names = set(name for name, _c, _d in config.OPTIONS)
        for name in re.findall(r'^#? ?([a-z_]+) =', self.sample, re.M):
            self.assertIn(name, names | config.SWIFT_LOGGER_OPTIONS | {
                'use'}, name)


class TestBackendSample(unittest.TestCase):
    """etc/backend-server.conf-sample is the backend endpoint the
    functional tests run (saio's BACKEND_PIPELINE), with forwarder_backend
    and its key."""

    def test_pipeline_as_tested(self):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(os.path.join(os.path.dirname(SAMPLE),
                                 'backend-server.conf-sample'))
        self.assertEqual(saio.BACKEND_PIPELINE,
                         parser.get('pipeline:main', 'pipeline').split())
        self.assertEqual('egg:swift_forwarder#backend',
                         parser.get('filter:forwarder_backend', 'use'))
        self.assertTrue(parser.get('filter:forwarder_backend', 'key'))
        for name in saio.BACKEND_PIPELINE[:-1]:
            self.assertTrue(parser.has_section('filter:%s' % name), name)


if __name__ == '__main__':
    unittest.main()

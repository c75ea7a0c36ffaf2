# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.config: converters and parse_conf."""

import os
import socket
import tempfile
import textwrap
import unittest

from swift_forwarder import config
from swift_forwarder.config import parse_conf
from swift_forwarder.exceptions import ConfigError
from swift_forwarder.routing import Rule


class TestConverters(unittest.TestCase):
    """Each converter accepts its documented forms and refuses the rest."""

    def assertRefused(self, converter, values):
        for value in values:
            with self.assertRaises(ValueError, msg=repr(value)) as caught:
                converter(value)
            self.assertIn('expected', str(caught.exception))

    def test_boolean(self):
        """Swift's true/false spellings, any case, padded; nothing else."""
        for value in ('true', 'True', ' YES ', '1', 'on', 't', 'y'):
            self.assertIs(True, config.boolean(value), value)
        for value in ('false', 'FALSE', 'no', '0', 'off', 'f', 'n'):
            self.assertIs(False, config.boolean(value), value)
        self.assertRefused(config.boolean, ('', 'maybe', '2', 'truee'))

    def test_positive_int(self):
        """Integers > 0 only."""
        self.assertEqual(20, config.positive_int('20'))
        self.assertEqual(3, config.positive_int(' 3 '))
        self.assertRefused(config.positive_int,
                           ('0', '-1', '1.5', 'x', '', '1e3'))

    def test_non_negative_int(self):
        """Integers >= 0: zero is fine (retries = 0)."""
        self.assertEqual(0, config.non_negative_int('0'))
        self.assertEqual(7, config.non_negative_int('7'))
        self.assertRefused(config.non_negative_int, ('-1', '0.5', 'two', ''))

    def test_positive_float(self):
        """Seconds > 0 and finite."""
        self.assertEqual(0.5, config.positive_float('0.5'))
        self.assertEqual(30.0, config.positive_float('30'))
        self.assertRefused(config.positive_float,
                           ('0', '-1', 'inf', 'nan', 'soon', ''))

    def test_optional_file(self):
        """A readable file's path, or None when empty."""
        self.assertIsNone(config.optional_file(''))
        self.assertIsNone(config.optional_file('  '))
        with tempfile.NamedTemporaryFile() as fp:
            self.assertEqual(fp.name, config.optional_file(fp.name))
        self.assertRefused(config.optional_file,
                           ('/nonexistent/dir/ca.pem',))

    def test_target_url(self):
        """Scheme, host and port, with the scheme's default port."""
        self.assertEqual(('http', 'swift.example.com', 80),
                         config.target_url('http://swift.example.com'))
        self.assertEqual(('http', 'swift.example.com', 80),
                         config.target_url('http://swift.example.com/'))
        self.assertEqual(('https', 'swift.example.com', 443),
                         config.target_url('https://swift.example.com'))
        self.assertEqual(('http', '127.0.0.1', 8080),
                         config.target_url(' http://127.0.0.1:8080 '))
        self.assertEqual(('https', '::1', 8443),
                         config.target_url('https://[::1]:8443'))

    def test_target_url_bad_forms(self):
        """Anything but http[s]://host[:port] is refused."""
        self.assertRefused(config.target_url, (
            '', 'swift.example.com', 'swift.example.com:8080',
            'ftp://swift.example.com', 'http://', 'http://:8080',
            'http://h/v1', 'http://h/v1/AUTH_a', 'http://h?x=1',
            'http://h#frag', 'http://user:pass@h', 'http://user@h',
            'http://h:port', 'http://h:99999', 'http://h:0',
            # names the resolver would choke on (UnicodeError at connect)
            'http://swift..example.com', 'http://%s.example.com' % ('a' * 64),
            'http://.example.com',
        ))
        self.assertEqual(('http', '::1', 8080),
                         config.target_url('http://[::1]:8080'))
        self.assertEqual(('https', 'b\xfccher.example', 443),
                         config.target_url('https://b\xfccher.example'))

    def test_http_path(self):
        """An absolute path without spaces, query or fragment, or empty."""
        self.assertEqual('', config.http_path(''))
        self.assertEqual('/forwarder/healthcheck',
                         config.http_path('/forwarder/healthcheck'))
        self.assertRefused(config.http_path, (
            'forwarder', '/a b', '/a?b', '/a#b', '/a\rb', '/a\nb'))

    def test_forwarder_id(self):
        """A token that can go in a comma-separated header."""
        self.assertEqual('proxy-1', config.forwarder_id(' proxy-1 '))
        self.assertRefused(config.forwarder_id,
                           ('', 'a b', 'a,b', 'a;b', 'a\tb', 'a\nb'))

    def test_choice(self):
        """One of the given words, any case, padded; nothing else, and
        the error lists the choices."""
        convert = config.choice('raise', 'log', 'raise_and_delete')
        self.assertEqual('raise', convert('raise'))
        self.assertEqual('log', convert(' LOG '))
        self.assertEqual('raise_and_delete', convert('Raise_And_Delete'))
        self.assertRefused(convert, ('', 'delete', 'raise and delete',
                                     'raise,log', 'logs'))
        with self.assertRaises(ValueError) as caught:
            convert('delete')
        self.assertIn('expected one of raise, log, raise_and_delete',
                      str(caught.exception))
        self.assertEqual('One of raise, log, raise_and_delete.',
                         convert.__doc__)


class TestParseConf(unittest.TestCase):
    """parse_conf: the whole [filter:forwarder] section."""

    def test_defaults(self):
        """Only target_url is needed; every default is the documented one."""
        conf = parse_conf({'target_url': 'http://127.0.0.1:8080'})
        self.assertEqual((Rule(None, None, True),), conf.forward)
        self.assertEqual(20, conf.pool_size)
        self.assertEqual(30.0, conf.pool_timeout)
        self.assertEqual(0.5, conf.conn_timeout)
        self.assertEqual(60.0, conf.node_timeout)
        self.assertEqual(60.0, conf.client_timeout)
        self.assertEqual(60.0, conf.max_idle_time)
        self.assertEqual(2, conf.retries)
        self.assertEqual(65536, conf.client_chunk_size)
        self.assertEqual(3, conf.max_hops)
        self.assertEqual(socket.gethostname() or 'forwarder',
                         conf.forwarder_id)
        self.assertEqual('', conf.healthcheck_path)
        self.assertEqual(config.TargetAddress(
            'default', 'http', '127.0.0.1', 8080, None, False, None, None),
            conf.targets['default'].address)

    def test_values_converted(self):
        """Every option is converted by its converter."""
        conf = parse_conf({
            'target_url': 'http://t:81', 'forward': 'AUTH_a AUTH_b/c',
            'pool_size': '5', 'pool_timeout': '1.5', 'conn_timeout': '2',
            'node_timeout': '3', 'client_timeout': '4',
            'max_idle_time': '6', 'retries': '0',
            'client_chunk_size': '1024', 'forwarder_id': 'fwd1',
            'max_hops': '1', 'healthcheck_path': '/fwd/hc',
            'insecure': 'yes'})
        self.assertEqual((Rule('AUTH_a', None, False),
                          Rule('AUTH_b', 'c', False)), conf.forward)
        self.assertEqual((5, 1.5, 2.0, 3.0, 4.0, 6.0, 0, 1024),
                         (conf.pool_size, conf.pool_timeout,
                          conf.conn_timeout, conf.node_timeout,
                          conf.client_timeout, conf.max_idle_time,
                          conf.retries, conf.client_chunk_size))
        self.assertEqual(('fwd1', 1, '/fwd/hc'),
                         (conf.forwarder_id, conf.max_hops,
                          conf.healthcheck_path))
        self.assertIs(True, conf.insecure)
        self.assertIs(True, conf.targets['default'].address.insecure)

    SERVICE = {'target_url': 'http://t', 'auth_mode': 'service',
               'auth_url': 'http://t/auth/v1.0', 'auth_user': 'a:b',
               'auth_key': 'k'}

    def test_service_accounts_never_shared(self):
        """Service mode never puts two local accounts into one target
        account: account_map is one-to-one, and without it only one local
        account may be forwarded."""
        for options, needle in (
                ({'account_map': 'AUTH_a:AUTH_x AUTH_b:AUTH_x'},
                 'account_map: each local account needs a target account of '
                 'its own; several map to AUTH_x'),
                ({}, 'target default: auth_mode = service without '
                 'account_map would put every forwarded local account into '
                 'the service account'),
                ({'forward': 'AUTH_a AUTH_b/c'}, 'without account_map'),
                ({'forward': 'AUTH_a', 'container_opt_in': 'true'},
                 'without account_map'),
                ({'account_map': 'AUTH_a:AUTH_x', 'forward_auth': 'true'},
                 'forward_auth is for auth_mode = passthrough')):
            with self.assertRaises(ConfigError) as caught:
                parse_conf(dict(self.SERVICE, **options))
            self.assertIn(needle, str(caught.exception))
        for options in ({'forward': 'AUTH_a/c AUTH_a/logs*'},
                        {'account_map': 'AUTH_a:AUTH_x AUTH_b:AUTH_y'},
                        {'account_map': 'AUTH_a:AUTH_x',
                         'container_opt_in': 'true'}):
            parse_conf(dict(self.SERVICE, **options))  # fine
        # passthrough: the client's own token decides, nothing to share
        parse_conf({'target_url': 'http://t', 'forward_auth': 'true'})

    def test_backend_endpoint(self):
        """backend_endpoint: service mode, with backend_key; off by
        default; per target in targets_conf."""
        self.assertIsNone(parse_conf(dict(
            self.SERVICE, account_map='AUTH_a:AUTH_x')).targets[
                'default'].backend_key)
        conf = parse_conf(dict(self.SERVICE, account_map='AUTH_a:AUTH_x',
                               backend_endpoint='true', backend_key='sk'))
        self.assertEqual('sk', conf.targets['default'].backend_key)
        for options, needle in (
                (dict(self.SERVICE, account_map='AUTH_a:AUTH_x',
                      backend_endpoint='true'), 'needs backend_key'),
                ({'target_url': 'http://t', 'backend_endpoint': 'true',
                  'backend_key': 'sk'}, 'needs auth_mode = service')):
            with self.assertRaises(ConfigError) as caught:
                parse_conf(options)
            self.assertIn('target default: backend_endpoint ' + needle,
                          str(caught.exception))
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write('[target:east]\ntarget_url = http://east\nforward = '
                    'AUTH_b\naccount_map = AUTH_b:AUTH_y\nbackend_endpoint'
                    ' = true\nbackend_key = ek\n')
            f.flush()
            conf = parse_conf(dict(self.SERVICE, account_map='AUTH_a:AUTH_x',
                                   targets_conf=f.name))
        self.assertEqual((None, 'ek'), (conf.targets['default'].backend_key,
                                        conf.targets['east'].backend_key))

    def test_storage_policies(self):
        """Per target; service mode with account_map; a policy goes to one
        target only; a targets_conf section does not inherit the filter's."""
        mapped = dict(self.SERVICE, account_map='AUTH_a:AUTH_x')
        default = parse_conf(mapped).targets['default']
        self.assertEqual(((), None), (default.storage_policies,
                                      default.target_storage_policy))
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write('[target:east]\ntarget_url = http://east\n'
                    'storage_policies = fed-east fed-east2\n'
                    'target_storage_policy = gold\n[target:west]\n'
                    'target_url = http://west\n')
            f.flush()
            conf = parse_conf(dict(mapped, targets_conf=f.name,
                                   storage_policies='fed-default'))
            self.assertEqual(
                [('fed-default',), ('fed-east', 'fed-east2'), ()],
                [t.storage_policies for t in conf.targets.values()])
            self.assertEqual('gold', conf.targets['east'].target_storage_policy)
            with self.assertRaises(ConfigError) as caught:
                parse_conf(dict(mapped, targets_conf=f.name,
                                storage_policies='fed-east'))
            self.assertIn('storage policy fed-east is routed to targets '
                          'default and east: one only', str(caught.exception))
        for options, needle in (
                ({'target_url': 'http://t', 'storage_policies': 'p'},
                 'target default: storage_policies needs auth_mode = '
                 'service'),
                (dict(self.SERVICE, forward='AUTH_a', storage_policies='p'),
                 'without account_map'),
                (dict(mapped, storage_policies='p q p'),
                 "storage_policies: 'p' given twice")):
            with self.assertRaises(ConfigError) as caught:
                parse_conf(options)
            self.assertIn(needle, str(caught.exception))

    def test_migrate(self):
        """migrate: a source in service mode, read through its backend
        endpoint; it forwards nothing unless it has forward rules, which
        may not overlap; no path has two sources."""
        source = dict(self.SERVICE, account_map='AUTH_a:AUTH_x',
                      backend_endpoint='true', backend_key='sk')
        conf = parse_conf(dict(source, migrate='AUTH_a/old*'))
        default = conf.targets['default']
        self.assertEqual(((), (Rule('AUTH_a', 'old', True),), False), (
            default.forward, default.migrate, default.migrate_on_read))
        conf = parse_conf(dict(source, migrate='AUTH_a/old*',
                               forward='AUTH_a/fed', migrate_on_read='yes'))
        self.assertEqual(((Rule('AUTH_a', 'fed', False),), True), (
            conf.targets['default'].forward,
            conf.targets['default'].migrate_on_read))
        self.assertEqual((), parse_conf(source).targets['default'].migrate)
        for options, needle in (
                ({'target_url': 'http://t', 'migrate': 'AUTH_a'},
                 'target default: migrate needs auth_mode = service'),
                (dict(self.SERVICE, account_map='AUTH_a:AUTH_x',
                      migrate='AUTH_a'),
                 'target default: migrate needs backend_endpoint = true'),
                (dict(source, migrate='AUTH_a', forward='AUTH_a/c'),
                 'target default: migrate AUTH_a overlaps forward AUTH_a/c '
                 'of target default: a path is either forwarded or '
                 'migrated'),
                (dict(source, migrate='AUTH_a/x/'),
                 'migrate: expected *, ACCOUNT')):
            with self.assertRaises(ConfigError) as caught:
                parse_conf(options)
            self.assertIn(needle, str(caught.exception))
        with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
            f.write('[target:east]\ntarget_url = http://east\nmigrate = '
                    'AUTH_a/old-2*\naccount_map = AUTH_a:AUTH_y\n'
                    'backend_endpoint = true\nbackend_key = ek\n')
            f.flush()
            with self.assertRaises(ConfigError) as caught:
                parse_conf(dict(source, migrate='AUTH_a/old*',
                                targets_conf=f.name))
            self.assertIn('migrate AUTH_a/old* of target default overlaps '
                          'migrate AUTH_a/old-2* of target east: a path has '
                          'one source', str(caught.exception))
            conf = parse_conf(dict(source, migrate='AUTH_a/new*',
                                   targets_conf=f.name))
            # a section's target does not inherit the filter's migrate
            self.assertEqual([(Rule('AUTH_a', 'new', True),),
                              (Rule('AUTH_a', 'old-2', True),)],
                             [t.migrate for t in conf.targets.values()])

    def test_integrity_defaults(self):
        """ETag mismatches raise; 10 failures in 60s suppress the target
        for 60s."""
        conf = parse_conf({'target_url': 'http://t'})
        self.assertEqual('raise', conf.etag_mismatch_policy)
        self.assertEqual(10, conf.error_limit)
        self.assertEqual(60.0, conf.error_window)
        self.assertEqual(60.0, conf.error_suppression_interval)
        self.assertIsInstance(conf.error_limit, int)
        self.assertIsInstance(conf.error_window, float)

    def test_integrity_values_converted(self):
        """The integrity options take their documented forms."""
        for policy in ('log', 'raise', 'raise_and_delete'):
            conf = parse_conf({'target_url': 'http://t',
                               'etag_mismatch_policy': policy.upper()})
            self.assertEqual(policy, conf.etag_mismatch_policy)
        conf = parse_conf({'target_url': 'http://t', 'error_limit': '3',
                           'error_window': '2.5',
                           'error_suppression_interval': '0.5'})
        self.assertEqual((3, 2.5, 0.5), (conf.error_limit, conf.error_window,
                                         conf.error_suppression_interval))

    def test_integrity_bad_values(self):
        """Bad integrity values stop startup, naming the option."""
        for name, value, expected in (
                ('etag_mismatch_policy', 'delete', 'expected one of raise, '
                 'log, raise_and_delete'),
                ('etag_mismatch_policy', '', 'expected one of'),
                ('error_limit', '0', 'expected'),
                ('error_limit', '2.5', 'expected'),
                ('error_window', '0', 'expected'),
                ('error_window', '-1', 'expected'),
                ('error_suppression_interval', 'inf', 'expected'),
                ('error_suppression_interval', 'never', 'expected')):
            with self.assertRaises(ConfigError, msg=(name, value)) as caught:
                parse_conf({'target_url': 'http://t', name: value})
            message = str(caught.exception)
            self.assertIn('[filter:forwarder]: %s: ' % name, message)
            self.assertIn(expected, message)

    def test_frozen(self):
        """The parsed config cannot be changed after startup."""
        conf = parse_conf({'target_url': 'http://t'})
        with self.assertRaises(AttributeError):
            conf.pool_size = 1
        with self.assertRaises(AttributeError):
            conf.extra = 1

    def test_missing_target_url(self):
        """A target is required (target_url or targets_conf), and the error says so."""
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'pool_size': '3'})
        self.assertIn('set target_url (or targets_conf)', str(caught.exception))

    def test_bad_target_url(self):
        """A bad target_url names the option and the expected form."""
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'target_url': 'swift.example.com:8080'})
        message = str(caught.exception)
        self.assertIn('target_url', message)
        self.assertIn('http[s]://host[:port]', message)

    def test_unknown_option_named(self):
        """Unknown options stop startup, each one named."""
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'target_url': 'http://t', 'pool_sise': '3',
                        'user': 'swift'})
        message = str(caught.exception)
        self.assertIn('unknown option(s): pool_sise, user', message)

    def test_bad_value_names_option(self):
        """A bad value names the option and what it expected."""
        for name, value in (('pool_size', '0'), ('retries', '-1'),
                            ('node_timeout', 'fast'), ('insecure', 'sure'),
                            ('forward', 'AUTH_a/c/o'), ('max_hops', ''),
                            ('ca_certs', '/nonexistent/ca.pem')):
            with self.assertRaises(ConfigError, msg=name) as caught:
                parse_conf({'target_url': 'http://t', name: value})
            message = str(caught.exception)
            self.assertIn('[filter:forwarder]: %s: expected' % name, message)

    def test_swift_log_options_accepted(self):
        """Swift's log_* and log_statsd_* options, and use =, are fine."""
        local_conf = dict((name, 'x') for name in
                          config.SWIFT_LOGGER_OPTIONS)
        local_conf['target_url'] = 'http://t'
        local_conf['use'] = 'egg:swift_forwarder#forwarder'
        self.assertIn('log_statsd_host', local_conf)
        conf = parse_conf(local_conf)
        self.assertEqual('t', conf.targets['default'].address.host)

    def test_https_target(self):
        """https defaults to 443 and carries its TLS settings."""
        with tempfile.NamedTemporaryFile() as ca:
            conf = parse_conf({'target_url': 'https://swift.example.com',
                               'ca_certs': ca.name})
            self.assertEqual(config.TargetAddress(
                'default', 'https', 'swift.example.com', 443, ca.name,
                False, None, None), conf.targets['default'].address)

    def test_cert_file_without_key_file(self):
        """A client certificate needs its key, and the reverse."""
        with tempfile.TemporaryDirectory() as tmp:
            cert = os.path.join(tmp, 'c.pem')
            key = os.path.join(tmp, 'k.pem')
            for path in (cert, key):
                with open(path, 'w') as fp:
                    fp.write('x')
            for options in ({'cert_file': cert}, {'key_file': key}):
                options['target_url'] = 'https://t'
                with self.assertRaises(ConfigError) as caught:
                    parse_conf(options)
                self.assertIn('cert_file and key_file go together',
                              str(caught.exception))
            conf = parse_conf({'target_url': 'https://t', 'cert_file': cert,
                               'key_file': key})
            self.assertEqual((cert, key), (conf.targets['default'].address.cert_file,
                                           conf.targets['default'].address.key_file))

    def test_default_section_wins_as_in_swift(self):
        """paste.deploy drops a section's own value of a name [DEFAULT]
        also sets (and puts ``set name = value`` into global_conf): the
        forwarder takes them from there, as every Swift middleware does,
        except the proxy's own server certificate."""
        global_conf = {'node_timeout': '7', 'client_timeout': '30',
                       'cert_file': __file__, 'key_file': __file__,
                       'bind_port': '8080', 'user': 'swift'}
        conf = parse_conf({'target_url': 'http://t', 'pool_size': '3'},
                          global_conf=global_conf)
        self.assertEqual((7.0, 30.0, 3, None, None), (
            conf.node_timeout, conf.client_timeout, conf.pool_size,
            conf.cert_file, conf.key_file))
        # the section's own options still win over [DEFAULT]'s (as paste
        # passes a section's value when [DEFAULT] has none)
        conf = parse_conf({'target_url': 'http://t', 'node_timeout': '9'},
                          global_conf={'node_timeout': '7'})
        self.assertEqual(9.0, conf.node_timeout)
        # and a bad [DEFAULT] value is named like any other
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'target_url': 'http://t'},
                       global_conf={'node_timeout': 'soon'})
        self.assertIn('node_timeout', str(caught.exception))

    def test_options_table_matches_fields(self):
        """Every option in the table is a config field, in order."""
        names = [name for name, _conv, _default in config.OPTIONS]
        self.assertEqual(names + ['targets'],
                         list(config.ForwarderConfig._fields))
        self.assertEqual(len(names), len(set(names)))


class TestTargets(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        return path

    def test_inline_then_sections_in_order(self):
        """The inline target comes first, then the sections in file order,
        each with its own URL, TLS and forward rules."""
        path = self.write('t.conf', '''
            [target:east]
            target_url = https://east.example.com
            forward = AUTH_e
            insecure = true

            [target:west]
            target_url = http://west.example.com:8080
            ''')
        conf = parse_conf({'target_url': 'http://main', 'forward': 'AUTH_m',
                           'targets_conf': path})
        self.assertEqual(['default', 'east', 'west'], list(conf.targets))
        east = conf.targets['east']
        self.assertEqual(('https', 'east.example.com', 443, True),
                         (east.address.scheme, east.address.host,
                          east.address.port, east.address.insecure))
        self.assertEqual('AUTH_e', east.forward[0].account)
        self.assertEqual((), conf.targets['west'].forward)  # opt-in only
        self.assertEqual('AUTH_m', conf.targets['default'].forward[0].account)

    def test_verify_get_per_target(self):
        """verify_get is the filter's unless a section sets its own."""
        path = self.write('t.conf', '''
            [target:tls]
            target_url = https://tls.example.com
            verify_get = false

            [target:plain]
            target_url = http://plain.example.com
            ''')
        conf = parse_conf({'target_url': 'http://main', 'targets_conf': path})
        self.assertEqual({'default': True, 'tls': False, 'plain': True}, {
            name: t.verify_get for name, t in conf.targets.items()})
        conf = parse_conf({'target_url': 'http://main', 'targets_conf': path,
                           'verify_get': 'no'})
        self.assertEqual({'default': False, 'tls': False, 'plain': False}, {
            name: t.verify_get for name, t in conf.targets.items()})
        bad = self.write('bad.conf', '[target:x]\ntarget_url = http://x\n'
                         'verify_get = maybe\n')
        with self.assertRaises(ConfigError) as caught:
            parse_conf({'targets_conf': bad})
        self.assertIn('[target:x]: verify_get', str(caught.exception))

    def test_parse_errors_never_show_a_line(self):
        """A line configparser cannot read may hold a key (the ``=``
        forgotten): the error names the file and line number only."""
        for text, expected in (
                ('[target:a]\ntarget_url = http://a\nauth_key s3cr3t\n',
                 'cannot parse line(s) 3'),
                ('auth_key = s3cr3t\n', 'line 1 is not in a [section]')):
            path = self.write('t.conf', text)
            with self.assertRaises(ConfigError) as caught:
                parse_conf({'targets_conf': path})
            self.assertIn(expected, str(caught.exception))
            self.assertNotIn('s3cr3t', str(caught.exception))

    def test_sections_only(self):
        """No inline target_url: the targets come from targets_conf."""
        path = self.write('t.conf', '[target:a]\ntarget_url = http://a\n')
        conf = parse_conf({'targets_conf': path})
        self.assertEqual(['a'], list(conf.targets))

    def test_section_errors_name_the_section(self):
        """Unknown options, a missing target_url, bad values, bad section
        names and duplicates are startup errors naming the section."""
        cases = [
            ('[target:a]\ntarget_url = http://a\npool_size = 3\n',
             '[target:a]: unknown option(s): pool_size'),
            ('[target:a]\nforward = AUTH_a\n', '[target:a]: target_url is '
             'required'),
            ('[target:a]\ntarget_url = ftp://a\n', '[target:a]: target_url:'),
            ('[a]\ntarget_url = http://a\n', 'expected sections [target:NAME]'),
            ('[target:default]\ntarget_url = http://a\n', 'used twice'),
            ('[target:a]\ntarget_url = http://a\ncert_file = %s\n' % __file__,
             'cert_file and key_file go together'),
        ]
        for text, message in cases:
            path = self.write('bad.conf', text)
            with self.assertRaises(ConfigError) as caught:
                parse_conf({'target_url': 'http://main', 'targets_conf': path})
            self.assertIn(message, str(caught.exception))

    def test_service_mode_auth_inherited_or_own(self):
        """Service mode: a section's credentials default to the filter's."""
        path = self.write('t.conf', '''
            [target:a]
            target_url = http://a
            [target:b]
            target_url = http://b
            auth_user = b:user
            account_map = AUTH_x:AUTH_y
            ''')
        conf = parse_conf({
            'target_url': 'http://main', 'targets_conf': path,
            'forward': 'AUTH_main', 'auth_mode': 'service',
            'auth_url': 'http://main/auth/v1.0', 'auth_user': 'main:user',
            'auth_key': 'k'})
        self.assertEqual('main:user', conf.targets['a'].auth['auth_user'])
        self.assertEqual('b:user', conf.targets['b'].auth['auth_user'])
        self.assertEqual('k', conf.targets['b'].auth['auth_key'])
        self.assertEqual({'AUTH_x': 'AUTH_y'},
                         conf.targets['b'].auth['account_map'])
        passthrough = parse_conf({'target_url': 'http://main',
                                  'targets_conf': path})
        self.assertIsNone(passthrough.targets['a'].auth)

    def test_realms_with_container_opt_in(self):
        """container-sync-realms.conf clusters become //REALM/CLUSTER
        targets (with container_opt_in), reachable at their host and port."""
        self.write('container-sync-realms.conf', '''
            [Realm1]
            key = secret
            cluster_East = https://east.example.com/v1/
            cluster_west = http://10.0.0.2:8080/v1/
            ''')
        conf = parse_conf({'target_url': 'http://main',
                           'container_opt_in': 'true'},
                          swift_dir=self.tmp.name)
        self.assertEqual(['default', '//REALM1/EAST', '//REALM1/WEST'],
                         list(conf.targets))
        west = conf.targets['//REALM1/WEST'].address
        self.assertEqual(('http', '10.0.0.2', 8080),
                         (west.scheme, west.host, west.port))
        self.assertEqual((), conf.targets['//REALM1/EAST'].forward)
        without = parse_conf({'target_url': 'http://main'},
                             swift_dir=self.tmp.name)
        self.assertEqual(['default'], list(without.targets))

    def test_no_target_at_all(self):
        with self.assertRaises(ConfigError) as caught:
            parse_conf({})
        self.assertIn('set target_url (or targets_conf)',
                      str(caught.exception))


if __name__ == '__main__':
    unittest.main()

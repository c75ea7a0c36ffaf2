# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.check (``swift-forwarder-check``).

Configurations are real files loaded through Swift's loader; targets are
scripted loopback servers (green, like the forwarder's sockets), except
where the check authenticates: python-swiftclient's ``get_auth`` uses
blocking sockets, so that server runs in a thread of its own.
"""

import collections
import configparser
import contextlib
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

from swift_forwarder import check, routing
from swift_forwarder.exceptions import ConfigError
from swift_forwarder.green import Timeout
from swift_forwarder.green import http_client as green_http
from test.unit.fakeswift import TOKEN
from test.unit.helpers import full_backlog_listener, make_cert, \
    refused_port, scripted_server, tls_wrapper

try:
    import swift.common.wsgi  # noqa: F401  (conf.d, service mode)
    HAVE_SWIFT = True
except ImportError:
    HAVE_SWIFT = False

KEY = 'sup3r-s3cret-key'
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

SWIFT_INFO = json.dumps({'swift': {'version': '2.38.3'},
                         'tempauth': {}}).encode('ascii')


def proxy_conf(filter_section, pipeline='catch_errors forwarder app',
               name='forwarder'):
    """A proxy-server.conf with ``filter_section`` (the options) as
    ``[filter:<name>]``."""
    return textwrap.dedent('''\
        [DEFAULT]
        user = swift
        log_name = proxy

        [pipeline:main]
        pipeline = %s

        [filter:catch_errors]
        use = egg:swift#catch_errors

        [filter:%s]
        ''') % (pipeline, name) + textwrap.dedent(filter_section) + \
        textwrap.dedent('''

        [app:app]
        use = call:test.unit.helpers:app_factory
        ''')


def cancelled_timeout(seconds):
    """An eventlet Timeout as one that expired reads (``5 seconds``),
    without its timer running."""
    timeout = Timeout(seconds)
    timeout.cancel()
    return timeout


class CheckTestCase(unittest.TestCase):
    """Writes configurations to a temporary directory and runs the command
    on them, capturing its output."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, text, name='proxy-server.conf'):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as fp:
            fp.write(text)
        return path

    def run_check(self, *argv):
        """:returns: (exit status, stdout, stderr)"""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = check.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def rows(self, output):
        """{(target, check): (result, detail)} of the table; a check seen
        more than once (account) keeps its rows in a list."""
        lines = output.splitlines()
        self.assertEqual(['TARGET', 'CHECK', 'RESULT', 'DETAIL'],
                         lines[0].split())
        found = {}
        for line in lines[1:-1]:
            target, name, result, detail = (line.split(None, 3) + [''])[:4]
            found.setdefault((target, name), []).append((result, detail))
        return {key: rows[0] if len(rows) == 1 else rows
                for key, rows in found.items()}

    def check_conf(self, filter_section, *argv, **kwargs):
        path = self.write(proxy_conf(filter_section, **kwargs))
        return self.run_check(path, *argv)


class TestLoading(CheckTestCase):
    """The filter is found, and its options read, as the proxy would."""

    def test_found_under_another_name(self):
        """Any section whose factory is ours is checked, by its name;
        ``%(here)s`` is interpolated as paste.deploy does."""
        path = self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            targets_conf = %(here)s/targets.conf
            ''', pipeline='catch_errors federation app', name='federation'))
        self.write('[target:east]\ntarget_url = http://127.0.0.1:2\n',
                   'targets.conf')
        [found] = check.load_filters(path)
        self.assertEqual('federation', found.name)
        self.assertEqual(os.path.join(self.dir, 'targets.conf'),
                         found.local_conf['targets_conf'])
        self.assertEqual('swift', found.global_conf['user'])
        # what swift-proxy-server passes: its app section's log_name
        self.assertEqual('proxy', found.global_conf['log_name'])
        mw = check.build_filter(found)
        self.assertEqual(['default', 'east'], list(mw.targets))

    def test_paste_filter_factory_and_two_filters(self):
        """``paste.filter_factory = ...`` is ours too; two forwarders in
        one pipeline are both checked, their targets labelled by filter."""
        path = self.write(textwrap.dedent('''\
            [pipeline:main]
            pipeline = one two app

            [filter:one]
            paste.filter_factory = swift_forwarder.middleware:filter_factory
            target_url = http://127.0.0.1:1

            [filter:two]
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:2

            [app:app]
            use = call:test.unit.helpers:app_factory
            '''))
        self.assertEqual(['one', 'two'],
                         [f.name for f in check.load_filters(path)])
        status, out, _err = self.run_check(path, '--timeout', '0.5')
        rows = self.rows(out)
        self.assertEqual(1, status)
        self.assertEqual('FAIL', rows['one/default', 'connect'][0])
        self.assertIn('http://127.0.0.1:2: connection refused',
                      rows['two/default', 'connect'][1])

    @unittest.skipUnless(HAVE_SWIFT, 'conf.d directories need Swift')
    def test_conf_d_directory(self):
        """A proxy-server.conf.d directory, read in name order, as Swift
        reads it."""
        self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            '''), 'proxy-server.conf.d/00-base.conf')
        path = self.write(
            '[filter:forwarder]\nforward = AUTH_a\n',
            'proxy-server.conf.d/20-forwarder.conf')
        [found] = check.load_filters(os.path.dirname(path))
        self.assertEqual('AUTH_a', found.local_conf['forward'])
        self.assertEqual('http://127.0.0.1:1', found.local_conf['target_url'])

    def test_no_forwarder_in_pipeline(self):
        """A forwarder section the pipeline does not use is not loaded by
        the proxy: nothing to check, exit status 2."""
        status, out, err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            ''', pipeline='catch_errors app')
        self.assertEqual(2, status)
        self.assertEqual('', out)
        self.assertIn('no swift_forwarder filter in the pipeline '
                      '(catch_errors ...)', err)

    def test_missing_file(self):
        """No file: nothing to check, 2."""
        status, out, err = self.run_check(os.path.join(self.dir, 'nope'))
        self.assertEqual(2, status)
        self.assertEqual('', out)
        self.assertIn('nope: no such file or directory', err)

    def test_unreadable(self):
        """A file, or a conf.d directory, this user can't read: 2 (the
        check can tell nothing; mocked: the tests may run as root)."""
        path = self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            '''))
        denied = PermissionError(13, 'Permission denied')
        with mock.patch.object(check, 'open', create=True,
                               side_effect=denied):
            status, out, err = self.run_check(path)
        self.assertEqual((2, ''), (status, out))
        self.assertIn('%s: cannot read it: Permission denied' % path, err)
        with mock.patch.object(check.os, 'listdir', side_effect=denied):
            status, out, err = self.run_check(self.dir)
        self.assertEqual((2, ''), (status, out))
        self.assertIn('%s: cannot read it: Permission denied' % self.dir,
                      err)

    def assert_load_fail(self, path, detail):
        """The run: a single config FAIL row, ``detail``; exit status 1."""
        status, out, err = self.run_check(path)
        self.assertEqual(1, status, out + err)
        self.assertEqual('', err)
        self.assertEqual({('-', 'config'): ('FAIL', detail)}, self.rows(out))
        self.assertEqual('1 check: 0 OK, 1 FAIL, 0 SKIP',
                         out.splitlines()[-1])

    def test_broken_files(self):
        """A file that exists but that paste.deploy can't load (not an ini
        file, no main section) would not start the proxy: a config FAIL,
        1, not "nothing to check"."""
        path = self.write('not an ini file\n')
        self.assert_load_fail(path, 'cannot load the pipeline: %s: line 1 '
                              'is not in a [section]' % path)
        path = self.write('[DEFAULT]\n')
        status, out, _err = self.run_check(path)
        self.assertEqual(1, status)
        self.assertIn('FAIL    cannot load the pipeline from %s: '
                      "LookupError: No section 'main'" % path, out)

    def test_unloadable_pipeline(self):
        """A misspelled egg name, another filter's import failing: the
        pipeline does not load, the proxy would not start: FAIL, 1."""
        path = self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwardr
            target_url = http://127.0.0.1:1
            '''))
        self.assert_load_fail(
            path, "cannot load the pipeline from %s: LookupError: Entry "
            "point 'forwardr' not found in egg 'swift_forwarder' (protocols: "
            "paste.filter_factory, paste.filter_app_factory; entry_points: )"
            % path)
        path = self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1

            [filter:other]
            paste.filter_factory = no_such_module_here:filter_factory
            ''', pipeline='catch_errors other forwarder app'))
        self.assert_load_fail(
            path, "cannot load the pipeline from %s: ModuleNotFoundError: "
            "No module named 'no_such_module_here'" % path)

    def test_usage(self):
        """argparse's usage errors are 2, --help is 0."""
        self.assertEqual(2, self.run_check()[0])
        self.assertEqual(2, self.run_check('x', '--timeout', '0')[0])
        status, out, _err = self.run_check('--help')
        self.assertEqual(0, status)
        self.assertIn('--timeout', out)


class TestConfigErrors(CheckTestCase):
    """What would stop the proxy at startup is a FAIL naming it."""

    def test_bad_option(self):
        """An unknown option and a bad value: FAIL, exit status 1, the
        section's real name in the message; nothing else is checked."""
        status, out, _err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            pool_sizee = 3
            ''', pipeline='fed app', name='fed')
        self.assertEqual(1, status)
        self.assertEqual({('-', 'config'): (
            'FAIL', '[filter:fed]: unknown option(s): pool_sizee')},
            self.rows(out))
        self.assertEqual('1 check: 0 OK, 1 FAIL, 0 SKIP',
                         out.splitlines()[-1])
        status, out, _err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            conn_timeout = soon
            ''')
        self.assertEqual(1, status)
        self.assertIn("conn_timeout: expected a number of seconds > 0, got "
                      "'soon'", self.rows(out)['-', 'config'][1])

    def test_bad_ca_bundle(self):
        """A ca_certs file that is no certificate stops the proxy too."""
        bundle = self.write('not a certificate\n', 'ca.pem')
        status, out, _err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = https://127.0.0.1:1
            ca_certs = %s
            ''' % bundle)
        self.assertEqual(1, status)
        result, detail = self.rows(out)['-', 'config']
        self.assertEqual('FAIL', result)
        self.assertIn('[filter:forwarder]: SSLError', detail)

    @unittest.skipUnless(HAVE_SWIFT, 'service mode runs in a Swift proxy')
    def test_secret_never_printed(self):
        """A config FAIL in a filter that holds a key prints no key."""
        status, out, err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            auth_mode = service
            auth_url = http://127.0.0.1:1/auth/v1.0
            auth_user = test:tester
            auth_key = %s
            auth_version = 9
            ''' % KEY)
        self.assertEqual(1, status)
        self.assertIn('auth_version: expected one of', out)
        self.assertNotIn(KEY, out + err)

    def line_of(self, text, line):
        return text.splitlines().index(line) + 1

    def test_parse_error_hides_the_line(self):
        """``auth_key s3cr3t`` (the ``=`` forgotten) is a parse error whose
        message quotes the line: only the file and line numbers are
        printed, never the key; exit status 1 (the proxy would not
        start)."""
        text = proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            auth_mode = service
            auth_key %s
            auth_user test-tester
            ''' % KEY)
        path = self.write(text)
        status, out, err = self.run_check(path)
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        self.assertEqual({('-', 'config'): (
            'FAIL', 'cannot load the pipeline: %s: cannot parse lines %d, %d'
            % (path, self.line_of(text, 'auth_key ' + KEY),
               self.line_of(text, 'auth_user test-tester')))},
            self.rows(out))

    @unittest.skipUnless(HAVE_SWIFT, 'conf.d directories need Swift')
    def test_parse_error_in_conf_d(self):
        """In a conf.d directory, the file at fault is named."""
        self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            '''), 'proxy-server.conf.d/00-base.conf')
        path = self.write('[filter:forwarder]\nauth_key %s\n' % KEY,
                          'proxy-server.conf.d/20-forwarder.conf')
        status, out, err = self.run_check(os.path.dirname(path))
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        self.assertIn('FAIL    cannot load the pipeline: %s: cannot parse '
                      'line 2' % path, out)

    def test_interpolation_and_duplicate_errors(self):
        """An interpolation error quotes the raw value, a duplicate does
        not, but both are told the same way: file, line, names; never a
        value."""
        path = self.write(proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            auth_key = %%(nope)s%s
            ''' % KEY))
        status, out, err = self.run_check(path)
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        self.assertEqual(('FAIL', 'cannot load the pipeline: %s: '
                          '[filter:forwarder] auth_key: bad %%(...)s '
                          'interpolation (InterpolationMissingOptionError)'
                          % path), self.rows(out)['-', 'config'])
        text = proxy_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            auth_key = %s
            auth_key = %s
            ''' % (KEY, KEY))
        path = self.write(text)
        status, out, err = self.run_check(path)
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        self.assertEqual(('FAIL', 'cannot load the pipeline: %s line %d: '
                          'option auth_key given twice in [filter:forwarder]'
                          % (path, self.line_of(text, 'auth_key = ' + KEY)
                             + 1)), self.rows(out)['-', 'config'])

    def test_parser_error_wrapped(self):
        """A configparser error another raised while handling it (Swift,
        paste, config.py), quoting it or not, is told by its file and
        line numbers only."""
        parsing = configparser.ParsingError('/etc/swift/x.conf')
        parsing.append(7, repr('auth_key %s\n' % KEY))
        try:
            try:
                raise parsing
            except configparser.Error as err:
                raise ConfigError('targets_conf x.conf: %s' % err)
        except ConfigError as err:
            wrapped = err
        self.assertIn(KEY, str(wrapped))
        with mock.patch.object(check, 'build_filter', side_effect=wrapped):
            status, out, err = self.check_conf(
                'use = egg:swift_forwarder#forwarder\n'
                'target_url = http://127.0.0.1:1\n', pipeline='fed app',
                name='fed')
        self.assertEqual((1, ''), (status, err))
        self.assertNotIn(KEY, out)
        self.assertEqual({('-', 'config'): (
            'FAIL', '[filter:fed]: /etc/swift/x.conf: cannot parse line 7')},
            self.rows(out))
        with mock.patch.object(check, '_loadcontext', side_effect=wrapped):
            status, out, err = self.run_check(self.write('[x]\n'))
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        self.assertIn('cannot load the pipeline: /etc/swift/x.conf: cannot '
                      'parse line 7', out)

    def test_targets_conf_parse_error(self):
        """targets_conf's own parse errors: a config FAIL, no key."""
        targets = self.write('[target:east]\ntarget_url = http://127.0.0.1:2'
                             '\nauth_key %s\n' % KEY, 'targets.conf')
        status, out, err = self.check_conf('''\
            use = egg:swift_forwarder#forwarder
            target_url = http://127.0.0.1:1
            targets_conf = %s
            ''' % targets)
        self.assertEqual(1, status)
        self.assertNotIn(KEY, out + err)
        result, detail = self.rows(out)['-', 'config']
        self.assertEqual('FAIL', result)
        self.assertEqual('[filter:forwarder]: %s: cannot parse line 3'
                         % targets, detail)

    def test_report_redacts(self):
        """Any known secret in a detail is blanked out (the belt to the
        braces of never formatting one in)."""
        out = io.StringIO()
        report = check.Report(out, ['default'], {KEY, 'abc'})
        report.row('default', 'auth', 'FAIL', 'echoed %s and abc' % KEY)
        self.assertIn('echoed *** and abc', out.getvalue())
        self.assertNotIn(KEY, out.getvalue())


class TestNetworkChecks(CheckTestCase):
    """resolve, connect and info against scripted loopback servers."""

    def server(self, handler, **kwargs):
        server = scripted_server(handler, **kwargs)
        self.addCleanup(server.stop)
        return server

    def passthrough(self, url, *extra, conn_timeout='0.5'):
        return '''\
            use = egg:swift_forwarder#forwarder
            target_url = %s
            conn_timeout = %s
            retries = 0
            ''' % (url, conn_timeout) + ''.join(
                line + '\n' for line in extra)

    def test_refused(self):
        """connect FAIL naming the refusal; the later checks SKIP."""
        sock, port = refused_port()
        self.addCleanup(sock.close)
        status, out, _err = self.check_conf(
            self.passthrough('http://127.0.0.1:%d' % port))
        rows = self.rows(out)
        self.assertEqual(1, status)
        self.assertEqual(('OK', '127.0.0.1 (an address)'),
                         rows['default', 'resolve'])
        self.assertEqual(('FAIL', 'http://127.0.0.1:%d: connection refused'
                          % port), rows['default', 'connect'])
        for name in ('auth', 'info', 'account'):
            self.assertEqual(('SKIP', 'after connect FAIL'),
                             rows['default', name])
        self.assertEqual('6 checks: 2 OK, 1 FAIL, 3 SKIP',
                         out.splitlines()[-1])

    def test_connect_timeout(self):
        """A connect that hangs fails after conn_timeout."""
        listener, fillers = full_backlog_listener()
        for sock in [listener] + fillers:
            self.addCleanup(sock.close)
        status, out, _err = self.check_conf(self.passthrough(
            'http://127.0.0.1:%d' % listener.getsockname()[1],
            conn_timeout='0.2'))
        self.assertEqual(1, status)
        self.assertIn(': timed out after 0.2s',
                      self.rows(out)['default', 'connect'][1])

    def test_resolve_failure(self):
        """The resolver's error; nothing is connected to."""
        error = socket.gaierror(socket.EAI_NONAME, 'Name or service not '
                                'known')
        with mock.patch.object(check.socket, 'getaddrinfo',
                               side_effect=error):
            status, out, _err = self.check_conf(
                self.passthrough('http://swift.invalid'))
        rows = self.rows(out)
        self.assertEqual(1, status)
        self.assertEqual(('FAIL', 'swift.invalid: Name or service not known'),
                         rows['default', 'resolve'])
        self.assertEqual(('SKIP', 'after resolve FAIL'),
                         rows['default', 'connect'])

    def target(self, url='http://127.0.0.1:1', *extra):
        """A passthrough filter's default TargetForwarder."""
        path = self.write(proxy_conf(self.passthrough(url, *extra)))
        [found] = check.load_filters(path)
        target = check.build_filter(found).targets['default']
        self.addCleanup(target.pool.close)
        return target

    def test_resolve_bad_host_name(self):
        """A name IDNA refuses (an empty label, one over 63 characters):
        eventlet's getaddrinfo raises UnicodeError; a resolve FAIL."""
        for host in ('swift..example.com', 'a' * 64 + '.example.com'):
            target = self.target()
            target.address = target.address._replace(host=host)
            rows = list(check.TargetChecker(target).run())
            self.assertEqual(('resolve', 'FAIL', '%s: not a valid host name '
                              '(label empty or too long)' % host), rows[0])
            self.assertEqual(('connect', 'SKIP', 'after resolve FAIL'),
                             rows[1])

    def test_bad_host_name_in_conf(self):
        """The same host in target_url: one FAIL (config, where the
        filter rejects it at startup as the proxy would; else resolve),
        no traceback."""
        status, out, err = self.check_conf(self.passthrough(
            'http://swift..example.com'))
        self.assertEqual((1, ''), (status, err))
        fails = [detail for result, detail in self.rows(out).values()
                 if result == 'FAIL']
        self.assertEqual(1, len(fails), out)
        self.assertIn('swift..example.com', fails[0])

    def test_config_error_while_building(self):
        """A ConfigError from building the filter is its config FAIL."""
        error = ConfigError('[filter:forwarder] target_url: not a valid '
                            'host name')
        with mock.patch.object(check, 'build_filter', side_effect=error):
            status, out, err = self.check_conf(
                self.passthrough('http://127.0.0.1:1'), pipeline='fed app',
                name='fed')
        self.assertEqual((1, ''), (status, err))
        self.assertEqual({('-', 'config'): (
            'FAIL', '[filter:fed] target_url: not a valid host name')},
            self.rows(out))

    def test_unexpected_error_next_target_checked(self):
        """An error no check expected is a FAIL with its type and message
        (on one line), not a traceback; the other targets are still
        checked."""
        sock, port = refused_port()
        self.addCleanup(sock.close)
        targets = self.write('[target:east]\ntarget_url = http://127.0.0.1:'
                             '%d\n' % port, 'targets.conf')
        real = check.socket.getaddrinfo

        def getaddrinfo(host, *args):
            if host == 'broken.example':
                raise RuntimeError('resolver\nexploded')
            return real(host, *args)
        with mock.patch.object(check.socket, 'getaddrinfo', getaddrinfo):
            status, out, err = self.check_conf(self.passthrough(
                'http://broken.example', 'targets_conf = ' + targets))
        self.assertEqual((1, ''), (status, err))
        rows = self.rows(out)
        self.assertEqual(('FAIL', 'unexpected error: RuntimeError: resolver '
                          'exploded'), rows['default', 'resolve'])
        self.assertEqual(('SKIP', 'after resolve FAIL'),
                         rows['default', 'connect'])
        self.assertEqual(('OK', '127.0.0.1 (an address)'),
                         rows['east', 'resolve'])
        self.assertEqual(('FAIL', 'http://127.0.0.1:%d: connection refused'
                          % port), rows['east', 'connect'])

    def test_unexpected_connect_errors(self):
        """ValueError, UnicodeError, HTTPException, eventlet's Timeout (a
        BaseException) out of the connect: a FAIL, later checks SKIP."""
        for error, detail in [
                (ValueError('bad'), 'ValueError: bad'),
                (UnicodeError('label empty or too long'),
                 'UnicodeError: label empty or too long'),
                (http.client.HTTPException('what'), 'HTTPException: what'),
                (cancelled_timeout(5), 'Timeout: 5 seconds')]:
            target = self.target()
            with mock.patch.object(target.pool, 'connect',
                                   side_effect=error):
                rows = list(check.TargetChecker(target).run())
            self.assertEqual(('connect', 'FAIL', 'unexpected error: '
                              + detail), rows[1])
            self.assertEqual(('info', 'SKIP', 'after connect FAIL'), rows[3])

    def test_request_errors(self):
        """Errors out of the info request, or out of reading its answer:
        a FAIL naming the request (the connection discarded)."""
        target = self.target()
        target.pool.connect = mock.Mock()  # the connect check: OK
        discarded = []
        target.pool.discard = discarded.append
        timeout = '%gs' % target.pool.node_timeout
        for error, detail in [
                (http.client.BadStatusLine('HTTP/9'), 'BadStatusLine: HTTP/9'),
                (green_http.IncompleteRead(b'ab', 3),
                 'IncompleteRead: IncompleteRead(2 bytes read, 3 more '
                 'expected)'),
                (UnicodeError('bad header'), 'UnicodeError: bad header'),
                (Timeout(None), 'timed out after ' + timeout),
                (ValueError('chunk size'), 'ValueError: chunk size')]:
            with mock.patch.object(target.upstream, 'round_trip',
                                   side_effect=error):
                rows = list(check.TargetChecker(target).run())
            self.assertEqual(('info', 'FAIL', 'GET /info: ' + detail),
                             rows[3], error)
            conn = mock.Mock()
            conn.response.complete.return_value = False
            conn.response.read1.side_effect = error
            with mock.patch.object(target.upstream, 'round_trip',
                                   return_value=conn):
                rows = list(check.TargetChecker(target).run())
            self.assertEqual(('info', 'FAIL', 'GET /info: reading the '
                              'response: ' + detail), rows[3], error)
            self.assertIs(conn, discarded[-1])

    def test_unexpected_error_redacted(self):
        """An unexpected error's message is redacted like the rest, before
        it is shortened (a cut key would not be found any more)."""
        target = self.target()
        target.pool.connect = mock.Mock()
        target.auth = {'auth_user': 'fed:fwd', 'account_map': {},
                       'auth_url': 'http://127.0.0.1:1/auth/v1.0',
                       'auth_key': KEY}
        target.service = mock.Mock()
        message = 'x' * (check.MAX_REASON - 30) + ' key ' + KEY
        target.service.tokens.get.side_effect = ValueError(message)
        secrets = set()
        rows = list(check.TargetChecker(target, secrets).run())
        self.assertEqual({KEY}, secrets)
        check_name, result, detail = rows[2]
        self.assertEqual(('auth', 'FAIL'), (check_name, result))
        self.assertNotIn(KEY[:8], detail)
        self.assertTrue(detail.endswith(' key ***'), detail)
        self.assertEqual(('account', 'SKIP', 'after auth FAIL'), rows[3])
        message = 'x' * check.MAX_REASON + KEY
        target.service.tokens.get.side_effect = ValueError(message)
        detail = list(check.TargetChecker(target).run())[2][2]
        self.assertEqual(check.MAX_REASON + len('unexpected error: '),
                         len(detail))
        self.assertTrue(detail.endswith('x...'), detail)
        target.service.tokens.get.side_effect = Timeout(None)
        rows = list(check.TargetChecker(target).run())
        self.assertEqual(('auth', 'FAIL', 'unexpected error: Timeout'),
                         rows[2])

    def tls_server(self, handler=None, **kwargs):
        cert, key = make_cert(self.dir, name='server')
        return cert, self.server(handler or self.info_handler(),
                                 wrap=tls_wrapper(cert, key), **kwargs)

    def info_handler(self, status=200, body=SWIFT_INFO):
        def handler(sock):
            request = sock.read_request()
            if request is None:  # the connect check's connection
                return
            assert (request.method, request.target) == ('GET', '/info')
            sock.respond(status, body, [('Content-Type', 'application/json')])
        return handler

    def test_tls_wrong_ca(self):
        """A certificate the configured CA did not sign."""
        _cert, server = self.tls_server(expect_errors=True)
        other_ca, _key = make_cert(self.dir, name='other')
        status, out, _err = self.check_conf(self.passthrough(
            'https://127.0.0.1:%d' % server.port, 'ca_certs = ' + other_ca))
        self.assertEqual(1, status)
        result, detail = self.rows(out)['default', 'connect']
        self.assertEqual('FAIL', result)
        self.assertIn(': certificate verify failed: ', detail)
        self.assertEqual([], server.requests)

    def test_tls_ok(self):
        """The right CA: connect OK with the TLS version, info OK."""
        cert, server = self.tls_server()
        status, out, _err = self.check_conf(self.passthrough(
            'https://127.0.0.1:%d' % server.port, 'ca_certs = ' + cert))
        rows = self.rows(out)
        self.assertEqual(0, status, out)
        result, detail = rows['default', 'connect']
        self.assertEqual('OK', result)
        self.assertRegex(detail, r'^https://127.0.0.1:\d+ in [\d.]+ ms, '
                         r'TLSv1\.[23], certificate verified$')
        self.assertEqual(('SKIP', 'passthrough: clients authenticate'),
                         rows['default', 'auth'])
        self.assertEqual(('OK', 'GET /info: 200 OK, Swift 2.38.3'),
                         rows['default', 'info'])
        self.assertEqual('SKIP', rows['default', 'account'][0])
        # one connection for connect, one for info; both closed
        self.assertEqual(2, server.accepted)

    def test_connections_released(self):
        """The checks leave nothing in use or idle in the filter's pool."""
        server = self.server(self.info_handler())
        path = self.write(proxy_conf(self.passthrough(
            'http://127.0.0.1:%d' % server.port)))
        [found] = check.load_filters(path)
        target = check.build_filter(found).targets['default']
        rows = list(check.TargetChecker(target).run())
        self.assertEqual(['OK', 'OK', 'SKIP', 'OK', 'SKIP'],
                         [result for _check, result, _detail in rows])
        self.assertEqual((0, 0), (target.pool.in_use, target.pool.idle))

    def test_info_answers(self):
        """403 (expose_info off) is a Swift proxy; a 404 or a 200 that is
        not Swift's /info JSON is not."""
        cases = [
            (403, b'', 'OK', 'GET /info: 403 Status (the target has '
             'expose_info = false)'),
            (404, b'', 'FAIL', 'GET /info: 404 Status: not a Swift proxy '
             'answer'),
            (200, b'<html>It works!</html>', 'FAIL',
             'GET /info: 200 OK: not a Swift proxy answer'),
            (200, b'{"nginx": {}}', 'FAIL',
             'GET /info: 200 OK: not a Swift proxy answer'),
        ]
        for status, body, result, detail in cases:
            server = self.server(self.info_handler(status, body))
            code, out, _err = self.check_conf(self.passthrough(
                'http://127.0.0.1:%d' % server.port))
            self.assertEqual((result, detail),
                             self.rows(out)['default', 'info'], body)
            self.assertEqual(0 if result == 'OK' else 1, code)

    def test_timeout_option(self):
        """--timeout bounds each request's wait for an answer."""
        def stall(sock):
            if sock.read_request() is not None:
                sock.read_to_eof()  # until the check gives up and closes
        server = self.server(stall)
        status, out, _err = self.check_conf(self.passthrough(
            'http://127.0.0.1:%d' % server.port), '--timeout', '0.2')
        self.assertEqual(1, status)
        self.assertEqual(('FAIL', 'GET /info: timed out after 0.2s'),
                         self.rows(out)['default', 'info'])


class FakeSwift(object):
    """:mod:`test.unit.fakeswift` in a process of its own (see there why).

    :param auth_status: what ``GET /auth/v1.0`` answers.
    :param accounts: {account: status} for ``HEAD /v1/<account>``.
    """

    def __init__(self, directory, auth_status=200, accounts=None):
        self.log_file = os.path.join(directory, 'fakeswift.log')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'test.unit.fakeswift', str(auth_status),
             json.dumps(accounts or {}), self.log_file],
            stdout=subprocess.PIPE, cwd=REPO, text=True)
        try:
            port = int(self.proc.stdout.readline())
        except ValueError:
            self.stop()
            raise
        self.url = 'http://127.0.0.1:%d' % port

    @property
    def requests(self):
        """``[(method, path, headers)]`` received so far."""
        if not os.path.exists(self.log_file):
            return []
        with open(self.log_file) as fp:
            return [tuple(json.loads(line)) for line in fp]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.proc.stdout.close()


@unittest.skipUnless(HAVE_SWIFT, 'service mode runs in a Swift proxy')
class TestServiceMode(CheckTestCase):
    """auth and account, in auth_mode = service."""

    def service(self, fake, *extra):
        return '''\
            use = egg:swift_forwarder#forwarder
            target_url = %s
            forward = AUTH_a
            auth_mode = service
            auth_url = %s/auth/v1.0
            auth_user = fed:forwarder
            auth_key = %s
            retries = 0
            ''' % (fake.url, fake.url, KEY) + ''.join(
                line + '\n' for line in extra)

    def fake_swift(self, **kwargs):
        fake = FakeSwift(self.dir, **kwargs)
        self.addCleanup(fake.stop)
        return fake

    def test_auth_refused(self):
        """A 401 from the auth endpoint, named with its URL; never the key;
        the accounts are not tried."""
        fake = self.fake_swift(auth_status=401)
        status, out, err = self.check_conf(self.service(fake))
        rows = self.rows(out)
        self.assertEqual(1, status)
        self.assertEqual(('FAIL', '401 Unauthorized from %s/auth/v1.0'
                          % fake.url), rows['default', 'auth'])
        self.assertEqual(('SKIP', 'after auth FAIL'),
                         rows['default', 'account'])
        self.assertNotIn(('default', 'info'), rows)
        self.assertNotIn(KEY, out + err)
        self.assertEqual([('GET', '/auth/v1.0')],
                         [r[:2] for r in fake.requests])
        headers = {k.lower(): v for k, v in fake.requests[0][2].items()}
        self.assertEqual(KEY, headers['x-auth-key'])

    def test_auth_unreachable(self):
        """An auth endpoint nobody listens on."""
        fake = self.fake_swift()
        sock, port = refused_port()
        self.addCleanup(sock.close)
        conf = self.service(fake).replace(
            '%s/auth' % fake.url, 'http://127.0.0.1:%d/auth' % port)
        status, out, _err = self.check_conf(conf)
        self.assertEqual(1, status)
        self.assertEqual(('FAIL', 'connection refused (http://127.0.0.1:%d/'
                          'auth/v1.0)' % port),
                         self.rows(out)['default', 'auth'])

    def test_auth_and_accounts(self):
        """A token, then a HEAD of the service account and of each mapped
        one, with the token; a refused account fails alone.  The token
        is never printed."""
        fake = self.fake_swift(accounts={'AUTH_svc': 204, 'AUTH_fed': 403})
        status, out, err = self.check_conf(self.service(
            fake, 'account_map = AUTH_a:AUTH_fed AUTH_b:AUTH_svc'))
        rows = self.rows(out)
        self.assertEqual(1, status)
        self.assertEqual(('OK', 'fed:forwarder at %s/auth/v1.0: storage URL '
                          '%s/v1/AUTH_svc' % (fake.url, fake.url)),
                         rows['default', 'auth'])
        self.assertEqual([('OK', 'HEAD /v1/AUTH_svc: 204 No Content'),
                          ('FAIL', 'HEAD /v1/AUTH_fed: 403 Forbidden')],
                         rows['default', 'account'])
        heads = [r for r in fake.requests if r[0] == 'HEAD']
        self.assertEqual(['/v1/AUTH_svc', '/v1/AUTH_fed'],
                         [r[1] for r in heads])
        self.assertEqual({TOKEN}, {v for r in heads for k, v in r[2].items()
                                   if k.lower() == 'x-auth-token'})
        self.assertNotIn(TOKEN, out + err)
        self.assertNotIn(KEY, out + err)

    def test_all_ok(self):
        fake = self.fake_swift(accounts={'AUTH_svc': 204})
        status, out, _err = self.check_conf(self.service(fake))
        self.assertEqual(0, status, out)
        self.assertEqual('5 checks: 5 OK, 0 FAIL, 0 SKIP',
                         out.splitlines()[-1])


if __name__ == '__main__':
    unittest.main()


class TestCorePlacementChecks(unittest.TestCase):
    """The backend probe's verdicts, the placement warning and the policy
    rings, on their own."""

    def probe(self, status, body, reason='OK'):
        return check._probe_result(status, reason, body)

    def test_probe_results(self):
        good = {'forwarder_backend': True, 'backend_headers': True,
                'ignore_range': []}
        self.assertEqual(check.OK, self.probe(200, json.dumps(good))[0])
        for status, body, needle in (
                (401, b'forwarder_backend: X-Forwarder-Backend-Sig: bad '
                 b'signature', 'backend_key is not its key or key2'),
                (404, b'<html>Not Found</html>', 'no forwarder_backend'),
                (200, b'not json', 'no forwarder_backend'),
                (401, b'Unauthorized', 'no forwarder_backend'),
                (200, json.dumps(dict(good, ignore_range=[
                    'X-Static-Large-Object', 'X-Object-Manifest',
                    'X-Object-Sysmeta-Symlink-Target'])),
                 'dlo, slo, symlink above forwarder_backend would resolve'),
                (200, json.dumps(dict(good, backend_headers=False)),
                 'a gatekeeper above forwarder_backend strips')):
            result, detail = self.probe(status, body)
            self.assertEqual(check.FAIL, result, body)
            self.assertIn(needle, detail)

    def placement(self, composites, forward, **conf):
        target = mock.Mock(storage_policies=(), forward_rules=forward,
                           migrate_rules=conf.get('migrate', ()))
        mw = mock.Mock(targets={'default': target}, conf=mock.Mock(
            container_opt_in=conf.get('container_opt_in', False)))
        return check._placement_warning(check.FilterConf(
            'forwarder', {}, {}, composites), mw)

    def test_placement_warning(self):
        """Only when some containers are forwarded from above a composite
        middleware: everything forwarded, or the core placement, is fine."""
        some = routing.parse_forward('AUTH_a/fed*')
        everything = routing.parse_forward('*')
        result, detail = self.placement(('slo', 'dlo'), some)
        self.assertEqual(check.WARN, result)
        self.assertIn('above slo, dlo and forwards only some containers',
                      detail)
        self.assertIn('put it right before proxy-server with '
                      'backend_endpoint', detail)
        self.assertEqual(check.WARN, self.placement(
            ('copy',), everything, container_opt_in=True)[0])
        self.assertIsNone(self.placement(('slo',), everything))
        self.assertIsNone(self.placement((), some))

    def test_migrating_from_above_composites_fails(self):
        """A source is read as stored: only the composite middlewares
        above the forwarder resolve its manifests and links."""
        migrate = routing.parse_forward('AUTH_a/old*')
        result, detail = self.placement(('slo', 'symlink'), (),
                                        migrate=migrate)
        self.assertEqual(check.FAIL, result)
        self.assertIn('[filter:forwarder] sits above slo, symlink and '
                      'migrates from default', detail)
        self.assertIsNone(self.placement((), (), migrate=migrate))

    def test_composites_found_by_factory_module(self):
        def ctx(module):
            return mock.Mock(object=mock.Mock(__module__=module))
        self.assertEqual(('slo', 'versioned_writes'), check._composites([
            ctx('swift.common.middleware.slo'), ctx('swift.proxy.server'),
            ctx('swift.common.middleware.versioned_writes'),
            ctx('elsewhere.slo')]))

    def test_policy_rings(self):
        """Each routed policy's ring must be there (else how to build the
        placeholder); the default policy is a WARN."""
        Policy = collections.namedtuple('Policy', 'idx name ring_name '
                                        'is_default')
        policies = {'fed': Policy(2, 'fed', 'object-2', False),
                    'gold': Policy(0, 'gold', 'object', True)}
        swift_dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, swift_dir)
        target = mock.Mock(storage_policies=('fed', 'gold'), auth=None,
                           backend_key=None)
        with mock.patch.object(check, 'POLICIES', mock.Mock(
                get_by_name=policies.get)):
            rows = list(check.TargetChecker(
                target, swift_dir=swift_dir).policies())
            self.assertEqual([check.FAIL, check.FAIL], [r for r, _d in rows])
            self.assertIn('fed: no %s/object-2.ring.gz; give swift.conf a '
                          '[storage-policy:2] with name = fed (not the '
                          'default), and build its one-device placeholder '
                          'ring in swift_dir (nothing is stored in it): '
                          'swift-ring-builder object-2.builder create 0 1 1; '
                          'swift-ring-builder object-2.builder add '
                          'r1z1-127.0.0.1:6200/placeholder 1; '
                          'swift-ring-builder object-2.builder rebalance'
                          % swift_dir, rows[0][1])
            for ring in ('object-2', 'object'):
                open(os.path.join(swift_dir, ring + '.ring.gz'), 'w').close()
            rows = list(check.TargetChecker(
                target, swift_dir=swift_dir).policies())
        self.assertEqual([check.OK, check.WARN], [r for r, _d in rows])
        self.assertIn('gold is the default policy: every container made '
                      'without X-Storage-Policy lives on the target',
                      rows[1][1])

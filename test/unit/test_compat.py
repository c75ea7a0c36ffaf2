# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.testing.compat: reading outcomes, comparing them, judging a
run, the report and its exit status, the test.conf."""

import configparser
import io
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

from swift_forwarder.testing import compat
from swift_forwarder.testing.compat import CompatError, Result

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
 <testcase classname="test.functional.tests.TestFile" name="testPut" time="0.1"/>
 <testcase classname="test.functional.tests.TestFile" name="testBadHeaders" time="0.1">
  <failure message="AssertionError: 400 != 412&#10;second line">traceback</failure>
 </testcase>
 <testcase classname="test.functional.tests.TestFile" name="testSetup">
  <error message="failed on setup with &quot;OSError&quot;">traceback</error>
 </testcase>
 <testcase classname="test.functional.test_slo.TestSlo" name="test_expired">
  <skipped type="pytest.skip" message="allow_open_expired is disabled">where</skipped>
 </testcase>
 <testcase classname="test.functional.test_slo.TestSlo" name="test_twice"/>
 <testcase classname="test.functional.test_slo.TestSlo" name="test_twice">
  <error message="failed on teardown">traceback</error>
 </testcase>
</testsuite></testsuites>
"""


class TestParseJunit(unittest.TestCase):

    def test_outcomes_and_messages(self):
        """failure -> failed, error -> error, skipped -> skipped, nothing -> passed; the
        first line of the message; a test reported twice keeps its worst outcome."""
        results = compat.parse_junit(JUNIT)
        self.assertEqual(list(results), [
            'test.functional.tests.TestFile::testPut',
            'test.functional.tests.TestFile::testBadHeaders',
            'test.functional.tests.TestFile::testSetup',
            'test.functional.test_slo.TestSlo::test_expired',
            'test.functional.test_slo.TestSlo::test_twice'])
        self.assertEqual(list(results.values()), [
            Result('passed', ''),
            Result('failed', 'AssertionError: 400 != 412'),
            Result('error', 'failed on setup with "OSError"'),
            Result('skipped', 'allow_open_expired is disabled'),
            Result('error', 'failed on teardown')])
        self.assertEqual(dict(compat.count(results)),
                         {'passed': 1, 'failed': 1, 'error': 2, 'skipped': 1})

    def test_real_pytest_junit(self):
        """What pytest itself writes, for each outcome (xfail counts as skipped), and a
        collection error, which :func:`check_run` refuses."""
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, 'test_sample.py'), 'w') as f:
                f.write(textwrap.dedent('''
                    import unittest
                    import pytest

                    class TestA(unittest.TestCase):
                        def test_pass(self):
                            pass

                        def test_fail(self):
                            self.assertEqual(1, 2)

                        def test_skip(self):
                            raise unittest.SkipTest('not here')

                    @pytest.fixture
                    def broken():
                        raise OSError('no fixture')

                    def test_error(broken):
                        pass

                    @pytest.mark.xfail
                    def test_xfail():
                        assert False
                '''))
            status, results = _pytest_junit(tmp)
            self.assertEqual(1, status)  # tests failed
            self.assertEqual(results['test_sample.TestA::test_pass'].outcome, 'passed')
            self.assertEqual(results['test_sample.TestA::test_fail'],
                             Result('failed', 'AssertionError: 1 != 2'))
            self.assertEqual(results['test_sample.TestA::test_skip'],
                             Result('skipped', 'not here'))
            self.assertEqual(results['test_sample::test_error'].outcome, 'error')
            self.assertEqual(results['test_sample::test_xfail'].outcome, 'skipped')
            self.assertEqual(5, len(results))
            compat.check_run('direct', status, results)

            with open(os.path.join(tmp, 'test_broken.py'), 'w') as f:
                f.write('import no_such_module_here\n')
            status, results = _pytest_junit(tmp)
        self.assertEqual(2, status)  # interrupted by the collection error: nothing ran
        self.assertEqual(results, {'test_broken': Result('error', 'collection failure')})
        with self.assertRaises(CompatError) as caught:
            compat.check_run('direct', status, results)
        self.assertIn('collection errors in test_broken', str(caught.exception))


def _pytest_junit(directory):
    """pytest's exit status and the parsed junit XML of the tests in ``directory``."""
    junit = os.path.join(directory, 'junit.xml')
    status = subprocess.call(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         '--rootdir', directory, '-c', os.devnull, '--junitxml', junit, directory],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(junit) as f:
        return status, compat.parse_junit(f.read())


class TestCompare(unittest.TestCase):

    def test_differences(self):
        """Every test whose outcome differs, in the direct run's order, then tests only the
        gateway ran; the gateway's message, else the direct run's."""
        direct = {'a::same': Result('passed', ''),
                  'a::worse': Result('passed', ''),
                  'a::better': Result('failed', 'direct broke'),
                  'a::skip_both': Result('skipped', 'x'),
                  'a::unskipped': Result('skipped', 'no policy'),
                  'a::gone': Result('passed', '')}
        gateway = {'a::same': Result('passed', ''),
                   'a::worse': Result('failed', '412 != 400'),
                   'a::better': Result('passed', ''),
                   'a::skip_both': Result('skipped', 'y'),
                   'a::unskipped': Result('passed', ''),
                   'a::new': Result('error', 'boom')}
        self.assertEqual(compat.compare(direct, gateway), [
            ('a::worse', 'passed', 'failed', '412 != 400'),
            ('a::better', 'failed', 'passed', 'direct broke'),
            ('a::unskipped', 'skipped', 'passed', 'no policy'),
            ('a::gone', 'passed', 'absent', ''),
            ('a::new', 'absent', 'error', 'boom')])
        self.assertEqual(compat.compare(direct, dict(direct)), [])


class TestCheckRun(unittest.TestCase):

    def test_refused(self):
        """Nothing ran, a collection error, or pytest neither passed nor failed tests."""
        ok = {'a::t': Result('passed', '')}
        for status, results, reason in (
                (5, {}, 'no test ran'),
                (0, {}, 'no test ran'),
                (2, dict(ok, mod=Result('error', 'x')), 'collection errors in mod'),
                (3, ok, 'pytest exit status 3'),
                (-9, ok, 'pytest exit status -9')):
            with self.assertRaises(CompatError, msg=status) as caught:
                compat.check_run('gateway', status, results)
            self.assertIn(reason, str(caught.exception))

    def test_accepted(self):
        for status in (0, 1):
            compat.check_run('direct', status, {'a::t': Result('failed', '')})


class TestReport(unittest.TestCase):

    def _report(self, direct, gateway):
        out = io.StringIO()
        return compat.report(direct, gateway, out=out), out.getvalue()

    def test_same(self):
        results = {'a::p': Result('passed', ''), 'a::s': Result('skipped', 'why')}
        status, text = self._report(results, dict(results))
        self.assertEqual(0, status)
        self.assertIn('compat: OK: all 2 tests have the same outcome both ways', text)
        self.assertNotIn('another outcome', text)

    def test_differs(self):
        """Exit status 1, the differing tests listed with both outcomes and the message,
        the counts of both runs."""
        direct = {'m.T::t1': Result('passed', ''), 'm.T::t2': Result('passed', ''),
                  'm.T::t3': Result('skipped', 'x')}
        gateway = {'m.T::t1': Result('passed', ''),
                   'm.T::t2': Result('failed', "b'x\\n' != b'x'"),
                   'm.T::t3': Result('skipped', 'x')}
        status, text = self._report(direct, gateway)
        self.assertEqual(1, status)
        lines = text.splitlines()
        self.assertIn('1 test(s) with another outcome through the gateway:', lines)
        self.assertIn("  m.T::t2  passed   failed   b'x\\n' != b'x'", lines)
        self.assertNotIn('m.T::t1', text)
        self.assertEqual(lines[-3].split(), ['direct', '2', '0', '0', '1', '3'])
        self.assertEqual(lines[-2].split(), ['gateway', '1', '1', '0', '1', '3'])
        self.assertEqual(lines[-1], 'compat: FAILED: 1 of 3 tests have another outcome '
                                    'through the gateway')

    def test_direct_failures_fail_too(self):
        """The same failure both ways is no difference, but a baseline that fails says the
        clusters are off: exit status 1, the test named."""
        results = {'m.T::t1': Result('passed', ''), 'm.T::t2': Result('error', 'refused')}
        status, text = self._report(results, dict(results))
        self.assertEqual(1, status)
        self.assertIn('the direct run itself failed 1 test(s)', text)
        self.assertIn('  m.T::t2  refused', text)
        self.assertNotIn('compat: OK', text)


class TestRerun(unittest.TestCase):

    def test_candidates_and_merge(self):
        """Differing tests and direct failures (once each, if both runs have them) are run
        again; their second outcomes replace the first."""
        direct = {'m.T::differs': Result('passed', ''), 'm.T::bad_both': Result('failed', 'a'),
                  'm.T::same': Result('passed', ''), 'm.T::gone': Result('passed', '')}
        gateway = {'m.T::differs': Result('failed', 'b'), 'm.T::bad_both': Result('failed', 'a'),
                   'm.T::same': Result('passed', '')}
        self.assertEqual(compat.rerun_candidates(direct, gateway),
                         ['m.T::differs', 'm.T::bad_both'])
        merged = compat.merge(direct, {'m.T::differs': Result('skipped', 'x'),
                                       'm.T::stray': Result('passed', '')})
        self.assertEqual(list(merged), list(direct))
        self.assertEqual(merged['m.T::differs'], Result('skipped', 'x'))
        self.assertEqual(merged['m.T::same'], Result('passed', ''))

    def test_node_id(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, 'test', 'functional', 's3api'))
            for name in ('tests.py', 's3api/test_acl.py', 's3api/__init__.py'):
                open(os.path.join(tmp, 'test', 'functional', name), 'w').close()
            self.assertEqual(
                compat.node_id('test.functional.tests.TestFile::testPut', tmp),
                'test/functional/tests.py::TestFile::testPut')
            self.assertEqual(
                compat.node_id('test.functional.s3api.test_acl.TestS3Acl::test_acl', tmp),
                'test/functional/s3api/test_acl.py::TestS3Acl::test_acl')
            with self.assertRaises(CompatError):
                compat.node_id('test.functional.nope.T::t', tmp)

    def test_report_after_rerun(self):
        """A test bad only in the first runs is listed as such and passes; one that
        differs again fails the run."""
        first = ({'m.T::flaky': Result('failed', 'timeout'), 'm.T::real': Result('passed', ''),
                  'm.T::ok': Result('passed', '')},
                 {'m.T::flaky': Result('passed', ''), 'm.T::real': Result('failed', '401'),
                  'm.T::ok': Result('passed', '')})
        direct = compat.merge(first[0], {'m.T::flaky': Result('passed', ''),
                                         'm.T::real': Result('passed', '')})
        gateway = compat.merge(first[1], {'m.T::flaky': Result('passed', ''),
                                          'm.T::real': Result('failed', '401')})
        out = io.StringIO()
        self.assertEqual(1, compat.report(direct, gateway, first, out=out))
        text = out.getvalue()
        self.assertIn('1 test(s) differed or failed direct in the first runs only', text)
        self.assertIn('  m.T::flaky  first runs: direct failed, gateway passed; again: passed',
                      text)
        self.assertIn('1 test(s) with another outcome through the gateway:', text)
        self.assertIn('m.T::real  passed   failed   401', text)

        gateway['m.T::real'] = Result('passed', '')
        out = io.StringIO()
        self.assertEqual(0, compat.report(direct, gateway, first, out=out))
        self.assertIn('2 test(s) differed or failed direct in the first runs only',
                      out.getvalue())
        self.assertIn('compat: OK: all 3 tests', out.getvalue())


SAMPLE = """\
[s3api_test]
endpoint = http://127.0.0.1:8080

[func_test]
# Sample config for Swift with tempauth
auth_uri = http://127.0.0.1:8080/auth/v1.0
account = test
username = tester
password = testing
#account5 = test5
collate = C
"""


class TestMakeTestConf(unittest.TestCase):

    def test_pointed_at_the_proxy(self):
        text = compat.make_test_conf(SAMPLE, 'http://127.0.0.1:20000')
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        func = parser['func_test']
        self.assertEqual(func['auth_uri'], 'http://127.0.0.1:20000/auth/v1.0')
        self.assertEqual(parser['s3api_test']['endpoint'], 'http://127.0.0.1:20000')
        self.assertEqual((func['account'], func['username'], func['password']),
                         ('test', 'tester', 'testing'))
        self.assertEqual((func['account5'], func['username5'], func['service_prefix']),
                         ('test5', 'tester5', 'SERVICE'))
        self.assertEqual(func['account6'], 'admin')
        self.assertNotIn('8080', text)

    def test_unknown_sample(self):
        with self.assertRaises(CompatError):
            compat.make_test_conf(SAMPLE.replace('8080', '5000'), 'http://127.0.0.1:20000')


if __name__ == '__main__':
    unittest.main()

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""``make compat``: Swift's own functional suite, direct and through the gateway.

Runs the ``test/functional`` suite of the installed Swift version twice:

* **direct**: against the *target* cluster's proxy;
* **gateway**: against the *local* cluster's proxy, whose pipeline has the forwarder in
  gateway placement (``forward = *``, ``forward_auth = true``, ``auth_mode = passthrough``)
  pointed at the target.  The suite logs in at the local ``/auth/v1.0`` and must not be
  able to tell the forwarder is there.

Each run gets a fresh pair of clusters (:func:`saio.start_pair`, devices on tmpfs), so the
state one run leaves (leftovers of failed tests, account metadata) cannot change the other;
the two runs go at the same time (``--sequential``: one after the other).  Both clusters
of a pair are alike (:data:`CLUSTER_OPTIONS`): saio's pipeline plus ``staticweb`` and
``etag-quoter``, two storage policies, ``allow_open_expired``, the service-token prefix.
The test accounts exist before the suite starts, as on a cluster in use.  ``s3api`` is on
neither: the forwarder forwards the Swift API (``/v1/...``) only, so its tests skip both
ways.

The modules are those Swift's own runner takes (``test*.py``, ``tests.py`` included).  The
outcome of every test (passed, failed, error, skipped) is read from pytest's junit XML and
compared.  The tests that differ, or that the direct run failed, are run again both ways on
fresh clusters (as Swift's ``.functests`` runs its failures again), and their second
outcomes count; those that only the first runs found bad are listed as such
(``--no-rerun``: no second runs).  Exit status:

* 0: every test has the same outcome both ways, and the direct run failed nothing;
* 1: some test differs (each is listed, with the failure message), or the direct run
  itself failed tests (then the clusters or the environment are off, and the comparison
  means nothing);
* 2: a run did not run the suite (nothing collected, a collection error, pytest crashed or
  timed out) or the clusters did not start.

The suite comes from the swift sdist (``pip download --no-binary :all: --no-deps
swift==<installed version>``), kept in ``.cache/compat/``; only its ``test/`` package and
``tox.ini`` (Swift's pytest settings) are unpacked, and pytest runs with that directory as
its working directory and ``PYTHONPATH``, so ``import test`` is Swift's, never this
project's, and ``import swift`` is the installed Swift.  ``test.conf`` is Swift's
``test/sample.conf`` with the cluster's proxy URL, plus the service-token user
(``test5:tester5``, ``service_prefix = SERVICE``) and the reseller admin (``admin:admin``)
that Swift's in-process functional setup also configures.

Usage: ``python -m swift_forwarder.testing.compat [-k EXPR] [--sequential] [--no-rerun]``.
The cluster configs and logs, each run's ``test.conf``, pytest output (``pytest.log``) and
``junit.xml`` stay in ``.cache/compat/runs/{direct,gateway}/`` (the second runs:
``{direct,gateway}-again/``) until the next run.
"""

import argparse
import collections
import configparser
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ElementTree
from importlib import metadata

from swift_forwarder.testing import saio

#: ``[filter:forwarder]`` of the local cluster: the gateway placement.
GATEWAY_CONF = {
    'forward': '*',
    'forward_auth': 'true',
    'auth_mode': 'passthrough',
}


def _compat_pipeline():
    """saio's pipeline with the middlewares whose tests would otherwise skip: staticweb
    (after the auth, as in Swift's SAIO) and etag-quoter (off unless a container or
    account asks for it)."""
    pipeline = list(saio.PROXY_PIPELINE)
    pipeline.insert(pipeline.index('tempauth') + 1, 'staticweb')
    pipeline.insert(pipeline.index('listing_formats') + 1, 'etag-quoter')
    return pipeline


#: :class:`saio.SwiftCluster` arguments of both clusters of a pair.
CLUSTER_OPTIONS = {
    'tempauth_conf': saio.SERVICE_TOKEN_TEMPAUTH,
    'proxy_conf': {'allow_open_expired': 'true'},
    'storage_policies': ('gold', 'silver'),
    'middlewares': _compat_pipeline(),
}

#: The accounts created before the suite starts: (user, key) of the account's admin
#: (test5:tester5 is no admin of its own account: its tests use it for service tokens).
ACCOUNTS = (('test:tester', 'testing'), ('test2:tester2', 'testing2'))

#: ``[func_test]`` options added to Swift's sample.conf (as in Swift's in-process setup).
EXTRA_FUNC_TEST = collections.OrderedDict([
    ('account5', 'test5'), ('username5', 'tester5'), ('password5', 'testing5'),
    ('service_prefix', 'SERVICE'),
    ('account6', 'admin'), ('username6', 'admin'), ('password6', 'admin'),
])

#: The proxy URL in Swift's sample.conf.
SAMPLE_URL = 'http://127.0.0.1:8080'

#: Outcomes, in the order of the count table; the bad ones.
OUTCOMES = ('passed', 'failed', 'error', 'skipped')
BAD = ('failed', 'error')

#: Bound on one run of the suite (it takes about 3.5 minutes on 2 cores).
RUN_TIMEOUT = 20 * 60

Result = collections.namedtuple('Result', 'outcome message')


class CompatError(Exception):
    """A run could not be made or did not run the suite; the message says why."""


# --- the suite --------------------------------------------------------------------------------

def installed_swift_version():
    return metadata.version('swift')


def fetch_sdist(version, cache_dir):
    """Path of ``swift-<version>.tar.gz`` in ``cache_dir``, downloaded with pip if absent."""
    path = os.path.join(cache_dir, 'swift-%s.tar.gz' % version)
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    print('compat: downloading the swift %s sdist into %s' % (version, cache_dir), flush=True)
    argv = [sys.executable, '-m', 'pip', 'download', '-q', '--no-binary', ':all:', '--no-deps',
            '--dest', cache_dir, 'swift==%s' % version]
    if subprocess.call(argv) != 0 or not os.path.exists(path):
        raise CompatError('could not download the swift %s sdist (%s); found: %s' % (
            version, ' '.join(argv), ', '.join(os.listdir(cache_dir)) or 'nothing'))
    return path


def unpack_suite(sdist, cache_dir):
    """Directory holding the sdist's ``test/`` and ``tox.ini``, unpacked once and reused."""
    top = os.path.basename(sdist)[:-len('.tar.gz')]
    dest = os.path.join(cache_dir, top + '-suite')
    if os.path.isdir(dest):
        return dest
    partial = dest + '.partial'
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers()
                   if m.name == top + '/tox.ini' or m.name.startswith(top + '/test/')]
        if not any(m.name == top + '/test/functional/__init__.py' for m in members):
            raise CompatError('%s has no %s/test/functional' % (sdist, top))
        for member in members:
            member.name = member.name[len(top) + 1:]
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(partial, members=members, **kwargs)
    os.rename(partial, dest)
    return dest


def make_test_conf(sample_text, proxy_url):
    """Swift's ``test/sample.conf`` pointed at ``proxy_url``, with :data:`EXTRA_FUNC_TEST`.

    :raises CompatError: the sample has no ``auth_uri`` on :data:`SAMPLE_URL` (a sample of a
        newer Swift this function does not know).
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(sample_text.replace(SAMPLE_URL, proxy_url))
    if parser.get('func_test', 'auth_uri', fallback=None) != proxy_url + '/auth/v1.0':
        raise CompatError('sample.conf: no [func_test] auth_uri = %s/auth/v1.0' % SAMPLE_URL)
    for key, value in EXTRA_FUNC_TEST.items():
        parser.set('func_test', key, value)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def start_suite(suite_dir, proxy_url, run_dir, select=None, node_ids=None):
    """Start Swift's ``test/functional`` (or the tests ``node_ids`` name) against
    ``proxy_url``, in a session of its own; returns the :class:`subprocess.Popen`.

    Writes ``test.conf`` into ``run_dir``; pytest writes ``junit.xml`` and ``pytest.log``
    there.
    """
    conf_path = os.path.join(run_dir, 'test.conf')
    with open(os.path.join(suite_dir, 'test', 'sample.conf')) as f:
        saio._write(conf_path, make_test_conf(f.read(), proxy_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith('SWIFT_TEST_')}
    env.update(SWIFT_TEST_CONFIG_FILE=conf_path,
               SWIFT_TEST_IN_PROCESS='0',  # never Swift's in-process servers: our cluster
               PYTHONPATH=suite_dir, PYTHONUNBUFFERED='1')
    # python_files: the modules Swift's own runner (stestr, unittest discovery) takes,
    # tests.py included
    argv = [sys.executable, '-m', 'pytest', '-c', 'tox.ini', '--rootdir', '.',
            '-o', 'python_files=test*.py', '-p', 'no:cacheprovider',
            '--junitxml', os.path.join(run_dir, 'junit.xml')]
    if select:
        argv += ['-k', select]
    with open(os.path.join(run_dir, 'pytest.log'), 'wb') as log:
        return subprocess.Popen(argv + (node_ids or ['test/functional']), cwd=suite_dir,
                                env=env,
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


# --- outcomes ---------------------------------------------------------------------------------

def _test_id(case):
    """``<class>::<test>`` of a junit testcase (``test.functional.tests.TestFile::testPut``):
    what ``-k`` selects, and the same in both runs (the ``file`` attribute is not: it is
    where the method is written, a base class's module for an inherited test)."""
    classname, name = case.get('classname', ''), case.get('name', '')
    return '%s::%s' % (classname, name) if classname else name


def _first_line(text, limit=160):
    line = (text or '').strip().split('\n', 1)[0]
    return line if len(line) <= limit else line[:limit - 3] + '...'


def parse_junit(xml_text):
    """{test id: :class:`Result`} from pytest's junit XML, in file order.

    A testcase with a ``failure`` is failed, else one with an ``error`` (setup or teardown)
    is error, else one with ``skipped`` (xfail too) is skipped, else passed.  The message is
    the first line of the failure, error or skip reason.  A test id that appears twice keeps
    its worst outcome.
    """
    results = collections.OrderedDict()
    for case in ElementTree.fromstring(xml_text).iter('testcase'):
        outcome, message = 'passed', ''
        for tag, name in (('failure', 'failed'), ('error', 'error'), ('skipped', 'skipped')):
            found = case.find(tag)
            if found is not None:
                outcome = name
                message = _first_line(found.get('message') or found.text)
                break
        test_id = _test_id(case)
        old = results.get(test_id)
        if old is None or outcome in BAD and old.outcome not in BAD:
            results[test_id] = Result(outcome, message)
    return results


def count(results):
    """{outcome: number of tests} for every outcome in :data:`OUTCOMES`."""
    counts = collections.Counter(r.outcome for r in results.values())
    return collections.OrderedDict((o, counts[o]) for o in OUTCOMES)


def compare(direct, gateway):
    """[(test id, direct outcome, gateway outcome, message)] for every test whose outcome
    differs, a test found in one run only included (its outcome in the other: ``absent``).
    The message is the gateway's, else the direct run's."""
    differing = []
    absent = Result('absent', '')
    for test_id in list(direct) + [t for t in gateway if t not in direct]:
        d, g = direct.get(test_id, absent), gateway.get(test_id, absent)
        if d.outcome != g.outcome:
            differing.append((test_id, d.outcome, g.outcome, g.message or d.message))
    return differing


def check_run(name, status, results):
    """Raise :class:`CompatError` unless the run ran the suite: pytest exited 0 or 1 (tests
    failed), collected something, and had no collection error."""
    if not results:
        raise CompatError('%s run: no test ran (pytest exit status %s)' % (name, status))
    broken = [t for t in results if '::' not in t]
    if broken:
        raise CompatError('%s run: collection errors in %s' % (name, ', '.join(broken)))
    if status not in (0, 1):
        raise CompatError('%s run: pytest exit status %s' % (name, status))


def rerun_candidates(direct, gateway):
    """Tests to run again: those whose outcome differs, and those the direct run failed,
    if both runs have them."""
    ids = [t for t, _d, _g, _m in compare(direct, gateway)]
    ids += [t for t, r in direct.items() if r.outcome in BAD and t not in ids]
    return [t for t in ids if t in direct and t in gateway]


def merge(first, rerun):
    """``first`` with the outcomes of the tests in ``rerun`` replaced."""
    merged = collections.OrderedDict(first)
    merged.update((t, r) for t, r in rerun.items() if t in merged)
    return merged


def node_id(test_id, suite_dir):
    """pytest's node id (``test/functional/tests.py::TestFile::testPut``) of a test id,
    found by the module file in ``suite_dir``."""
    classname, name = test_id.split('::', 1)
    parts = classname.split('.')
    for end in range(len(parts), 0, -1):
        path = '/'.join(parts[:end]) + '.py'
        if os.path.isfile(os.path.join(suite_dir, path)):
            return '::'.join([path] + parts[end:] + [name])
    raise CompatError('no module in %s for %s' % (suite_dir, test_id))


def report(direct, gateway, first=None, out=sys.stdout):
    """Print the differing tests and the counts; returns the exit status (0 or 1).

    :param first: (direct, gateway) results of the first runs, when ``direct`` and
        ``gateway`` are them merged with a re-run of :func:`rerun_candidates`: the tests
        that only the first runs found bad are listed too.
    """
    differing = compare(direct, gateway)
    direct_bad = [t for t, r in direct.items() if r.outcome in BAD]
    if first:
        rerun = rerun_candidates(*first)
        bad = set(t for t, _d, _g, _m in differing) | set(direct_bad)
        once = [t for t in rerun if t not in bad]
        if once:
            print('\n%d test(s) differed or failed direct in the first runs only, and had '
                  'the same outcome both ways when run again:' % len(once), file=out)
            for test_id in once:
                print('  %s  first runs: direct %s, gateway %s; again: %s' % (
                    test_id, first[0][test_id].outcome, first[1][test_id].outcome,
                    direct[test_id].outcome), file=out)
    if differing:
        print('\n%d test(s) with another outcome through the gateway:' % len(differing),
              file=out)
        width = max(len(t) for t, _d, _g, _m in differing)
        print('  %-*s  %-7s  %-7s  %s' % (width, 'test', 'direct', 'gateway', 'message'),
              file=out)
        for test_id, d, g, message in differing:
            print('  %-*s  %-7s  %-7s  %s' % (width, test_id, d, g, message), file=out)
    print('\n  %-8s %s %6s' % ('', ' '.join('%7s' % o for o in OUTCOMES), 'total'), file=out)
    for name, results in (('direct', direct), ('gateway', gateway)):
        counts = count(results)
        print('  %-8s %s %6d' % (name, ' '.join('%7d' % counts[o] for o in OUTCOMES),
                                 len(results)), file=out)
    if direct_bad:
        print('\ncompat: the direct run itself failed %d test(s): the clusters or the '
              'environment are off:' % len(direct_bad), file=out)
        for test_id in direct_bad:
            print('  %s  %s' % (test_id, direct[test_id].message), file=out)
    if differing:
        print('compat: FAILED: %d of %d tests have another outcome through the gateway'
              % (len(differing), len(direct)), file=out)
    elif not direct_bad:
        print('compat: OK: all %d tests have the same outcome both ways' % len(direct),
              file=out)
    return 1 if differing or direct_bad else 0


# --- main -------------------------------------------------------------------------------------

class _Run(object):
    """One run of the suite on a fresh pair of clusters: ``direct`` (against the target)
    or ``gateway`` (against the local proxy)."""

    def __init__(self, name, workdir):
        self.name = name
        self.direct = name.startswith('direct')
        self.dir = os.path.join(workdir, name)
        self.local = self.target = self.proc = None
        self.started = None

    def start(self, suite_dir, select, node_ids):
        os.makedirs(self.dir)
        self.started = time.monotonic()
        self.local, self.target = saio.start_pair(self.dir, GATEWAY_CONF, **CLUSTER_OPTIONS)
        for user, key in ACCOUNTS:
            self.target.create_account(user, key)
        cluster = self.target if self.direct else self.local
        print('compat: %s run against %s (output: %s)' % (
            self.name, cluster.proxy_url, os.path.join(self.dir, 'pytest.log')), flush=True)
        self.proc = start_suite(suite_dir, cluster.proxy_url, self.dir, select, node_ids)

    def wait(self, deadline):
        """Wait for pytest (killing it at ``deadline``), stop the clusters; returns the
        results.

        :raises CompatError: as :func:`check_run`, or pytest timed out.
        """
        try:
            status = self.proc.wait(max(0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise CompatError('%s run: not done in %d s' % (self.name, RUN_TIMEOUT))
        finally:
            self.stop()
        junit = os.path.join(self.dir, 'junit.xml')
        results = {}
        if os.path.exists(junit):
            with open(junit) as f:
                results = parse_junit(f.read())
        check_run(self.name, status, results)
        print('compat: %s run: %s in %.0f s' % (self.name, ', '.join(
            '%d %s' % (n, o) for o, n in count(results).items()),
            time.monotonic() - self.started), flush=True)
        return results

    def stop(self):
        """Kill pytest's session if it still runs; stop both clusters.  Safe to repeat."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for cluster in (self.local, self.target):
            if cluster is not None:
                cluster.stop()


def run_pair(suite_dir, workdir, names=('direct', 'gateway'), select=None, node_ids=None,
             sequential=False):
    """Results of a direct and a gateway run, each on a fresh pair of clusters."""
    runs = [_Run(name, workdir) for name in names]
    results = []
    try:
        if sequential:
            for run in runs:
                run.start(suite_dir, select, node_ids)
                results.append(run.wait(time.monotonic() + RUN_TIMEOUT))
        else:
            for run in runs:
                run.start(suite_dir, select, node_ids)
            deadline = time.monotonic() + RUN_TIMEOUT
            results = [run.wait(deadline) for run in runs]
    finally:
        for run in runs:
            run.stop()
    return results


def run_and_compare(suite_dir, workdir, select=None, sequential=False, rerun=True):
    """Both runs, a re-run of :func:`rerun_candidates` (as Swift's own ``.functests`` runs
    its failures again), the report; returns the exit status."""
    direct, gateway = run_pair(suite_dir, workdir, select=select, sequential=sequential)
    again = rerun_candidates(direct, gateway) if rerun else []
    first = None
    if again:
        print('compat: running again, both ways, on fresh clusters: %d test(s) that differ '
              'or failed direct' % len(again), flush=True)
        first = (direct, gateway)
        ids = [node_id(t, suite_dir) for t in again]
        direct_again, gateway_again = run_pair(
            suite_dir, workdir, ('direct-again', 'gateway-again'), node_ids=ids,
            sequential=sequential)
        direct, gateway = merge(direct, direct_again), merge(gateway, gateway_again)
    return report(direct, gateway, first)


def _terminated(signum, frame):
    raise SystemExit('compat: terminated by signal %d' % signum)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m swift_forwarder.testing.compat',
        description="Swift's functional suite, direct and through the gateway: "
                    "exit status 1 when a test's outcome differs")
    parser.add_argument('--cache-dir', default=os.path.join('.cache', 'compat'),
                        help='where the sdist, the unpacked suite and the runs go '
                             '(default: %(default)s)')
    parser.add_argument('-k', dest='select', help="pytest's -k, for both runs")
    parser.add_argument('--sequential', action='store_true',
                        help='one run after the other (default: both at once)')
    parser.add_argument('--no-rerun', dest='rerun', action='store_false',
                        help='do not run the tests that differ or failed direct again')
    args = parser.parse_args(argv)
    reason = saio.missing_requirement()
    if reason:
        print('compat: %s' % reason, file=sys.stderr)
        return 2
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)  # unwind: stop pytest and the clusters
    cache_dir = os.path.abspath(args.cache_dir)
    workdir = os.path.join(cache_dir, 'runs')
    started = time.monotonic()
    try:
        version = installed_swift_version()
        suite_dir = unpack_suite(fetch_sdist(version, cache_dir), cache_dir)
        shutil.rmtree(workdir, ignore_errors=True)
        print('compat: swift %s functional suite, from %s' % (version, suite_dir), flush=True)
        status = run_and_compare(suite_dir, workdir, args.select, args.sequential,
                                 args.rerun)
    except (CompatError, saio.ClusterError) as e:
        print('compat: %s' % e, file=sys.stderr)
        return 2
    print('compat: %.0f s in all' % (time.monotonic() - started))
    return status


if __name__ == '__main__':
    sys.exit(main())

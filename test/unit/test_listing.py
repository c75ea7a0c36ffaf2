# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.listing: the merged listing of migration mode.

The merge must give the listing Swift would give if both sides' entries
were in one container.  To say that as a property we need "what Swift
lists" as a function: :func:`swift_listing` is a model of Swift's listing
semantics (marker, end_marker, prefix, delimiter, path, reverse, limit,
names compared as UTF-8 bytes).  Swift's own ``ContainerBroker`` and
``AccountBroker``, on sqlite files in a temp directory, check the model
for random names and queries; then the merge is checked against the model
of the union, and (fewer examples, slower) against real container and
account servers.  Hypothesis runs derandomized, so CI is deterministic.
"""

import itertools
import json
import os
import shutil
import tempfile
import unittest
import urllib.parse
from unittest import mock

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from swift_forwarder import listing

try:
    from eventlet import tpool
    from swift.account.backend import AccountBroker
    from swift.account.server import AccountController
    from swift.common import swob
    from swift.common.request_helpers import constrain_req_limit, get_param
    from swift.common.utils import Timestamp, config_true_value
    from swift.container.backend import ContainerBroker
    from swift.container.server import ContainerController
except ImportError:  # the model and merge tests need no Swift
    ContainerBroker = None

needs_swift = unittest.skipIf(ContainerBroker is None, 'needs swift')

#: Many examples for the cheap tests (model, merge), few for the ones
#: that build sqlite databases; all derandomized.
FAST = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.filter_too_much,
                                       HealthCheck.too_slow])
BROKER = settings(FAST, max_examples=100)
SERVER = settings(FAST, max_examples=20)

#: sqlite files where fsync costs nothing, if the machine has one
TMPFS = '/dev/shm' if os.path.isdir('/dev/shm') else None


# -- the model ----------------------------------------------------------

def _utf8(name):
    return name.encode('utf-8')


def swift_listing(entries, limit, marker='', end_marker=None, prefix=None,
                  delimiter=None, path=None, reverse=False):
    """What Swift lists of ``entries`` (name -> entry) for one query.

    Written from swift/container/backend.py ``list_objects_iter`` (and
    swift/account/backend.py ``list_containers_iter``, the same without
    ``path``), as what it returns rather than how it scans:

    * ``reverse`` swaps the markers: ``marker`` becomes the upper bound
      and ``end_marker`` the lower one (both exclusive; empty is none);
    * only names starting with ``prefix``;
    * with a ``delimiter`` (any length), a name holding it after the
      prefix becomes the subdir up to and including it, unless that subdir
      *is* the lower bound (the page after a subdir must not repeat it);
    * ``path`` is ``prefix=path/`` with ``delimiter=/``, but names deeper
      than one level are left out, not rolled up, and so is ``path/``
      itself; see :func:`_path_skipped` for what else it skips;
    * ordered by the UTF-8 bytes of the name (sqlite's BINARY collation),
      descending with ``reverse``, cut at ``limit``.

    Not modelled: reserved names (a leading NUL, listed only with
    ``X-Backend-Allow-Reserved-Names``), which the names here never hold.
    """
    lower, upper = (end_marker, marker) if reverse else (marker, end_marker)
    if path is not None:
        prefix, delimiter = _path_prefix(path), '/'
    prefix = prefix or ''
    names = _candidates(entries, lower, upper, prefix)
    listed = {}
    if path is not None:
        skipped = _path_skipped(names, prefix, reverse)
        for name in names:
            if name != prefix and not _deeper(name, prefix) and \
                    name not in skipped:
                listed[name] = entries[name]
    else:
        for name in names:
            at = name.find(delimiter, len(prefix)) if delimiter else -1
            if at < 0:
                listed[name] = entries[name]
            elif name[:at + len(delimiter)] != lower:
                subdir = name[:at + len(delimiter)]
                listed[subdir] = {'subdir': subdir}
    keys = sorted(listed, key=_utf8, reverse=reverse)[:limit]
    return [listed[key] for key in keys]


def _path_prefix(path):
    """The prefix a ``path`` stands for: ``p`` (or ``p//``) is ``p/``."""
    return path.rstrip('/') + '/' if path else ''


def _candidates(names, lower, upper, prefix):
    """The names after ``lower``, before ``upper``, starting with
    ``prefix``, as UTF-8 bytes compare."""
    return [name for name in names
            if _utf8(name).startswith(_utf8(prefix)) and
            (not lower or _utf8(name) > _utf8(lower)) and
            (not upper or _utf8(name) < _utf8(upper))]


def swift_path_skips(names, limit, marker='', end_marker=None, prefix=None,
                     delimiter=None, path=None, reverse=False):
    """What :func:`_path_skipped` leaves out of a query's listing."""
    if path is None:
        return set()
    lower, upper = (end_marker, marker) if reverse else (marker, end_marker)
    prefix = _path_prefix(path)
    return _path_skipped(_candidates(names, lower, upper, prefix), prefix,
                         reverse)


def _deeper(name, prefix):
    """More than one level below a ``path`` (``p/a/b`` below ``p``)."""
    at = name.find('/', len(prefix))
    return at >= 0 and len(name) > at + 1


def _path_skipped(names, prefix, reverse):
    """What Swift's ``path`` listing leaves out beyond the rule.

    Meeting a deeper name ``p/a/b``, the scan jumps past ``p/a/``: forward
    to names *greater than* ``p/a0`` (strictly, so an object named
    ``p/a0`` is skipped too), reversed to names less than ``p/a/`` (so an
    object named ``p/a/``, listed forward, is skipped reversed).  These
    are what make a merged ``path`` listing differ from Swift's: a deeper
    name on one side skips a name on the other.
    """
    dirs = set(name[:name.find('/', len(prefix))] for name in names
               if _deeper(name, prefix))
    suffix = '/' if reverse else '0'
    return set(d + suffix for d in dirs) & set(names)


def _key(entry):
    """An entry as (kind, key), for comparing with broker rows."""
    if 'subdir' in entry:
        return ('subdir', entry['subdir'])
    return ('name', entry['name'])


# -- strategies ---------------------------------------------------------

#: Characters chosen to meet Swift's edges: '.' and '0' on either side of
#: '/', a two-byte, three-byte (CJK, and U+E000, which sorts above the
#: surrogates in UTF-8 but below them in UTF-16) and four-byte UTF-8
#: character.  None ends a prefix or delimiter Swift cannot bump by one
#: (U+D7FF, U+10FFFF: a 500 from Swift).
ALPHABET = 'ab0/.\u00e9\u65e5\u672c\ue000\U0001f600'
NAME = st.text(ALPHABET, min_size=1, max_size=5)
DELIMITERS = st.sampled_from(
    [None, '', '/', '/', 'a', '0', '/a', '\u00e9', '\u65e5\u672c',
     '\U0001f600'])
LIMITS = st.one_of(st.integers(0, 12), st.just(listing.LISTING_LIMIT))
BOUNDS = st.one_of(st.none(), st.just(''), st.text(ALPHABET, max_size=4))


def _cuts(name, delimiter):
    """Where to cut a name to meet Swift's edges: just after a delimiter
    (a subdir: ``a/``), just before a '/' (a path: ``p``)."""
    cuts = set()
    for sep, after in ((delimiter, True), ('/', True), ('/', False)):
        at = name.find(sep) if sep else -1
        while at >= 0:
            cuts.add(at + len(sep) if after else at)
            at = name.find(sep, at + 1)
    return sorted(cuts)


@st.composite
def name_sets(draw, alphabet=ALPHABET):
    """Random names, paths of short segments (``a/b/``), and names made
    from them to meet Swift's edges: a directory marker ``a/`` for
    ``a/b``, and ``a0`` and ``a.`` (just after and before every
    ``a/...``)."""
    segment = st.text(alphabet.replace('/', ''), max_size=2)
    paths = st.lists(segment, min_size=2, max_size=3).map('/'.join)
    text = st.text(alphabet, min_size=1, max_size=5)
    names = draw(st.sets(st.one_of(text, paths) if '/' in alphabet else text,
                         max_size=10))
    for name in sorted(names):
        for at in _cuts(name, '/'):
            if name[at - 1:at] == '/' and draw(st.booleans()):
                names.add(name[:at])
            if name[at:at + 1] == '/' and draw(st.booleans()):
                names.add(name[:at] + draw(st.sampled_from('0.')))
    return names


NAMES = name_sets()
#: A real container's name holds no '/'.
CONTAINER_NAMES = name_sets(ALPHABET.replace('/', ''))


@st.composite
def queries(draw, names, with_path=True):
    """A listing query's parameters; bounds and prefixes often taken from
    the names themselves, cut where Swift has edges (a marker that is a
    subdir, a path with a directory below it)."""
    delimiter = draw(DELIMITERS)
    path = with_path and draw(st.integers(0, 2)) == 0
    sep = '/' if path else delimiter

    def bound(prefix='', absent=True):
        # often absent (three bounds at once mostly list nothing), often
        # the subdir a name under the prefix is listed as
        kind = draw(st.sampled_from(
            ('none', 'none', 'random', 'subdir', 'subdir', 'cut', 'cut')
            [0 if absent else 2:]))
        under = sorted(n for n in names if n.startswith(prefix))
        if kind == 'none':
            return None
        if kind == 'random' or not names:
            return draw(BOUNDS)
        name = draw(st.sampled_from(under or sorted(names)))
        at = name.find(sep, len(prefix)) if sep else -1
        if kind == 'subdir' and under and at >= 0:
            return name[:at + len(sep)]
        cuts = _cuts(name, sep)
        if cuts and draw(st.booleans()):
            return name[:draw(st.sampled_from(cuts))]
        return name[:draw(st.integers(0, len(name)))]
    prefix = bound()
    query = dict(limit=draw(LIMITS), prefix=prefix,
                 marker=bound(prefix or '') or '',
                 end_marker=bound(prefix or ''), delimiter=delimiter,
                 reverse=draw(st.booleans()))
    if path:
        query['path'] = bound(absent=False) or ''
    return query


@st.composite
def split_names(draw, names=NAMES):
    """Names on the local side, the source side, or both."""
    names = sorted(draw(names))
    sides = draw(st.lists(st.sampled_from(('local', 'source', 'both')),
                          min_size=len(names), max_size=len(names)))
    return [(name, side) for name, side in zip(names, sides)]


def object_entry(name, side):
    """An object's listing entry; the hash says which side it is from."""
    return {'bytes': len(name), 'hash': '%s-etag' % side, 'name': name,
            'content_type': 'text/plain',
            'last_modified': '2026-01-02T03:04:05.000000'}


def container_entry(name, side):
    """A container's account listing entry; count says which side."""
    return {'name': name, 'count': 1 if side == 'local' else 2,
            'bytes': 3, 'last_modified': '2026-01-02T03:04:05.000000',
            'storage_policy': 'gold'}


def sides(split, make_entry):
    """The local, source and union entries (the local one of a name on
    both sides in the union)."""
    local = {name: make_entry(name, 'local') for name, side in split
             if side != 'source'}
    source = {name: make_entry(name, 'source') for name, side in split
              if side != 'local'}
    union = dict(source)
    union.update(local)
    return local, source, union


# -- the model against Swift's brokers -----------------------------------

@needs_swift
class TestModelIsSwift(unittest.TestCase):
    """The model lists what Swift's brokers list."""

    def setUp(self):
        self.tempdir = tempfile.mkdtemp(dir=TMPFS)
        self.addCleanup(shutil.rmtree, self.tempdir)
        # ContainerBroker.merge_items runs in eventlet's tpool, whose
        # reader greenlet and socket pair would outlive the test (and
        # fail the next GreenTestCase's leak check)
        self.addCleanup(tpool.killall)
        self.counter = itertools.count()

    def db_path(self):
        return os.path.join(self.tempdir, '%d.db' % next(self.counter))

    def container_broker(self, names):
        broker = ContainerBroker(self.db_path(), account='a', container='c')
        broker.initialize(Timestamp.now().internal, 0)
        broker.merge_items([
            {'name': name, 'created_at': Timestamp.now().internal,
             'size': 1, 'content_type': 'text/plain', 'etag': 'e',
             'deleted': 0, 'storage_policy_index': 0} for name in names])
        return broker

    def account_broker(self, names):
        broker = AccountBroker(self.db_path(), account='a')
        broker.initialize(Timestamp.now().internal)
        broker.merge_items([
            {'name': name, 'put_timestamp': Timestamp.now().internal,
             'delete_timestamp': '0', 'object_count': 1, 'bytes_used': 1,
             'deleted': 0, 'storage_policy_index': 0} for name in names])
        return broker

    @BROKER
    @given(st.data())
    def test_container(self, data):
        """Objects: every parameter, path too."""
        names = data.draw(NAMES)
        self.check_container(names, data.draw(queries(names)))

    def check_container(self, names, query):
        rows = self.container_broker(names).list_objects_iter(
            query['limit'], query['marker'], query['end_marker'],
            query['prefix'], query['delimiter'], path=query.get('path'),
            reverse=query['reverse'])
        # a subdir's row has no content type
        self.assertEqual(
            [('subdir' if row[3] is None else 'name', row[0])
             for row in rows],
            [_key(entry) for entry in swift_listing(
                {name: {'name': name} for name in names}, **query)])

    @BROKER
    @given(st.data())
    def test_container_subdir_bounds(self, data):
        """A bound that is a subdir listed: the next page after a subdir
        (the marker forward, the end_marker reversed), or the page before
        it (the other bound)."""
        names = data.draw(NAMES)
        query = data.draw(queries(names, with_path=False))
        # a name that rolls up, under the prefix
        head = data.draw(NAME)
        delimiter = query['delimiter'] = data.draw(DELIMITERS.filter(bool))
        names.add(head + delimiter + data.draw(NAME))
        prefix = query['prefix'] = head[:data.draw(st.integers(0, len(head)))]
        rolled = sorted(n for n in names if n.startswith(prefix) and
                        n.find(delimiter, len(prefix)) >= 0)
        for bound in ('marker', 'end_marker')[::-1 if query['reverse']
                                              else 1]:
            name = data.draw(st.sampled_from(rolled))
            query[bound] = name[:name.find(delimiter, len(prefix)) +
                                len(delimiter)]
            if data.draw(st.booleans()):
                break  # only the lower bound
        self.check_container(names, query)

    @BROKER
    @given(st.data())
    def test_account(self, data):
        """Containers: the same semantics, no path."""
        names = data.draw(NAMES)
        query = data.draw(queries(names, with_path=False))
        rows = self.account_broker(names).list_containers_iter(
            query['limit'], query['marker'], query['end_marker'],
            query['prefix'], query['delimiter'], query['reverse'])
        self.assertEqual(
            [('subdir' if row[5] else 'name', row[0]) for row in rows],
            [_key(entry) for entry in swift_listing(
                {name: {'name': name} for name in names}, **query)])

    def test_path_skips(self):
        """The two names Swift's path listing skips, as the model says."""
        names = ['p/', 'p/a/', 'p/a/b', 'p/a0', 'p/b']
        broker = self.container_broker(names)
        for reverse, listed in ((False, ['p/a/', 'p/b']),
                                (True, ['p/b', 'p/a0'])):
            rows = broker.list_objects_iter(10, '', None, None, None,
                                            path='p', reverse=reverse)
            self.assertEqual(listed, [row[0] for row in rows])
            self.assertEqual(listed, [e['name'] for e in swift_listing(
                {n: {'name': n} for n in names}, 10, path='p',
                reverse=reverse)])

    def test_limit_zero(self):
        """limit=0 is an empty page, not the default."""
        broker = self.container_broker(['a', 'b'])
        self.assertEqual([], broker.list_objects_iter(0, '', None, None,
                                                      None))
        self.assertEqual([], swift_listing({'a': 1, 'b': 2}, 0))

    def test_subdir_equal_to_lower_bound(self):
        """The subdir equal to the marker (forward) or the end_marker
        (reversed) is not listed: the next page after a subdir."""
        names = ['a/b', 'a/c', 'b', 'c']
        broker = self.container_broker(names)
        for marker, end_marker, reverse, listed in (
                ('a/', None, False, ['b', 'c']),
                ('', 'a/', True, ['c', 'b']),
                ('c', 'a/', True, ['b']),
                ('c', '', True, ['b', 'a/'])):
            rows = broker.list_objects_iter(10, marker, end_marker, None,
                                            '/', reverse=reverse)
            self.assertEqual(listed, [row[0] for row in rows])
            self.assertEqual(listed, [listing.entry_key(e) for e in
                                      swift_listing(
                {n: {'name': n} for n in names}, 10, marker, end_marker,
                delimiter='/', reverse=reverse)])

    def test_subdir_before_marker(self):
        """A subdir can sort before the marker: names after the marker
        roll up into it (marker=a/b lists a/ for a/c)."""
        names = ['a/b', 'a/c', 'b']
        broker = self.container_broker(names)
        rows = broker.list_objects_iter(10, 'a/b', None, None, '/')
        self.assertEqual(['a/', 'b'], [row[0] for row in rows])
        self.assertEqual([{'subdir': 'a/'}, {'name': 'b'}], swift_listing(
            {n: {'name': n} for n in names}, 10, 'a/b', delimiter='/'))


# -- the merge ----------------------------------------------------------

class TestMergeProperty(unittest.TestCase):
    """Two pages merged are the one page of the union."""

    def check(self, split, query, make_entry):
        local, source, union = sides(split, make_entry)
        # Swift's path listing skips names next to deeper ones (see
        # _path_skipped): a merge cannot (TestMergeExamples shows it)
        assume(not swift_path_skips(union, **query))
        merged = listing.merge(swift_listing(local, **query),
                               swift_listing(source, **query),
                               query['limit'], query['reverse'])
        expected = swift_listing(union, **query)
        self.assertEqual(expected, merged)
        # the entries themselves, unchanged: the local one of a name on
        # both sides, and the same subdir once
        for got, want in zip(merged, expected):
            if 'subdir' not in want:
                self.assertIs(want, got)
        # and the body reads back as the listing
        self.assertEqual(merged, json.loads(listing.encode(merged)))

    @FAST
    @given(st.data())
    def test_container(self, data):
        split = data.draw(split_names())
        self.check(split, data.draw(queries([n for n, _ in split])),
                   object_entry)

    @FAST
    @given(st.data())
    def test_account(self, data):
        split = data.draw(split_names())
        self.check(split, data.draw(queries([n for n, _ in split],
                                            with_path=False)),
                   container_entry)

    @FAST
    @given(st.lists(st.text(), max_size=20))
    def test_string_order_is_utf8_order(self, names):
        """merge compares strings; Swift compares UTF-8 bytes: the same
        order for any text Swift can hold (no lone surrogates)."""
        names = [n for n in names
                 if not any('\ud800' <= c <= '\udfff' for c in n)]
        self.assertEqual(sorted(names, key=_utf8), sorted(names))


class TestMergeExamples(unittest.TestCase):
    """Edge cases, by hand."""

    def entries(self, names, side='local'):
        return [object_entry(name, side) for name in names]

    def names(self, entries):
        return [listing.entry_key(entry) for entry in entries]

    def test_both_empty(self):
        self.assertEqual([], listing.merge([], [], 10))
        self.assertEqual([], listing.merge([], [], 10, reverse=True))

    def test_one_side_empty(self):
        """The other side's page, the same entries."""
        page = self.entries(['a', 'b'])
        for merged in (listing.merge(page, [], 10),
                       listing.merge([], page, 10)):
            self.assertEqual(page, merged)
            self.assertIs(page[0], merged[0])
        self.assertEqual(['a'], self.names(listing.merge([], page, 1)))

    def test_limit_zero(self):
        """Swift's limit=0 is an empty page; so is the merge."""
        self.assertEqual([], listing.merge(self.entries(['a']),
                                           self.entries(['b']), 0))

    def test_local_wins(self):
        local = self.entries(['b'])
        source = self.entries(['a', 'b', 'c'], 'source')
        merged = listing.merge(local, source, 10)
        self.assertEqual(['a', 'b', 'c'], self.names(merged))
        self.assertIs(local[0], merged[1])
        self.assertEqual('source-etag', merged[0]['hash'])

    def test_duplicate_subdir(self):
        """The same subdir on both sides is listed once."""
        local = [{'subdir': 'a/'}, object_entry('b', 'local')]
        source = [object_entry('a.', 'source'), {'subdir': 'a/'}]
        self.assertEqual(['a.', 'a/', 'b'],
                         self.names(listing.merge(local, source, 10)))
        self.assertEqual([object_entry('a.', 'source'), {'subdir': 'a/'}],
                         listing.merge(local, source, 2))

    def test_limit_cuts_the_union(self):
        local = self.entries(['a', 'c', 'e'])
        source = self.entries(['b', 'd', 'f'], 'source')
        self.assertEqual(['a', 'b', 'c'],
                         self.names(listing.merge(local, source, 3)))

    def test_reverse_with_end_marker(self):
        """reverse: end_marker is the lower bound, the order descending."""
        union = {n: object_entry(n, 'local') for n in 'abcde'}
        local = {n: union[n] for n in 'bd'}
        source = {n: union[n] for n in 'ace'}
        query = dict(limit=10, end_marker='b', reverse=True)
        merged = listing.merge(swift_listing(local, **query),
                               swift_listing(source, **query), 10, True)
        self.assertEqual(['e', 'd', 'c'], self.names(merged))
        self.assertEqual(swift_listing(union, **query), merged)
        query = dict(limit=2, marker='d', end_marker='a', reverse=True)
        self.assertEqual(['c', 'b'], self.names(listing.merge(
            swift_listing(local, **query), swift_listing(source, **query),
            2, True)))

    def test_reverse_hides_a_subdir_equal_to_end_marker(self):
        """Swift drops the subdir equal to the *lower* bound (the
        end_marker reversed); each side does, so the merge does."""
        local = {'a/b': object_entry('a/b', 'local')}
        source = {n: object_entry(n, 'source') for n in ('a/c', 'c')}
        for end_marker, listed in (('a/', ['c']), ('', ['c', 'a/'])):
            query = dict(limit=10, end_marker=end_marker, delimiter='/',
                         reverse=True)
            self.assertEqual(listed, self.names(listing.merge(
                swift_listing(local, **query),
                swift_listing(source, **query), 10, True)))

    def test_utf8_order(self):
        """Byte order: U+E000 before U+1F600 (UTF-16 would put it after),
        and both after every ASCII name."""
        local = self.entries(['\U0001f600', 'z'])
        source = self.entries(['\ue000', '\u00e9', 'Z'], 'source')
        self.assertEqual(['Z', 'z', '\u00e9', '\ue000', '\U0001f600'],
                         self.names(listing.merge(local, source, 10)))
        self.assertEqual(['\U0001f600', '\ue000', '\u00e9', 'z', 'Z'],
                         self.names(listing.merge(local, source, 10, True)))

    def test_path_merge_differs_from_one_container(self):
        """A deeper name on one side cannot skip a name on the other:
        the merge lists p/a0 (forward) and p/a/ (reversed), which Swift
        would skip if both sides were one container."""
        local = {n: object_entry(n, 'local') for n in ('p/a0', 'p/a/')}
        source = {'p/a/b': object_entry('p/a/b', 'source')}
        union = dict(source, **local)
        for reverse, merged_names, swift_names in (
                (False, ['p/a/', 'p/a0'], ['p/a/']),
                (True, ['p/a0', 'p/a/'], ['p/a0'])):
            query = dict(limit=10, path='p', reverse=reverse)
            merged = listing.merge(swift_listing(local, **query),
                                   swift_listing(source, **query), 10,
                                   reverse)
            self.assertEqual(merged_names, self.names(merged))
            self.assertEqual(swift_names,
                             self.names(swift_listing(union, **query)))

    def test_unsorted_pages(self):
        """Pages are sorted anyway: the order is the merge's own."""
        self.assertEqual(['a', 'b', 'c'], self.names(listing.merge(
            self.entries(['c', 'a']), self.entries(['b']), 10)))


# -- the query ----------------------------------------------------------

class TestListingQuery(unittest.TestCase):
    """limit and reverse, as Swift reads them."""

    def test_defaults(self):
        self.assertEqual((listing.LISTING_LIMIT, False),
                         listing.listing_query(''))
        self.assertEqual((7, False), listing.listing_query('', 7))

    def test_limit(self):
        for query, limit in (('limit=5', 5), ('limit=0', 0),
                             ('limit=007', 7), ('limit=', 10000),
                             ('limit', 10000), ('limit=-1', 10000),
                             ('limit=abc', 10000), ('limit=%205', 10000),
                             ('limit=5&limit=6', 6),
                             ('format=json&limit=20000', 20000),
                             ('limit=%FF', 10000), ('limit=%C2%B2', 10000),
                             ('limit=%D9%A1%D9%A2', 12)):
            self.assertEqual(limit, listing.listing_query(query).limit,
                             query)

    def test_reverse(self):
        for value in ('true', 'TRUE', '1', 'yes', 'On', 't', 'Y', '%74rue'):
            self.assertTrue(listing.listing_query('reverse=' + value)
                            .reverse, value)
        for value in ('', 'false', '0', 'no', '2', '+true', 'tru',
                      '%FF', 'true&reverse=no'):
            self.assertFalse(listing.listing_query('reverse=' + value)
                             .reverse, value)

    @needs_swift
    @FAST
    @given(st.lists(st.tuples(
        st.sampled_from(('limit', 'reverse', 'marker')),
        st.one_of(
            st.sampled_from(('', '0', '5', '10000', '10001', '-1', 'x',
                             'true', 'On', 'y', 'no')),
            # as they go in a query string: not UTF-8, a space, + for one
            st.sampled_from(('%FF', '%C2%B2', '%D9%A1%D9%A2', '%205', '+1',
                             '%74rue', '%')),
            st.text(max_size=4).map(urllib.parse.quote)))))
    def test_as_swift_reads_it(self, pairs):
        """For any query, what Swift's container server takes (where it
        does not refuse it)."""
        query = '&'.join('%s=%s' % pair for pair in pairs)
        req = swob.Request({'QUERY_STRING': query})
        try:
            limit = constrain_req_limit(req, listing.LISTING_LIMIT)
        except swob.HTTPException:
            assume(False)  # 412 or 400: never merged
        except ValueError:
            limit = listing.LISTING_LIMIT  # Swift fails: never merged
        try:
            reverse = config_true_value(get_param(req, 'reverse'))
        except swob.HTTPException:
            reverse = False
        self.assertEqual((limit, reverse), listing.listing_query(query))


# -- against Swift's servers --------------------------------------------

@needs_swift
class TestAgainstSwiftServers(unittest.TestCase):
    """Real container and account servers (in process, on a temp
    directory): the merged body of two is the body of one with both
    sides' entries, byte for byte."""

    def setUp(self):
        self.tempdir = tempfile.mkdtemp(dir=TMPFS)
        self.addCleanup(shutil.rmtree, self.tempdir)
        # ContainerBroker.merge_items runs in eventlet's tpool, whose
        # reader greenlet and socket pair would outlive the test (and
        # fail the next GreenTestCase's leak check)
        self.addCleanup(tpool.killall)
        self.counter = itertools.count()

    def server(self, controller):
        devices = os.path.join(self.tempdir, str(next(self.counter)))
        os.makedirs(os.path.join(devices, 'sda1'))
        return controller({'devices': devices, 'mount_check': 'false',
                           'swift_dir': devices, 'log_requests': 'false'},
                          logger=mock.MagicMock())

    def request(self, app, path, method='GET', **headers):
        path, _, query = path.partition('?')
        path = urllib.parse.quote(path) + ('?' + query if query else '')
        resp = swob.Request.blank(path, environ={'REQUEST_METHOD': method},
                                  headers=headers).get_response(app)
        self.assertLess(resp.status_int, 300, resp.body)
        return resp

    def container(self, objects):
        """A container server holding ``objects``: name -> (timestamp,
        etag)."""
        app = self.server(ContainerController)
        self.request(app, '/sda1/p/a/c', 'PUT', X_Timestamp='1')
        for name, (timestamp, etag) in objects.items():
            self.request(app, '/sda1/p/a/c/' + name, 'PUT',
                         X_Timestamp=timestamp, X_Size=str(len(name)),
                         X_Content_Type='text/plain', X_Etag=etag)
        return app

    def account(self, containers):
        """An account server holding ``containers``: name -> count."""
        app = self.server(AccountController)
        self.request(app, '/sda1/p/a', 'PUT', X_Timestamp='1')
        for name, count in containers.items():
            self.request(app, '/sda1/p/a/' + name, 'PUT',
                         X_Put_Timestamp='2', X_Delete_Timestamp='0',
                         X_Object_Count=str(count), X_Bytes_Used='7',
                         X_Backend_Storage_Policy_Index='0')
        return app

    def body(self, app, path, query):
        """A server's JSON listing for the query (as a query string)."""
        return self.request(app, path + '?' + query).body

    def merged_body(self, local, source, path, query):
        """The merge of two servers' listings for the query."""
        return listing.encode(listing.merge(
            json.loads(self.body(local, path, query)),
            json.loads(self.body(source, path, query)),
            *listing.listing_query(query)))

    def assertMerged(self, one, local, source, path, query):
        """The union on one server lists what the two merged list."""
        params = {'format': 'json', 'limit': query['limit'],
                  'reverse': 'on' if query['reverse'] else 'off'}
        params.update((k, v) for k, v in query.items()
                      if k not in params and v is not None)
        query = urllib.parse.urlencode(params)
        self.assertEqual(self.body(one, path, query),
                         self.merged_body(local, source, path, query))

    @SERVER
    @given(st.data())
    def test_container(self, data):
        split = data.draw(split_names())
        query = data.draw(queries([n for n, _ in split]))
        assume(not swift_path_skips([n for n, _ in split], **query))
        local = {n: ('3', 'local') for n, side in split if side != 'source'}
        source = {n: ('2', 'source') for n, side in split
                  if side != 'local'}
        self.assertMerged(self.container(dict(source, **local)),
                          self.container(local), self.container(source),
                          '/sda1/p/a/c', query)

    @SERVER
    @given(st.data())
    def test_account(self, data):
        split = data.draw(split_names(CONTAINER_NAMES))
        query = data.draw(queries([n for n, _ in split], with_path=False))
        local = {n: 1 for n, side in split if side != 'source'}
        source = {n: 2 for n, side in split if side != 'local'}
        self.assertMerged(self.account(dict(source, **local)),
                          self.account(local), self.account(source),
                          '/sda1/p/a', query)

    def test_encode_is_swifts(self):
        """A body Swift wrote, read and encoded again, is the same bytes
        (non-ASCII escaped, emoji as a surrogate pair, subdirs)."""
        app = self.container({n: ('1', 'e') for n in (
            '\u00e9', '\u65e5\u672c', '\U0001f600', 'a/b', 'x y', '"q"')})
        for query in ({}, {'delimiter': '/'}):
            body = self.request(app, '/sda1/p/a/c?' + urllib.parse.urlencode(
                dict(query, format='json'))).body
            self.assertIn(b'\\ud83d\\ude00', body)
            self.assertEqual(body, listing.encode(json.loads(body)))

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The merged listing of migration mode.  Pure: no I/O, no Swift import.

While a container or an account moves, its entries live on two clusters:
what was written since, or migrated already, is local; the rest is still
on the source.  A client must see one listing, the one Swift would give if
both sides' entries were in one container (or account).  The forwarder
sits right before ``proxy-server``, below ``listing_formats``, so every
listing it sees asks for ``format=json``; it asks both sides the *same*
query (``marker``, ``end_marker``, ``prefix``, ``delimiter``, ``reverse``,
``limit``, ``path``) and :func:`merge` makes one page of the two:

* the union, keyed by an entry's ``name`` (or a ``subdir``'s prefix), the
  local entry winning a name on both sides (the local cluster takes every
  write, so its entry is the newer one);
* in Swift's order: names compared as their UTF-8 bytes, ascending, or
  descending with ``reverse``;
* cut at ``limit``.

One page from each side is enough: see :func:`merge`.  Entries go
through as they came (nothing is added; nothing says which side an
entry came from), and :func:`encode` writes the body the way Swift's
container and account servers, proxy-server and ``listing_formats`` all
do, so a merged body cannot be told from Swift's own.

What the caller must see to: ask the source with an explicit ``limit``
(the local one, from :func:`listing_query`), since a source whose
``container_listing_limit`` is smaller would otherwise send a shorter
page; and know that with ``path`` the merge is the union of what each
side lists, which is not always what Swift lists for one container (its
``path`` listings skip names next to a deeper name: ``p/a0`` after
``p/a/b``, and, reversed, ``p/a/`` before it; a name on one side cannot
skip a name on the other).
"""

import collections
import json
import urllib.parse

from swift_forwarder.config import TRUE_VALUES

__all__ = ['LISTING_LIMIT', 'ListingQuery', 'listing_query', 'entry_key',
           'merge', 'encode']

#: Swift's CONTAINER_LISTING_LIMIT and ACCOUNT_LISTING_LIMIT: the page
#: size of a listing without ``limit`` (unless swift.conf's
#: ``[swift-constraints]`` changes them), and the largest ``limit`` taken.
LISTING_LIMIT = 10000

#: What :func:`merge` needs of a listing request.
ListingQuery = collections.namedtuple('ListingQuery', 'limit reverse')


def _params(query_string):
    """The query as Swift's ``Request.params`` has it (a repeated name's
    last value wins), each value decoded as Swift's ``get_param`` does;
    None for a value that is not UTF-8 (Swift answers 400)."""
    params = dict(urllib.parse.parse_qsl(
        query_string, keep_blank_values=True, encoding='latin-1'))
    decoded = {}
    for name, value in params.items():
        try:
            decoded[name] = value.encode('latin-1').decode('utf-8')
        except UnicodeError:
            decoded[name] = None
    return decoded


def listing_query(query_string, default_limit=LISTING_LIMIT):
    """What :func:`merge` needs of a listing's query string.

    ``limit`` is Swift's (``constrain_req_limit``): a value of digits is
    taken (``0`` too: an empty page), anything else (absent, empty,
    ``-1``, ``abc``) silently means the default.  ``reverse`` is Swift's
    ``config_true_value``.  What Swift refuses (a ``limit`` above the
    maximum: 412; a value that is not UTF-8: 400) the local proxy-server
    answers before anything is merged, so here it falls back: a limit too
    large is returned as it is, a value that is not UTF-8 is taken as
    absent, and digits ``int`` cannot read (``²``, on which Swift fails
    with 500) give the default.

    :param query_string: the request's ``QUERY_STRING`` (a WSGI string).
    :param default_limit: the cluster's listing limit, if swift.conf
        changes it.
    :returns: a :class:`ListingQuery`.
    """
    params = _params(query_string)
    return ListingQuery(_limit(params.get('limit'), default_limit),
                        (params.get('reverse') or '').lower() in TRUE_VALUES)


def _limit(value, default):
    if value and value.isdigit():
        try:
            return int(value)
        except ValueError:
            pass
    return default


def entry_key(entry):
    """The name Swift orders a listing entry by: an object's or a
    container's ``name``, or a delimiter roll-up's ``subdir``."""
    if 'subdir' in entry:
        return entry['subdir']
    return entry['name']


def merge(local_entries, source_entries, limit, reverse=False):
    """One listing page of two: each side's page for the same query.

    The union keyed by :func:`entry_key`, the local entry winning a key on
    both sides (a ``subdir`` on both sides is the same entry), in Swift's
    order, cut at ``limit``.  Swift orders by the UTF-8 bytes of a name
    (sqlite's BINARY collation); UTF-8 keeps code point order, so
    comparing the decoded strings is the same order (and needs no
    encoding).  Entries are the caller's own objects, unchanged.

    Why one page from each side is enough: a side's page is the first
    ``limit`` entries of everything that side would list for the query,
    in order.  Take an entry *e* among the first ``limit`` of the union,
    and say it is on the local side.  Every local entry before *e* is also
    before *e* in the union, and fewer than ``limit`` are, so *e* is
    within the local side's first ``limit``: on its page.  The same holds
    for the source.  So the first ``limit`` of the union are all on the
    two pages, and none of what the pages leave out could come before
    them.  (This needs what a query lists to be a function of each name
    alone, as it is for marker, end_marker, prefix and delimiter; see the
    module docstring for ``path``.)

    :param local_entries: the local cluster's listing (decoded JSON).
    :param source_entries: the source cluster's listing for the same query.
    :param limit: the page size (:attr:`ListingQuery.limit`).
    :param reverse: descending order (:attr:`ListingQuery.reverse`).
    :returns: the merged listing, a new list.
    """
    by_key = {entry_key(entry): entry for entry in source_entries}
    by_key.update((entry_key(entry), entry) for entry in local_entries)
    keys = sorted(by_key, reverse=reverse)[:max(limit, 0)]
    return [by_key[key] for key in keys]


def encode(entries):
    """A JSON listing body exactly as Swift writes one: ``json.dumps``
    with its defaults (``', '`` and ``': '`` separators, non-ASCII as
    ``\\u`` escapes, a character outside the BMP as a surrogate pair),
    then ASCII bytes; each entry's keys in the order they came in."""
    return json.dumps(entries).encode('ascii')

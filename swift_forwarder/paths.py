# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The request target, parsed once.

:class:`RequestPath` is to a request what Swift's ``split_path`` and
urllib3's ``Url`` are: the version, account, container and object of
``PATH_INFO``, and the path as it goes on the upstream request line
(quoted exactly as the client sent it) with its query string.  Routing,
the service-mode checks and the resumes take it instead of re-splitting
strings.

WSGI strings are latin-1 decodings of the bytes on the wire; the names a
:class:`RequestPath` holds are the text those bytes encode in UTF-8 (or
the WSGI string as it is, if they are not UTF-8).
"""

import collections
import urllib.parse

__all__ = ['RequestPath', 'wsgi_to_str', 'str_to_wsgi', 'object_path',
           'reference', 'quote_name']

#: What ``urllib.parse.quote`` leaves alone in a path we quote ourselves.
_PATH_SAFE = "/:@!$&'()*+,;="

#: Bytes a path may not carry verbatim on a request line: Swift's own
#: server takes a path with spaces (``GET /info asdf HTTP/1.1``).
_UNSAFE = frozenset(' \t\r\n\0')


def wsgi_to_str(value):
    """A WSGI (latin-1) string as the text it encodes in UTF-8 (or as it
    is, if that is not UTF-8)."""
    try:
        return value.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return value


def str_to_wsgi(value):
    """Text as a WSGI string (its UTF-8 bytes, latin-1 decoded)."""
    return value.encode('utf-8', 'surrogateescape').decode('latin-1')


def quote_name(name):
    """A name (text) quoted for a path segment: ``/`` included."""
    return urllib.parse.quote(name.encode('utf-8', 'surrogateescape'),
                              safe='')


def object_path(quoted_account, container, obj):
    """``/v1/<account>/<container>/<object>``: the account as it is in a
    request target (quoted), the names WSGI strings."""
    return '/v1/%s/%s/%s' % (quoted_account, *(
        urllib.parse.quote(wsgi_to_str(name).encode('utf-8'))
        for name in (container, obj)))


def reference(value):
    """``(container, rest)`` named by a header such as ``X-Copy-From``
    (``[/]container/object``, URL-quoted), as WSGI strings; None if it names
    no container.  Swift's middlewares unquote these values before (copy,
    symlink) or after (dlo) splitting them: a container whose name only one
    of the two readings would give (one with an encoded ``/``) is None."""
    text = wsgi_to_str(value.strip()).lstrip('/')
    container, sep, rest = text.partition('/')
    container = urllib.parse.unquote(container)
    if not container or not sep or '/' in container:
        return None
    return str_to_wsgi(container), str_to_wsgi(urllib.parse.unquote(rest))


def _segments(path_info):
    parts = path_info.split('/', 4)[1:]
    return tuple(parts + [None] * (4 - len(parts)))


class RequestPath(collections.namedtuple(
        'RequestPath', 'path_info quoted query segments')):
    """One request's target.  Make one with :meth:`from_environ` or
    :meth:`of`.

    :param path_info: ``PATH_INFO`` (a WSGI string).
    :param quoted: the path for the upstream request line, quoted exactly
        as the client sent it (``%2F`` stays ``%2F``), unless a middleware
        before us rewrote ``PATH_INFO`` or the client sent bytes that may
        not go on a request line (a space): then we quote it.
    :param query: the query string ('' for none), as received.
    :param segments: ``PATH_INFO``'s version, account, container and object
        (WSGI strings, '' where empty, None where missing).
    """
    __slots__ = ()

    @classmethod
    def from_environ(cls, env):
        path_info = env.get('PATH_INFO', '')
        path = env.get('SCRIPT_NAME', '') + path_info
        raw = env.get('RAW_PATH_INFO')
        if raw is None or not _UNSAFE.isdisjoint(raw) or (
                raw != path if '%' not in raw and raw.isascii() else
                urllib.parse.unquote_to_bytes(raw) != path.encode('latin-1')):
            raw = urllib.parse.quote(path.encode('latin-1'), safe=_PATH_SAFE)
        query = env.get('QUERY_STRING') or ''
        if ' ' in query or '\t' in query:  # Swift's server takes them
            query = query.replace(' ', '%20').replace('\t', '%09')
        return cls(path_info, raw, query, _segments(path_info))

    @classmethod
    def of(cls, target):
        """A path built by the forwarder itself (a side request's):
        ``target`` is quoted, with its query if any."""
        quoted, _sep, query = target.partition('?')
        path_info = urllib.parse.unquote(quoted, 'latin-1')
        return cls(path_info, quoted, query, _segments(path_info))

    @property
    def target(self):
        """The request target: the quoted path and the query string."""
        return self.quoted + '?' + self.query if self.query else self.quoted

    # -- the parts of PATH_INFO

    @property
    def version(self):
        return self.segments[0]

    def _name(self, index):
        part = self.segments[index]
        return wsgi_to_str(part) if part else None

    @property
    def account(self):
        """The account, as text; None if missing or empty."""
        return self._name(1)

    @property
    def container(self):
        return self._name(2)

    @property
    def obj(self):
        return self._name(3)

    @property
    def is_swift_api(self):
        """``/v1/<account>...``."""
        return self.version == 'v1' and bool(self.segments[1])

    @property
    def quoted_account(self):
        """The account segment of :attr:`quoted`."""
        return self.quoted.split('/', 3)[2]

    # -- the query

    @property
    def params(self):
        """The query parameters as Swift's middlewares read them
        (``req.params``: the last of several wins; ``?name`` alone is '')."""
        return dict(urllib.parse.parse_qsl(self.query,
                                           keep_blank_values=True))

    def param(self, name):
        """One of :attr:`params`, or None (the query is parsed only when
        there is one)."""
        return self.params.get(name) if self.query else None

    # -- derived paths

    def with_account(self, account):
        """The same path in ``account`` (text) instead: the rest stays
        quoted exactly as received."""
        parts = self.quoted.split('/', 3)  # '', 'v1', account, rest
        parts[2] = quote_name(account)
        return self._replace(quoted='/'.join(parts))

    def without_params(self, names):
        """The same path without the query parameters ``names``; the rest
        of the query exactly as it was."""
        kept = [item for item in self.query.split('&') if
                urllib.parse.unquote_plus(item.partition('=')[0]) not in names]
        return self._replace(query='&'.join(kept) if any(kept) else '')

    def with_query(self, query):
        return self._replace(query=query)

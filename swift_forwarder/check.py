# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""
``swift-forwarder-check``: check a proxy's forwarder configuration, and the
targets it names, before a reload::

    swift-forwarder-check /etc/swift/proxy-server.conf
    swift-forwarder-check /etc/swift/proxy-server.conf.d

The pipeline is loaded the way ``swift-proxy-server`` loads it (Swift's
``loadcontext``: conf.d directories, ``%(here)s``...), and every filter of
it made by ``swift_forwarder.middleware:filter_factory``, whatever its
section is called, is built with that factory, so each validation the proxy
does at startup happens here too (``config``).  Then, for each target:

``resolve``
    getaddrinfo of the target's host.
``connect``
    a TCP connect and, for https, the TLS handshake with the target's
    ``ca_certs``/``insecure``/``cert_file``/``key_file``, through the
    filter's own connection pool, bounded by ``conn_timeout``.
``auth``
    service mode: a service token, fetched the way the filter fetches it.
    Passthrough: SKIP, clients bring their own credentials.
``info``
    passthrough only: ``GET /info`` answers like a Swift proxy (200 with a
    ``swift`` section, or 403 where the target's ``expose_info`` is off).
``account``
    service mode: ``HEAD`` of every account the filter will use on the
    target (the service storage URL's, and ``account_map``'s), with the
    service token.
``backend``
    ``backend_endpoint = true``: the target is a backend endpoint, by a
    probe signed with ``backend_key`` that its ``forwarder_backend``
    answers itself: FAIL when nothing answers it (no forwarder_backend),
    when the key is not the filter's, when a gatekeeper above it strips
    backend headers, or when slo, dlo or symlink above it would resolve
    manifests and symlinks themselves.
``policy``
    ``storage_policies``: each routed local policy has its (placeholder)
    object ring in ``swift_dir`` (FAIL, saying how to build one), and is
    not the default policy (WARN: every container made without
    ``X-Storage-Policy`` would live on the target).

The ``config`` row also WARNs when a forwarder that forwards only some
containers sits above Swift's composite middlewares (gateway or federation
placement), and says what that breaks.

Once a check of a target fails, its later checks are SKIPped; an error
no check expected is that check's FAIL too, and the next target is still
checked.  Exit status: 0 when nothing failed, 1 when a check failed,
including ``config`` when paste cannot load the pipeline at all (a parse
error, a misspelled egg name, another filter's import failing: the proxy
would not start either), 2 when there is nothing to check (the file
missing or unreadable, no forwarder filter in the pipeline, bad usage).
Keys, passwords and tokens are never printed, nor the text of a line the
configuration parser rejects (``auth_key s3cr3t``, the ``=`` forgotten):
only its file and line number.
"""

import argparse
import collections
import configparser
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import warnings

# The proxy prints eventlet's deprecation banner when it starts; a check
# run by an operator has no use for it.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from paste.deploy import loadwsgi  # noqa: E402

from swift_forwarder import __version__, backend, middleware  # noqa: E402
from swift_forwarder import policy, routing  # noqa: E402
from swift_forwarder.auth import AuthError  # noqa: E402
from swift_forwarder.exceptions import ConfigError  # noqa: E402
from swift_forwarder.exceptions import ForwarderError  # noqa: E402
from swift_forwarder.exceptions import ResponseReadError  # noqa: E402
from swift_forwarder.exceptions import UpstreamConnectError  # noqa: E402
from swift_forwarder.service import account_from_storage_url  # noqa: E402
from swift_forwarder.green import Timeout, http_client, socket  # noqa: E402
from swift_forwarder.green import ssl  # noqa: E402

try:  # importing it also teaches paste.deploy Swift's config_dir: loader
    from swift.common import wsgi as swift_wsgi
    from swift.common.storage_policy import POLICIES
except ImportError:  # a machine without Swift: plain paste.deploy
    swift_wsgi = POLICIES = None

__all__ = ['main', 'load_filters', 'build_filter', 'TargetChecker']

OK, WARN, FAIL, SKIP = 'OK', 'WARN', 'FAIL', 'SKIP'
#: Every check name, in the order they run.
CHECKS = ('config', 'policy', 'resolve', 'connect', 'auth', 'info',
          'account', 'backend')
#: Swift's composite middlewares (their factories' modules): copy, slo,
#: dlo, symlink and versioning act on several containers for one request.
COMPOSITES = ('copy', 'slo', 'dlo', 'symlink', 'versioned_writes')
#: The longest probe answer read.
MAX_PROBE = 4096
#: Options whose values are never printed (with the tokens fetched).
SECRET_OPTIONS = ('auth_key', 'os_auth_token', 'os_password', 'backend_key')
#: Shorter secrets are not searched for in the output (they would blank
#: out ordinary words); such a key is weak anyway, and never printed.
MIN_REDACTED = 4
#: Bytes of a response body read at most (``/info`` is a few KB).
MAX_BODY = 1 << 20
USER_AGENT = 'swift-forwarder-check/%s' % __version__
#: Characters of an unexpected error's message printed at most.
MAX_REASON = 200

#: A bad answer, from the forwarder's green http.client or a library's.
HTTP_ERRORS = (http_client.HTTPException, http.client.HTTPException)

#: One filter of the pipeline: its section name and paste's two dicts, and
#: the composite middlewares (:data:`COMPOSITES`) below it.
FilterConf = collections.namedtuple('FilterConf',
                                    'name global_conf local_conf composites',
                                    defaults=((),))


class NothingToCheck(Exception):
    """The file can't be read or holds no forwarder: exit status 2."""


class PipelineError(Exception):
    """paste cannot load the pipeline, so the proxy would not start: a
    ``config`` FAIL, exit status 1.  The message is safe to print."""


def parser_error(err, conf_path):
    """A :class:`configparser.Error`, described by its file and line
    numbers (and section and option names), never with the text of the
    line or the value it was about: ``auth_key s3cr3t``, with the ``=``
    forgotten, is a ParsingError whose message holds the key."""
    source = getattr(err, 'source', None) or conf_path or 'the config'
    section = getattr(err, 'section', None)
    option = getattr(err, 'option', None)
    lineno = getattr(err, 'lineno', None)
    if isinstance(err, configparser.MissingSectionHeaderError):
        return '%s: line %d is not in a [section]' % (source, err.lineno)
    if isinstance(err, configparser.ParsingError):
        linenos = [str(n) for n, _line in getattr(err, 'errors', ())]
        return '%s: cannot parse line%s %s' % (
            source, '' if len(linenos) == 1 else 's',
            ', '.join(linenos) or '(unknown)')
    where = source if lineno is None else '%s line %d' % (source, lineno)
    if isinstance(err, configparser.DuplicateSectionError):
        return '%s: section [%s] given twice' % (where, section)
    if isinstance(err, configparser.DuplicateOptionError):
        return '%s: option %s given twice in [%s]' % (where, option, section)
    if isinstance(err, configparser.InterpolationError):
        return '%s: [%s] %s: bad %%(...)s interpolation (%s)' % (
            where, section, option, type(err).__name__)
    names = ''.join(' %s' % name for name in (
        section and '[%s]' % section, option) if name)
    return '%s:%s %s' % (where, names, type(err).__name__)


def _parser_error_in(err):
    """The :class:`configparser.Error` ``err`` is or was raised from (paste
    and Swift re-raise them, message and all, or wrap them), if any."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, configparser.Error):
            return err
        err = err.__cause__ or err.__context__
    return None


# -- loading the configuration ------------------------------------------------

def _loadcontext(conf_path, global_conf=None):
    if swift_wsgi is not None:
        return swift_wsgi.loadcontext(loadwsgi.APP, conf_path,
                                      global_conf=global_conf)
    if os.path.isdir(conf_path):
        raise NothingToCheck('%s is a directory: reading conf.d directories '
                             'needs Swift installed' % conf_path)
    return loadwsgi.loadcontext(loadwsgi.APP,
                                'config:' + os.path.abspath(conf_path),
                                global_conf=global_conf)


def _pipeline(conf_path):
    """The main pipeline's context, loaded as ``swift-proxy-server`` does:
    with ``log_name`` (its app section's, else ``proxy-server``) passed as
    paste's global_conf."""
    if not os.path.exists(conf_path):
        raise NothingToCheck('%s: no such file or directory' % conf_path)
    _check_readable(conf_path)
    try:
        ctx = _loadcontext(conf_path)
        app_ctx = getattr(ctx, 'app_context', ctx)
        app_conf = dict(app_ctx.global_conf, **app_ctx.local_conf)
        return _loadcontext(conf_path, {
            'log_name': app_conf.get('log_name', 'proxy-server')})
    except NothingToCheck:
        raise
    except Exception as err:  # paste raises whatever it meets
        found = _parser_error_in(err)
        if found is not None:  # it names the file (of a conf.d's too)
            raise PipelineError('cannot load the pipeline: %s'
                                % parser_error(found, conf_path))
        raise PipelineError('cannot load the pipeline from %s: %s: %s'
                            % (conf_path, type(err).__name__, err))


def _check_readable(conf_path):
    """:raises NothingToCheck: the file (or conf.d directory) can't be read
    (no check run by this user could tell anything about it)."""
    try:
        if os.path.isdir(conf_path):
            os.listdir(conf_path)
        else:
            with open(conf_path, 'rb'):
                pass
    except OSError as err:
        raise NothingToCheck('%s: cannot read it: %s' % (
            conf_path, err.strerror or err))


def _filter_names(ctx):
    """Section names of the pipeline's filters (Swift's loader sets
    ``name``; with plain paste.deploy, read the pipeline line)."""
    names = [getattr(fctx, 'name', None) for fctx in ctx.filter_contexts]
    if None in names:
        try:
            loader = ctx.loader
            section = loader.find_config_section(loadwsgi.APP, 'main')
            names = loader.parser.get(section, 'pipeline').split()[:-1]
        except Exception:
            names = ['filter #%d' % (i + 1) for i in range(len(names))]
    return names


def load_filters(conf_path):
    """Every forwarder filter of the proxy's main pipeline.

    A filter is ours when paste resolves its section (``use =
    egg:swift_forwarder#forwarder``, ``paste.filter_factory =
    swift_forwarder.middleware:filter_factory``...) to our factory.

    :returns: a list of :class:`FilterConf`, in pipeline order.
    :raises NothingToCheck: missing, unreadable, or no forwarder.
    :raises PipelineError: paste cannot load the pipeline.
    """
    ctx = _pipeline(conf_path)
    if ctx.object_type.name != 'pipeline':
        raise NothingToCheck('%s: the main section is not a pipeline, so '
                             'there is no forwarder filter' % conf_path)
    found = [FilterConf(name, fctx.global_conf, fctx.local_conf,
                        _composites(ctx.filter_contexts[index + 1:]))
             for index, (name, fctx) in enumerate(zip(
                 _filter_names(ctx), ctx.filter_contexts))
             if fctx.object is middleware.filter_factory]
    if not found:
        raise NothingToCheck(
            '%s: no swift_forwarder filter in the pipeline (%s)' % (
                conf_path, ' '.join(_filter_names(ctx) + ['...'])))
    return found


def _composites(filter_contexts):
    """The composite middlewares among these filters, by name."""
    found = []
    for fctx in filter_contexts:
        module = getattr(fctx.object, '__module__', '') or ''
        name = module.rsplit('.', 1)[-1]
        if module.startswith('swift.') and name in COMPOSITES:
            found.append(name)
    return tuple(found)


def _no_app(env, start_response):  # the rest of the pipeline: never called
    raise AssertionError('swift-forwarder-check sends no requests through')


def build_filter(filter_conf, node_timeout=None):
    """The middleware, built as the proxy builds it (``filter_factory``,
    then the filter on an app), so every startup validation happens.

    The instance returned for the checks is built a second time, with
    statsd off (a check must not add to the proxies' metrics) and, if
    given, ``node_timeout`` for its requests.

    :raises Exception: whatever startup would fail with.
    """
    middleware.filter_factory(filter_conf.global_conf,
                              **filter_conf.local_conf)(_no_app)
    local_conf = dict(filter_conf.local_conf, log_statsd_host='')
    if node_timeout is not None:
        local_conf['node_timeout'] = repr(node_timeout)
    return middleware.filter_factory(filter_conf.global_conf,
                                     **local_conf)(_no_app)


# -- the checks ----------------------------------------------------------------

def describe(err, timeout):
    """What went wrong, in an operator's words: the most telling low-level
    error in ``err``'s chain (``__cause__``/``__context__``).

    :param timeout: the seconds that ran out, if it was a timeout.
    """
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(err, ssl.SSLCertVerificationError):
            return 'certificate verify failed: %s' % (
                err.verify_message or err.reason)
        if isinstance(err, ssl.SSLError):
            return 'TLS handshake failed: %s' % (err.reason or err)
        if isinstance(err, (TimeoutError, Timeout)):
            return 'timed out after %gs' % timeout
        if isinstance(err, ConnectionResetError):
            return 'connection reset'
        if isinstance(err, socket.gaierror):
            return 'cannot resolve: %s' % (err.strerror or err)
        nxt = err.__cause__ or err.__context__
        if nxt is None:
            if isinstance(err, (ValueError,) + HTTP_ERRORS):
                return _type_and_message(err)
            return getattr(err, 'reason', None) or str(err) or \
                type(err).__name__
        err = nxt
    return str(err)


def _type_and_message(err):
    """``Type: message``, or ``Type`` if it has none."""
    msg = str(err)
    return '%s: %s' % (type(err).__name__, msg) if msg else \
        type(err).__name__


class TargetChecker(object):
    """The checks of one target (a :class:`TargetForwarder`).

    :meth:`run` yields ``(check, result, detail)`` rows.

    :param target: the :class:`TargetForwarder`.
    :param secrets: a set the tokens it fetches are added to, for the
        output to hide.
    :param swift_dir: where the proxy's rings are (the policy check).
    """

    def __init__(self, target, secrets=None, swift_dir='/etc/swift'):
        self.target = target
        self.swift_dir = swift_dir
        self.pool = target.pool
        self.storage_url = self.token = None
        self.secrets = set() if secrets is None else secrets
        self.secrets.update(target.auth[name] for name in SECRET_OPTIONS
                            if target.auth and target.auth.get(name))
        if target.backend_key:
            self.secrets.add(target.backend_key)

    def steps(self):
        first = [('policy', self.policies)] if \
            self.target.storage_policies else []
        if self.target.service is None:
            return first + [
                ('resolve', self.resolve), ('connect', self.connect),
                ('auth', self.skip_auth), ('info', self.info),
                ('account', self.skip_account)]
        last = [('backend', self.backend)] if self.target.backend_key else []
        return first + [('resolve', self.resolve), ('connect', self.connect),
                        ('auth', self.auth), ('account', self.accounts)] + \
            last

    def run(self):
        """``(check, result, detail)`` rows; the pool's connections are
        closed once the checks are over."""
        failed = None
        try:
            for check, step in self.steps():
                if failed is not None:
                    yield check, SKIP, 'after %s FAIL' % failed
                    continue
                for result, detail in self._guarded(step):
                    yield check, result, detail
                    if result == FAIL:
                        failed = check
        finally:
            self.pool.close()

    def _guarded(self, step):
        """``step()``'s rows; an error it did not expect (a bug, or one
        of a library's we did not know) ends it with a FAIL, not a
        traceback that would stop the other targets' checks."""
        rows = step()
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except (Exception, Timeout) as err:  # eventlet's: BaseException
                yield FAIL, 'unexpected error: %s' % self._short(err)
                return
            yield row

    def _short(self, err):
        """``Type: message`` on one line, secrets blanked out before it is
        cut to :data:`MAX_REASON` (a cut secret would not be found)."""
        text = _type_and_message(err)
        for secret in self.secrets:
            if len(secret) >= MIN_REDACTED:
                text = text.replace(secret, '***')
        text = ' '.join(text.split())
        if len(text) > MAX_REASON:
            text = text[:MAX_REASON - 3] + '...'
        return text

    def resolve(self):
        target = self.target.address
        try:
            infos = socket.getaddrinfo(target.host, target.port, 0,
                                       socket.SOCK_STREAM)
        except UnicodeError as err:  # IDNA: an empty label, or over 63
            yield FAIL, '%s: not a valid host name (%s)' % (
                target.host, _idna_reason(err))
            return
        except (OSError, ValueError) as err:
            yield FAIL, '%s: %s' % (target.host, getattr(
                err, 'strerror', None) or err)
            return
        addresses = []
        for info in infos:
            if info[4][0] not in addresses:
                addresses.append(info[4][0])
        if addresses == [target.host]:
            yield OK, '%s (an address)' % target.host
        else:
            yield OK, '%s: %s' % (target.host, ', '.join(addresses))

    def connect(self):
        target, pool = self.target.address, self.pool
        start = time.monotonic()
        try:
            conn = pool.connect()
        except UpstreamConnectError as err:
            yield FAIL, '%s: %s' % (pool.name, describe(err,
                                                        pool.conn_timeout))
            return
        try:
            detail = '%s in %.1f ms' % (pool.name,
                                        (time.monotonic() - start) * 1000)
            if target.scheme == 'https':
                detail += ', %s, %s' % (conn.sock.version(), (
                    'certificate NOT verified (insecure = true)'
                    if target.insecure else 'certificate verified'))
                if target.cert_file:
                    detail += ', client certificate sent'
        finally:
            conn.close()
        yield OK, detail

    def skip_auth(self):
        yield SKIP, 'passthrough: clients authenticate'

    def skip_account(self):
        yield SKIP, 'passthrough: clients name their accounts'

    def auth(self):
        auth = self.target.auth
        try:
            self.storage_url, self.token = self.target.service.tokens.get()
        except AuthError as err:
            yield FAIL, self._auth_failure(err.__cause__ or err)
            return
        self.secrets.add(self.token)
        yield OK, '%s at %s: storage URL %s' % (
            auth['auth_user'], auth['auth_url'], self.storage_url)

    def _auth_failure(self, err):
        url = self.target.auth['auth_url']
        status = getattr(err, 'http_status', None)
        if status:
            return '%s %s from %s' % (status, getattr(err, 'http_reason', '')
                                      or '', url)
        return '%s (%s)' % (describe(err, self.target.conf.node_timeout),
                            url)

    def info(self):
        try:
            status, reason, body = self._request('GET', '/info')
        except _RequestFailed as err:
            yield FAIL, 'GET /info: %s' % err
            return
        head = 'GET /info: %d %s' % (status, reason)
        if status == 403:
            yield OK, head + ' (the target has expose_info = false)'
            return
        version = _swift_version(body) if status == 200 else None
        if version is None:
            yield FAIL, head + ': not a Swift proxy answer'
        else:
            yield OK, '%s, Swift %s' % (head, version)

    def _accounts(self):
        """The target accounts the filter uses: the service storage URL's,
        then account_map's.  :raises ValueError: no account in the URL."""
        accounts = [account_from_storage_url(self.storage_url)]
        for account in self.target.auth['account_map'].values():
            if account not in accounts:
                accounts.append(account)
        return accounts

    def accounts(self):
        try:
            accounts = self._accounts()
        except ValueError as err:
            yield FAIL, str(err)
            return
        for account in accounts:
            path = '/v1/%s' % urllib.parse.quote(account)
            try:
                status, reason, _body = self._request(
                    'HEAD', path, [('X-Auth-Token', self.token)])
            except _RequestFailed as err:
                yield FAIL, 'HEAD %s: %s' % (path, err)
                continue
            yield (OK if 200 <= status < 300 else FAIL,
                   'HEAD %s: %d %s' % (path, status, reason))

    def backend(self):
        """A probe signed with backend_key, which the backend endpoint's
        forwarder_backend answers itself with what the middlewares above
        it asked of the request."""
        path = '/v1/%s/forwarder-check/probe' % urllib.parse.quote(
            self._accounts()[-1])
        headers = [('X-Auth-Token', self.token), (backend.PROBE_HEADER, 'yes')]
        headers += backend.signed_headers(
            self.target.backend_key, 'GET',
            urllib.parse.unquote_to_bytes(path), [backend.PROBE])
        try:
            status, reason, body = self._request('GET', path, headers,
                                                 MAX_PROBE)
        except _RequestFailed as err:
            yield FAIL, 'GET %s: %s' % (path, err)
            return
        yield _probe_result(status, reason, body)

    def policies(self):
        """Each routed policy has its object ring, and is not the
        default."""
        for name in self.target.storage_policies:
            found = POLICIES.get_by_name(name)  # the filter checked it
            ring = os.path.join(self.swift_dir, found.ring_name + '.ring.gz')
            if not os.path.exists(ring):
                yield FAIL, '%s: no %s; %s' % (name, ring, policy.howto(
                    found.name, found.idx))
            elif found.is_default:
                yield WARN, '%s is the default policy: every container made ' \
                    'without X-Storage-Policy lives on the target' % name
            else:
                yield OK, '%s (index %d): %s present (a placeholder: nothing ' \
                    'is stored in it)' % (name, found.idx, ring)

    def _request(self, method, path, headers=(), max_body=MAX_BODY):
        """One side request through the filter's own upstream (pool,
        retries, error limiter): ``(status, reason, body)``.

        :raises _RequestFailed: with the reason.
        """
        try:
            resp = self.target.upstream.side_request(
                method, path, [('User-Agent', USER_AGENT)] + list(headers),
                max_body)
        except ResponseReadError as err:
            raise _RequestFailed('reading the response: %s' % describe(
                err.__cause__, self.pool.node_timeout)) from err
        except (ForwarderError, OSError, ValueError, Timeout) + \
                HTTP_ERRORS as err:
            timeout = self.pool.conn_timeout if isinstance(
                err, UpstreamConnectError) else self.pool.node_timeout
            raise _RequestFailed(describe(err, timeout)) from err
        return resp.status, resp.reason, resp.body


class _RequestFailed(Exception):
    """A check's request got no answer; the message says why."""


#: What a probe's ``ignore_range`` says: the middleware above
#: forwarder_backend that asked for it.
_RESOLVERS = {'x-static-large-object': 'slo', 'x-object-manifest': 'dlo',
              'x-object-sysmeta-symlink-target': 'symlink'}


def _probe_result(status, reason, body):
    """The backend check's row from forwarder_backend's answer."""
    head = 'probe: %d %s' % (status, reason)
    if status == 401 and body.startswith(b'forwarder_backend: '):
        return FAIL, '%s: backend_key is not its key or key2 (%s)' % (
            head, body.decode('utf-8', 'replace').strip())
    try:
        seen = json.loads(body) if status == 200 else None
    except ValueError:
        seen = None
    if not isinstance(seen, dict) or seen.get('forwarder_backend') is not True:
        return FAIL, '%s: no forwarder_backend answered: not a backend ' \
            'endpoint (its pipeline needs forwarder_backend, see ' \
            'backend-server.conf-sample)' % head
    resolvers = sorted(set(_RESOLVERS.get(name.lower(), name) for name in
                           seen.get('ignore_range') or ()))
    if resolvers:
        return FAIL, '%s: %s above forwarder_backend would resolve ' \
            'manifests and symlinks on the target itself (run it with ' \
            'swift-forwarder-backend-server, internal pipeline)' % (
                head, ', '.join(resolvers))
    if not seen.get('backend_headers'):
        return FAIL, '%s: a gatekeeper above forwarder_backend strips the ' \
            'backend headers and sysmeta (run it with ' \
            'swift-forwarder-backend-server, no gatekeeper)' % head
    return OK, '%s: forwarder_backend, backend headers through, nothing ' \
        'resolved above it' % head


def _idna_reason(err):
    """``label empty or too long`` out of ``encoding with 'idna' codec
    failed (UnicodeError: label empty or too long)``."""
    found = re.search(r'\(\w+: (.+)\)$', str(err))
    return found.group(1) if found else str(err) or type(err).__name__


def _swift_version(body):
    """The version in a Swift ``/info`` body, or None if it is not one."""
    try:
        info = json.loads(body)
    except ValueError:
        return None
    swift = info.get('swift') if isinstance(info, dict) else None
    if not isinstance(swift, dict):
        return None
    return swift.get('version', '(version not shown)')


# -- output ----------------------------------------------------------------------

class Report(object):
    """The aligned ``TARGET CHECK RESULT DETAIL`` table, printed as rows
    come, with every known secret blanked out."""

    def __init__(self, out, labels, secrets):
        self.out = out
        self.width = max([len('TARGET')] + [len(label) for label in labels])
        self.check_width = max(len(check) for check in CHECKS)
        self.secrets = secrets
        self.counts = collections.OrderedDict(
            (r, 0) for r in (OK, WARN, FAIL, SKIP))
        self._line('TARGET', 'CHECK', 'RESULT', 'DETAIL')

    def _line(self, *columns):
        text = '%-*s  %-*s  %-6s  %s' % (self.width, columns[0],
                                         self.check_width, columns[1],
                                         columns[2], columns[3])
        for secret in self.secrets:
            if len(secret) >= MIN_REDACTED:
                text = text.replace(secret, '***')
        self.out.write(text.rstrip() + '\n')
        self.out.flush()

    def row(self, label, check, result, detail):
        self.counts[result] += 1
        self._line(label, check, result, detail)

    def summary(self):
        total = sum(self.counts.values())
        self.out.write('%d check%s: %s\n' % (
            total, '' if total == 1 else 's', ', '.join(
                '%d %s' % (n, result) for result, n in self.counts.items()
                if n or result != WARN)))
        self.out.flush()

    @property
    def failed(self):
        return self.counts[FAIL] > 0


def _conf_secrets(filter_conf):
    secrets = {filter_conf.local_conf.get(name) for name in SECRET_OPTIONS}
    return {value for value in secrets if value}


def _target_secrets(mw):
    return {target.auth[name] for target in mw.targets.values()
            if target.auth for name in SECRET_OPTIONS
            if target.auth.get(name)} | {
        target.backend_key for target in mw.targets.values()
        if target.backend_key}


def _startup_error(name, err):
    """The error the proxy would stop with, naming the filter's section
    (config.py's messages say ``[filter:forwarder]`` whatever its name).
    One from the configuration parser (a targets_conf...) is described
    by :func:`parser_error`: its message may quote a line holding a key."""
    found = _parser_error_in(err)
    if found is not None:
        return '[filter:%s]: %s' % (name, parser_error(found, None))
    if not isinstance(err, ConfigError):
        return '[filter:%s]: %s: %s' % (name, type(err).__name__, err)
    msg = str(err)
    generic = '[filter:forwarder]'
    if msg.startswith(generic):
        return '[filter:%s]%s' % (name, msg[len(generic):])
    return '[filter:%s]: %s' % (name, msg)


def _config_detail(conf_path, filter_conf, mw):
    return '[filter:%s] in %s: target(s) %s; auth_mode %s' % (
        filter_conf.name, conf_path, ', '.join(mw.targets), mw.conf.auth_mode)


def _placement_warning(filter_conf, mw):
    """A FAIL row if the filter migrates from above Swift's composite
    middlewares, a WARN row if it forwards only some containers from
    there, else None."""
    migrating = [name for name, target in mw.targets.items()
                 if target.migrate_rules]
    if migrating and filter_conf.composites:
        return FAIL, (
            '[filter:%s] sits above %s and migrates from %s: a source is read '
            'as stored (an SLO as its manifest, a symlink as its link), which '
            'only the middlewares above the forwarder resolve.  Put it right '
            'before proxy-server (core placement)' % (
                filter_conf.name, ', '.join(filter_conf.composites),
                ', '.join(migrating)))
    splits = any(target.storage_policies or target.forward_rules != (
        routing.Rule(None, None, True),) for target in mw.targets.values())
    if not (filter_conf.composites and (splits or mw.conf.container_opt_in)):
        return None
    return WARN, (
        '[filter:%s] sits above %s and forwards only some containers: a '
        'manifest on one cluster cannot name segments on the other, a copy '
        'cannot go from one cluster to the other, a symlink cannot point '
        'across, and versioning stays on one side (the target\'s '
        'middlewares see only the target).  For those, put it right before '
        'proxy-server with backend_endpoint (core placement)' % (
            filter_conf.name, ', '.join(filter_conf.composites)))


def _build_all(conf_path, filters, node_timeout, secrets):
    """``[(filter_conf, middleware or None, config rows)]``; the secrets
    of each filter's options join ``secrets``."""
    built = []
    for filter_conf in filters:
        secrets |= _conf_secrets(filter_conf)
        try:
            mw = build_filter(filter_conf, node_timeout)
        except Exception as err:  # the proxy would not start
            built.append((filter_conf, None,
                          [(FAIL, _startup_error(filter_conf.name, err))]))
            continue
        secrets |= _target_secrets(mw)
        rows = [(OK, _config_detail(conf_path, filter_conf, mw)),
                _placement_warning(filter_conf, mw)]
        built.append((filter_conf, mw, [row for row in rows if row]))
    return built


def check(conf_path, out, node_timeout=None):
    """Check every forwarder filter of ``conf_path``; the table goes to
    ``out``.

    :returns: the exit status (0 or 1).
    :raises NothingToCheck: exit status 2.
    """
    try:
        filters = load_filters(conf_path)
    except PipelineError as err:  # the proxy would not start
        report = Report(out, [], set())
        report.row('-', 'config', FAIL, str(err))
        report.summary()
        return 1
    secrets = set()
    built = _build_all(conf_path, filters, node_timeout, secrets)

    def label(filter_conf, name):  # the filter's name too if there are two
        if len(filters) == 1:
            return name
        return '%s/%s' % (filter_conf.name, name)
    report = Report(out, [label(fc, name) for fc, mw, _row in built
                          if mw is not None for name in mw.targets], secrets)
    for _fc, _mw, rows in built:
        for result, detail in rows:
            report.row('-', 'config', result, detail)
    for filter_conf, mw, _rows in built:
        if mw is None:
            continue
        swift_dir = dict(filter_conf.global_conf, **filter_conf.local_conf
                         ).get('swift_dir', '/etc/swift')
        try:
            for name, target in mw.targets.items():
                # the tokens it fetches join ``secrets``: hidden from then on
                for row in TargetChecker(target, secrets, swift_dir).run():
                    report.row(label(filter_conf, name), *row)
        finally:
            for target in mw.targets.values():
                target.pool.close()
    report.summary()
    return 1 if report.failed else 0


def _seconds(value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not 0 < seconds < float('inf'):
        raise argparse.ArgumentTypeError('expected seconds > 0, got %r'
                                         % value)
    return seconds


def main(argv=None):
    """``swift-forwarder-check``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog='swift-forwarder-check',
        description='Check the swift_forwarder filter(s) of a proxy '
        'configuration, and their targets, before a reload.',
        epilog='Exit status: 0 nothing failed, 1 a check failed (or the '
        'pipeline cannot be loaded), 2 nothing to check (no such file, '
        'unreadable, no forwarder filter in the pipeline).')
    parser.add_argument('conf_path', metavar='CONF',
                        help='proxy-server.conf, or a proxy-server.conf.d '
                        'directory')
    parser.add_argument('--timeout', type=_seconds, metavar='SECONDS',
                        help="seconds each check's request may wait for an "
                        "answer (default: the filter's node_timeout)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:  # --help: 0; usage errors: 2
        return err.code
    try:
        return check(args.conf_path, sys.stdout, args.timeout)
    except NothingToCheck as err:
        sys.stderr.write('%s: %s\n' % (parser.prog, err))
        return 2


if __name__ == '__main__':
    sys.exit(main())

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""
The target side of the core placement: ``forwarder_backend``.

In the core placement (see the forwarder's docs) the forwarder sits right
before ``proxy-server``, below Swift's composite middlewares, and sends
what they ask of a forwarded container to the target's *backend endpoint*:
a proxy-server with Swift's internal pipeline, where the headers the local
middlewares set (``X-Backend-*``, sysmeta, reserved names) are taken as
the local proxy-server would take them.

Some of what those middlewares tell ``proxy-server`` is WSGI environ
state, which HTTP cannot carry: ``swift.content_type_overridden`` lets slo
and object versioning store ``;swift_bytes=`` in a Content-Type (without
it, proxy-server answers 400 ``swift_* is not a valid parameter name``).
The forwarder sends it as ``X-Forwarder-Backend-State:
content_type_overridden``, signed in ``X-Forwarder-Backend-Sig: <unix
time> <hex HMAC-SHA256 of method, path, state and time>`` with the key it
shares with this filter, the way container-sync realms sign requests.
This filter checks the signature and restores the state.  State headers
that are unsigned, badly signed, or signed more than
:data:`MAX_SKEW` seconds away from this host's clock get 401 and change
nothing; the headers never reach ``proxy-server``.

Pipeline of the backend endpoint (no gatekeeper, no composite
middleware), run with ``swift-forwarder-backend-server`` instead of
``swift-proxy-server`` (the same, but Swift does not add its required
filters, gatekeeper and dlo among them, to the pipeline)::

    [pipeline:main]
    pipeline = catch_errors healthcheck proxy-logging cache tempauth
               forwarder_backend proxy-server

    [filter:forwarder_backend]
    use = egg:swift_forwarder#backend
    key = <the forwarder's backend_key>
    # key2 = <the next key, while the forwarders change to it>

``key`` (required) and ``key2`` (optional): a signature made with either
is taken, so keys change without downtime (set key2 here, then
backend_key on every forwarder, then make it key).  Open the endpoint to
the forwarders only (network policy, TLS client certificates): it trusts
the backend headers and sysmeta of every request its auth lets in.

A signed ``X-Forwarder-Backend-State: probe`` (what ``swift-forwarder-check``
sends) is answered by this filter itself, with JSON saying what the
middlewares above it asked of the request (``ignore_range``: slo, dlo and
symlink each add their header to ``X-Backend-Ignore-Range-If-Metadata-
Present`` when they would resolve an object themselves) and whether the
probe's own ``X-Backend-`` header arrived (a gatekeeper removes it).
"""

import hashlib
import hmac
import json
import sys
import time

from swift_forwarder.exceptions import ConfigError

try:
    from swift.common.utils import parse_options
    from swift.common.wsgi import run_wsgi
except ImportError:  # unit tests and tools without Swift installed
    parse_options = run_wsgi = None

__all__ = ['STATE_HEADER', 'SIG_HEADER', 'STATES', 'MAX_SKEW', 'sign',
           'signed_headers', 'verify', 'BackendMiddleware', 'filter_factory',
           'main']

#: The state the forwarder asks for, and its signature.
STATE_HEADER = 'X-Forwarder-Backend-State'
SIG_HEADER = 'X-Forwarder-Backend-Sig'
_STATE_KEY = 'HTTP_X_FORWARDER_BACKEND_STATE'
_SIG_KEY = 'HTTP_X_FORWARDER_BACKEND_SIG'

#: The state names the forwarder may send, and the environ key each sets.
STATES = {'content_type_overridden': 'swift.content_type_overridden'}
#: ...and the probe this filter answers itself.
PROBE = 'probe'
#: The header a probe carries that a gatekeeper above would remove.
PROBE_HEADER = 'X-Backend-Forwarder-Probe'

#: A signature's time may be this many seconds from this host's clock.
MAX_SKEW = 300


def sign(key, method, path, state, timestamp):
    """The hex HMAC-SHA256 of ``method``, ``path`` (the request path as
    bytes, unquoted, without the query), ``state`` and ``timestamp``."""
    message = b'\n'.join((method.encode('ascii'), path,
                          state.encode('ascii'), str(timestamp).encode(
                              'ascii')))
    return hmac.new(key.encode('utf-8'), message, hashlib.sha256).hexdigest()


def signed_headers(key, method, path, states, now=None):
    """The two headers asking the backend endpoint for ``states``.

    :param path: the path as the target receives it, unquoted (bytes).
    """
    state = ' '.join(states)
    timestamp = int(time.time() if now is None else now)
    return [(STATE_HEADER, state), (SIG_HEADER, '%d %s' % (
        timestamp, sign(key, method, path, state, timestamp)))]


def verify(keys, method, path, state, signature, now=None):
    """Check a request's state signature.

    :param keys: the keys a signature may be made with.
    :returns: the state names, in order.
    :raises ValueError: with the reason, for a 401.
    """
    if not state.strip():
        raise ValueError('%s without %s' % (SIG_HEADER, STATE_HEADER))
    if not signature:
        raise ValueError('%s without %s' % (STATE_HEADER, SIG_HEADER))
    stamp, _sep, digest = signature.strip().partition(' ')
    if not (stamp.isascii() and stamp.isdigit()) or not digest:
        raise ValueError('%s: expected "<unix time> <hex HMAC>"'
                         % SIG_HEADER)
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > MAX_SKEW:
        raise ValueError('%s: signed more than %d s from this host\'s '
                         'clock' % (SIG_HEADER, MAX_SKEW))
    if not any(hmac.compare_digest(sign(key, method, path, state, stamp),
                                   digest.strip()) for key in keys):
        raise ValueError('%s: bad signature (not made with key or key2 of '
                         '[filter:forwarder_backend])' % SIG_HEADER)
    names = state.split()
    unknown = sorted(set(names) - set(STATES) - {PROBE})
    if unknown:
        raise ValueError('%s: unknown state %s'
                         % (STATE_HEADER, ', '.join(unknown)))
    return names


class BackendMiddleware(object):
    """``forwarder_backend``: restore the environ state a forwarder sent,
    when its signature checks out.

    :param app: the next WSGI app (``proxy-server``).
    :param conf: the filter's options: ``key``, optionally ``key2``.
    """

    def __init__(self, app, conf):
        self.app = app
        self.keys = [conf[name].strip() for name in ('key', 'key2')
                     if conf.get(name, '').strip()]
        if not conf.get('key', '').strip():
            raise ConfigError('[filter:forwarder_backend]: key is required '
                              '(the backend_key of the forwarders)')

    def __call__(self, env, start_response):
        state = env.pop(_STATE_KEY, None)
        signature = env.pop(_SIG_KEY, None)
        if state is None and signature is None:
            return self.app(env, start_response)
        try:
            names = verify(self.keys, env['REQUEST_METHOD'],
                           env.get('PATH_INFO', '').encode('latin-1'),
                           state or '', signature)
        except ValueError as err:
            return _answer(start_response, '401 Unauthorized',
                           'forwarder_backend: %s\n' % err, 'text/plain')
        if PROBE in names:
            return self.probe(env, start_response)
        for name in names:
            env[STATES[name]] = True
        return self.app(env, start_response)

    def probe(self, env, start_response):
        """What the middlewares above asked of this request."""
        ignore = env.get('HTTP_X_BACKEND_IGNORE_RANGE_IF_METADATA_PRESENT',
                         '')
        body = json.dumps({
            'forwarder_backend': True,
            'backend_headers': 'HTTP_' + PROBE_HEADER.upper().replace(
                '-', '_') in env,
            'ignore_range': sorted(filter(None, (
                name.strip() for name in ignore.split(','))))})
        return _answer(start_response, '200 OK', body, 'application/json')


def _answer(start_response, status, text, content_type):
    body = text.encode('utf-8')
    start_response(status, [('Content-Type', content_type),
                            ('Content-Length', str(len(body)))])
    return [body]


def filter_factory(global_conf, **local_conf):
    """paste.deploy entry point: ``use = egg:swift_forwarder#backend``."""
    conf = dict(global_conf, **local_conf)

    def backend_filter(app):
        return BackendMiddleware(app, conf)
    return backend_filter


def main():
    """``swift-forwarder-backend-server CONF``: ``swift-proxy-server``, but
    Swift does not add its required filters (gatekeeper, listing_formats,
    copy, dlo, versioned_writes) to a backend endpoint's pipeline."""
    if run_wsgi is None:
        sys.exit('swift-forwarder-backend-server: Swift is not installed')
    conf_file, options = parse_options(test_config=True)
    return run_wsgi(conf_file, 'proxy-server', allow_modify_pipeline=False,
                    **options)


if __name__ == '__main__':
    sys.exit(main())

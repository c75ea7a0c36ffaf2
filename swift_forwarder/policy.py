# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Routing by storage policy: container forwarding as a policy.

A target's ``storage_policies`` names local storage policies.  A container
created with ``X-Storage-Policy: <one of them>`` exists in the local
account (account listings show it; its ACLs and metadata are local and
govern access), while its objects live in a container of the same name on
the target, the *twin*, in the mapped account:

* container PUT, POST and DELETE act on both: PUT and POST locally first
  (proxy-server authorizes them, as any), then on the twin (a PUT with
  ``target_storage_policy``, else the target's default; a POST re-creates
  a missing twin); DELETE authorizes, deletes the twin, and deletes nothing
  locally unless that worked (a non-empty twin gets Swift's 409);
* object requests and listings (container GET) go to the target,
  authorized with the *local* container's ACLs;
* container HEAD is local, with the twin's object count and bytes used.

Routing reads the container's policy from Swift's container info (the
request's infocache, then memcache), so an object request costs no extra
request.  The policy needs an object ring for Swift to start: a
one-device placeholder (``swift-forwarder-check`` says how to build one);
nothing is ever stored in it.
"""

import io

from swift_forwarder.exceptions import ConfigError, UpstreamError

try:
    from swift.common.storage_policy import POLICIES
    from swift.common.swob import Request
    from swift.proxy.controllers.base import get_container_info
except ImportError:  # unit tests and tools without Swift installed
    POLICIES = Request = get_container_info = None

__all__ = ['PolicyRouter', 'PolicyContainer', 'LOCAL_ACLS', 'howto']

#: environ key: {container: (read ACL, write ACL)} of the local container a
#: request routed by policy acts on (the service mode authorizes with them).
LOCAL_ACLS = 'swift_forwarder.local_acls'

#: The twin's counts, shown on the local container's HEAD.
COUNT_HEADERS = ('X-Container-Object-Count', 'X-Container-Bytes-Used')

#: The longest answer body of a twin request read (Swift's are short).
MAX_TWIN_BODY = 65536


def howto(name, index=None):
    """How to give the local cluster the policy ``name``, with the
    one-device placeholder object ring Swift needs to start with it."""
    ring = 'object-%s' % (index if index is not None else 'N')
    return ('give swift.conf a [storage-policy:%s] with name = %s (not the '
            'default)%s, and build its one-device placeholder ring in '
            'swift_dir (nothing is stored in it): swift-ring-builder '
            '%s.builder create 0 1 1; swift-ring-builder %s.builder add '
            'r1z1-127.0.0.1:6200/placeholder 1; swift-ring-builder '
            '%s.builder rebalance; then copy %s.ring.gz to every node' % (
                index if index is not None else 'N', name,
                '' if index is not None else ' (N: an unused index)',
                ring, ring, ring, ring))


def _policy_name(value):
    """The canonical name of the storage policy called (or aliased)
    ``value``, or None."""
    policy = POLICIES.get_by_name(value.strip()) if value else None
    return policy.name if policy else None


def _call(app, env):
    """``app``'s answer to ``env``, read whole: (status, headers, body)."""
    head = []

    def start_response(status, headers, exc_info=None):
        head[:] = [status, list(headers)]
    body = app(env, start_response)
    try:
        data = b''.join(body)
    finally:
        if hasattr(body, 'close'):
            body.close()
    return head[0], head[1], data


def _relay(start_response, status, headers, body):
    start_response(status, headers)
    return [body]


def _status(status):
    return int(status.split(' ', 1)[0])


class PolicyRouter(object):
    """Which requests go where by their container's storage policy.

    :param targets: {name: :class:`TargetForwarder`}.
    :param app: the next app of the pipeline (the local cluster).
    :param logger: the middleware's logger.
    :raises ConfigError: a policy that swift.conf does not have.
    """

    def __init__(self, targets, app, logger):
        self.app = app
        self.logger = logger
        self.by_policy = {}
        for target in targets.values():
            for name in target.storage_policies:
                canonical = _policy_name(name)
                if canonical is None:
                    raise ConfigError(
                        'target %s: storage_policies: no storage policy %s '
                        'in swift.conf: %s' % (target.name, name, howto(name)))
                self.by_policy[canonical] = target

    def route(self, env, path):
        """The :class:`TargetForwarder` (object requests, listings) or
        :class:`PolicyContainer` (the container's own requests) of a
        request, or None: not a container of a forwarded policy."""
        if not path.is_swift_api or path.container is None:
            return None
        method = env['REQUEST_METHOD']
        if path.obj is None and method != 'GET':
            if method == 'PUT':
                target = self.by_policy.get(_policy_name(env.get(
                    'HTTP_X_STORAGE_POLICY')))
                return PolicyContainer(self, target) if target else None
            if method in ('HEAD', 'POST', 'DELETE'):
                return PolicyContainer(self)
            return None
        info = self.container_info(env)
        target = self.target_of(info)
        if target is not None:
            env.setdefault(LOCAL_ACLS, {})[path.container] = (
                info.get('read_acl'), info.get('write_acl'))
        return target

    def container_info(self, env):
        return get_container_info(env, self.app, swift_source='FWD')

    def target_of(self, info):
        """The target of a container (its container info), or None."""
        status = info.get('status') or 0
        if not 200 <= status < 300:
            return None
        policy = POLICIES.get_by_index(info.get('storage_policy'))
        return self.by_policy.get(policy.name) if policy else None


class PolicyContainer(object):
    """One request on a container that is (or may be) of a forwarded
    policy: the local container and its twin on the target.

    :param router: the :class:`PolicyRouter`.
    :param target: the :class:`TargetForwarder` if known (a PUT names
        its policy); else it is found from the local container.
    """

    def __init__(self, router, target=None):
        self.router = router
        self.target = target

    @property
    def name(self):
        """The target's name, for error bodies."""
        return self.target.name if self.target else 'default'

    def forward(self, env, start_response, path):
        method = env['REQUEST_METHOD']
        if method == 'HEAD':
            return self.head(env, start_response, path)
        if self.target is None:
            self.target = self.router.target_of(
                self.router.container_info(env))
        if self.target is None:
            return self.router.app(env, start_response)
        if method == 'DELETE':
            return self.delete(env, start_response, path)
        return self.put_or_post(env, start_response, path)

    def head(self, env, start_response, path):
        """Local, with the twin's object count and bytes used."""
        status, headers, body = _call(self.router.app, env)
        policy = dict((name.lower(), value) for name, value in headers).get(
            'x-storage-policy')
        self.target = self.router.by_policy.get(policy)
        if self.target is None or not 200 <= _status(status) < 300:
            return _relay(start_response, status, headers, body)
        twin = self.twin(env, 'HEAD', path)
        if not 200 <= twin.status < 300:
            raise self.failed('HEAD', twin)
        counts = {name.lower() for name in COUNT_HEADERS}
        headers = [(name, value) for name, value in headers
                   if name.lower() not in counts] + [
            (name, twin.headers.get(name, '0')) for name in COUNT_HEADERS]
        return _relay(start_response, status, headers, body)

    def put_or_post(self, env, start_response, path):
        """Locally first (proxy-server authorizes, and creates or updates
        the container), then the twin: created (a POST re-creates a
        missing one).  A twin that cannot be created undoes a local
        container just created, and the client gets 502."""
        method = env['REQUEST_METHOD']
        status, headers, body = _call(self.router.app, env)
        if not 200 <= _status(status) < 300:
            return _relay(start_response, status, headers, body)
        twin = self.twin(env, method, path)
        if method == 'POST' and twin.status == 404:
            twin = self.twin(env, 'PUT', path)
        if not 200 <= twin.status < 300:
            if method == 'PUT' and _status(status) == 201:
                self.undo_local_put(env, path)
            raise self.failed(method, twin)
        return _relay(start_response, status, headers, body)

    def delete(self, env, start_response, path):
        """Authorized as proxy-server authorizes a container DELETE (the
        owner's), then the twin first: if it is not empty (409) or cannot
        be deleted, nothing is deleted locally."""
        authorize = env.get('swift.authorize')
        refusal = authorize(Request(env)) if authorize else None
        if refusal is not None:
            return refusal(env, start_response)
        twin = self.twin(env, 'DELETE', path)
        if twin.status == 409:
            return _relay(start_response, '409 Conflict', [
                ('Content-Type', 'text/html; charset=UTF-8'),
                ('Content-Length', str(len(twin.body)))], twin.body)
        if not (200 <= twin.status < 300 or twin.status == 404):
            raise self.failed('DELETE', twin)
        return self.router.app(env, start_response)

    def twin(self, env, method, path):
        """``method`` on the twin container, as the service identity."""
        headers = []
        policy = self.target.target_storage_policy
        if method == 'PUT' and policy:
            headers.append(('X-Storage-Policy', policy))
        resp = self.target.service.container_request(
            env, method, path.container, headers, MAX_TWIN_BODY)
        self.router.logger.info('storage policy: %s of the twin of %s/%s on '
                                '%s: %d', method, path.account,
                                path.container, self.target.name, resp.status)
        return resp

    def undo_local_put(self, env, path):
        """Delete the local container just created (pre-authorized)."""
        undo = dict(env, REQUEST_METHOD='DELETE', CONTENT_LENGTH='0')
        undo['wsgi.input'] = io.BytesIO()
        undo['swift.authorize'] = lambda req: None
        undo['swift.authorize_override'] = True
        # (proxy-server set the PUT's X-Timestamp: the DELETE needs its own)
        for key in ('HTTP_X_STORAGE_POLICY', 'HTTP_TRANSFER_ENCODING',
                    'HTTP_X_TIMESTAMP'):
            undo.pop(key, None)
        status, _headers, _body = _call(self.router.app, undo)
        self.router.logger.info('storage policy: the local container %s/%s '
                                'deleted again: %s', path.account,
                                path.container, status)

    def failed(self, method, twin):
        """The client's 502 (logged here: no request record has it)."""
        err = UpstreamError(self.target.name, '%s of the target container '
                            'got %d %s' % (method, twin.status, twin.reason))
        self.router.logger.error('storage policy: %s', err)
        return err

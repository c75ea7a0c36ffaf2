# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.policy: routing by storage policy, against a
scripted target and a fake local cluster."""

import collections
from unittest import mock

from swift_forwarder import policy
from swift_forwarder.exceptions import ConfigError

from test.unit.helpers import ServiceModeTestCase, recording

Policy = collections.namedtuple('Policy', 'idx name')


class FakePolicies(object):
    """Swift's POLICIES: gold (0, default) and silver (1, alias argent)."""

    POLICIES = (Policy(0, 'gold'), Policy(1, 'silver'))

    def get_by_name(self, name):
        name = {'argent': 'silver'}.get(name.lower(), name.lower())
        return next((p for p in self.POLICIES if p.name == name), None)

    def get_by_index(self, index):
        return next((p for p in self.POLICIES if p.idx == int(index)), None)


class LocalCluster(object):
    """The local pipeline: answers per method, records every call."""

    def __init__(self):
        self.calls = []
        self.envs = []
        self.answers = {}

    def __call__(self, env, start_response):
        self.calls.append((env['REQUEST_METHOD'], env['PATH_INFO']))
        self.envs.append(dict(env))
        status, headers = self.answers.get(env['REQUEST_METHOD'],
                                           ('204 No Content', []))
        start_response(status, list(headers) + [('Content-Length', '0')])
        return [b'']

    def unclosed(self):
        return []  # lists: nothing to close


class PolicyTestCase(ServiceModeTestCase):

    def setUp(self):
        super().setUp()
        for name, value in (('POLICIES', FakePolicies()),
                            ('Request', lambda env: mock.Mock(environ=env))):
            patcher = mock.patch.object(policy, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)
        self.patch_swob()
        self.app = LocalCluster()
        self.info = {'status': 204, 'storage_policy': 1,
                     'read_acl': 'local:reader', 'write_acl': 'local:writer'}
        patcher = mock.patch.object(policy, 'get_container_info',
                                    lambda env, app, swift_source: self.info)
        patcher.start()
        self.addCleanup(patcher.stop)

    def policy_mw(self, *responses, **options):
        requests = []
        answers = list(responses)
        handler = recording(lambda sock, request: sock.respond(
            *answers.pop(0)), requests)
        conf = dict(storage_policies='argent', forward='AUTH_local/fwd*',
                    target_storage_policy='remote-silver')
        conf.update(options)
        return self.service_mw(handler, **conf), requests


class TestPolicyRouting(PolicyTestCase):

    def test_unknown_policy_stops_startup(self):
        with self.assertRaises(ConfigError) as caught:
            self.policy_mw(storage_policies='bronze')
        self.assertIn('storage_policies: no storage policy bronze in '
                      'swift.conf', str(caught.exception))

    def test_objects_and_listings_to_the_target_with_local_acls(self):
        """A container of the policy (its container info): object requests
        and listings go to the target, authorized with the local
        container's ACLs (no ACL HEAD on the target)."""
        mw, requests = self.policy_mw((200, b'data'), (200, b'[]'))
        for path in ('/v1/AUTH_local/c/o', '/v1/AUTH_local/c'):
            resp = self.call(mw, self.env('GET', path))
            self.assertEqual(200, resp.status_int)
            resp.read()
        self.assertEqual([('GET', '/v1/AUTH_remote/c/o'),
                          ('GET', '/v1/AUTH_remote/c')],
                         [(r.method, r.path) for r in requests])
        self.assertEqual([('/v1/AUTH_local/c/o', 'local:reader'),
                          ('/v1/AUTH_local/c', 'local:reader')],
                         self.authorized)
        self.assertEqual([], self.app.calls)

    def test_other_policies_and_missing_containers_stay_local(self):
        mw, requests = self.policy_mw()
        for info in ({'status': 204, 'storage_policy': 0},
                     {'status': 404, 'storage_policy': 1}):
            self.info = info
            resp = self.call(mw, self.env('GET'))
            resp.read()
        self.assertEqual([('GET', '/v1/AUTH_local/c/o')] * 2, self.app.calls)
        self.assertEqual([], requests)


class TestPolicyContainer(PolicyTestCase):
    """The container's own requests: on both clusters."""

    def test_put_local_first_then_the_twin(self):
        mw, requests = self.policy_mw((201, b''))
        self.app.answers['PUT'] = ('201 Created', [])
        resp = self.call(mw, self.env('PUT', '/v1/AUTH_local/c', headers={
            'X-Storage-Policy': 'Argent', 'X-Container-Read': '.r:*'}))
        self.assertEqual(201, resp.status_int)
        resp.read()
        self.assertEqual([('PUT', '/v1/AUTH_local/c')], self.app.calls)
        [twin] = requests
        self.assertEqual(('PUT', '/v1/AUTH_remote/c', 'remote-silver'),
                         (twin.method, twin.path,
                          twin.header('X-Storage-Policy')))
        self.assertIsNone(twin.header('X-Container-Read'))  # local only

    def test_put_refused_locally_never_reaches_the_target(self):
        mw, requests = self.policy_mw()
        self.app.answers['PUT'] = ('403 Forbidden', [])
        resp = self.call(mw, self.env('PUT', '/v1/AUTH_local/c', headers={
            'X-Storage-Policy': 'silver'}))
        self.assertEqual(403, resp.status_int)
        resp.read()
        self.assertEqual([], requests)

    def test_twin_refused_undoes_the_local_container(self):
        """502 naming the target, and the local container just made is
        deleted again, pre-authorized, with a timestamp of its own."""
        mw, requests = self.policy_mw((400, b'bad policy'))
        self.app.answers['PUT'] = ('201 Created', [])
        env = self.env('PUT', '/v1/AUTH_local/c', headers={
            'X-Storage-Policy': 'silver', 'X-Timestamp': '1.0'})
        resp = self.call(mw, env)
        self.assertEqual(502, resp.status_int)
        self.assertIn(b'Target default: PUT of the target container got 400',
                      resp.read())
        self.assertEqual([('PUT', '/v1/AUTH_local/c'),
                          ('DELETE', '/v1/AUTH_local/c')], self.app.calls)
        undo = self.app.envs[1]
        self.assertNotIn('HTTP_X_TIMESTAMP', undo)
        self.assertIsNone(undo['swift.authorize'](None))
        self.assertIn('storage policy: default: PUT of the target container '
                      'got 400', ' '.join(self.logger.get_lines('error')))

    def test_head_shows_the_twins_counts(self):
        mw, requests = self.policy_mw((204, b'', [
            ('X-Container-Object-Count', '5'),
            ('X-Container-Bytes-Used', '1024')]))
        self.app.answers['HEAD'] = ('204 No Content', [
            ('X-Storage-Policy', 'silver'), ('X-Container-Meta-A', 'b'),
            ('X-Container-Object-Count', '0'),
            ('X-Container-Bytes-Used', '0')])
        resp = self.call(mw, self.env('HEAD', '/v1/AUTH_local/c'))
        resp.read()
        self.assertEqual(('5', '1024', 'b'), (
            resp.header('X-Container-Object-Count'),
            resp.header('X-Container-Bytes-Used'),
            resp.header('X-Container-Meta-A')))
        self.assertEqual(['HEAD'], [r.method for r in requests])

    def test_head_of_other_containers_untouched(self):
        mw, requests = self.policy_mw()
        self.app.answers['HEAD'] = ('204 No Content', [
            ('X-Storage-Policy', 'gold'), ('X-Container-Object-Count', '3')])
        resp = self.call(mw, self.env('HEAD', '/v1/AUTH_local/c'))
        resp.read()
        self.assertEqual('3', resp.header('X-Container-Object-Count'))
        self.assertEqual([], requests)

    def test_delete_twin_first(self):
        """A non-empty twin: its 409, and nothing deleted locally; an empty
        one (or one already gone): then the local container."""
        mw, requests = self.policy_mw((409, b'<html>Conflict</html>'),
                                      (204, b''), (404, b''))
        resp = self.call(mw, self.env('DELETE', '/v1/AUTH_local/c'))
        self.assertEqual((409, b'<html>Conflict</html>'),
                         (resp.status_int, resp.read()))
        self.assertEqual([], self.app.calls)
        for _twin in (204, 404):
            resp = self.call(mw, self.env('DELETE', '/v1/AUTH_local/c'))
            self.assertEqual(204, resp.status_int)
            resp.read()
        self.assertEqual([('DELETE', '/v1/AUTH_local/c')] * 2, self.app.calls)
        self.assertEqual(['DELETE'] * 3, [r.method for r in requests])

    def test_delete_refused_before_the_target(self):
        mw, requests = self.policy_mw()
        resp = self.call(mw, self.env('DELETE', '/v1/AUTH_local/c',
                                      allow=False))
        self.assertEqual((403, b'Forbidden'), (resp.status_int, resp.read()))
        self.assertEqual(([], []), (requests, self.app.calls))

    def test_post_recreates_a_missing_twin(self):
        mw, requests = self.policy_mw((404, b''), (201, b''))
        resp = self.call(mw, self.env('POST', '/v1/AUTH_local/c', headers={
            'X-Container-Meta-A': 'b'}))
        self.assertEqual(204, resp.status_int)
        resp.read()
        self.assertEqual(['POST', 'PUT'], [r.method for r in requests])
        self.assertEqual('remote-silver',
                         requests[1].header('X-Storage-Policy'))

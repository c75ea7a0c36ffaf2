# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Service mode with Keystone v3 credentials, against a small scripted
identity endpoint: python-swiftclient (with python-keystoneclient) does the
protocol; we check that our os_* options reach it and that the token it
hands out is the one the target sees.

The identity endpoint hands out a real tempauth token of the target (and
the target's storage URL as the object-store endpoint), so the forwarded
request succeeds only if that very token was used.
"""

import http.server
import json
import threading
import uuid

import pytest

from test.functional.util import Client, on_target


class Identity(http.server.BaseHTTPRequestHandler):
    """Keystone v3, just enough: version discovery and password auth."""

    token = storage_url = None
    seen = []

    def log_message(self, *args):
        pass

    def _json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        base = 'http://%s:%d/v3/' % self.server.server_address
        self._json(200, {'version': {
            'id': 'v3.14', 'status': 'stable', 'updated': '2026-01-01T00:00:00Z',
            'links': [{'rel': 'self', 'href': base}],
            'media-types': [{'base': 'application/json',
                             'type': 'application/vnd.openstack.identity-v3+json'}]}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        Identity.seen.append(body)
        auth = body['auth']
        user = auth['identity']['password']['user']
        project = auth['scope']['project']
        if (user['name'], user['password']) != ('fed-user', 'fed-secret'):
            return self._json(401, {'error': {'code': 401}})
        endpoint = {'id': 'e1', 'interface': 'public', 'region': 'RegionOne',
                    'region_id': 'RegionOne', 'url': Identity.storage_url}
        token = {
            'methods': ['password'], 'expires_at': '2099-01-01T00:00:00.000000Z',
            'issued_at': '2026-01-01T00:00:00.000000Z',
            'user': {'id': 'u1', 'name': user['name'],
                     'domain': {'id': 'd1', 'name': user['domain']['name']}},
            'project': {'id': 'p1', 'name': project['name'],
                        'domain': {'id': 'd2', 'name': project['domain']['name']}},
            'roles': [{'id': 'r1', 'name': 'member'}],
            'catalog': [{'type': 'object-store', 'name': 'swift', 'id': 's1',
                         'endpoints': [endpoint]}]}
        self._json(201, {'token': token},
                   headers=[('X-Subject-Token', Identity.token)])


@pytest.fixture(scope='module')
def keystone(clusters):
    """The local forwarder in service mode with Keystone v3 credentials.
    Without python-keystoneclient this fails (``clusters`` checks for it,
    with :func:`saio.missing_requirement`): swiftclient needs it for v3."""
    local, target = clusters
    Identity.storage_url, Identity.token = target.get_auth('test2:tester2', 'testing2')
    server = http.server.HTTPServer(('127.0.0.1', 0), Identity)
    server.timeout = 0.2
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            server.handle_request()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    normal, before = dict(local.filters['forwarder']), local.pipeline_before
    local.pipeline_before = 'copy'
    local.set_filter_conf('forwarder', dict(
        normal, auth_mode='service', auth_version='3',
        auth_url='http://127.0.0.1:%d/v3' % server.server_address[1],
        auth_user='fed-user', auth_key='fed-secret',
        os_project_name='fed-project', os_user_domain_name='users-domain',
        os_project_domain_name='projects-domain', os_region_name='RegionOne',
        account_map='AUTH_test:AUTH_test2', forward='AUTH_test/ks*'))
    yield local, target
    local.pipeline_before = before
    local.set_filter_conf('forwarder', normal)
    stop.set()
    thread.join(5)
    server.server_close()


def test_keystone_v3_service_credentials(keystone):
    """Our options reach Keystone; the token it issued is used upstream."""
    local, target = keystone
    owner = Client(local, 'test:tester', 'testing')
    container = 'ks-%s' % uuid.uuid4().hex[:8]
    Identity.seen[:] = []
    assert owner('PUT', '/' + container)[0] == 201
    assert owner('PUT', '/%s/obj' % container, body=b'keystone')[0] == 201
    try:
        assert on_target(target, 'GET', '/%s/obj' % container)[2] == b'keystone'
        assert len(Identity.seen) == 1  # one token for both requests
        auth = Identity.seen[0]['auth']
        user = auth['identity']['password']['user']
        assert (user['name'], user['domain']['name']) == ('fed-user', 'users-domain')
        assert auth['scope']['project'] == {
            'name': 'fed-project', 'domain': {'name': 'projects-domain'}}
    finally:
        on_target(target, 'DELETE', '/%s/obj' % container)
        on_target(target, 'DELETE', '/' + container)

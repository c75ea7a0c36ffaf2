# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Gateway placement with forward_auth: a client that only knows the local
proxy authenticates through it, against a user that exists only on the
target, and then never leaves the local proxy."""

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid

import pytest
import swiftclient

from swift_forwarder import __version__

from test.functional.rawhttp import port_of, send_raw
from test.functional.util import request

USER, KEY = 'gw:gateway', 'gw-secret'


@pytest.fixture(scope='module')
def gateway(clusters):
    """The local forwarder with forward_auth on; a tempauth user on the
    target only.  Both restored afterwards."""
    local, target = clusters
    normal = dict(local.filters['forwarder'])
    target.tempauth_conf['user_gw_gateway'] = '%s .admin' % KEY
    target.restart_proxy()
    local.set_filter_conf('forwarder', dict(normal, forward_auth='true'))
    yield local, target
    local.set_filter_conf('forwarder', normal)
    del target.tempauth_conf['user_gw_gateway']
    target.restart_proxy()


def test_auth_through_gateway_points_at_gateway(gateway):
    """The storage URL handed out through the gateway is the gateway's; the
    user is unknown to the local cluster's own auth."""
    local, target = gateway
    status, headers, _ = request(local.proxy_url, 'GET', '/auth/v1.0',
                                 {'X-Auth-User': USER, 'X-Auth-Key': KEY})
    assert status == 200
    assert headers['x-storage-url'] == local.proxy_url + '/v1/AUTH_gw'
    assert headers['x-auth-token'].startswith('AUTH_tk')
    assert 'x-forwarder-trans-id' in headers
    # the host as the client used it (here: by name), path kept
    host_named = local.proxy_url.replace('127.0.0.1', 'localhost')
    status, headers, _ = request(host_named, 'GET', '/auth/v1.0',
                                 {'X-Auth-User': USER, 'X-Auth-Key': KEY})
    assert headers['x-storage-url'] == host_named + '/v1/AUTH_gw'
    # the old-style /v1.0 path is forwarded too: the target's answer
    via = request(local.proxy_url, 'GET', '/v1.0', {
        'X-Storage-User': USER, 'X-Storage-Pass': KEY})
    direct = request(target.proxy_url, 'GET', '/v1.0', {
        'X-Storage-User': USER, 'X-Storage-Pass': KEY})
    assert via[0] == direct[0]
    assert 'x-forwarder-trans-id' in via[1]
    # wrong key: the target's 401
    assert request(local.proxy_url, 'GET', '/auth/v1.0', {
        'X-Auth-User': USER, 'X-Auth-Key': 'nope'})[0] == 401


def test_info_is_the_targets(gateway):
    """/info comes from the target, with the forwarder's own section added
    (the target's sections unchanged), so /info always shows it."""
    local, target = gateway
    status, headers, body = request(local.proxy_url, 'GET', '/info')
    assert status == 200
    assert 'x-forwarder-trans-id' in headers
    assert int(headers['content-length']) == len(body)
    info = json.loads(body)
    forwarder = info.pop('forwarder')
    direct = json.loads(request(target.proxy_url, 'GET', '/info')[2])
    assert 'forwarder' not in direct
    assert info == direct
    assert (forwarder['version'], forwarder['targets'],
            forwarder['forward_auth'], forwarder['auth_mode']) == (
        __version__, ['default'], True, 'passthrough')
    # nothing secret, no address: those are in the admin section only
    assert target.proxy_url.split('//')[1] not in json.dumps(forwarder)


def test_swiftclient_session_through_gateway(gateway):
    """PUT/GET/list/ACL/tempurl/DELETE with python-swiftclient, which only
    ever talks to the local proxy."""
    local, target = gateway
    conn = swiftclient.Connection(authurl=local.auth_url, user=USER, key=KEY,
                                  retries=0)
    storage_url, token = conn.get_auth()
    assert storage_url.startswith(local.proxy_url + '/')
    container = 'gw-%s' % uuid.uuid4().hex[:8]
    conn.put_container(container)
    data = b'through the gateway\n' * 100
    etag = conn.put_object(container, 'obj', data)
    assert etag == hashlib.md5(data).hexdigest()
    assert [o['name'] for o in conn.get_container(container)[1]] == ['obj']
    assert conn.get_object(container, 'obj')[1] == data

    # ACL change, then an anonymous read through the gateway
    conn.post_container(container, {'X-Container-Read': '.r:*'})
    path = urllib.parse.urlsplit(storage_url).path + '/%s/obj' % container
    assert request(local.proxy_url, 'GET', path)[2] == data

    # tempurl through the gateway
    conn.post_container(container, {'X-Container-Read': ''})
    conn.post_account({'X-Account-Meta-Temp-URL-Key': 'gw-tempurl-key'})
    expires = int(time.time() + 60)
    sig = hmac.new(b'gw-tempurl-key', ('GET\n%d\n%s' % (expires, path))
                   .encode(), hashlib.sha256).hexdigest()
    query = '?temp_url_sig=%s&temp_url_expires=%d' % (sig, expires)
    assert request(local.proxy_url, 'GET', path)[0] == 401
    status, _h, body = request(local.proxy_url, 'GET', path + query)
    assert (status, body) == (200, data)

    # formpost through the gateway: the signature is checked by the target
    expires = int(time.time() + 60)
    form_path = urllib.parse.urlsplit(storage_url).path + '/%s/' % container
    sig = hmac.new(b'gw-tempurl-key', ('%s\n\n%d\n%d\n%d' % (
        form_path, 1024, 1, expires)).encode(), hashlib.sha256).hexdigest()
    fields = [('redirect', ''), ('max_file_size', '1024'),
              ('max_file_count', '1'), ('expires', str(expires)),
              ('signature', sig)]
    boundary = 'gwformboundary'
    form = b''.join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value.encode())
        for name, value in fields)
    form += (b'--%s\r\nContent-Disposition: form-data; name="file1"; '
             b'filename="posted.txt"\r\nContent-Type: text/plain\r\n\r\n'
             b'posted through the gateway\r\n--%s--\r\n'
             % (boundary.encode(), boundary.encode()))
    status, _h, body = request(local.proxy_url, 'POST', form_path, {
        'Content-Type': 'multipart/form-data; boundary=%s' % boundary}, form)
    assert status == 201, body
    assert conn.get_object(container, 'posted.txt')[1] == \
        b'posted through the gateway'
    conn.delete_object(container, 'posted.txt')

    # the object is on the target, under the target's account
    target_conn = swiftclient.Connection(authurl=target.auth_url, user=USER,
                                         key=KEY, retries=0)
    assert target_conn.head_object(container, 'obj')['etag'] == etag
    conn.delete_object(container, 'obj')
    conn.delete_container(container)
    assert target_conn.get_account()[1] == []


#: Request targets Swift's own functional suite sends that name no account,
#: no container or no valid UTF-8 (test_protocol.py, tests.py).
MALFORMED = [b'/v1', b'/v1/', b'/v1//c/o', b'/v1///o', b'/v1/AUTH_gw//o',
             b'/v1/%FF', b'/v1/AUTH_gw/%FF/o', b'/info asdf', b'/infox',
             b'//v1/AUTH_gw', b'/', b'/nothing']


@pytest.mark.parametrize('target_path', MALFORMED,
                         ids=[p.decode() for p in MALFORMED])
def test_malformed_paths_answered_by_the_target(gateway, target_path):
    """Through the gateway, however malformed the path, the client gets
    what the target alone answers with the target's token (the local auth
    would answer 401 to it): the same status and the same body."""
    local, target = gateway
    _url, token = target.get_auth(USER, KEY)
    request_bytes = (b'GET %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n'
                     b'Connection: close\r\n\r\n' % (target_path, token.encode()))
    via = send_raw(port_of(local), request_bytes, 'GET')
    direct = send_raw(port_of(target), request_bytes, 'GET')
    assert (via[0], via[1]) == (direct[0], direct[1])
    assert via[0] != 401

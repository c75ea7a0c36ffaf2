# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Core placement: the forwarder right before proxy-server, below Swift's
own copy, slo, dlo, versioned_writes and symlink, talking to the target's
backend endpoint (a second proxy-server of the target cluster with the
internal pipeline and ``forwarder_backend``).

Every composite case runs both ways: its *home* container (the manifest's,
the symlink's, the copy's source) on one cluster and the *away* container
(the segments, the link's target, the copy's destination) on the other.
Results are checked where the data lands: directly on the target cluster
for a forwarded container, on the local one otherwise.  A client refused
gets what Swift gives for the same layout with both containers local.
"""

import hashlib
import json
import os
import time
import urllib.parse
import uuid

import pytest

from swift_forwarder import backend
from test.functional.util import Client, on_target, request

#: The local account AUTH_test maps onto AUTH_test2 on the target (the
#: forwarder's service identity there is test2:tester2); containers
#: AUTH_test/fed* are forwarded.
KEY = 'core-backend-key'
CORE = {'auth_mode': 'service', 'auth_user': 'test2:tester2',
        'auth_key': 'testing2', 'account_map': 'AUTH_test:AUTH_test2',
        'forward': 'AUTH_test/fed*', 'backend_endpoint': 'true',
        'backend_key': KEY}

#: (home on the local cluster?, away on the local cluster?)
DIRECTIONS = {'local->forwarded': (True, False),
              'forwarded->local': (False, True)}

SEGMENT = 300000  # bytes; Swift's SLO takes segments of any size but 0


def md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope='module')
def core(clusters):
    """The local forwarder in core placement, sent to the target's backend
    endpoint."""
    local, target = clusters
    normal, before = dict(local.filters['forwarder']), local.pipeline_before
    target.start_backend({'key': KEY})
    local.pipeline_before = 'proxy-server'
    local.set_filter_conf('forwarder', dict(
        normal, target_url=target.backend_url, auth_url=target.auth_url,
        **CORE))
    yield local, target
    local.pipeline_before = before
    local.set_filter_conf('forwarder', normal)
    target.stop_backend()


class Layout(object):
    """Containers made for one test: ``container(on_local)`` gives a new
    one on the local cluster or a forwarded one, made by the owner through
    the local proxy; everything is deleted afterwards."""

    def __init__(self, local, target):
        self.local, self.target = local, target
        self.owner = Client(local, 'test:tester', 'testing')
        self.reader = Client(local, 'test:tester3', 'testing3')
        self.made = []

    def container(self, on_local, headers=None):
        name = '%s-%s' % ('loc' if on_local else 'fed', uuid.uuid4().hex[:8])
        status, _h, body = self.owner('PUT', '/' + name, headers)
        assert status == 201, body
        self.made.append(name)
        return name

    def put(self, container, obj, data, query='', headers=None):
        status, headers, body = self.owner(
            'PUT', '/%s/%s%s' % (container, obj, query), headers, data)
        assert status == 201, (status, body)
        return headers

    def stored(self, method, container, subpath='', headers=None):
        """Straight on the cluster ``container`` lives on."""
        path = '/%s%s' % (container, subpath)
        if container.startswith('fed-'):
            return on_target(self.target, method, path, headers)
        return self.owner(method, path, headers)

    def cleanup(self):
        """Through the local proxy, which reaches both clusters (and the
        versions of a versioned container)."""
        for name in reversed(self.made):
            for _round in range(5):
                status, _h, body = self.owner('GET', '/%s?format=json&versions'
                                              % name)
                if status != 200:  # not versioned
                    status, _h, body = self.owner('GET', '/%s?format=json'
                                                  % name)
                entries = json.loads(body) if status == 200 else []
                if not entries:
                    break
                for entry in entries:
                    version = entry.get('version_id', 'null')
                    self.owner('DELETE', '/%s/%s%s' % (
                        name, urllib.parse.quote(entry['name']),
                        '' if version == 'null' else '?version-id=' + version))
            self.owner('DELETE', '/' + name)


@pytest.fixture
def layout(core):
    made = Layout(*core)
    yield made
    made.cleanup()


def _segments(layout, containers):
    """One random segment in each of ``containers``: (manifest, data)."""
    manifest, data = [], b''
    for i, container in enumerate(containers):
        chunk = os.urandom(SEGMENT)
        layout.put(container, 'seg-%d' % i, chunk)
        manifest.append({'path': '/%s/seg-%d' % (container, i)})
        data += chunk
    return json.dumps(manifest).encode('ascii'), data


# -- SLO ---------------------------------------------------------------------

@pytest.mark.parametrize('spread', ['away', 'both'])
@pytest.mark.parametrize('direction', sorted(DIRECTIONS))
def test_slo(layout, direction, spread):
    """An SLO whose segments are all on the other cluster, or on both:
    whole GET, a Range across a segment boundary, HEAD,
    ?multipart-manifest=get, then ?multipart-manifest=delete deletes the
    segments on both clusters."""
    home_local, away_local = DIRECTIONS[direction]
    home, away = layout.container(home_local), layout.container(away_local)
    places = [away] * 3 if spread == 'away' else [away, home, away]
    manifest, data = _segments(layout, places)
    layout.put(home, 'slo', manifest, '?multipart-manifest=put')
    owner = layout.owner
    status, headers, body = owner('GET', '/%s/slo' % home)
    assert (status, len(body), md5(body)) == (200, len(data), md5(data))
    status, _h, body = owner('GET', '/%s/slo' % home, {
        'Range': 'bytes=%d-%d' % (SEGMENT - 10, SEGMENT + 9)})
    assert (status, body) == (206, data[SEGMENT - 10:SEGMENT + 10])
    status, head, _b = owner('HEAD', '/%s/slo' % home)
    assert status == 200 and head['x-static-large-object'] == 'True'
    assert int(head['content-length']) == len(data)
    assert head['etag'] == headers['etag']
    status, _h, body = owner('GET', '/%s/slo?multipart-manifest=get' % home)
    assert status == 200
    assert [seg['name'] for seg in json.loads(body)] == [
        '/%s/seg-%d' % (c, i) for i, c in enumerate(places)]
    # the manifest is stored on its own cluster
    assert layout.stored('HEAD', home, '/slo?multipart-manifest=get')[1][
        'x-static-large-object'] == 'True'
    status, _h, body = owner('DELETE', '/%s/slo?multipart-manifest=delete'
                             % home, {'Accept': 'application/json'})
    assert status == 200 and json.loads(body)['Number Deleted'] == 4, body
    for i, container in enumerate(places):
        assert layout.stored('HEAD', container, '/seg-%d' % i)[0] == 404
    assert layout.stored('HEAD', home, '/slo')[0] == 404


# -- DLO ---------------------------------------------------------------------

@pytest.mark.parametrize('direction', sorted(DIRECTIONS))
def test_dlo(layout, direction):
    """A DLO whose segments are on the other cluster: its listing comes
    back as the JSON dlo asks for (the backend endpoint has no
    listing_formats), whole GET, Range across a boundary, HEAD."""
    home_local, away_local = DIRECTIONS[direction]
    home, away = layout.container(home_local), layout.container(away_local)
    data = b''
    for i in range(3):
        chunk = os.urandom(SEGMENT)
        layout.put(away, 'parts/%d' % i, chunk)
        data += chunk
    layout.put(home, 'dlo', b'', headers={
        'X-Object-Manifest': '%s/parts/' % away})
    owner = layout.owner
    status, _h, body = owner('GET', '/%s/dlo' % home)
    assert (status, md5(body)) == (200, md5(data))
    status, _h, body = owner('GET', '/%s/dlo' % home, {
        'Range': 'bytes=%d-%d' % (SEGMENT - 10, SEGMENT + 9)})
    assert (status, body) == (206, data[SEGMENT - 10:SEGMENT + 10])
    status, head, _b = owner('HEAD', '/%s/dlo' % home)
    assert (status, int(head['content-length'])) == (200, len(data))
    assert layout.stored('HEAD', home, '/dlo?multipart-manifest=get')[1][
        'x-object-manifest'] == '%s/parts/' % away


# -- copies ------------------------------------------------------------------

def _copy(layout, kind, home, away):
    """Copy home/src to away/dst the ``kind`` way."""
    if kind == 'COPY':
        return layout.owner('COPY', '/%s/src' % home, {
            'Destination': '%s/dst' % away})
    query = '?multipart-manifest=get' if kind == 'manifest' else ''
    return layout.owner('PUT', '/%s/dst%s' % (away, query), {
        'X-Copy-From': '%s/src' % home, 'Content-Length': '0'})


@pytest.mark.parametrize('kind', ['COPY', 'X-Copy-From', 'manifest'])
@pytest.mark.parametrize('direction', sorted(DIRECTIONS))
def test_copy(layout, direction, kind):
    """COPY and X-Copy-From from one cluster to the other, checked by MD5
    on the cluster the copy lands on; ``?multipart-manifest=get`` copies an
    SLO manifest itself (its segments stay where they are: the copy is a
    cross-cluster SLO)."""
    home_local, away_local = DIRECTIONS[direction]
    home, away = layout.container(home_local), layout.container(away_local)
    if kind == 'manifest':
        manifest, data = _segments(layout, [home, home])
        layout.put(home, 'src', manifest, '?multipart-manifest=put')
    else:
        data = os.urandom(3 * SEGMENT)
        layout.put(home, 'src', data)
    status, _h, body = _copy(layout, kind, home, away)
    assert status == 201, body
    if kind == 'manifest':
        raw = '/dst?multipart-manifest=get&format=raw'
        _s, _h, stored = layout.stored('GET', away, raw)
        _s, _h, source = layout.stored('GET', home, raw.replace('dst', 'src'))
        assert md5(stored) == md5(source)
        status, _h, body = layout.owner('GET', '/%s/dst' % away)
    else:
        status, _h, body = layout.stored('GET', away, '/dst')
    assert (status, md5(body)) == (200, md5(data))


# -- symlinks ----------------------------------------------------------------

@pytest.mark.parametrize('direction', sorted(DIRECTIONS))
def test_symlink(layout, direction):
    """A symlink on one cluster to an object on the other: GET and HEAD
    follow it, ``?symlink=get`` gives the link itself, stored on its own
    cluster."""
    home_local, away_local = DIRECTIONS[direction]
    home, away = layout.container(home_local), layout.container(away_local)
    data = os.urandom(SEGMENT)
    layout.put(away, 'target', data)
    layout.put(home, 'link', b'', headers={
        'X-Symlink-Target': '%s/target' % away})
    status, _h, body = layout.owner('GET', '/%s/link' % home)
    assert (status, md5(body)) == (200, md5(data))
    status, head, _b = layout.owner('HEAD', '/%s/link' % home)
    assert (status, int(head['content-length'])) == (200, len(data))
    for status, head, body in (
            layout.owner('GET', '/%s/link?symlink=get' % home),
            layout.stored('GET', home, '/link?symlink=get')):
        assert (status, body) == (200, b'')
        assert head['x-symlink-target'] == '%s/target' % away


# -- object versioning -------------------------------------------------------

def test_versioning_on_forwarded_container(layout):
    """X-Versions-Enabled on a forwarded container: its versions live on the
    target (the reserved-name versions container goes where its container
    goes); ?versions lists them, ?version-id reads and deletes one."""
    name = layout.container(False, {'X-Versions-Enabled': 'true'})
    owner = layout.owner
    for data in (b'version one', b'version two'):
        layout.put(name, 'obj', data)
    status, _h, body = owner('GET', '/%s?versions&format=json' % name)
    versions = json.loads(body)
    assert status == 200 and len(versions) == 2
    assert [v['is_latest'] for v in versions] == [True, False]
    older = versions[1]['version_id']
    assert owner('GET', '/%s/obj' % name)[2] == b'version two'
    status, _h, body = owner('GET', '/%s/obj?version-id=%s' % (name, older))
    assert (status, body) == (200, b'version one')
    # on the target itself: versioning on, both versions there
    status, head, _b = on_target(layout.target, 'HEAD', '/' + name)
    assert head['x-versions-enabled'] == 'True'
    status, _h, body = on_target(layout.target, 'GET',
                                 '/%s?versions&format=json' % name)
    assert [v['version_id'] for v in json.loads(body)] == [
        v['version_id'] for v in versions]
    status, _h, _b = owner('DELETE', '/%s/obj?version-id=%s' % (name, older))
    assert status == 204
    status, _h, body = owner('GET', '/%s?versions&format=json' % name)
    assert [v['version_id'] for v in json.loads(body)] == [
        versions[0]['version_id']]
    assert owner('GET', '/%s/obj?version-id=%s' % (name, older))[0] == 404


# -- refusals ----------------------------------------------------------------

def _refusal_case(layout, case, home_local, away_local):
    """Set up ``case`` with the reader allowed into home only; return what
    the reader gets."""
    read = {'X-Container-Read': 'test:tester3',
            'X-Container-Write': 'test:tester3'}
    home = layout.container(home_local, read)
    away = layout.container(away_local)
    layout.put(away, 'obj', b'secret data')
    reader = layout.reader
    if case == 'slo':
        layout.put(home, 'slo', json.dumps([{'path': '/%s/obj' % away}]),
                   '?multipart-manifest=put')
        return reader('GET', '/%s/slo' % home)[0]
    if case == 'dlo':
        layout.put(home, 'dlo', b'', headers={
            'X-Object-Manifest': '%s/ob' % away})
        return reader('GET', '/%s/dlo' % home)[0]
    if case == 'symlink':
        layout.put(home, 'link', b'', headers={
            'X-Symlink-Target': '%s/obj' % away})
        return reader('GET', '/%s/link' % home)[0]
    if case == 'copy':
        return reader('PUT', '/%s/copied' % home, {
            'X-Copy-From': '%s/obj' % away, 'Content-Length': '0'})[0]
    assert case == 'versions'
    layout.owner('POST', '/' + away, {'X-Versions-Enabled': 'true'})
    return reader('GET', '/%s?versions' % away)[0]


@pytest.mark.parametrize('case', ['slo', 'dlo', 'symlink', 'copy',
                                  'versions'])
@pytest.mark.parametrize('direction', sorted(DIRECTIONS))
def test_reader_refused_as_by_swift(layout, direction, case):
    """A client who may read (and write) the home container but not the
    away one gets, across clusters, what Swift gives it with both
    containers local: 409 for an SLO segment, 403 for the others."""
    swift_says = _refusal_case(layout, case, True, True)
    assert swift_says in (403, 409), swift_says
    assert _refusal_case(layout, case, *DIRECTIONS[direction]) == swift_says


# -- forwarder_backend on the target -----------------------------------------

def _on_backend(target, method, subpath, headers=None, body=None):
    """Straight to the backend endpoint, in AUTH_test2, as the forwarder's
    service identity."""
    _url, token = target.get_auth('test2:tester2', 'testing2')
    merged = {'X-Auth-Token': token}
    merged.update(headers or {})
    return request(target.backend_url, method, '/v1/AUTH_test2' + subpath,
                   merged, body)


def _state(method, subpath, key=KEY, now=None):
    return dict(backend.signed_headers(
        key, method, ('/v1/AUTH_test2' + subpath).encode('latin-1'),
        ['content_type_overridden'], now))


def test_backend_restores_signed_state_only(layout):
    """A Content-Type with swift_bytes (what slo and versioning store) is
    refused by proxy-server unless the environ says a middleware set it:
    forwarder_backend says so for a request signed with its key, and
    answers 401, storing nothing, to one signed badly, with another key,
    too long ago, or not at all."""
    name = layout.container(False)
    subpath = '/%s/obj' % name
    put = {'Content-Type': 'text/plain;swift_bytes=3'}
    status, _h, body = _on_backend(layout.target, 'PUT', subpath, put, b'abc')
    assert status == 400 and b'swift_* is not a valid parameter' in body
    refused = [
        dict(put, **{backend.STATE_HEADER: 'content_type_overridden'}),
        dict(put, **_state('PUT', subpath, key='another key')),
        dict(put, **_state('PUT', subpath, now=time.time() - 3600)),
        dict(put, **_state('POST', subpath)),  # signed for another method
        dict(put, **_state('PUT', subpath + 'x')),  # ...another path
    ]
    for headers in refused:
        status, _h, body = _on_backend(layout.target, 'PUT', subpath,
                                       headers, b'abc')
        assert status == 401 and body.startswith(b'forwarder_backend: '), \
            (headers, body)
        assert on_target(layout.target, 'HEAD', subpath)[0] == 404
    status, _h, body = _on_backend(layout.target, 'PUT', subpath,
                                   dict(put, **_state('PUT', subpath)), b'abc')
    assert status == 201, body
    status, head, body = on_target(layout.target, 'GET', subpath)
    assert (status, body) == (200, b'abc')
    assert head['content-type'] == 'text/plain'  # swift_bytes is Swift's


def test_client_cannot_send_backend_state(layout):
    """A client's own X-Forwarder-Backend-* headers never reach the
    target (the forwarder signs its own); its sysmeta and X-Backend-*
    headers are removed by the local gatekeeper before the forwarder."""
    name = layout.container(False)
    status, _h, body = layout.owner('PUT', '/%s/obj' % name, dict(
        _state('PUT', '/%s/obj' % name), **{
            'Content-Type': 'text/plain;swift_bytes=3',
            'X-Object-Sysmeta-Injected': 'yes'}), b'abc')
    assert status == 400 and b'swift_* is not a valid parameter' in body
    layout.put(name, 'plain', b'abc', headers={
        'X-Object-Sysmeta-Injected': 'yes',
        'X-Backend-Allow-Reserved-Names': 'true'})
    _s, head, _b = _on_backend(layout.target, 'HEAD', '/%s/plain' % name)
    assert 'x-object-sysmeta-injected' not in head


def test_owner_headers_for_owners_only(layout):
    """The target answers the forwarder's identity, an owner; a reader
    let in by the ACL sees what Swift shows a non-owner: no ACLs, no
    tempurl key."""
    name = layout.container(False, {
        'X-Container-Read': 'test:tester3',
        'X-Container-Meta-Temp-Url-Key': 'tempurl-secret',
        'X-Container-Meta-Color': 'blue'})
    _s, head, _b = layout.reader('HEAD', '/' + name)
    assert head['x-container-meta-color'] == 'blue'
    assert 'x-container-read' not in head
    assert 'x-container-meta-temp-url-key' not in head
    _s, head, _b = layout.owner('HEAD', '/' + name)
    assert head['x-container-read'] == 'test:tester3'
    assert head['x-container-meta-temp-url-key'] == 'tempurl-secret'

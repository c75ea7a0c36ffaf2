# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for swift_forwarder.stored: the headers that recreate an object
or a container as stored, from a source's answer to a backend GET or
HEAD."""

import unittest

from swift_forwarder import stored

#: A backend GET of a plain object, as a source's proxy-server answers it:
#: what recreates it, and what must not go into the local PUT.
OBJECT = [
    ('Content-Type', 'image/png'), ('Content-Encoding', 'gzip'),
    ('Content-Disposition', 'inline'), ('X-Delete-At', '1900000000'),
    ('Etag', 'd41d8cd98f00b204e9800998ecf8427e'),
    ('X-Timestamp', '1700000000.12345'),
    ('X-Object-Meta-Color', 'red'), ('X-Object-Sysmeta-Test', 'sys'),
    ('X-Object-Transient-Sysmeta-Crypto-Meta', 'tr'),
    # not kept
    ('Content-Length', '0'), ('Last-Modified', 'Tue, 14 Nov 2023 GMT'),
    ('X-Trans-Id', 'tx1'), ('X-Openstack-Request-Id', 'tx1'),
    ('X-Backend-Timestamp', '1700000000.12345'),
    ('X-Backend-Data-Timestamp', '1700000000.12345'),
    ('X-Backend-Storage-Policy-Index', '1'),
    ('X-Container-Sysmeta-Versions-Enabled', 'true'),
    ('X-Container-Meta-Color', 'blue'), ('Accept-Ranges', 'bytes'),
    ('Date', 'Tue, 14 Nov 2023 GMT'), ('X-Object-Manifest-Not', 'x'),
    ('X-Object-Metax', 'no')]

KEPT = [
    ('content-disposition', 'inline'), ('content-encoding', 'gzip'),
    ('content-type', 'image/png'),
    ('etag', 'd41d8cd98f00b204e9800998ecf8427e'),
    ('x-delete-at', '1900000000'), ('x-object-meta-color', 'red'),
    ('x-object-sysmeta-test', 'sys'),
    ('x-object-transient-sysmeta-crypto-meta', 'tr'),
    ('x-timestamp', '1700000000.12345')]

SLO = [('Content-Type', 'text/plain'), ('X-Static-Large-Object', 'True'),
       ('X-Object-Sysmeta-Slo-Size', '12345'),
       ('X-Object-Sysmeta-Slo-Etag', 'abc'), ('Etag', 'manifest-md5')]


class TestObjectPutHeaders(unittest.TestCase):

    def test_keeps_exactly_what_recreates_the_object(self):
        """The listed headers and prefixes, lower-cased, sorted; nothing
        else (X-Backend-*, Last-Modified, Content-Length, X-Trans-Id,
        container metadata and sysmeta); no override for a plain
        object."""
        self.assertEqual((KEPT, False), stored.object_put_headers(OBJECT))

    def test_dict_or_pairs_any_case(self):
        for headers in (dict(OBJECT), [(name.upper(), value)
                                       for name, value in OBJECT],
                        [(name.lower(), value) for name, value in OBJECT]):
            with self.subTest(headers=type(headers).__name__):
                self.assertEqual((KEPT, False),
                                 stored.object_put_headers(headers))

    def test_manifests_and_symlinks_as_stored(self):
        """A DLO's X-Object-Manifest and a symlink's sysmeta go along."""
        headers, overridden = stored.object_put_headers([
            ('X-Object-Manifest', 'segs/o-'),
            ('X-Object-Sysmeta-Symlink-Target', 'c/t'),
            ('X-Object-Sysmeta-Symlink-Target-Etag', 'e')])
        self.assertEqual([
            ('x-object-manifest', 'segs/o-'),
            ('x-object-sysmeta-symlink-target', 'c/t'),
            ('x-object-sysmeta-symlink-target-etag', 'e')], headers)
        self.assertFalse(overridden)

    def test_slo_content_type_gets_its_size(self):
        """An SLO manifest's Content-Type as stored: with ``swift_bytes``
        of its total size (proxy-server takes it off in answers), which
        needs swift.content_type_overridden."""
        headers, overridden = stored.object_put_headers(SLO)
        self.assertEqual([
            ('content-type', 'text/plain;swift_bytes=12345'),
            ('etag', 'manifest-md5'), ('x-object-sysmeta-slo-etag', 'abc'),
            ('x-object-sysmeta-slo-size', '12345'),
            ('x-static-large-object', 'True')], headers)
        self.assertTrue(overridden)

    def test_slo_size_added_once(self):
        """Headers made already (the answer given back): swift_bytes is
        not added again, and the override is still needed."""
        first, _overridden = stored.object_put_headers(SLO)
        again, overridden = stored.object_put_headers(first)
        self.assertEqual(first, again)
        self.assertEqual('text/plain;swift_bytes=12345',
                         dict(again)['content-type'])
        self.assertTrue(overridden)

    def test_slo_without_its_size_sysmeta(self):
        """No ``slo-size`` sysmeta (a manifest of an old Swift): the
        Content-Type as it came."""
        headers, overridden = stored.object_put_headers(
            [pair for pair in SLO if pair[0] != 'X-Object-Sysmeta-Slo-Size'])
        self.assertEqual('text/plain', dict(headers)['content-type'])
        self.assertFalse(overridden)

    def test_not_an_slo(self):
        """``X-Static-Large-Object`` false, or the size sysmeta alone:
        nothing added."""
        for flag in ([('X-Static-Large-Object', '')], []):
            with self.subTest(flag=flag):
                headers, overridden = stored.object_put_headers(
                    [('Content-Type', 'text/plain'),
                     ('X-Object-Sysmeta-Slo-Size', '5')] + flag)
                self.assertEqual('text/plain', dict(headers)['content-type'])
                self.assertFalse(overridden)


class TestContainerPutHeaders(unittest.TestCase):

    def test_settings_kept_sync_dropped(self):
        """Metadata, sysmeta, ACLs and the legacy versioning locations are
        kept; container sync settings (a copy would start syncing from
        here), counts, timestamps, the policy and the backend's own
        headers are not."""
        headers = stored.container_put_headers({
            'X-Container-Meta-Color': 'red',
            'X-Container-Sysmeta-Versions-Enabled': 'True',
            'X-Container-Read': '.r:*', 'X-Container-Write': 'a:b',
            'X-Versions-Location': 'old', 'X-History-Location': 'hist',
            'X-Container-Sync-To': '//realm/cluster/AUTH_a/c',
            'X-Container-Sync-Key': 'secret',
            'X-Container-Object-Count': '3',
            'X-Container-Bytes-Used': '30', 'X-Timestamp': '1.00000',
            'X-Put-Timestamp': '1.00000', 'X-Storage-Policy': 'gold',
            'X-Backend-Storage-Policy-Index': '0',
            'X-Object-Meta-Color': 'no', 'Content-Type': 'text/plain',
            'X-Trans-Id': 'tx'})
        self.assertEqual([
            ('x-container-meta-color', 'red'),
            ('x-container-read', '.r:*'),
            ('x-container-sysmeta-versions-enabled', 'True'),
            ('x-container-write', 'a:b'), ('x-history-location', 'hist'),
            ('x-versions-location', 'old')], headers)

    def test_pairs_any_case(self):
        self.assertEqual([('x-container-meta-a', '1')],
                         stored.container_put_headers([
                             ('X-CONTAINER-META-A', '1'),
                             ('x-container-sync-to', 'x')]))


class TestForwarderSysmeta(unittest.TestCase):

    def test_forwarders_own_sysmeta_never_copied(self):
        """A source that was itself migrated into: its marker and the
        migrator's progress stay there."""
        headers = {'X-Container-Meta-A': '1', 'X-Container-Read': '.r:*',
                   'X-Container-Sysmeta-Versions-Enabled': 'True',
                   'X-Container-Sysmeta-Forwarder-Migrator-State': '{}',
                   'X-Container-Sysmeta-Forwarder-Migrated-From': 'src',
                   'X-Container-Object-Count': '3'}
        self.assertEqual(dict(stored.container_put_headers(headers.items())), {
            'x-container-meta-a': '1', 'x-container-read': '.r:*',
            'x-container-sysmeta-versions-enabled': 'True'})


class TestIsPlainObject(unittest.TestCase):

    def test_plain(self):
        for headers in ({}, dict(OBJECT), [('X-Static-Large-Object', '')],
                        {'x-object-sysmeta-slo-size': '5'}):
            with self.subTest(headers=headers):
                self.assertTrue(stored.is_plain_object(headers))

    def test_manifests_and_symlinks(self):
        for headers in ({'X-Static-Large-Object': 'True'},
                        [('x-static-large-object', 'true')],
                        {'X-Object-Manifest': 'segs/o-'},
                        {'X-Object-Sysmeta-Symlink-Target': 'c/t'}):
            with self.subTest(headers=headers):
                self.assertFalse(stored.is_plain_object(headers))


if __name__ == '__main__':
    unittest.main()

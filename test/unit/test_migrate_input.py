# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Tests for the ``wsgi.input`` that migration mode's local PUTs read (a
source body's chunks, up to 16 x client_chunk_size each since responses
are read as they arrive), as proxy-server reads it: client_chunk_size at a
time."""

import hashlib
import os
import tracemalloc
import unittest

from swift_forwarder import migrate

MIB = 1 << 20


class TestIterInput(unittest.TestCase):

    def test_sizes_across_chunks(self):
        """Each read gives at most ``size`` bytes of the current chunk;
        empty chunks are skipped; ``read()`` the rest of a chunk; then
        ``b''``."""
        source = migrate._IterInput([b'abcdef', b'', b'gh', b'ijkl'])
        self.assertEqual([b'abcd', b'ef', b'gh', b'ij', b'kl', b''],
                         [source.read(4), source.read(4), source.read(),
                          source.read(2), source.read(-1), source.read(4)])
        self.assertEqual(b'', source.read())

    def test_reads_copy_only_what_they_return(self):
        """A 4 MiB chunk read 64 KiB at a time: no read copies the part
        not read yet (which made a chunk of n bytes cost about n * n / 128
        KiB of copying), so what is alive at once stays near one read."""
        chunk = os.urandom(4 * MIB)
        source = migrate._IterInput([chunk])
        digest, total = hashlib.md5(), 0
        tracemalloc.start()
        try:
            while True:
                data = source.read(65536)
                if not data:
                    break
                self.assertLessEqual(len(data), 65536)
                digest.update(data)
                total += len(data)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertEqual((len(chunk), hashlib.md5(chunk).hexdigest()),
                         (total, digest.hexdigest()))
        self.assertLess(peak, MIB)


if __name__ == '__main__':
    unittest.main()

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A TLS-terminating TCP relay in front of a loopback port, in a process of
its own::

    python -m test.functional.tlsrelay CERT_FILE KEY_FILE UPSTREAM_PORT \
        [--client-ca CA_FILE] [--log LOG_FILE]

It listens on a free port of 127.0.0.1 (printed on a line), does the TLS
handshake with ``CERT_FILE``/``KEY_FILE`` on each connection, and relays
the plain bytes to ``127.0.0.1:UPSTREAM_PORT`` and back: a real https
endpoint in front of a dev cluster's proxy.  Stop it with SIGTERM.

``--client-ca``: a client certificate signed by ``CA_FILE`` is required
(the handshake fails without one).  ``--log``: one line per handshake,
written before any byte is relayed::

    ok <client port> <TLS version> <SHA-256 of the client certificate, or ->
    failed <client port> <reason>

A process, not a thread of the tests: in a process that has imported Swift,
waits on ``threading`` objects go through eventlet, and a thread there
hangs on its own locks.  Stdlib only: no eventlet here.
"""

import argparse
import hashlib
import select
import socket
import ssl
import sys
import threading

#: A connection idle this long is closed.
IDLE_TIMEOUT = 30


def _pump(tls, plain):
    """Copy bytes both ways until either side closes or goes idle."""
    while True:
        if tls.pending():  # decrypted bytes select() can't see
            readable = [tls]
        else:
            readable = select.select([tls, plain], [], [], IDLE_TIMEOUT)[0]
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (plain if source is tls else tls).sendall(data)


class _Log(object):
    """Handshake lines, appended to a file (or nowhere)."""

    def __init__(self, path):
        self.file = open(path, 'a') if path else None
        self.lock = threading.Lock()

    def write(self, *fields):
        if self.file is not None:
            with self.lock:
                self.file.write(' '.join(str(f) for f in fields) + '\n')
                self.file.flush()


def _relay(sock, context, upstream_port, log):
    sock.settimeout(IDLE_TIMEOUT)
    try:
        client_port = sock.getpeername()[1]
    except OSError:  # gone already
        sock.close()
        return
    try:
        tls = context.wrap_socket(sock, server_side=True)
    except OSError as err:  # a refused certificate, either way, or gone
        log.write('failed', client_port, err)
        sock.close()
        return
    cert = tls.getpeercert(binary_form=True)
    log.write('ok', client_port, tls.version(),
              hashlib.sha256(cert).hexdigest() if cert else '-')
    try:
        with socket.create_connection(('127.0.0.1', upstream_port),
                                      IDLE_TIMEOUT) as plain:
            _pump(tls, plain)
    except OSError:
        pass
    finally:
        tls.close()


def main(argv):
    parser = argparse.ArgumentParser(prog='python -m test.functional.tlsrelay')
    parser.add_argument('cert_file')
    parser.add_argument('key_file')
    parser.add_argument('upstream_port', type=int)
    parser.add_argument('--client-ca')
    parser.add_argument('--log')
    args = parser.parse_args(argv)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert_file, args.key_file)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)
    log = _Log(args.log)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    sys.stdout.write('%d\n' % listener.getsockname()[1])
    sys.stdout.flush()
    while True:
        sock, _addr = listener.accept()
        threading.Thread(target=_relay, daemon=True,
                         args=(sock, context, args.upstream_port, log)).start()


if __name__ == '__main__':
    main(sys.argv[1:])

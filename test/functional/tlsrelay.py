# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A TLS-terminating TCP relay in front of a loopback port, in a process of
its own::

    python -m test.functional.tlsrelay CERT_FILE KEY_FILE UPSTREAM_PORT

It listens on a free port of 127.0.0.1 (printed on a line), does the TLS
handshake with ``CERT_FILE``/``KEY_FILE`` on each connection, and relays
the plain bytes to ``127.0.0.1:UPSTREAM_PORT`` and back: a real https
endpoint in front of a dev cluster's proxy.  Stop it with SIGTERM.

A process, not a thread of the tests: in a process that has imported Swift,
waits on ``threading`` objects go through eventlet, and a thread there
hangs on its own locks.  Stdlib only: no eventlet here.
"""

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


def _relay(sock, context, upstream_port):
    sock.settimeout(IDLE_TIMEOUT)
    try:
        tls = context.wrap_socket(sock, server_side=True)
    except OSError:  # the client refused our certificate, or went away
        sock.close()
        return
    try:
        with socket.create_connection(('127.0.0.1', upstream_port),
                                      IDLE_TIMEOUT) as plain:
            _pump(tls, plain)
    except OSError:
        pass
    finally:
        tls.close()


def main(argv):
    cert_file, key_file, upstream_port = argv
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    sys.stdout.write('%d\n' % listener.getsockname()[1])
    sys.stdout.flush()
    while True:
        sock, _addr = listener.accept()
        threading.Thread(target=_relay, daemon=True,
                         args=(sock, context, int(upstream_port))).start()


if __name__ == '__main__':
    main(sys.argv[1:])

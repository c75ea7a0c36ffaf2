# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""A fake Swift auth endpoint and account HEADs, in a process of its own::

    python -m test.unit.fakeswift AUTH_STATUS ACCOUNTS_JSON LOG_FILE

It listens on a free port of 127.0.0.1 and prints that port on a line.
``GET /auth/v1.0`` answers ``AUTH_STATUS`` (200 gives the storage URL
``http://127.0.0.1:PORT/v1/AUTH_svc`` and the token :data:`TOKEN`);
``HEAD /v1/<account>`` answers ``ACCOUNTS_JSON[account]``, else 404.  Each
request is appended to LOG_FILE as a JSON line ``[method, path, headers]``.

Why a process: python-swiftclient's ``get_auth`` uses blocking sockets, so
a green server in the test's thread would never answer; and in a process
that has imported Swift, waits on ``threading`` objects go through eventlet,
so a server thread there hangs on its own locks.

Stdlib only: no eventlet here.
"""

import http.server
import json
import sys

TOKEN = 'AUTH_tk0123456789abcdef'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def record(self):
        with open(self.server.log_file, 'a') as fp:
            fp.write(json.dumps([self.command, self.path,
                                 dict(self.headers)]) + '\n')

    def answer(self, status, headers=()):
        self.send_response(status)
        for header in headers:
            self.send_header(*header)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_GET(self):
        self.record()
        if self.path != '/auth/v1.0':
            return self.answer(404)
        if self.server.auth_status != 200:
            return self.answer(self.server.auth_status)
        port = self.server.server_address[1]
        self.answer(200, [
            ('X-Storage-Url', 'http://127.0.0.1:%d/v1/AUTH_svc' % port),
            ('X-Auth-Token', TOKEN)])

    def do_HEAD(self):
        self.record()
        account = self.path[len('/v1/'):]
        self.answer(self.server.accounts.get(account, 404))


def main(argv):
    auth_status, accounts, log_file = argv
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.auth_status = int(auth_status)
    server.accounts = json.loads(accounts)
    server.log_file = log_file
    sys.stdout.write('%d\n' % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1:])

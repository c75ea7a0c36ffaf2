# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The only module that imports eventlet.

Everything green (sockets, ssl, http.client, timeouts, semaphores, green
thread locals) comes from here, the way Swift's ``swift.common.concurrency``
works: a Swift proxy runs monkey-patched, but the forwarder must stay green
even where it is imported into a process that is not (unit tests, tools).
"""

import eventlet
import eventlet.corolocal
import eventlet.event
import eventlet.greenio
import eventlet.queue
import eventlet.semaphore
import eventlet.wsgi
from eventlet.green import socket, ssl
from eventlet.green.http import client as http_client

__all__ = [
    'ClientReadTimeout', 'Event', 'GreenSocket', 'Queue', 'QueueEmpty',
    'QueueFull', 'Semaphore', 'Timeout', 'WsgiInput', 'http_client', 'local',
    'original_select', 'sleep', 'socket', 'spawn', 'ssl',
]

Timeout = eventlet.Timeout
Semaphore = eventlet.semaphore.Semaphore
Event = eventlet.event.Event
Queue = eventlet.queue.Queue
QueueEmpty = eventlet.queue.Empty
QueueFull = eventlet.queue.Full
local = eventlet.corolocal.local
sleep = eventlet.sleep
spawn = eventlet.spawn
#: A plain (not TLS) green socket, and eventlet's ``wsgi.input``.
GreenSocket = eventlet.greenio.GreenSocket
WsgiInput = eventlet.wsgi.Input

#: The unpatched select module: ``poll()`` with a zero timeout never blocks,
#: and eventlet's green select does not offer ``poll`` at all.
original_select = eventlet.patcher.original('select')


class ClientReadTimeout(Timeout):
    """A read from the client's ``wsgi.input`` took longer than client_timeout.

    Reads and writes toward the target are bounded by socket timeouts
    (``node_timeout``) instead: one per socket operation, and no timer per
    chunk.
    """

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Errors raised by the forwarder.

Every error that can reach a client is a :class:`ForwarderError` and knows
the HTTP status it maps to (``status_hint``), so the middleware turns any of
them into a response with one ``except``.  Low-level socket and http.client
errors are translated into these at one boundary (``forward.py``,
``iterators.py``); callers never see raw ``OSError``.
"""

__all__ = [
    'ConfigError', 'ForwarderError', 'BadRequest', 'SwiftError',
    'LoopDetected',
    'ClientDisconnect', 'ClientTimeout', 'UpstreamError',
    'UpstreamConnectError', 'PoolExhaustedError', 'ErrorLimitedError',
    'EtagMismatch', 'UpstreamTimeout', 'UpstreamBodyError',
    'ResponseReadError', 'ResponseTooLarge', 'Refused',
]


class ConfigError(ValueError):
    """A bad or unknown option in ``[filter:forwarder]``: a startup error."""


class ForwarderError(Exception):
    """Base of every error that becomes a client response.

    :param msg: a short, human-readable reason; it becomes the response body.
    :param status_hint: the HTTP status the client gets.
    """

    status_hint = 502
    headers = ()

    def __init__(self, msg, status_hint=None):
        super().__init__(msg)
        if status_hint is not None:
            self.status_hint = status_hint


# Client side: bad input or a client that goes away.  Nothing is (or stays)
# stored on the target.

class BadRequest(ForwarderError):
    """The client's request is malformed; nothing was sent upstream."""
    status_hint = 400


class SwiftError(ForwarderError):
    """A refusal Swift itself gives the same request, answered exactly as
    Swift answers it: the status, the body to the byte (no newline added),
    and its Content-Type."""
    content_type = 'text/plain'

    def __init__(self, msg, status_hint, content_type=None):
        super().__init__(msg, status_hint)
        if content_type is not None:
            self.content_type = content_type


class LoopDetected(ForwarderError):
    """The request has already passed through this forwarder, or too many."""
    status_hint = 508


class Refused(ForwarderError):
    """Service mode: the client may not do this (401/403/409; 400 for a
    malformed reference).  ``app``, if set, is the local auth's own refusal
    (a WSGI app), answered as it is."""
    status_hint = 403
    app = None


class ClientDisconnect(ForwarderError):
    """The client went away before sending its whole body."""
    status_hint = 499


class ClientTimeout(ForwarderError):
    """The client stalled longer than ``client_timeout`` while uploading."""
    status_hint = 408


# Upstream side: the target cluster's proxy.

class UpstreamError(ForwarderError):
    """The target misbehaved (reset, garbage, short body...).

    :param target: the target's name (its URL) or None, to be set later
        with :meth:`set_target`.
    """
    status_hint = 502

    def __init__(self, target, msg, status_hint=None):
        super().__init__(msg, status_hint)
        self.reason = msg
        self.target = target

    def set_target(self, target):
        self.target = target

    def __str__(self):
        if self.target is None:
            return self.reason
        return '%s: %s' % (self.target, self.reason)


class UpstreamConnectError(UpstreamError):
    """The target refused the connection or the connect timed out.
    ``retryable`` is False where another attempt would fail the same way
    (the target's certificate does not verify)."""
    status_hint = 503
    retryable = True


class PoolExhaustedError(UpstreamError):
    """No pooled connection to the target became free within pool_timeout."""
    status_hint = 503
    headers = (('Retry-After', '1'),)


class ErrorLimitedError(UpstreamError):
    """The target failed too often lately: fail fast for a while."""
    status_hint = 503
    headers = (('Retry-After', '1'),)


class EtagMismatch(UpstreamError):
    """The bytes sent and the target's ETag differ."""


class UpstreamTimeout(UpstreamError):
    """The target did not answer (or accept data) within node_timeout."""
    status_hint = 504


class UpstreamBodyError(UpstreamError):
    """The target's response body broke off; the client stream is aborted."""


class ResponseReadError(UpstreamBodyError):
    """A side request's answer broke off while its body was read; the
    cause is the low-level error."""


class ResponseTooLarge(UpstreamError):
    """A side request's answer was longer than the forwarder reads."""

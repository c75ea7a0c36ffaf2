# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""The forwarder's own credentials for a target (service mode).

:class:`TokenCache` holds one ``(storage_url, token)`` for a target, shared
by every request and pooled connection of the worker.  It comes from
python-swiftclient's ``get_auth`` (v1 tempauth; v2 and v3 Keystone with the
``os_*`` options).  A token older than ``token_refresh_interval`` is
refreshed, and a token the target refuses (401) is replaced, by one
greenlet at a time: the others wait for that refresh instead of
stampeding the auth system (single flight).

Tokens and keys are never logged.
"""

import functools
import time

import swiftclient

from swift_forwarder.exceptions import UpstreamError
from swift_forwarder.green import Event

__all__ = ['TokenCache', 'AuthError', 'service_tokens']


class AuthError(UpstreamError):
    """The forwarder could not authenticate to the target."""
    status_hint = 502


class TokenCache(object):
    """One target's service token.

    :param name: the target's name, for messages.
    :param fetch: a callable returning ``(storage_url, token)``; raises on
        failure.  (``swiftclient.get_auth`` with our options bound.)
    :param refresh_interval: seconds a token is used before it is renewed.
    :param clock: ``time.monotonic``, or a test's.
    """

    def __init__(self, name, fetch, refresh_interval, clock=time.monotonic):
        self.name = name
        self._fetch = fetch
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._value = None      # (storage_url, token)
        self._fetched_at = None
        self._refreshing = None  # Event while a refresh is in flight
        self.fetches = 0

    def get(self):
        """A current ``(storage_url, token)``, fetching one if needed."""
        value = self._value
        if value is not None and \
                self._clock() - self._fetched_at < self.refresh_interval:
            return value
        return self._refresh(value)

    def invalidate(self, token):
        """The target refused ``token`` (401): the next :meth:`get`
        re-authenticates, unless another request already did."""
        if self._value is not None and self._value[1] == token:
            self._value = None

    def _refresh(self, stale):
        if self._refreshing is not None:
            self._refreshing.wait()
            if self._value is not None and self._value is not stale:
                return self._value
            raise AuthError(self.name, 'authentication failed (see the '
                            'error logged by the request that tried)')
        self._refreshing = event = Event()
        try:
            self.fetches += 1
            try:
                self._value = self._fetch()
            except Exception as err:
                self._value = None
                raise AuthError(self.name, 'authentication failed: %s'
                                % _safe_reason(err)) from err
            self._fetched_at = self._clock()
            return self._value
        finally:
            self._refreshing = None
            event.send()


def _safe_reason(err):
    """Why auth failed, without echoing anything secret back: swiftclient
    exceptions carry the status; others their class and message."""
    status = getattr(err, 'http_status', None)
    if status:
        return 'auth server answered %s %s' % (
            status, getattr(err, 'http_reason', '') or '')
    return '%s: %s' % (type(err).__name__, err)


def service_tokens(name, auth, address, timeout):
    """The :class:`TokenCache` of a target's service credentials.

    :param name: the target's name, for messages.
    :param auth: the target's auth options (``auth_url``, ``auth_user``,
        ``auth_key``, ``auth_version``, ``os_*``, ``token_refresh_interval``).
    :param address: its :class:`TargetAddress` (``ca_certs``, ``insecure``).
    :param timeout: seconds each auth request may take.
    """
    return TokenCache(name, functools.partial(
        _get_auth, auth, address, timeout), auth['token_refresh_interval'])


def _get_auth(auth, address, timeout):
    """The service credentials' (storage_url, token), from swiftclient
    (which does v1, v2 and v3 auth)."""
    os_options = {name[3:]: value for name, value in auth.items()
                  if name.startswith('os_') and value}
    return swiftclient.get_auth(
        auth['auth_url'], auth['auth_user'], auth['auth_key'],
        auth_version=auth['auth_version'], os_options=os_options,
        cacert=address.ca_certs, insecure=address.insecure, timeout=timeout)

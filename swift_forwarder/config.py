# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""Parse ``[filter:forwarder]`` once, at startup, into a frozen config.

``OPTIONS`` is the table of every option: its name, the converter that checks
and converts the string from the conf file, and its default.  A converter
raises ``ValueError`` with the form it expects; :func:`parse_conf` turns that
into a :class:`ConfigError` naming the option.  Options that are not in the
table are refused, except Swift's own logging and statsd options, which every
Swift middleware accepts in its section.
"""

import collections
import os
import socket
import urllib.parse

from swift_forwarder.exceptions import ConfigError
from swift_forwarder import routing

__all__ = ['OPTIONS', 'ForwarderConfig', 'Target', 'parse_conf']

#: Swift's generic logging and statsd options, accepted in our section and
#: handed to Swift's ``get_logger`` untouched.
SWIFT_LOGGER_OPTIONS = frozenset((
    'log_name', 'log_facility', 'log_level', 'log_address', 'log_headers',
    'log_udp_host', 'log_udp_port', 'log_max_line_length', 'log_route',
    'log_statsd_host', 'log_statsd_port', 'log_statsd_default_sample_rate',
    'log_statsd_sample_rate_factor', 'log_statsd_metric_prefix',
    'log_custom_handlers', 'log_prefix',
))

TRUE_VALUES = frozenset(('true', '1', 'yes', 'on', 't', 'y'))
FALSE_VALUES = frozenset(('false', '0', 'no', 'off', 'f', 'n'))


#: One target cluster: where it is and how to talk TLS to it.
Target = collections.namedtuple(
    'Target', 'name scheme host port ca_certs insecure cert_file key_file')


def boolean(value):
    """``true``/``false`` (and Swift's other spellings)."""
    lowered = str(value).strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise ValueError('expected true or false, got %r' % (value,))


def positive_int(value):
    """An integer greater than zero."""
    try:
        result = int(str(value).strip())
    except ValueError:
        result = 0
    if result <= 0:
        raise ValueError('expected an integer > 0, got %r' % (value,))
    return result


def non_negative_int(value):
    """An integer, zero or more."""
    try:
        result = int(str(value).strip())
    except ValueError:
        result = -1
    if result < 0:
        raise ValueError('expected an integer >= 0, got %r' % (value,))
    return result


def positive_float(value):
    """A number of seconds greater than zero."""
    try:
        result = float(str(value).strip())
    except ValueError:
        result = 0.0
    if not result > 0 or result == float('inf'):
        raise ValueError('expected a number of seconds > 0, got %r' % (value,))
    return result


def choice(*choices):
    """One of ``choices`` (a converter factory)."""
    def convert(value):
        value = str(value).strip().lower()
        if value not in choices:
            raise ValueError('expected one of %s, got %r'
                             % (', '.join(choices), value))
        return value
    convert.__doc__ = 'One of %s.' % ', '.join(choices)
    return convert


def optional_file(value):
    """A path to an existing, readable file, or empty."""
    value = str(value).strip()
    if value and not os.access(value, os.R_OK):
        raise ValueError('expected a readable file, got %r' % (value,))
    return value or None


def target_url(value):
    """``http[s]://host[:port]``: the target cluster's proxy, no path."""
    value = str(value).strip()
    parsed = urllib.parse.urlsplit(value)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if (parsed.scheme not in ('http', 'https') or not parsed.hostname
            or port in (-1, 0) or parsed.path not in ('', '/') or parsed.query
            or parsed.fragment or parsed.username or parsed.password):
        raise ValueError('expected http[s]://host[:port], got %r' % (value,))
    default_port = 443 if parsed.scheme == 'https' else 80
    return parsed.scheme, parsed.hostname, port or default_port


def text(value):
    """Any string (trimmed)."""
    return str(value).strip()


def account_map(value):
    """``AUTH_local:AUTH_target ...`` -> {local: target}."""
    mapping = {}
    for word in str(value).split():
        local, sep, target = word.partition(':')
        if not (local and sep and target) or ':' in target or \
                '/' in local + target:
            raise ValueError('expected LOCAL_ACCOUNT:TARGET_ACCOUNT pairs, '
                             'got %r' % (word,))
        mapping[local] = target
    return mapping


def http_path(value):
    """An absolute URL path such as ``/forwarder/healthcheck``, or empty."""
    value = str(value).strip()
    if value and (not value.startswith('/') or any(
            c in value for c in ' ?#\r\n\0')):
        raise ValueError('expected an absolute path like /forwarder/'
                         'healthcheck, got %r' % (value,))
    return value


def forwarder_id(value):
    """A token naming this forwarder in the loop-guard header."""
    value = str(value).strip()
    if not value or any(c in value for c in ' ,;\r\n\0\t'):
        raise ValueError('expected a name without spaces or commas, got %r'
                         % (value,))
    return value


#: (name, converter, default).  ``None`` as default with no converter call
#: means the option is required.  Keep this table, the module docstring of
#: middleware.py and etc/proxy-server.conf-sample in step.
OPTIONS = (
    ('target_url', target_url, None),
    ('forward', routing.parse_forward, '*'),
    ('forward_auth', boolean, 'false'),
    ('pool_size', positive_int, '20'),
    ('pool_timeout', positive_float, '30'),
    ('conn_timeout', positive_float, '0.5'),
    ('node_timeout', positive_float, '60'),
    ('client_timeout', positive_float, '60'),
    ('max_idle_time', positive_float, '60'),
    ('retries', non_negative_int, '2'),
    ('client_chunk_size', positive_int, '65536'),
    ('ca_certs', optional_file, ''),
    ('insecure', boolean, 'false'),
    ('cert_file', optional_file, ''),
    ('key_file', optional_file, ''),
    ('forwarder_id', forwarder_id, socket.gethostname() or 'forwarder'),
    ('max_hops', positive_int, '3'),
    ('healthcheck_path', http_path, ''),
    ('etag_mismatch_policy', choice('raise', 'log', 'raise_and_delete'),
     'raise'),
    ('error_limit', positive_int, '10'),
    ('error_window', positive_float, '60'),
    ('error_suppression_interval', positive_float, '60'),
    ('auth_mode', choice('passthrough', 'service'), 'passthrough'),
    ('auth_url', text, ''),
    ('auth_version', choice('1', '1.0', '2', '2.0', '3'), '1'),
    ('auth_user', text, ''),
    ('auth_key', text, ''),
    ('token_refresh_interval', positive_float, '1800'),
    ('account_map', account_map, ''),
    ('allow_account_requests', boolean, 'false'),
) + tuple((name, text, '') for name in (
    'os_project_name', 'os_project_id', 'os_project_domain_name',
    'os_project_domain_id', 'os_user_domain_name', 'os_user_domain_id',
    'os_user_id', 'os_tenant_name', 'os_tenant_id', 'os_region_name',
    'os_service_type', 'os_endpoint_type', 'os_auth_token'))

_FIELDS = [name for name, _conv, _default in OPTIONS]


class ForwarderConfig(collections.namedtuple('ForwarderConfig',
                                             _FIELDS + ['target'])):
    """The parsed options, immutable; ``target`` is the :class:`Target`."""
    __slots__ = ()


def parse_conf(local_conf):
    """Check and convert the filter section's own options.

    :param local_conf: the ``[filter:forwarder]`` options as paste.deploy
        passes them (only the section's own keys, not ``[DEFAULT]``).
    :returns: a :class:`ForwarderConfig`.
    :raises ConfigError: naming the option, for an unknown option, a missing
        required one, or a value of the wrong form.
    """
    # Swift's NamedConfigLoader adds __name__ (the section's name)
    known = set(_FIELDS) | SWIFT_LOGGER_OPTIONS | {'use', '__name__'}
    unknown = sorted(set(local_conf) - known)
    if unknown:
        raise ConfigError('[filter:forwarder]: unknown option(s): %s'
                          % ', '.join(unknown))
    values = {}
    for name, converter, default in OPTIONS:
        raw = local_conf.get(name, default)
        if raw is None:
            raise ConfigError('[filter:forwarder]: %s is required' % name)
        try:
            values[name] = converter(raw)
        except ValueError as err:
            raise ConfigError('[filter:forwarder]: %s: %s' % (name, err))
    if values['auth_mode'] == 'service':
        missing = [name for name in ('auth_url', 'auth_user', 'auth_key')
                   if not values[name]]
        if missing:
            raise ConfigError('[filter:forwarder]: auth_mode = service needs '
                              '%s' % ', '.join(missing))
    if bool(values['cert_file']) != bool(values['key_file']):
        raise ConfigError('[filter:forwarder]: cert_file and key_file go '
                          'together: set both or neither')
    scheme, host, port = values['target_url']
    values['target'] = Target('default', scheme, host, port,
                              values['ca_certs'], values['insecure'],
                              values['cert_file'], values['key_file'])
    return ForwarderConfig(**values)

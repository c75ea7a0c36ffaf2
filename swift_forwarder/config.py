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
import configparser
import os
import socket
import urllib.parse

from swift_forwarder.exceptions import ConfigError
from swift_forwarder import routing

__all__ = ['OPTIONS', 'ForwarderConfig', 'TargetAddress', 'TargetConf',
           'parse_conf']

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
TargetAddress = collections.namedtuple(
    'TargetAddress',
    'name scheme host port ca_certs insecure cert_file key_file')

#: A target with what is routed to it (``forward`` rules) and the
#: forwarder's credentials there (``auth``: a dict of the auth options).
#: ``backend_key`` is None, or the key that signs the environ state sent
#: to the target's backend endpoint (``backend_endpoint = true``);
#: ``storage_policies``: the local storage policies whose containers live
#: on the target, and ``target_storage_policy`` the policy (name, or None
#: for the target's default) their target containers get; ``migrate``:
#: the rules of what is being migrated from the target (a *source*) into
#: the local cluster, and ``migrate_on_read`` whether what is read through
#: is written locally as it streams.
TargetConf = collections.namedtuple('TargetConf',
                                    'address forward auth verify_get '
                                    'backend_key storage_policies '
                                    'target_storage_policy migrate '
                                    'migrate_on_read')


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
    host = parsed.hostname
    if not _valid_host(host):
        raise ValueError('expected a valid host name or address, got %r'
                         % (host,))
    default_port = 443 if parsed.scheme == 'https' else 80
    return parsed.scheme, parsed.hostname, port or default_port


def _valid_host(host):
    """An IP address, or a name the resolver can take (IDNA: no empty
    label, none over 63 characters)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ':' in host else socket.AF_INET,
                         host)
        return True
    except OSError:
        pass
    try:
        host.encode('idna')
    except UnicodeError:
        return False
    return ':' not in host


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
    shared = sorted(target for target in set(mapping.values())
                    if list(mapping.values()).count(target) > 1)
    if shared:
        # two local accounts in one target account would share its
        # containers: each local owner could read the other's data
        raise ValueError('each local account needs a target account of its '
                         'own; several map to %s' % ', '.join(shared))
    return mapping


def names(value):
    """Space-separated names (storage policies), in order, each once."""
    found = []
    for name in str(value).split():
        if name in found:
            raise ValueError('%r given twice' % name)
        found.append(name)
    return tuple(found)


def optional_rules(value):
    """:func:`routing.parse_forward` rules, or empty (none)."""
    return routing.parse_forward(value) if str(value).strip() else ()


def optional_target_url(value):
    """:func:`target_url`, or empty (targets only from targets_conf)."""
    return target_url(value) if str(value).strip() else None


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
    ('target_url', optional_target_url, ''),
    ('forward', routing.parse_forward, '*'),
    ('targets_conf', optional_file, ''),
    ('container_opt_in', boolean, 'false'),
    ('forward_auth', boolean, 'false'),
    ('storage_url_scheme', choice('default', 'http', 'https'), 'default'),
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
    ('verify_get', boolean, 'true'),
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
    ('backend_endpoint', boolean, 'false'),
    ('backend_key', text, ''),
    ('storage_policies', names, ''),
    ('target_storage_policy', text, ''),
    ('migrate', optional_rules, ''),
    ('migrate_on_read', boolean, 'false'),
) + tuple((name, text, '') for name in (
    'os_project_name', 'os_project_id', 'os_project_domain_name',
    'os_project_domain_id', 'os_user_domain_name', 'os_user_domain_id',
    'os_user_id', 'os_tenant_name', 'os_tenant_id', 'os_region_name',
    'os_service_type', 'os_endpoint_type', 'os_auth_token'))

_FIELDS = [name for name, _conv, _default in OPTIONS]
_CONVERTERS = {name: conv for name, conv, _default in OPTIONS}

#: Options a ``[target:NAME]`` section of targets_conf may set.  TLS,
#: verify_get and auth options it doesn't set come from the filter section.
TARGET_OPTIONS = ('target_url', 'forward', 'ca_certs', 'insecure',
                  'cert_file', 'key_file', 'verify_get', 'auth_url', 'auth_version',
                  'auth_user', 'auth_key', 'token_refresh_interval',
                  'account_map', 'backend_endpoint', 'backend_key',
                  'storage_policies', 'target_storage_policy', 'migrate',
                  'migrate_on_read') + tuple(
                      name for name in _FIELDS if name.startswith('os_'))
AUTH_OPTIONS = tuple(name for name in TARGET_OPTIONS
                     if name.startswith(('auth_', 'os_')) or name in (
                         'token_refresh_interval', 'account_map'))


class ForwarderConfig(collections.namedtuple('ForwarderConfig',
                                             _FIELDS + ['targets'])):
    """The parsed options, immutable.  ``targets`` maps each target's name
    to its :class:`TargetConf`, in routing order: the inline target
    (``target_url``, named ``default``) first, then targets_conf's."""
    __slots__ = ()


#: Options never taken from ``[DEFAULT]``: there they are the proxy's own
#: server certificate, not the forwarder's client certificate.
NOT_INHERITED = frozenset(('cert_file', 'key_file'))


def parse_conf(local_conf, swift_dir=None, global_conf=None):
    """Check and convert the filter section's own options.

    :param local_conf: the ``[filter:forwarder]`` options as paste.deploy
        passes them (only the section's own keys, not ``[DEFAULT]``).
    :param swift_dir: where container-sync-realms.conf is (with
        container_opt_in, its clusters are targets named ``//realm/cluster``).
    :param global_conf: paste.deploy's global conf: ``[DEFAULT]``, with the
        section's ``set name = value`` lines.  As for every Swift
        middleware, an option found there wins (paste.deploy drops the
        section's own value of a name ``[DEFAULT]`` also sets), except
        :data:`NOT_INHERITED`.
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
    merged = {name: value for name, value in (global_conf or {}).items()
              if name not in NOT_INHERITED}
    merged.update(local_conf)
    values = {}
    for name, converter, default in OPTIONS:
        values[name] = _convert('[filter:forwarder]', name,
                                merged.get(name, default))
    if values['migrate'] and 'forward' not in merged:
        values['forward'] = ()  # a source forwards nothing unless told to
    _check_pairs('[filter:forwarder]', values)
    _check_service(values)
    values['targets'] = _targets(values, swift_dir)
    return ForwarderConfig(**values)


def _check_service(values):
    if values['auth_mode'] != 'service':
        return
    missing = [name for name in ('auth_url', 'auth_user', 'auth_key')
               if not values[name]]
    if missing:
        raise ConfigError('[filter:forwarder]: auth_mode = service needs '
                          '%s' % ', '.join(missing))
    if values['forward_auth']:
        raise ConfigError('[filter:forwarder]: forward_auth is for '
                          'auth_mode = passthrough (in service mode the '
                          'local auth answers auth requests)')


def _targets(values, swift_dir):
    """Every target's :class:`TargetConf`, in routing order."""
    targets = collections.OrderedDict()
    if values['target_url']:
        targets['default'] = _target_conf('default', values, values)
    if values['targets_conf']:
        targets.update(_load_targets_conf(values['targets_conf'], values))
    if values['container_opt_in'] and swift_dir:
        for name, url in _load_realms(swift_dir):
            targets.setdefault(name, _target_conf(name, dict(
                values, target_url=url, forward=(), storage_policies=(),
                target_storage_policy='', migrate=()), values))
    if not targets:
        raise ConfigError('[filter:forwarder]: set target_url (or '
                          'targets_conf)')
    _check_migrate(targets)
    claimed = {}
    for target_conf in targets.values():
        _check_one_account(target_conf, values['container_opt_in'])
        for policy in target_conf.storage_policies:
            if policy in claimed:
                raise ConfigError('storage policy %s is routed to targets %s '
                                  'and %s: one only' % (
                                      policy, claimed[policy],
                                      target_conf.address.name))
            claimed[policy] = target_conf.address.name
    return targets


def _check_migrate(targets):
    """No path is both forwarded and migrated (it would be served from two
    places), nor migrated from two sources."""
    for source in targets.values():
        for rule in source.migrate:
            for target in targets.values():
                for other in target.forward:
                    if routing.rules_overlap(rule, other):
                        raise ConfigError(
                            'target %s: migrate %s overlaps forward %s of '
                            'target %s: a path is either forwarded or '
                            'migrated' % (source.address.name,
                                          routing.rule_text(rule),
                                          routing.rule_text(other),
                                          target.address.name))
                if target is source:
                    continue
                for other in target.migrate:
                    if routing.rules_overlap(rule, other):
                        raise ConfigError(
                            'migrate %s of target %s overlaps migrate %s of '
                            'target %s: a path has one source' % (
                                routing.rule_text(rule), source.address.name,
                                routing.rule_text(other),
                                target.address.name))


def _check_one_account(target_conf, container_opt_in):
    """Service mode without account_map puts every forwarded local
    account into the service account, where their owners would share
    containers: allow it only for ``forward`` rules of one account."""
    if target_conf.auth is None or target_conf.auth['account_map']:
        return
    accounts = set(rule.account for rule in target_conf.forward)
    if container_opt_in or target_conf.storage_policies or \
            None in accounts or len(accounts) > 1:
        raise ConfigError(
            'target %s: auth_mode = service without account_map would put '
            'every forwarded local account into the service account; set '
            'account_map (a target account per local account), or forward '
            'one account only' % target_conf.address.name)


def _convert(where, name, raw):
    try:
        return _CONVERTERS[name](raw)
    except ValueError as err:
        raise ConfigError('%s: %s: %s' % (where, name, err))


def _check_pairs(where, values):
    if bool(values['cert_file']) != bool(values['key_file']):
        raise ConfigError('%s: cert_file and key_file go together: set both '
                          'or neither' % where)


def _target_conf(name, values, filter_values):
    scheme, host, port = values['target_url']
    auth = None
    if filter_values['auth_mode'] == 'service':
        auth = {option: values[option] for option in AUTH_OPTIONS}
    return TargetConf(
        TargetAddress(name, scheme, host, port, values['ca_certs'],
                      values['insecure'], values['cert_file'],
                      values['key_file']),
        values['forward'], auth, values['verify_get'],
        _backend_key(name, values, filter_values),
        _storage_policies(name, values, filter_values),
        values['target_storage_policy'] or None,
        _migrate(name, values, filter_values), values['migrate_on_read'])


def _require_service(name, option, filter_values, why):
    if filter_values['auth_mode'] != 'service':
        raise ConfigError('target %s: %s needs auth_mode = service (%s)'
                          % (name, option, why))


def _migrate(name, values, filter_values):
    """The target's ``migrate`` rules: a source is read as stored, through
    its backend endpoint, with the forwarder's service identity."""
    if not values['migrate']:
        return ()
    _require_service(name, 'migrate', filter_values, "the source is read "
                     "with the forwarder's service credentials")
    if not values['backend_endpoint']:
        raise ConfigError('target %s: migrate needs backend_endpoint = true '
                          '(the source is read through its backend endpoint, '
                          'so that manifests, symlinks and sysmeta arrive as '
                          'stored)' % name)
    return values['migrate']


def _storage_policies(name, values, filter_values):
    """The local storage policies routed to the target: containers
    with them are created on the target too, with the service identity."""
    if values['storage_policies']:
        _require_service(name, 'storage_policies', filter_values,
                         "the target containers are the forwarder's")
    return values['storage_policies']


def _backend_key(name, values, filter_values):
    """The target's ``backend_key`` if it is a backend endpoint, else
    None.  A backend endpoint takes the forwarder's service identity (it
    trusts the backend headers and sysmeta of what it is sent), and the
    environ state sent to it is signed."""
    if not values['backend_endpoint']:
        return None
    _require_service(name, 'backend_endpoint', filter_values, "the backend "
                     "endpoint takes the forwarder's service identity")
    if not values['backend_key']:
        raise ConfigError('target %s: backend_endpoint needs backend_key '
                          '(the key of its [filter:forwarder_backend])'
                          % name)
    return values['backend_key']


def _load_targets_conf(path, filter_values):
    """``[target:NAME]`` sections, each a :class:`TargetConf`."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as f:
            parser.read_file(f)
    except (OSError, configparser.Error) as err:
        raise ConfigError('targets_conf %s: %s' % (path, _conf_error(err)))
    targets = collections.OrderedDict()
    for section in parser.sections():
        where = 'targets_conf %s [%s]' % (path, section)
        kind, _sep, name = section.partition(':')
        if kind != 'target' or not name or name.startswith('//'):
            raise ConfigError('%s: expected sections [target:NAME]' % where)
        options = dict(parser.items(section))
        unknown = sorted(set(options) - set(TARGET_OPTIONS))
        if unknown:
            raise ConfigError('%s: unknown option(s): %s'
                              % (where, ', '.join(unknown)))
        if 'target_url' not in options:
            raise ConfigError('%s: target_url is required' % where)
        # what is routed to a target is its own, never inherited
        values = dict(filter_values, forward=(), storage_policies=(),
                      target_storage_policy='', migrate=())
        for option, raw in options.items():
            if option == 'forward' and not raw.strip():
                continue
            values[option] = _convert(where, option, raw)
        _check_pairs(where, values)
        if filter_values['auth_mode'] == 'service' and not all(
                values[option] for option in ('auth_url', 'auth_user',
                                              'auth_key')):
            raise ConfigError('%s: auth_mode = service needs auth_url, '
                              'auth_user and auth_key' % where)
        if name == 'default' or name in targets:
            raise ConfigError('%s: target name used twice' % where)
        targets[name] = _target_conf(name, values, filter_values)
    return targets


def _conf_error(err):
    """A config file error, without the offending line's text, which may
    hold a key (``auth_key s3cr3t``, the ``=`` forgotten)."""
    if isinstance(err, configparser.MissingSectionHeaderError):
        return 'line %d is not in a [section]' % err.lineno
    if isinstance(err, configparser.ParsingError):
        return 'cannot parse line(s) %s' % ', '.join(
            str(lineno) for lineno, _line in err.errors)
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return str(err)  # duplicate options or sections: names, no values


def _load_realms(swift_dir):
    """``(//REALM/CLUSTER, (scheme, host, port))`` for every cluster of
    container-sync-realms.conf (names upper-cased, as Swift compares
    them)."""
    path = os.path.join(swift_dir, 'container-sync-realms.conf')
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if not parser.read(path):
            return []
    except configparser.Error as err:
        raise ConfigError('%s: %s' % (path, _conf_error(err)))
    found = []
    for realm in parser.sections():
        for option, url in parser.items(realm):
            if not option.startswith('cluster_'):
                continue
            name = '//%s/%s' % (realm.upper(), option[8:].upper())
            parsed = urllib.parse.urlsplit(url.strip())
            try:
                found.append((name, target_url('%s://%s' % (
                    parsed.scheme, parsed.netloc))))
            except ValueError as err:
                raise ConfigError('%s [%s] %s: %s' % (path, realm, option,
                                                      err))
    return found

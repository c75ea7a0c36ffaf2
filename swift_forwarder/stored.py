# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""What makes an object or a container the same on another cluster.

A source is read through its backend endpoint, so a GET or HEAD there shows
an object as stored: its ``X-Timestamp``, ETag, metadata and sysmeta (an SLO
manifest as its JSON with ``X-Static-Large-Object``, a symlink as its
sysmeta).  The local PUT that recreates it sends the same headers to
proxy-server (below the gatekeeper, which would drop sysmeta and
``X-Timestamp``), so Last-Modified is kept and a newer write on either side
still orders correctly.  Migration mode (restore on read, a POST on an
unmigrated object) and the migrator both write with these headers.
"""

__all__ = ['object_put_headers', 'container_put_headers', 'is_plain_object',
           'OBJECT_HEADERS', 'CONTAINER_HEADERS']

#: An object's headers kept as they are (with the prefixes below).
OBJECT_HEADERS = frozenset((
    'content-type', 'content-encoding', 'content-disposition', 'x-delete-at',
    'x-static-large-object', 'x-object-manifest', 'etag', 'x-timestamp'))
OBJECT_PREFIXES = ('x-object-meta-', 'x-object-sysmeta-',
                   'x-object-transient-sysmeta-')

#: A container's settings kept (with the prefixes below): ACLs, the legacy
#: versioning locations; object_versioning keeps its own in sysmeta.
#: Container sync settings are not: a copy would start syncing from here.
CONTAINER_HEADERS = frozenset((
    'x-container-read', 'x-container-write', 'x-versions-location',
    'x-history-location'))
CONTAINER_PREFIXES = ('x-container-meta-', 'x-container-sysmeta-')
#: ...but never the forwarder's own sysmeta (a source that was itself
#: migrated into: its marker, the migrator's progress and digest)
FORWARDER_SYSMETA = 'x-container-sysmeta-forwarder-'

#: slo's sysmeta of a manifest's total size, which the stored Content-Type
#: carries as ``swift_bytes`` (proxy-server takes it off in answers)
SLO_SIZE = 'x-object-sysmeta-slo-size'
#: symlink's sysmeta of its target
SYMLINK_TARGET = 'x-object-sysmeta-symlink-target'


def _lowered(headers):
    items = headers.items() if hasattr(headers, 'items') else headers
    return dict((name.lower(), value) for name, value in items)


def is_plain_object(headers):
    """Neither a manifest (SLO, DLO) nor a symlink: what restore on read
    writes (the others come with their segments or targets, whole)."""
    lowered = _lowered(headers)
    return not (lowered.get('x-static-large-object') or
                'x-object-manifest' in lowered or SYMLINK_TARGET in lowered)


def object_put_headers(headers):
    """The headers of a local PUT that recreates an object as stored.

    :param headers: the source's answer to a backend GET or HEAD of it.
    :returns: ``(headers, content_type_overridden)``: a list of pairs, and
        whether the PUT's environ needs ``swift.content_type_overridden``
        (a Content-Type with a ``swift_*`` parameter, such as an SLO
        manifest's ``swift_bytes``, which proxy-server otherwise refuses
        from a client).
    """
    lowered = _lowered(headers)
    kept = [(name, value) for name, value in sorted(lowered.items())
            if name in OBJECT_HEADERS or name.startswith(OBJECT_PREFIXES)]
    if lowered.get('x-static-large-object') and SLO_SIZE in lowered and \
            'swift_bytes=' not in lowered.get('content-type', ''):
        kept = [(name, '%s;swift_bytes=%s' % (value, lowered[SLO_SIZE])
                 if name == 'content-type' else value)
                for name, value in kept]
    # whoever put it there: a swift_* parameter needs the override
    return kept, _has_swift_param(dict(kept).get('content-type', ''))


def _has_swift_param(content_type):
    """Would proxy-server refuse this Content-Type from a client (a
    ``swift_*`` parameter, as its ``check_content_type``)?"""
    return any(param.lstrip().startswith('swift_')
               for param in content_type.split(';')[1:])


def container_put_headers(headers):
    """The headers of a local PUT that creates a container with the
    settings of the source's (its metadata, ACLs, versioning settings).

    :param headers: the source's answer to a backend HEAD of it.
    """
    lowered = _lowered(headers)
    return [(name, value) for name, value in sorted(lowered.items())
            if (name in CONTAINER_HEADERS or name.startswith(
                CONTAINER_PREFIXES)) and not name.startswith(FORWARDER_SYSMETA)]

# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""
Forward requests to another Swift cluster.

The ``forwarder`` filter decides, for each request, whether it belongs to
another Swift cluster (the *target*).  Requests that don't go on down the
local pipeline unchanged.  Requests that do are sent to the target's proxy
over pooled keep-alive HTTP/1.1 connections (TLS optional); request and
response bodies stream through in pieces (see ``client_chunk_size``) and are
never held whole in memory.  Only the Swift API (``/v1/...``) is forwarded
(plus, with ``forward_auth``, auth requests and ``/info``); ``/healthcheck``
and anything else stay local.

Gateway placement
-----------------
Put the filter before the local auth middleware.  The client's own token
travels to the target, which authenticates it::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               forwarder tempauth copy slo dlo proxy-logging proxy-server

    [filter:forwarder]
    use = egg:swift_forwarder#forwarder
    target_url = https://swift.example.com

Keep the forwarder right after ``cache``: middlewares before it act on
forwarded requests *locally* (``tempurl`` would check signatures against the
local account's keys, ``ratelimit`` and ``listing_formats`` would look up
or rewrite local state).

Clients get their token (and storage URL) from the target's auth, and use
this proxy's host in the storage URL.  With ``forward_auth = true`` they
authenticate through this proxy too: auth requests (``/auth/v1.0``,
``/auth/v2.0``, ``/v1.0``...) go to the target, and the ``X-Storage-Url``
in their answers is rewritten to this proxy (the scheme and host the client
used, the target's path), so clients never bypass it.  ``/info`` is then
forwarded as well, so clients see the target's capabilities, with this
filter's own ``forwarder`` section added.  Every other path that names no
account under ``/v1`` goes to the target too, however malformed (``/v1``,
``/v1//c/o``, ``//v1/a``...), so a client sees the target's answers and
never the local auth's 401 to the target's token: Swift's own functional
suite gives the same results through the gateway as against the target
directly (see ``make compat``).

Federation placement
--------------------
Put the filter after the local auth middleware (and before copy, slo, dlo,
versioned_writes, so the target's middlewares handle those) with
``auth_mode = service``::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               tempauth forwarder copy slo dlo proxy-logging proxy-server

    [filter:forwarder]
    use = egg:swift_forwarder#forwarder
    target_url = https://swift.example.com
    forward = AUTH_alice/shared*
    auth_mode = service
    auth_url = https://swift.example.com/auth/v1.0
    auth_user = federation:forwarder
    auth_key = <secret>
    account_map = AUTH_alice:AUTH_federation

The local cluster authenticates and authorizes the client: the forwarder
calls ``env['swift.authorize']`` as Swift's proxy would, with the *target*
container's ACLs (``X-Container-Read``/``X-Container-Write``, read with a
short-lived cached HEAD) set on the request first.  A refused request gets
the local auth's 401/403 and nothing of it reaches the target.  The target
then sees the forwarder's own service token, in the mapped account; the
client's local token never crosses, and the target's token never comes
back.  Headers only a cluster may set (``X-Backend-*``, ``X-*-Sysmeta-*``,
``X-Timestamp``, ``X-Auth-*``, ``X-Service-Token``, identity headers,
``X-Forwarded-*``, ``X-Cluster-Client-Ip``, ``Forwarded`` and
``Authorization`` from the client) are dropped.  If the target refuses the
service token (401), the forwarder re-authenticates once (one greenlet
does; the others wait for it) and retries the request when none of its body
was read yet.

The service identity may do anything in the mapped account, so the
forwarder authorizes as the client what the target will do for the
request besides its path, the way Swift checks each of those steps
against the client:

* each local account has a target account of its own: ``account_map`` is
  one-to-one, a request in a local account it does not list gets 403, and
  without ``account_map`` (everything in the service account) ``forward``
  may name one local account only and ``container_opt_in`` is off (a
  startup error otherwise);
* references made by the request: another container named by
  ``X-Copy-From`` (read), a COPY's ``Destination`` (write; the COPY itself
  needs read), ``X-Symlink-Target`` or ``X-Object-Manifest`` (read), or by
  the segments of an SLO manifest (``?multipart-manifest=put``: the
  manifest, at most 8 MiB as in Swift's slo, is read and checked before it
  is sent); a malformed one gets 400;
* what a copy reads: a HEAD of the source shows whether it is a symlink,
  DLO or SLO, and what it refers to is checked as for a GET (below);
* references read: a GET or HEAD the target answers by following a symlink
  (its ``Content-Location``) or a DLO (``X-Object-Manifest``) into a
  container the client may not read gets 403, and a GET of an SLO with a
  segment in such a container 409, as from Swift's slo (its manifest, and
  nested ones, at most 20, are read to know where the segments are);
* ``?multipart-manifest=delete`` deletes the segments too: the client
  needs write access to each of their containers;
* ``X-Copy-From-Account``, ``Destination-Account`` and
  ``X-Symlink-Target-Account`` naming another account get 403 (naming the
  request's own, they are dropped: the target's default is the mapped
  account); ``bulk-delete`` and ``extract-archive``, whose bodies name
  objects in any container, get 403 (in Swift's pipeline the local
  ``bulk`` middleware, before the forwarder, splits them into requests
  that are each authorized);
* an encoded ``/`` in the account or container (``/v1/AUTH_a%2Fc/o``) gets
  400: it would move the split between what is authorized here and what
  the target acts on;
* tempurl signatures (``temp_url_*``), checked by the local tempurl
  middleware, are not sent to the target.

Not followed: a DLO's segments or an SLO's plain segments that are
themselves symlinks (only the container they are in is checked).

Core placement
--------------
Gateway and federation hand a request over before Swift's composite
middlewares run, so every container one request touches must live on one
cluster.  In the core placement the filter sits right before
``proxy-server``, after copy, slo, dlo, versioned_writes and symlink, and
sees every request *and every subrequest* they make, each routed by its own
path: an SLO or DLO manifest on one cluster with segments on the other (or
on both), a copy from one cluster to the other, a symlink across, object
versioning on a forwarded container (its ``\x00versions\x00<container>``
container goes where the container goes).  Nothing but ``proxy-server``
may come after it; keep ``proxy-logging`` in the pipeline (before it)::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               tempauth copy slo dlo versioned_writes symlink
               proxy-logging forwarder proxy-server

    [filter:forwarder]
    use = egg:swift_forwarder#forwarder
    target_url = https://swift-backend.example.com:8081
    forward = AUTH_alice/shared*
    auth_mode = service
    auth_url = https://swift.example.com/auth/v1.0
    auth_user = federation:forwarder
    auth_key = <secret>
    account_map = AUTH_alice:AUTH_federation
    backend_endpoint = true
    backend_key = <the key of the target's forwarder_backend>

A subrequest must reach the target's *storage*, not the target's own slo,
dlo, symlink or versioning (which would resolve a manifest against its own
cluster), nor its gatekeeper (which strips the sysmeta and ``X-Backend-*``
headers the local middlewares rely on).  So ``target_url`` is the target's
*backend endpoint*: a proxy-server of the target cluster with Swift's
internal pipeline and ``forwarder_backend``, run by
``swift-forwarder-backend-server`` (see :mod:`swift_forwarder.backend` and
the conf-sample), open to the forwarders only, where the forwarder logs in
with its service identity.  Toward it, the headers the local middlewares
set (``X-Backend-*``, sysmeta, ``X-Timestamp``, reserved names) cross both
ways; a client's own never do, the local gatekeeper removed them before.
What they tell proxy-server in the WSGI environ instead
(``swift.content_type_overridden``, which lets slo and versioning store
``;swift_bytes=``) goes as ``X-Forwarder-Backend-State``, signed with
``backend_key`` (``X-Forwarder-Backend-Sig``: a Unix time and an
HMAC-SHA256 of method, path, state and time), which ``forwarder_backend``
checks with its ``key`` or ``key2`` (401 otherwise).

Each request is authorized as proxy-server authorizes it:
``env['swift.authorize']``, when the request carries one, first without an
ACL (an owner, or a pre-authorized subrequest of the middlewares, costs no
lookup), then with the target container's ACL (read for GET and HEAD,
write for an object's PUT, POST and DELETE).  A client who may not read
the other cluster's container gets what Swift gives it (403; 409 for an
SLO segment), from Swift's own middlewares.  The service-mode checks of
references (above) do not apply: the target runs no middleware that would
follow them.  Swift's ``get_container_info()`` (object versioning,
container quotas...) skips the middlewares to the pipeline's own
proxy-logging in front of proxy-server: the filter puts itself behind that
one (keep ``proxy-logging`` in the pipeline), so what they read of a
forwarded container is the target's, and a forwarded container PUT, POST
or DELETE clears the local info cache of it, as proxy-server does.  A PUT
of a local middleware whose ``Content-Length: 0`` understates its body
(object versioning's PUT of a version) is sent chunked, whole, as
proxy-server reads it.  Not carried: encryption's environ callbacks (put
the encryption middlewares on the target, or keep them off forwarded
containers).

Routing by storage policy
-------------------------
A target may take the containers of local storage policies
(``storage_policies = silver`` in its ``[target:NAME]`` section, or in the
filter section for the inline target; service mode, with ``account_map``).
A container created with ``X-Storage-Policy: silver`` is a local container
(account listings show it; its ACLs and metadata are local and decide who
may do what) whose objects and listings live in a container of the same
name on the target, in the mapped account, made with
``target_storage_policy`` (else the target's default):

* container PUT and POST: locally first (proxy-server authorizes them), then
  on the target (a POST re-creates a missing target container); if the
  target refuses, a container just made locally is deleted again and the
  client gets 502;
* container DELETE: authorized as proxy-server does (the owner's), then
  deleted on the target; a 409 there (not empty) is the client's, and
  nothing is deleted locally;
* container HEAD: local, with the target's object count and bytes used;
* object requests and container GET: to the target, authorized with the
  local container's ACLs.

Routing reads the container's policy from Swift's container info (the
request's, then memcache): an object request costs no extra request.
Swift needs an object ring for the policy to start: a one-device
placeholder, in which nothing is stored (``swift-forwarder-check`` says
how to build it).  A policy name that swift.conf lacks stops the proxy at
startup.  The local account's own container listing shows the local
counts (0 objects), not the target's.

Migrating a cluster
-------------------
A target may be the *source* of a migration into the local cluster:
``migrate = AUTH_a AUTH_b/photos*`` (the ``forward`` syntax, in its
``[target:NAME]`` section) names what is moving from it.  Core placement,
with the source's backend endpoint (``backend_endpoint``, service mode,
``account_map``).  Clients use the local cluster only:

* object GET/HEAD: local first; on a local 404, the source's object as
  stored, unless the local 404 is a tombstone at least as new (a deleted
  object never comes back); an object on neither side is a 404, and a
  source that cannot answer a 503;
* object PUT: local (a container only the source has is first made here
  with its metadata, ACLs and versioning settings); POST: local, an object
  only the source has copied here first with its timestamp; DELETE: both
  sides, success only when neither failed;
* container and account GET: both sides' listings merged, as Swift would
  list the union (every parameter; the local entry wins a name on both);
  a source that fails gives 503, never a short listing;
* container HEAD: local, else the source's; DELETE: the source's first.

With ``migrate_on_read``, a whole plain-object GET read through is written
locally as it streams, with its original timestamp; a client that goes
away leaves nothing.  The README's "Migrating a cluster" has the steps.

Several targets
---------------
One target is configured inline (``target_url`` and the filter's own TLS
and auth options; it is named ``default``).  More come from
``targets_conf``, a file with one section per target, the way Swift keeps
container-sync-realms.conf::

    [target:east]
    target_url = https://east.example.com
    forward = AUTH_projects/east*
    ca_certs = /etc/swift/east-ca.pem
    verify_get = false
    # service mode: auth_url, auth_user, auth_key, os_*, account_map...
    # (unset TLS, verify_get and auth options come from
    # [filter:forwarder])

Each target has its own pool, error limiting and service token.  A request
goes to the first target whose ``forward`` rules match: the inline target's
first, then the sections in file order.  A section without ``forward`` only
takes containers that opt in.

With ``container_opt_in = true``, a container's owner may set
``X-Container-Meta-Forward-To: <target name>`` on the local container; its
object requests and listings then go to that target, while the container
itself (HEAD, PUT, POST, DELETE, and that setting) stays local.  Setting a
name that is not configured gets 400.  Every cluster of Swift's
``container-sync-realms.conf`` (in ``swift_dir``) is a target name too, as
``//realm/cluster``, so the cluster names operators already have can be
used.  The setting is read with Swift's container info (memcache, with
``cache`` in the pipeline) and kept by each worker for 10 seconds, so object
requests never each cost a container lookup: a change applies at once in
the worker that served it, and within 10 seconds in the others.

What the target sees
--------------------
The method, the path quoted exactly as the client sent it, the query string
and every end-to-end header.  Hop-by-hop headers (Connection and the headers
it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*) are
dropped both ways.  ``Host`` is the target's; ``X-Forwarded-For`` and
``Via`` are extended; ``X-Trans-Id-Extra`` carries the local transaction id,
so one request can be followed across both clusters' logs.  The target's
``X-Trans-Id`` comes back to the client as ``X-Forwarder-Trans-Id``.
Uploads use ``Expect: 100-continue``: if the target refuses a request
(401, 403, 413, 507...) the client's body is never read.

Integrity
---------
Nothing is lost or corrupted on the way:

* **PUT**: the MD5 of the bytes sent is compared with the ETag the target
  answers.  On a mismatch, ``etag_mismatch_policy`` applies: ``raise`` (502
  naming both values; the object stays on the target for inspection),
  ``raise_and_delete`` (the object is deleted on the target, then 502) or
  ``log`` (the target's answer is relayed; the mismatch is logged).  Not
  checked where the target's ETag is not the body's MD5: SLO manifest PUTs
  (``?multipart-manifest=put``), COPY and ``X-Copy-From``, symlinks
  (``X-Symlink-Target``), and PUTs that carry their own ``ETag`` (the
  target checks that one itself and answers 422).
* **GET**: a whole (200) plain object is checked against its ETag as it
  streams (not SLO/DLO manifests, not ranges).  On a mismatch the last
  chunk is withheld and the client's stream aborted, so a corrupt object
  never arrives looking complete.
* **Resume**: if the target's connection breaks or stalls mid-body, the
  rest is asked for on a fresh connection with ``Range`` from the next
  byte and ``If-Match`` on the ETag (so two versions are never spliced),
  up to ``retries`` times; also for a client's Range request.  A
  multi-range answer (multipart/byteranges) is asked for again whole, with
  ``If-Match``, and spliced on where it broke off: the target frames it the
  same way, so only the boundary, rewritten, differs.
* **Uploads cut short** (client gone, or stalled past ``client_timeout``)
  are aborted toward the target, which then stores nothing.

A target that keeps failing (refused or timed-out connects, no response
head, broken answers) is error-limited: after ``error_limit`` failures in
``error_window`` seconds, requests to it fail fast with 503 for
``error_suppression_interval`` seconds; then one request probes it.

Errors
------
Errors are answered with a short plain-text body that says what happened,
and logged with the transaction id:

=====================================================  ======================
situation                                              client gets
=====================================================  ======================
bad input: method, header syntax, Content-Length,      400/405/412/417,
both Content-Length and Transfer-Encoding, Expect,     nothing sent upstream
``.``/``..`` path segments, NUL or invalid UTF-8
the request already passed this forwarder (loop)       508
target refuses the connection / connect times out      503, after ``retries``
target error-limited                                   503 + Retry-After, fast
no pooled connection free within ``pool_timeout``      503 + Retry-After
target sends no response head within ``node_timeout``  504
ETag mismatch on PUT                                   per policy: 502
target dies or stalls mid-response, resumes used up,   the stream is aborted,
or a GET body does not match its ETag                  never cleanly short
client disconnects or stalls mid-upload                499/408; the upload is
                                                       aborted upstream, so
                                                       the target stores
                                                       nothing
=====================================================  ======================

Where Swift itself refuses a request the same way, the answer is Swift's,
byte for byte (status, body, Content-Type): NUL or invalid UTF-8 in a name
(412 ``Invalid UTF8 or contains NULL``), a transfer coding other than
chunked (400; a list of codings, 501).  A path with a space (Swift's own
server takes one) is quoted on its way, not refused.  These refusals are
the forwarder's own (Swift alone would take the request, or fail on it
with a 404 or 503), because a proxy in front of another cluster adds risks
Swift alone does not have; each is a 400 unless said otherwise:

* both ``Content-Length`` and ``Transfer-Encoding`` (request smuggling);
* two ``Content-Length`` headers with different values (RFC 9112 6.3: the
  WSGI server keeps the first, another hop may read the other);
* a ``Content-Length`` that is not plain digits (``+2``);
* an ``Expect`` other than ``100-continue`` (417);
* ``.``/``..`` path segments, also percent-encoded (anything that
  normalises paths between here and the target would read them as "up");
* a header value holding a control character other than HTAB (RFC 9110
  5.5; NUL, CR and LF among them), or continued on the next line
  (obs-fold), and a CR, LF or NUL in the query string: such bytes would be
  written onto the upstream request line or header block.

Any other status comes from the target unchanged.

Observability
-------------
Each forwarded request gets one log line (info; error level when the
forwarder failed it with a 5xx other than the loop guard's 508, or its
response body was aborted)::

    forwarded to <target>: <METHOD> <path> <status> bytes_up=N
    bytes_down=N ttfb=<s> time=<s>[: <reason>] (txn: <transaction id>)

and ``forwarder:<target>:<target transaction id>`` in ``swift.log_info``
for proxy-logging.  Paths are logged without the query string; tokens, keys
and signatures never are.  Statsd metrics (Swift's ``log_statsd_*``
settings) are named ``forwarder.<target>.<metric>``; the README lists them.
``/info`` shows a ``forwarder`` section (version, target names, non-secret
settings; target URLs in the admin section).

Configuration
-------------
All options go in ``[filter:forwarder]``.  Unknown options, and values of
the wrong form, stop the proxy at startup with a message naming the option.
Swift's ``log_*`` and ``log_statsd_*`` options are accepted as in any
middleware.  As for every Swift middleware, paste.deploy gives a value set
in ``[DEFAULT]`` precedence over the section's (``node_timeout`` there
applies here too); write ``set name = value`` in the section to override
one.  ``cert_file`` and ``key_file`` are never taken from ``[DEFAULT]``,
where they are the proxy's own server certificate.

``target_url``
    ``http[s]://host[:port]`` of the target cluster's proxy.  Required
    unless ``targets_conf`` names the targets.
``targets_conf =``
    A file of ``[target:NAME]`` sections (see Several targets).
``container_opt_in = false``
    Honour ``X-Container-Meta-Forward-To`` on local containers.
``forward = *``
    What is forwarded, space-separated: ``*`` (every account),
    ``AUTH_a`` (an account), ``AUTH_a/cont`` (a container),
    ``AUTH_a/prefix*`` (containers starting with ``prefix``),
    ``AUTH_pre*`` (accounts starting with ``AUTH_pre``).
``forward_auth = false``
    Gateway placement: also forward auth requests, ``/info`` and every
    other path that names no account under ``/v1``, and point the
    ``X-Storage-Url`` of auth answers at this proxy.
``storage_url_scheme = default``
    The scheme of that rewritten ``X-Storage-Url``: ``default`` is the one
    the client reached this proxy with; ``https`` behind a TLS terminator
    that talks http to the proxy (as tempauth's option of that name).
``pool_size = 20``
    Connections to the target per proxy worker, in use plus idle.
``pool_timeout = 30``
    Seconds a request waits for a free connection before a 503.
``conn_timeout = 0.5``
    Seconds to connect to the target (TLS handshake included).
``node_timeout = 60``
    Seconds each read or write toward the target may take.
``client_timeout = 60``
    Seconds each read of the client's upload may take.
``max_idle_time = 60``
    Idle pooled connections older than this are closed, not reused.
``retries = 2``
    Extra connect attempts when the target refuses or the connect times
    out, after a short jittered pause (never once the client's body has
    been read); also the number of resumes of a broken response body.
``client_chunk_size = 65536``
    Bytes read at a time from the client's upload, each read bounded by
    ``client_timeout``; when more has already arrived, a read takes it, up
    to 16 times this (so it never waits longer than a read of
    ``client_chunk_size`` would).  A response body is read as it arrives,
    up to 16 times this at once (1 MiB by default; a read never waits for
    more than has arrived).  A busy forwarder so makes fewer, larger reads
    and writes.
``ca_certs =``
    CA bundle to verify an https target with (default: the system's).
``insecure = false``
    Do not verify the target's certificate.  For tests only.
``cert_file =``, ``key_file =``
    Client certificate and key for the target, if it asks for one.
``forwarder_id = <hostname>``
    This forwarder's name in the ``X-Forwarder-Hops`` loop guard.
``max_hops = 3``
    A request that already passed this many forwarders gets 508.
``auth_mode = passthrough``
    ``passthrough`` (gateway: the client's own credentials go to the
    target) or ``service`` (federation: see above).
``auth_url``, ``auth_version = 1``, ``auth_user``, ``auth_key``
    Service mode: the forwarder's credentials on the target, for
    python-swiftclient's ``get_auth`` (``auth_version`` 1 for tempauth, 2 or
    3 for Keystone; v2/v3 need python-keystoneclient).  Not ``user`` and
    ``key``: proxy-server.conf's ``[DEFAULT] user`` would shadow them.
``os_project_name``, ``os_project_domain_name``, ``os_user_domain_name``,
``os_region_name``, ... (every ``os_*`` option of swiftclient)
    Service mode, Keystone: passed to ``get_auth`` as ``os_options``.
``token_refresh_interval = 1800``
    Service mode: seconds a service token is used before it is renewed
    (keep it below the target's token lifetime); a 401 renews it at once.
``account_map =``
    Service mode: ``AUTH_local:AUTH_target`` pairs, space-separated, one
    target account per local account; a request in a local account not
    listed gets 403.  Without it, the account of the service credentials'
    storage URL is used, ``forward`` may name one local account only, and
    ``container_opt_in`` must be off.
``allow_account_requests = false``
    Service mode: forward PUT/POST/DELETE on the account itself.
``backend_endpoint = false``
    Core placement: ``target_url`` is the target's backend endpoint (see
    Core placement); needs ``auth_mode = service``.  A targets_conf section
    may set it (and ``backend_key``) for its target.
``backend_key =``
    With ``backend_endpoint``: the key shared with the target's
    ``[filter:forwarder_backend]`` (its ``key``, or ``key2`` while keys
    change), which signs the environ state sent there.  Required then.
``storage_policies =``
    Local storage policies (space-separated names) whose containers live
    on this target (see Routing by storage policy); each policy on one
    target only.  Service mode, with ``account_map``.
``target_storage_policy =``
    The storage policy those containers get on the target (default: the
    target's default policy).
``migrate =``
    Paths (the ``forward`` syntax) being migrated from this target, a
    *source*, into the local cluster (see Migrating a cluster).  Needs
    ``backend_endpoint`` (service mode); a source forwards nothing unless
    it also has ``forward`` rules, which may not overlap these.
``migrate_on_read = false``
    With ``migrate``: a whole plain object read through is also written
    into the local cluster as it streams, with its original timestamp.
``etag_mismatch_policy = raise``
    ``raise``, ``raise_and_delete`` or ``log``: what a PUT whose target
    ETag differs from the MD5 of the bytes sent gets (see Integrity).
``verify_get = true``
    Check whole plain-object GET bodies against their ETag as they stream
    (see Integrity).  MD5 costs about 1.4 CPU seconds per GiB on a current
    x86 core, most of what the forwarder spends on a big GET; turn it off
    only where the path to the target is already integrity-protected
    (https) and CPU is what limits throughput; a targets_conf section may
    set it for its target.  PUTs are always checked.
``error_limit = 10``, ``error_window = 60``
    This many target failures within this many seconds...
``error_suppression_interval = 60``
    ...make requests to it fail fast for this many seconds.
``healthcheck_path =``
    Off by default.  When set (e.g. ``/forwarder/healthcheck``), a GET of
    that path probes every target (``GET /healthcheck`` on a connection of
    its own) and returns each one's reachability, with this worker's pool
    state and counters (retries, resumes, ETag mismatches, error-limited
    requests, suppressions), as JSON: 200 when every target answers below
    500, else 503.  ``?probe=no`` skips the probes.  Put it behind your own
    access control.
"""

import collections
import http
import json
import logging
import os
import time
import urllib.parse

from swift_forwarder import __version__, migrate, policy, service
from swift_forwarder.auth import service_tokens
from swift_forwarder.cache import TTLCache
from swift_forwarder.config import parse_conf
from swift_forwarder.exceptions import BadRequest, ConfigError, \
    ForwarderError, LoopDetected, Refused, SwiftError, UpstreamError
from swift_forwarder.forward import ErrorLimiter, Upstream, UpstreamRequest
from swift_forwarder.green import local, spawn
from swift_forwarder.headers import client_base_url, response_headers, \
    rewrite_location, rewrite_storage_url, upstream_headers, \
    without_owner_headers
from swift_forwarder.integrity import Integrity, put_etag_checkable
from swift_forwarder.iterators import PrefixedInput, RequestBody, \
    arrived_bytes
from swift_forwarder.metrics import NULL_METRICS, RequestRecord, \
    TargetMetrics, loggable_path
from swift_forwarder.paths import RequestPath
from swift_forwarder.policy import PolicyRouter
from swift_forwarder.pool import ConnectionPool
from swift_forwarder.routing import is_auth_path, names_account, \
    should_forward
from swift_forwarder.validation import check_loop, check_request

try:
    from swift.common.registry import register_swift_info
    from swift.common.utils import get_logger as swift_get_logger
    from swift.proxy.controllers.base import clear_info_cache, \
        get_container_info
except ImportError:  # unit tests and tools without Swift installed
    swift_get_logger = get_container_info = register_swift_info = None
    clear_info_cache = None

__all__ = ['ForwarderMiddleware', 'TargetForwarder', 'filter_factory']

#: Longest wait for a healthcheck probe's answer (``node_timeout`` if less).
PROBE_TIMEOUT = 10

#: container_opt_in: seconds a container's Forward-To setting is kept per
#: worker (a change made through this worker applies at once), and how many
#: containers' are kept at most.
OPT_IN_CACHE_TIME = 10.0
OPT_IN_CACHE_SIZE = 10000

#: Reason phrases for statuses http.client does not know.
_REASONS = {499: 'Client Disconnect', 508: 'Loop Detected'}

_MISSING = object()


class ForwarderMiddleware(object):
    """Forward matching requests to the target clusters.

    :param app: the next WSGI app in the local pipeline.
    :param conf: the merged filter configuration (paste's global + local).
    :param logger: a Swift-style logger; by default Swift's ``get_logger``.
    :param local_conf: the filter section's own options, which are checked
        for unknown names (default: ``conf``).
    :param parsed: the :class:`ForwarderConfig` already parsed from them
        (by :func:`filter_factory`), if it was.
    """

    def __init__(self, app, conf, logger=None, local_conf=None,
                 parsed=None):
        self.app = app
        self.conf = parsed or parse_conf(
            conf if local_conf is None else local_conf,
            swift_dir=conf.get('swift_dir', '/etc/swift'), global_conf=conf)
        # Swift's logger sends no metric without log_statsd_host: then the
        # forwarder does not even make the calls.  A logger passed in (a
        # test, a tool) gets every one.
        statsd = logger is not None or bool(conf.get('log_statsd_host'))
        self.logger = logger or get_logger(conf)
        if self.conf.auth_mode == 'service' and service.Request is None:
            raise ConfigError('[filter:forwarder]: auth_mode = service runs '
                              'in a Swift proxy (swift not found)')
        if self.conf.container_opt_in and get_container_info is None:
            raise ConfigError('[filter:forwarder]: container_opt_in runs in '
                              'a Swift proxy (swift not found)')
        self.targets = collections.OrderedDict(
            (name, TargetForwarder(self.conf, target_conf, self.logger,
                                   statsd))
            for name, target_conf in self.conf.targets.items())
        #: migration mode: a :class:`Source` per target with ``migrate``
        self.sources = [migrate.Source(target, app, self.logger)
                        for target in self.targets.values()
                        if target.migrate_rules]
        if self.sources and get_container_info is None:
            raise ConfigError('[filter:forwarder]: migrate runs in a Swift '
                              'proxy (swift not found)')
        self.policies = None
        if any(t.storage_policies for t in self.targets.values()):
            if policy.POLICIES is None:
                raise ConfigError('[filter:forwarder]: storage_policies '
                                  'runs in a Swift proxy (swift not found)')
            self.policies = PolicyRouter(self.targets, app, self.logger)
        # opt-in: {(account, container): Forward-To or None}
        self._forward_to = TTLCache(OPT_IN_CACHE_TIME, OPT_IN_CACHE_SIZE)

    @property
    def _pipeline_request_logging_app(self):
        return self._request_logging_app

    @_pipeline_request_logging_app.setter
    def _pipeline_request_logging_app(self, app):
        """Core placement (right before proxy-server): Swift's
        ``get_container_info()`` and ``get_account_info()`` skip every
        middleware, straight to the pipeline's own copy of proxy-logging in
        front of proxy-server, which Swift's ``loadapp`` hands each app of
        the pipeline here once all are built.  Put the forwarder behind it,
        so that what object versioning, container quotas and the others
        read of a forwarded container is the target's, not a local 404.
        (Without proxy-logging in the pipeline they go to proxy-server.)"""
        self._request_logging_app = app
        if app is not self.app and getattr(app, 'app', None) is self.app:
            app.app = self

    def __call__(self, env, start_response):
        path_info = env.get('PATH_INFO', '')
        if path_info == self.conf.healthcheck_path and path_info:
            return self.handle_healthcheck(env, start_response)
        self.logger.txn_id = env.get('swift.trans_id')
        path = RequestPath.from_environ(env)
        try:
            target = self.route(env, path)
        except ForwarderError as err:
            log = self.logger.error if err.status_hint >= 500 else \
                self.logger.info
            log('%s %s: %d %s', env['REQUEST_METHOD'], loggable_path(env),
                err.status_hint, err)
            return self.error_response(env, start_response, err)
        if target is None:
            return self.app(env, start_response)
        try:
            if path.path_info == '/info' and env['REQUEST_METHOD'] == 'GET':
                return self.forward_info(env, start_response, target, path)
            return target.forward(env, start_response, path)
        except ForwarderError as err:  # logged on the request's line
            return self.error_response(env, start_response, err, target.name)

    def forward_info(self, env, start_response, target, path):
        """``GET /info`` through the gateway (forward_auth): the target's
        capabilities, plus this filter's own ``forwarder`` section (as
        without forward_auth), so that ``/info`` always shows it."""
        head = []

        def capture(status, headers, exc_info=None):
            head[:] = [status, headers]
        body = target.forward(env, capture, path)
        try:
            data = b''.join(body)
        finally:
            if hasattr(body, 'close'):
                body.close()
        status, headers = head
        try:
            info = json.loads(data) if status.startswith('200 ') else None
        except ValueError:
            info = None
        if isinstance(info, dict):
            info['forwarder'] = info_section(self)
            data = json.dumps(info).encode('utf-8')
            headers = [(name, value) for name, value in headers
                       if name.lower() != 'content-length'] + [
                ('Content-Length', str(len(data)))]
        start_response(status, headers)
        return [data]

    def route(self, env, path):
        """The :class:`TargetForwarder` this request goes to, or None.

        ``forward`` rules first (the inline target's, then targets_conf's,
        in order); then ``migrate`` rules (a :class:`Source`); then, with
        forward_auth (the gateway placement), every
        path that names no account under ``/v1`` (auth requests,
        ``/info``, and ``/v1``, ``/v1//c/o``, ``//v1/a``...: the target
        answers them as it would directly) goes to the first target; then,
        with storage_policies, by the local container's storage policy (a
        :class:`PolicyContainer` for the container's own requests); then,
        with container_opt_in, the local container's
        ``X-Container-Meta-Forward-To``.
        """
        for target in self.targets.values():
            if should_forward(path, target.forward_rules):
                return target
        if self.sources and path.is_swift_api and path.container is None \
                and env['REQUEST_METHOD'] == 'GET':
            sources = [source for source in self.sources if any(
                names_account(rule, path.account) for rule in source.rules)]
            if sources:
                return migrate.AccountListing(sources, self.app)
        for source in self.sources:
            if should_forward(path, source.rules):
                return source
        if self.conf.forward_auth and not path.is_swift_api:
            # gateway placement: the target answers everything but the
            # accounts it is not given (the local auth would answer 401
            # to the target's token)
            return next(iter(self.targets.values()))
        if self.policies is not None:
            target = self.policies.route(env, path)
            if target is not None:
                return target
        if self.conf.container_opt_in:
            return self._opted_in(env, path)
        return None

    def target_named(self, name):
        """The target called ``name`` (``//realm/cluster`` names are
        case-insensitive, as in Swift), or None."""
        name = name.strip()
        if name.startswith('//'):
            name = name.upper()
        return self.targets.get(name)

    def _opted_in(self, env, path):
        """Per-container opt-in: object requests and listings of a local
        container whose ``X-Container-Meta-Forward-To`` names a target go
        there; container HEAD/PUT/POST/DELETE stay local (they manage the
        local container and that setting)."""
        if path.version != 'v1' or path.container is None:
            return None
        key = (path.account, path.container)
        method = env['REQUEST_METHOD']
        if path.obj is None and method != 'GET':
            name = env.get('HTTP_X_CONTAINER_META_FORWARD_TO')
            if method in ('PUT', 'POST') and name and \
                    self.target_named(name) is None:
                raise BadRequest('X-Container-Meta-Forward-To: no target '
                                 'named %r here' % name)
            if method in ('PUT', 'POST', 'DELETE'):
                self._forward_to.pop(key)
            return None
        name = self._container_forward_to(env, key)
        if not name:
            return None
        target = self.target_named(name)
        if target is None:
            self.logger.warning('Container %s/%s forwards to %r, which is '
                                'not a configured target: served locally',
                                path.account, path.container, name)
        return target

    def _container_forward_to(self, env, key):
        """The container's ``X-Container-Meta-Forward-To`` (or None), from
        Swift's container info (memcache, when the pipeline has ``cache``),
        kept here for :data:`OPT_IN_CACHE_TIME` seconds so that object
        requests never each cost a container HEAD."""
        name = self._forward_to.get(key, _MISSING)
        if name is not _MISSING:
            return name
        info = get_container_info(env, self.app, swift_source='FWD')
        name = info.get('meta', {}).get('forward-to') or None
        if info.get('status') == 404 or 200 <= (info.get('status') or 0) < 300:
            self._forward_to.put(key, name)
        return name

    def error_response(self, env, start_response, err, target_name=None):
        """Answer a :class:`ForwarderError` (logged by the caller).  The
        client's body names the target, never its address (the log line
        has that)."""
        status = err.status_hint
        content_type = 'text/plain; charset=UTF-8'
        if isinstance(err, SwiftError):  # byte for byte as Swift's
            body, content_type = str(err).encode('utf-8'), err.content_type
        elif isinstance(err, UpstreamError) and target_name is not None:
            body = ('Target %s: %s\n' % (target_name, err.reason)).encode(
                'utf-8')
        else:
            body = ('%s\n' % err).encode('utf-8')
        headers = [('Content-Type', content_type),
                   ('Content-Length', str(len(body)))]
        headers.extend(err.headers)
        start_response('%d %s' % (status, _reason(status)), headers)
        if env['REQUEST_METHOD'] == 'HEAD':
            return []  # Content-Length says what a GET would have had
        return [body]

    def handle_healthcheck(self, env, start_response):
        """Per-target reachability, pool state and counters, as JSON
        (``healthcheck_path``): 200 when every target answered its probe,
        503 when one did not.  ``?probe=no`` skips the probes (state only,
        always 200)."""
        probe = urllib.parse.parse_qs(env.get('QUERY_STRING', '')).get(
            'probe', ['yes'])[-1] not in ('no', '0', 'false')
        # every target at once: one dead target costs one probe timeout
        probes = {name: spawn(target.probe)
                  for name, target in self.targets.items()} if probe else {}
        targets = {}
        for name, target in self.targets.items():
            targets[name] = {
                'url': target.pool.name, 'pool': target.pool.stats(),
                'counters': dict(target.upstream.counters),
                'error_limited': target.upstream.limiter.suppressed_until >
                time.monotonic()}
            if target.migrate_rules:
                targets[name].update(migrate.describe(target))
            if probe:
                targets[name].update(probes[name].wait())
        healthy = all(t.get('reachable', True) for t in targets.values())
        body = json.dumps({'pid': os.getpid(), 'status': 'OK' if healthy
                           else 'FAIL', 'targets': targets},
                          sort_keys=True).encode('ascii')
        start_response('200 OK' if healthy else '503 Service Unavailable',
                       [('Content-Type', 'application/json'),
                        ('Content-Length', str(len(body)))])
        return [body]


class TargetForwarder(object):
    """One target: its pool, error limiter, service mode and integrity
    checks, and the forwarding of one request to it.

    :param conf: the :class:`ForwarderConfig`.
    :param target_conf: this target's :class:`TargetConf`.
    :param logger: the middleware's logger.
    :param statsd: send metrics through ``logger`` (else none at all).
    """

    def __init__(self, conf, target_conf, logger, statsd=True):
        self.conf = conf
        self.logger = logger
        address = self.address = target_conf.address
        self.name = address.name
        self.forward_rules = target_conf.forward
        self.auth = target_conf.auth
        #: a backend endpoint (core placement): its signing key, else None
        self.backend_key = target_conf.backend_key
        self.backend = self.backend_key is not None
        #: local storage policies whose containers live here
        self.storage_policies = target_conf.storage_policies
        self.target_storage_policy = target_conf.target_storage_policy
        #: migration mode: what is being migrated from here (a source)
        self.migrate_rules = target_conf.migrate
        self.migrate_on_read = target_conf.migrate_on_read
        self.metrics = TargetMetrics(logger, self.name) if statsd else \
            NULL_METRICS
        self.pool = ConnectionPool(
            address, conf.pool_size, conf.pool_timeout, conf.conn_timeout,
            conf.node_timeout, conf.max_idle_time, self.metrics)
        self.upstream = Upstream(self.pool, conf.retries, ErrorLimiter(
            conf.error_limit, conf.error_window,
            conf.error_suppression_interval), _netloc(address), '1.1 %s '
            '(swift_forwarder/%s)' % (conf.forwarder_id, __version__))
        self.service = None
        if self.auth is not None:
            self.service = service.ServiceMode(
                self.upstream, service_tokens(
                    self.pool.name, self.auth, address, conf.node_timeout),
                self.auth['account_map'], conf.allow_account_requests, conf,
                backend_key=self.backend_key)
        self.integrity = Integrity(self.upstream, conf, target_conf.verify_get,
                                   logger, self.send)

    @property
    def netloc(self):
        return self.upstream.netloc

    def probe(self):
        """Is the target there?  See :func:`_probe`."""
        return _probe(self.upstream, self.conf)

    def send(self, env, request, extra=False):
        """One round trip for ``env``: ``request`` as built for it, or one
        derived from it (a resume, a raise_and_delete DELETE), in service
        mode in the mapped account with the service token."""
        if self.service is None:
            return self.upstream.round_trip(request, extra)
        return self.service.round_trip(env, request, extra)

    def forward(self, env, start_response, path=None, answer=None):
        """Send one request to the target and relay its response.  The
        request's log line and metrics come once it is over (see
        :class:`RequestRecord`).

        :param answer: called with the target's response (its head) before
            the client sees it: may raise :class:`Refused` (with the app
            that answers instead), or return a function that wraps the
            response body (migration mode's read-through)."""
        record = RequestRecord(self.name, self.metrics, self.logger, env)
        try:
            return self._forward(env, start_response, record, path or
                                 RequestPath.from_environ(env), answer)
        except Refused as err:
            if err.app is None:
                record.finish(err.status_hint, outcome=str(err))
                raise
            return err.app(env, _recording(start_response, record, str(err)))
        except ForwarderError as err:
            loop = isinstance(err, LoopDetected)  # a refusal, not a failure
            if loop:
                self.upstream.count('loop_refusals')
            record.finish(err.status_hint, outcome=str(err),
                          error=err.status_hint >= 500 and not loop)
            raise

    def _forward(self, env, start_response, record, path, answer):
        conf = self.conf
        hops = check_loop(env, conf.forwarder_id, conf.max_hops)
        has_body, length = check_request(env, self.backend)
        if self.service is not None:
            # after the input checks: bad input never costs the ACL lookup
            path, has_body, length = self.service.check_request(
                env, path, has_body, length)
        if self.backend and length == 0 and env['REQUEST_METHOD'] == 'PUT':
            has_body, length = _unannounced_body(env, conf)
        request = self._request(env, record, path, hops, has_body, length)
        self._log_info(env, record)
        conn = self.send(env, request)
        resp = conn.response
        record.response_head(resp.status, resp.getheader('X-Trans-Id'))
        # from here on the response body owns the connection
        resp_body = self.integrity.response_body(env, request, conn)
        app_iter = None
        try:
            self._check_answer(env, request, resp_body)
            wrap = answer(resp) if answer is not None else None
            app_iter = self.integrity.app_iter(resp_body, record)
            if wrap is not None:
                app_iter = wrap(app_iter)
            start_response('%d %s' % (resp.status, resp.reason),
                           self._response_headers(env, resp, path))
        except BaseException:
            resp_body.close()  # nobody else will: free the connection
            if app_iter is not None:
                app_iter.close()  # a short body's: its log line and metrics
            raise
        return app_iter

    def _request(self, env, record, path, hops, has_body, length):
        """The :class:`UpstreamRequest` for ``env``, its body (if any) an
        MD5-checked :class:`RequestBody` where the PUT's ETag is."""
        conf = self.conf
        checksum = has_body and put_etag_checkable(env, path)
        body = record.request_body = RequestBody(
            env['wsgi.input'], length, conf.client_chunk_size,
            conf.client_timeout, checksum=checksum,
            arrived=arrived_bytes(env)) if has_body else None
        return UpstreamRequest(env['REQUEST_METHOD'], path, upstream_headers(
            env, self.netloc, hops, env.get('swift.trans_id'),
            self.upstream.user_agent, service=self.service is not None,
            backend=self.backend), body, length)

    def _check_answer(self, env, request, resp_body):
        """What the target answered, before the client sees it: the
        read-through checks of service mode, the PUT's ETag."""
        resp, path = resp_body.response, request.path
        if self.backend and path.obj is None and request.method in (
                'PUT', 'POST', 'DELETE'):
            # as proxy-server does: the local middlewares above must not go
            # on reading the info cached before
            clear_info_cache(env, path.account, path.container)
        if self.service is not None:
            self.service.check_response(env, request, resp)
        if request.body is not None and request.body.md5 is not None and \
                200 <= resp.status < 300:
            self.integrity.check_put(env, request, resp_body,
                                     request.body.md5.hexdigest())

    def _log_info(self, env, record):
        """proxy-logging names the target of what was sent there (not of
        what was refused before it)."""
        log_info = env.setdefault('swift.log_info', [])
        log_info.append('forwarder:%s' % self.name)
        record.log_info = (log_info, len(log_info) - 1)

    def _response_headers(self, env, resp, path):
        """The target's response headers for the client (see
        :func:`_client_headers`)."""
        return _client_headers(env, resp, path, self.service is not None,
                               self.netloc, self.conf.storage_url_scheme)


def _probe(upstream, conf):
    """A ``GET /healthcheck`` of the target on a connection of its own,
    within ``conn_timeout`` plus at most :data:`PROBE_TIMEOUT` seconds for
    the answer.

    :returns: ``reachable``, and ``status`` and ``time_ms`` or ``error``,
        for the healthcheck JSON.  A 5xx answer is not reachable: the
        target said it cannot serve.
    """
    started = time.monotonic()
    try:
        status = upstream.probe('/healthcheck', conf.conn_timeout + min(
            conf.node_timeout, PROBE_TIMEOUT)).status
    except ForwarderError as err:
        return {'reachable': False, 'error': str(err)}
    return {'reachable': status < 500, 'status': status,
            'time_ms': round((time.monotonic() - started) * 1000, 3)}


def _client_headers(env, resp, path, service_mode, netloc, scheme):
    """The target's response headers for the client.  Service mode:
    owner-only headers for owners only.  Passthrough: the URLs the target
    built for this proxy's clients (a storage URL, a redirect to the
    target's own host, ``netloc``) point at this proxy."""
    headers = response_headers(resp.getheaders(),
                               resp.getheader('Connection', ''))
    if service_mode:
        if path.obj is None and not env.get('swift_owner'):
            # as Swift's proxy: ACLs and keys are the owner's to see
            headers = without_owner_headers(headers)
        return headers
    base_url = client_base_url(env, scheme)
    headers = rewrite_location(headers, netloc, base_url)
    if is_auth_path(env['PATH_INFO']):
        headers = rewrite_storage_url(headers, base_url)
    return headers


def _unannounced_body(env, conf):
    """A local middleware's PUT that says ``Content-Length: 0`` and yet has
    a body: object versioning copies the client's headers onto the PUT of
    the version after it moved the body over.  proxy-server reads a PUT's
    body to its end whatever its length says, so Swift alone stores it: so
    do we, sent chunked.

    :returns: ``(has_body, content_length)`` as :func:`check_request`.
    """
    first = next(iter(RequestBody(env['wsgi.input'], None,
                                  conf.client_chunk_size,
                                  conf.client_timeout)), b'')
    if not first:
        return False, 0
    env['wsgi.input'] = PrefixedInput(first, env['wsgi.input'])
    return True, None


def _netloc(address):
    """The ``Host`` of a target."""
    host = '[%s]' % address.host if ':' in address.host else address.host
    default_port = 443 if address.scheme == 'https' else 80
    return host if address.port == default_port else \
        '%s:%d' % (host, address.port)


def _recording(start_response, record, outcome):
    """``start_response`` that finishes ``record`` with the status given."""
    def recorded(status, headers, exc_info=None):
        record.finish(int(status.split(' ', 1)[0]), outcome=outcome)
        return start_response(status, headers, exc_info)
    return recorded


def _reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return _REASONS.get(status, 'Error')


class _TxnLoggerAdapter(logging.LoggerAdapter):
    """A stand-in for Swift's LogAdapter where Swift is not installed:
    lines end with ``(txn: ...)`` like Swift's."""

    def __init__(self, logger):
        super().__init__(logger, {})
        self._local = local()

    @property
    def txn_id(self):
        return getattr(self._local, 'txn_id', None)

    @txn_id.setter
    def txn_id(self, value):
        self._local.txn_id = value

    def process(self, msg, kwargs):
        if self.txn_id:
            msg = '%s (txn: %s)' % (msg, self.txn_id)
        return msg, kwargs


def get_logger(conf):
    """Swift's logger (syslog, statsd under ``forwarder.``, txn ids) when
    running in a proxy."""
    if swift_get_logger is not None:
        try:
            return swift_get_logger(conf, log_route='forwarder',
                                    statsd_tail_prefix='forwarder')
        except TypeError:  # Swift < 2.34
            logger = swift_get_logger(conf, log_route='forwarder')
            logger.set_statsd_prefix('forwarder')
            return logger
    return _TxnLoggerAdapter(logging.getLogger('swift_forwarder'))


#: What /info shows of the configuration: nothing secret, and no account
#: names or addresses (those go to the admin section only).
INFO_OPTIONS = ('auth_mode', 'forward_auth', 'container_opt_in', 'max_hops',
                'etag_mismatch_policy', 'verify_get', 'pool_size',
                'pool_timeout', 'conn_timeout', 'node_timeout',
                'client_timeout', 'retries', 'client_chunk_size')


def info_section(middleware):
    """The ``forwarder`` section of ``/info``: nothing secret."""
    conf = middleware.conf
    info = dict({name: getattr(conf, name) for name in INFO_OPTIONS},
                version=__version__, targets=list(middleware.targets))
    if middleware.sources:
        info['migrating'] = {source.name: migrate.describe(source.target)
                             for source in middleware.sources}
    return info


def register_info(middleware):
    """Advertise the filter in the proxy's ``/info``."""
    register_swift_info('forwarder', **info_section(middleware))
    register_swift_info('forwarder', admin=True, target_urls={
        name: target.pool.name for name, target in middleware.targets.items()})


def filter_factory(global_conf, **local_conf):
    """paste.deploy entry point: ``use = egg:swift_forwarder#forwarder``."""
    conf = global_conf.copy()
    conf.update(local_conf)
    # once, and before the pipeline is built: a bad option fails startup
    parsed = parse_conf(local_conf, global_conf=global_conf,
                        swift_dir=conf.get('swift_dir', '/etc/swift'))

    def forwarder_filter(app):
        middleware = ForwarderMiddleware(app, conf, parsed=parsed)
        if register_swift_info is not None:
            register_info(middleware)
        return middleware
    return forwarder_filter

"""The SSRF guard's address rules: which IP addresses count as public, which are metadata.

What this module owns: the classification of IP addresses (:func:`is_public_address`,
:func:`is_metadata_address`, pure functions of the address text, memoised because every
connection asks) and the URL/host helpers the plan and the backends share.
What it must never do: open a connection or decide when the rules apply (the plan,
:mod:`ocspkit.client.transfer`, decides that from :class:`~ocspkit.client.ClientConfig`).

Three rules use it (see ``docs/client.rst``, "Network defaults"):

* by default a redirect from a public address to a non-public one is refused
  (``allow_private_redirects=True`` allows it), so a public responder cannot point the client
  at ``http://10.0.0.5/admin``, while a responder that the certificate or the caller names may
  be on a private address (private PKI keeps working);
* cloud metadata addresses (:data:`METADATA_ADDRESSES`) are never connected to;
* with ``block_private_addresses=True`` every URL must resolve to public addresses only.

Whenever a host was checked, the clients' connections go only to the addresses that were
checked (:mod:`ocspkit.client.backends`), so a DNS answer that changes after the check
(rebinding) cannot redirect the request.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ..errors import FetchError, UnsafeURLError

__all__ = [
    "METADATA_ADDRESSES",
    "METADATA_NAMES",
    "check_address",
    "getaddrinfo_addresses",
    "host_and_port",
    "is_metadata_address",
    "is_public_address",
    "literal_address",
    "refuse_metadata_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


#: IPv6 ranges that are never a public responder, whatever Python's ``is_global`` says:
#: IPv4-compatible ``::a.b.c.d`` (deprecated), IPv4-translated ``::ffff:0:a.b.c.d``, local-use
#: NAT64 (RFC 8215) and site-local ``fec0::/10`` (deprecated, still routed internally).
_NEVER_PUBLIC = tuple(
    ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fec0::/10")
)
#: The well-known NAT64 prefix (RFC 6052): the IPv4 address is in the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


#: Cloud instance metadata and platform endpoints: never an OCSP responder or a CA's
#: certificate, and the classic SSRF target. AWS (IMDS, ECS task metadata, DNS, NTP, IPv6
#: IMDS), GCP/Azure/OpenStack/DigitalOcean (169.254.169.254), Azure WireServer (168.63.129.16,
#: a globally routable address), Alibaba Cloud (100.100.100.200), Oracle Cloud (192.0.0.192),
#: GCP IPv6 (fd20:ce::254).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "169.254.169.123",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::253",
        "fd00:ec2::123",
        "fd20:ce::254",
    )
)


def _parse(address: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _never_public(ip: IPAddress) -> bool:
    return isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in _NEVER_PUBLIC)


@functools.lru_cache(maxsize=1024)
def is_metadata_address(address: str) -> bool:
    """True if ``address`` is one of :data:`METADATA_ADDRESSES` (also IPv4-mapped, 6to4 or
    NAT64-wrapped)."""
    ip = _parse(address)
    if ip is None:
        return False
    raw = ipaddress.ip_address(address.split("%", 1)[0])  # parsed above: cannot fail
    return ip in METADATA_ADDRESSES or raw in METADATA_ADDRESSES


@functools.lru_cache(maxsize=1024)
def is_public_address(address: str) -> bool:
    """True if ``address`` is a globally routable unicast IP address.

    False for cloud metadata addresses (:data:`METADATA_ADDRESSES`), private (RFC 1918,
    ULA), loopback, link-local, multicast, reserved, unspecified, shared (CGNAT, 100.64/10)
    and documentation addresses, also when wrapped in IPv4-mapped, 6to4 or
    NAT64 (``64:ff9b::/96``) IPv6; and always for IPv4-compatible (``::a.b.c.d``),
    IPv4-translated (``::ffff:0:a.b.c.d``), local-use NAT64 (``64:ff9b:1::/48``) and site-local
    (``fec0::/10``) addresses.
    """
    ip = _parse(address)
    if ip is None or _never_public(ip) or is_metadata_address(address):
        return False
    return ip.is_global and not ip.is_multicast


def check_address(
    url: str, address: str, is_public: Callable[[str], bool] = is_public_address
) -> None:
    """Raise :class:`~ocspkit.UnsafeURLError` unless ``is_public(address)``."""
    if not is_public(address):
        raise UnsafeURLError(f"refusing to connect to non-public address {address}", url=url)


def host_and_port(url: str) -> tuple[str, int]:
    """The host (brackets removed) and port of an http(s) URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise FetchError("invalid port in URL", url=url) from None
    host = parts.hostname
    if not host:
        raise FetchError("URL has no host", url=url)
    return host, port or (443 if parts.scheme == "https" else 80)


@functools.lru_cache(maxsize=1024)
def literal_address(host: str) -> str | None:
    """``host`` itself if it is an IP literal, else None."""
    return host if _parse(host) is not None else None


def getaddrinfo_addresses(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to (blocking; the edges bound it with a timeout)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


#: Cloud metadata host names a proxy would resolve for us (GCP, and the names Azure and
#: Alibaba document for their endpoints).
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "metadata.azure.internal"})


def refuse_metadata_host(url: str) -> None:
    """Raise :class:`~ocspkit.UnsafeURLError` if ``url``'s host is a cloud metadata address in
    any spelling (``169.254.169.254``, ``0xa9fea9fe``, ``2852039166``, ``[::ffff:...]``) or a
    metadata host name: before any request, since a proxy would fetch it where the connection
    rule (which sees only the proxy's address) cannot. Judged once per authority (every GET
    URL is new, its authority is not)."""
    rest = url.partition("//")[2]
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]  # where urlsplit ends it
    problem = _metadata_host_problem(rest[: min(ends)] if ends else rest)
    if problem is not None:
        raise UnsafeURLError(problem, url=url)


@functools.lru_cache(maxsize=1024)
def _metadata_host_problem(netloc: str) -> str | None:
    try:
        host = (urlsplit(f"//{netloc}").hostname or "").rstrip(".").lower()
    except ValueError:
        return None  # the URL is refused as malformed elsewhere
    if host in METADATA_NAMES:
        return f"refusing to connect to cloud metadata host {host}"
    address = host
    if _parse(host) is None:
        try:  # the legacy IPv4 spellings inet_aton reads (and resolvers with it)
            address = socket.inet_ntoa(socket.inet_aton(host))
        except (OSError, UnicodeError, ValueError):
            return None
    if is_metadata_address(address):
        return f"refusing to connect to cloud metadata address {address}"
    return None

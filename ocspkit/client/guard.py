"""The optional SSRF guard: refuse responder URLs that reach private or local addresses.

Tools that check certificates supplied by untrusted users would otherwise let those users make
the tool send requests to internal services (an AIA URL of ``http://10.0.0.5/admin`` or
``http://169.254.169.254/``). With ``block_private_addresses=True`` the client resolves the host
of every URL (and every redirect target) first and refuses it if *any* address is not globally
routable. The clients' own connections then go only to the addresses that were checked
(:mod:`ocspkit.client.deadline`, and the async plain-HTTP transport), so a DNS answer that
changes after the check (rebinding) cannot redirect the request; the address actually
connected to is checked again before the response is used.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import FetchError, UnsafeURLError

__all__ = ["check_address", "getaddrinfo_addresses", "host_and_port", "is_public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


#: IPv6 ranges that are never a public responder, whatever Python's ``is_global`` says:
#: IPv4-compatible ``::a.b.c.d`` (deprecated), IPv4-translated ``::ffff:0:a.b.c.d``, local-use
#: NAT64 (RFC 8215) and site-local ``fec0::/10`` (deprecated, still routed internally).
_NEVER_PUBLIC = tuple(
    ipaddress.IPv6Network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fec0::/10")
)
#: The well-known NAT64 prefix (RFC 6052): the IPv4 address is in the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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


def is_public_address(address: str) -> bool:
    """True if ``address`` is a globally routable unicast IP address.

    False for private (RFC 1918, ULA), loopback, link-local, multicast, reserved, unspecified,
    shared (100.64/10) and documentation addresses, also when wrapped in IPv4-mapped, 6to4 or
    NAT64 (``64:ff9b::/96``) IPv6; and always for IPv4-compatible (``::a.b.c.d``),
    IPv4-translated (``::ffff:0:a.b.c.d``), local-use NAT64 (``64:ff9b:1::/48``) and site-local
    (``fec0::/10``) addresses.
    """
    ip = _parse(address)
    if ip is None or _never_public(ip):
        return False
    return ip.is_global and not ip.is_multicast


def check_address(url: str, address: str) -> None:
    """Raise :class:`~ocspkit.UnsafeURLError` unless ``address`` is public."""
    if not is_public_address(address):
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


def literal_address(host: str) -> str | None:
    """``host`` itself if it is an IP literal, else None."""
    return host if _parse(host) is not None else None


def getaddrinfo_addresses(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to (blocking; the edges bound it with a timeout)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))

"""The optional SSRF guard: refuse responder URLs that reach private or local addresses.

Tools that check certificates supplied by untrusted users would otherwise let those users make
the tool send requests to internal services (an AIA URL of ``http://10.0.0.5/admin`` or
``http://169.254.169.254/``). With ``block_private_addresses=True`` the client resolves the host
of every URL (and every redirect target) first and refuses it if *any* address is not globally
routable; after connecting it also checks the address actually used, so a DNS answer that
changes between the two lookups is caught before the response is used.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import FetchError, UnsafeURLError

__all__ = ["is_public_address", "check_address", "host_and_port", "getaddrinfo_addresses"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(address: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return mapped
    return ip


def is_public_address(address: str) -> bool:
    """True if ``address`` is a globally routable unicast IP address.

    False for private (RFC 1918, ULA), loopback, link-local, multicast, reserved, unspecified,
    shared (100.64/10) and documentation addresses, also when wrapped in IPv4-mapped IPv6.
    """
    ip = _parse(address)
    return ip is not None and ip.is_global and not ip.is_multicast


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

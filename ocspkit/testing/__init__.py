"""ocspkit.testing: a throwaway CA and real OCSP responders for tests (like trustme, for OCSP).

>>> from ocspkit.testing import CA, Responder
>>> ca = CA()
>>> with Responder(ca) as responder:          # doctest: +SKIP
...     leaf = ca.issue("localhost")           # AIA OCSP URL -> responder.url
...     ca.revoke(leaf.cert)                   # the next answer says "revoked"

See docs/testing.rst. The pytest plugin (``ocspkit.testing.pytest_plugin``) provides the
``ocsp_ca``, ``ocsp_responder`` and ``ocsp_leaf`` fixtures.

This package is an I/O edge on top of the core: it owns the test PKI (``keys``, ``profiles``,
``leaf``, ``status``, ``crls``, ``ca``), the HTTP servers (``serving``: the OCSP responder
``responder`` with ``faults``, the CRL server ``crlserver``) and the OpenSSL interop
(``openssl``). Its names load on first use (PEP 562), so importing the package, or the
pytest plugin inside it, costs nothing until a name is used. It must never be imported by
the library's own non-testing modules, and it reaches the core only through its public
modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ca import CA, Signer
    from .crlserver import CRLFault, CRLRequestRecord, CRLServer
    from .faults import Fault
    from .keys import KeyType, generate_key
    from .leaf import Leaf, LeafFiles
    from .openssl import IndexFile, OpenSSLError, OpenSSLResponder, parse_index
    from .responder import RequestRecord, Responder
    from .status import StatusLookup
    from .tls import StaplingTLSServer

_LAZY: dict[str, str] = {
    "CA": "ca",
    "CRLFault": "crlserver",
    "CRLRequestRecord": "crlserver",
    "CRLServer": "crlserver",
    "Fault": "faults",
    "IndexFile": "openssl",
    "KeyType": "keys",
    "Leaf": "leaf",
    "LeafFiles": "leaf",
    "OpenSSLError": "openssl",
    "OpenSSLResponder": "openssl",
    "RequestRecord": "responder",
    "Responder": "responder",
    "Signer": "ca",
    "StaplingTLSServer": "tls",
    "StatusLookup": "status",
    "generate_key": "keys",
    "parse_index": "openssl",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ocspkit.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later reads are plain module attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CA",
    "CRLFault",
    "CRLRequestRecord",
    "CRLServer",
    "Fault",
    "IndexFile",
    "KeyType",
    "Leaf",
    "LeafFiles",
    "OpenSSLError",
    "OpenSSLResponder",
    "RequestRecord",
    "Responder",
    "Signer",
    "StaplingTLSServer",
    "StatusLookup",
    "generate_key",
    "parse_index",
]

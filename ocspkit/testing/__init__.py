"""ocspkit.testing: a throwaway CA and real OCSP responders for tests (like trustme, for OCSP).

>>> from ocspkit.testing import CA, Responder
>>> ca = CA()
>>> with Responder(ca) as responder:          # doctest: +SKIP
...     leaf = ca.issue("localhost")           # AIA OCSP URL -> responder.url
...     ca.revoke(leaf.cert)                   # the next answer says "revoked"

See docs/testing.rst. The pytest plugin (``ocspkit.testing.pytest_plugin``) provides the
``ocsp_ca``, ``ocsp_responder`` and ``ocsp_leaf`` fixtures.
"""

from __future__ import annotations

from .ca import CA, KeyType, Leaf, LeafFiles, Signer, StatusLookup, generate_key
from .faults import Fault
from .openssl import IndexFile, OpenSSLError, OpenSSLResponder, parse_index
from .responder import RequestRecord, Responder

__all__ = [
    "CA",
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
    "StatusLookup",
    "generate_key",
    "parse_index",
]

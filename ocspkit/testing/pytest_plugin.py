"""pytest plugin (entry point ``pytest11: ocspkit``): fixtures for OCSP tests.

- ``ocsp_ca``: a fresh :class:`~ocspkit.testing.CA` (RSA) per test.
- ``ocsp_responder``: a running :class:`~ocspkit.testing.Responder` for ``ocsp_ca``, at
  :attr:`~ocspkit.testing.Fault.NONE`; ``ocsp_ca.ocsp_url`` points at it.
- ``ocsp_leaf``: a ``localhost`` leaf of ``ocsp_ca`` whose AIA names ``ocsp_responder``.

The entry point loads this module into every pytest run of every environment where ocspkit is
installed, so it owns only the fixture definitions: it must never import the CA, the responder
or anything heavy at import time. Each fixture imports ``ocspkit.testing`` inside its body, so
a run that uses none of them pays nothing beyond this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .ca import CA
    from .leaf import Leaf
    from .responder import Responder

__all__ = ["ocsp_ca", "ocsp_leaf", "ocsp_responder"]


@pytest.fixture
def ocsp_ca() -> CA:
    """A fresh throwaway CA (root + intermediate, RSA-2048)."""
    from .ca import CA

    return CA()


@pytest.fixture
def ocsp_responder(ocsp_ca: CA) -> Iterator[Responder]:
    """A running OCSP responder on 127.0.0.1 for ``ocsp_ca`` (stopped after the test)."""
    from .faults import Fault
    from .responder import Responder

    responder = Responder(ocsp_ca, fault=Fault.NONE)
    with responder:  # sets ocsp_ca.ocsp_url to responder.url unless it was set already
        yield responder


@pytest.fixture
def ocsp_leaf(ocsp_ca: CA, ocsp_responder: Responder) -> Leaf:
    """A ``localhost`` leaf whose AIA OCSP URL is ``ocsp_responder.url``."""
    return ocsp_ca.issue("localhost", ocsp_url=ocsp_responder.url)

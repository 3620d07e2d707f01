"""Stapling: verified OCSP staples, always ready, shared by a fleet.

::

    stapler = ocspkit.Stapler(store=ocspkit.DirectoryStore("/var/lib/staples"))
    stapler.add(chain)                    # fetched (or loaded) before this returns
    stapler.install(ssl_context)          # pyOpenSSL server: staples every handshake
    runner = stapler.run_in_thread()      # or: await stapler.run()
"""

from __future__ import annotations

from ..errors import (
    HAProxyAPIError,
    MissingDependencyError,
    OutputError,
    StapleRollbackError,
    StaplingError,
    StoreError,
    UnservableResponseError,
)
from .events import MustStapleMissing, StapleExpired, StapleFailed, StapleRevoked, StapleUpdated
from .options import StaplerOptions
from .outputs import (
    HAProxyOCSPFile,
    HAProxyRuntime,
    NginxStapleFile,
    StapleFile,
    StapleOutput,
    try_later_response,
)
from .redis_store import RedisStore
from .runners import StaplerThread
from .stapler import Stapler, StapleState
from .stores import DirectoryStore, MemoryStore, StapleStore

__all__ = [
    "DirectoryStore",
    "HAProxyAPIError",
    "HAProxyOCSPFile",
    "HAProxyRuntime",
    "MemoryStore",
    "MissingDependencyError",
    "MustStapleMissing",
    "NginxStapleFile",
    "OutputError",
    "RedisStore",
    "StapleExpired",
    "StapleFailed",
    "StapleFile",
    "StapleOutput",
    "StapleRevoked",
    "StapleRollbackError",
    "StapleState",
    "StapleStore",
    "StapleUpdated",
    "Stapler",
    "StaplerOptions",
    "StaplerThread",
    "StaplingError",
    "StoreError",
    "UnservableResponseError",
    "try_later_response",
]

"""Stapling: verified OCSP staples, always ready, shared by a fleet.

::

    stapler = ocspkit.Stapler(store=ocspkit.DirectoryStore("/var/lib/staples"))
    stapler.add(chain)                    # fetched (or loaded) before this returns
    stapler.install(ssl_context)          # pyOpenSSL server: staples every handshake
    runner = stapler.run_in_thread()

    async with ocspkit.stapling.AsyncStapler() as astapler:   # asyncio: an AsyncClient
        await astapler.add(chain)
        task = asyncio.create_task(astapler.run())

The package owns stapling only: it validates every response with the core before serving it,
and uses the client through its public names (``ocspkit.Client``, ``ocspkit.AsyncClient``).
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
from .stapler import AsyncStapler, Stapler
from .state import StapleState
from .stores import DirectoryStore, MemoryStore, StapleStore

__all__ = [
    "AsyncStapler",
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

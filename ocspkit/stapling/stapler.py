"""The Stapler and the AsyncStapler: verified OCSP staples for a server's certificates, ready.

``add(chain)`` fetches (or loads from the store) a staple before it returns, so one exists
before the first handshake; ``staple_for(cert)`` is a dictionary look-up and a float
comparison, done in the handshake; ``refresh()`` does whatever is due. Both classes run the same
plan (:mod:`ocspkit.stapling.plan`) over the same state (:class:`~ocspkit.stapling.core.
StaplerCore`); they differ only in how an action is performed: :class:`Stapler` with a blocking
:class:`ocspkit.Client` and ``time.sleep``, :class:`AsyncStapler` with an
:class:`ocspkit.AsyncClient` and ``await``. This module makes no decision of its own about
staples, and is the only place where a stapler creates a client (:func:`make_client`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography import x509

from .core import ChainInput, StaplerCore
from .options import StaplerOptions
from .outputs import StapleOutput
from .plan import Action, Fetch, Sleep, add_plan, refresh_plan
from .runners import StaplerThread, adrive, drive, perform_store, run_async
from .state import Entry

if TYPE_CHECKING:
    from datetime import datetime

    from ..client import AsyncClient, Client
    from ..models import ValidationResult

__all__ = ["AsyncStapler", "ChainInput", "Stapler", "make_async_client", "make_client"]


def make_client(options: StaplerOptions) -> Client:
    """The blocking client a :class:`Stapler` creates when none is given
    (:meth:`StaplerOptions.client_config`)."""
    from ..client import Client

    return Client(options.client_config())


def make_async_client(options: StaplerOptions) -> AsyncClient:
    """The async client an :class:`AsyncStapler` creates when none is given."""
    from ..client import AsyncClient

    return AsyncClient(options.client_config())


class Stapler(StaplerCore["Client"]):
    """Keeps a verified OCSP staple for each added certificate (blocking I/O).

    :param store: where staples are kept (default: a new :class:`MemoryStore`). A
        :class:`DirectoryStore` survives restarts; a :class:`RedisStore` is shared by a fleet.
    :param client: an :class:`ocspkit.Client`; None creates one on first use from
        ``options`` (:meth:`StaplerOptions.client_config`), closed by :meth:`close`. Under
        asyncio use :class:`AsyncStapler`.
    :param options: :class:`StaplerOptions`: the schedule, the validation policy and the
        stapling settings.
    :param on_revoked: called with a :class:`StapleRevoked` when a response says revoked.
    :param on_error: called with a :class:`StapleFailed` when a refresh (or store, or output)
        fails.
    :param on_must_staple_missing: called with a :class:`MustStapleMissing` when a Must-Staple
        certificate has no valid staple.
    :param on_update: called with a :class:`StapleUpdated` for each new staple served.
    :param on_expired: called with a :class:`StapleExpired` when a staple stops being served
        without a successor.
    :param clock: seconds since the epoch (default :func:`time.time`).
    :param rng: the source of retry jitter (default: a new :class:`random.Random`).
    :param monotonic: the clock of lease waits (default :func:`time.monotonic`).
    """

    def _make_client(self) -> Client:
        return make_client(self.options)

    def _perform(self, action: Action) -> object:
        if isinstance(action, Fetch):
            result: ValidationResult = self._get_client().check(
                action.cert,
                action.issuer,
                url=action.url,
                now=action.now,
                nonce=action.nonce,
                policy=action.policy,
            )
            return result
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        return perform_store(self.store, action)

    def add(
        self,
        chain: ChainInput,
        *,
        issuer: x509.Certificate | None = None,
        outputs: Iterable[StapleOutput] = (),
        fetch: bool = True,
        url: str | None = None,
    ) -> str:
        """Staple ``chain[0]`` (issued by ``chain[1]``, or ``issuer``); return its key.

        A valid staple in the store is served at once; otherwise (or if it is due) one is
        fetched now, so a staple exists before this returns — unless the fetch fails, which is
        reported to ``on_error`` (and ``on_must_staple_missing``) and retried on schedule.
        When another process holds the fetch lease of a shared store, waits for its result.
        ``outputs`` (staple files, HAProxy runtime API...) receive each new staple. ``url``
        is this certificate's responder (Apache's ``SSLStaplingForceURL`` per virtual host):
        it replaces ``options.force_url`` and the AIA URLs for this certificate only.

        Raises :class:`~ocspkit.CertificateError`, :class:`~ocspkit.IssuerNotFoundError` or
        :class:`~ocspkit.NoOCSPURLError` for a chain that cannot be stapled.
        """
        entry, new = self.register(chain, issuer, url)
        self.add_outputs(entry, outputs)
        if new:
            drive(add_plan(self, entry, fetch=fetch), self._perform)
        self.sync_outputs(entry, self.now())
        self.wake()
        return entry.key

    def refresh(self, now: datetime | None = None) -> int:
        """Do the work that is due at ``now`` (default: the clock): expire staples past their
        serving limit, refresh those whose refresh time has come, retry failed ones whose
        backoff has elapsed. Blocking; returns the number of certificates refreshed."""
        done = 0
        for entry in self.due(now):
            try:
                drive(refresh_plan(self, entry, now, wait=False), self._perform)
                done += 1
            finally:
                self.unclaim(entry)
        return done

    def run_in_thread(self, *, max_sleep: float = 60.0) -> StaplerThread:
        """Start a daemon thread that calls :meth:`refresh` whenever something is due;
        returns the :class:`StaplerThread` (``.stop()``; also a context manager)."""
        return StaplerThread(self, max_sleep=max_sleep).start()

    def close(self) -> None:
        """Close the client this stapler created (a client passed in is the caller's to
        close)."""
        own = self._take_own_client()
        if own is not None:
            own.close()

    def __enter__(self) -> Stapler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStapler(StaplerCore["AsyncClient"]):
    """:class:`Stapler` for asyncio: ``await add(...)``, ``await refresh()``, ``await run()``.

    Takes an :class:`ocspkit.AsyncClient` (None creates one on first use, closed by
    :meth:`aclose`); the other parameters are those of :class:`Stapler`. Due certificates are
    fetched concurrently. ``staple_for`` and ``install`` are the same non-blocking calls.
    """

    def _make_client(self) -> AsyncClient:
        return make_async_client(self.options)

    async def _perform(self, action: Action) -> object:
        if isinstance(action, Fetch):
            result: ValidationResult = await self._get_client().check(
                action.cert,
                action.issuer,
                url=action.url,
                now=action.now,
                nonce=action.nonce,
                policy=action.policy,
            )
            return result
        if isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            return None
        return perform_store(self.store, action)

    async def add(
        self,
        chain: ChainInput,
        *,
        issuer: x509.Certificate | None = None,
        outputs: Iterable[StapleOutput] = (),
        fetch: bool = True,
        url: str | None = None,
    ) -> str:
        """:meth:`Stapler.add`, awaiting the fetch instead of blocking."""
        entry, new = self.register(chain, issuer, url)
        self.add_outputs(entry, outputs)
        if new:
            await adrive(add_plan(self, entry, fetch=fetch), self._perform)
        self.sync_outputs(entry, self.now())
        self.wake()
        return entry.key

    async def refresh(self, now: datetime | None = None) -> int:
        """:meth:`Stapler.refresh`, with the due certificates fetched concurrently."""
        due = self.due(now)

        async def one(entry: Entry) -> None:
            try:
                await adrive(refresh_plan(self, entry, now, wait=False), self._perform)
            finally:
                self.unclaim(entry)

        await asyncio.gather(*(one(e) for e in due))
        return len(due)

    async def run(self, *, max_sleep: float = 60.0) -> None:
        """Call :meth:`refresh` whenever something is due, until cancelled."""
        await run_async(self, max_sleep=max_sleep)

    async def aclose(self) -> None:
        """Close the client this stapler created (a client passed in is the caller's)."""
        own = self._take_own_client()
        if own is not None:
            await own.aclose()

    async def __aenter__(self) -> AsyncStapler:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

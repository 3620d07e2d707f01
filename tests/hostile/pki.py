"""Shared PKIs and genuine responses for the hardening tests (made once per session)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509

import ocspkit
from ocspkit import CertStatus, SingleResponse
from ocspkit.testing import CA, Leaf

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class World:
    ca: CA
    leaf: Leaf
    good: ocspkit.OCSPResponse
    revoked: ocspkit.OCSPResponse
    revoked_leaf: Leaf


@functools.cache
def world(key_type: str = "ecdsa") -> World:
    ca = CA(key_type)  # type: ignore[arg-type]
    leaf = ca.issue("victim.test", ocsp_url="")
    bad = ca.issue("revoked.test", ocsp_url="")
    ca.revoke(bad.cert, at=NOW - timedelta(days=1))
    good = ca.sign_response(leaf.cert, now=NOW)
    revoked = ca.sign_response(bad.cert, now=NOW)
    return World(ca, leaf, good, revoked, bad)


def single(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    status: CertStatus = CertStatus.GOOD,
    **kw: Any,
) -> SingleResponse:
    opts: dict[str, Any] = {"this_update": NOW, "next_update": NOW + timedelta(hours=6)}
    if status is CertStatus.REVOKED:
        opts["revocation_time"] = NOW - timedelta(days=1)
    opts.update(kw)
    return SingleResponse(ocspkit.cert_id(cert, issuer), status, **opts)


def by_issuer(w: World, *singles: SingleResponse, **kw: Any) -> ocspkit.OCSPResponse:
    return ocspkit.build_response(
        singles or (single(w.leaf.cert, w.ca.issuer),),
        responder_cert=w.ca.issuer,
        responder_key=w.ca.issuer_key,
        produced_at=kw.pop("produced_at", NOW),
        **kw,
    )


def outcome(fn: Callable[[], Any]) -> Any:
    """What ``fn()`` gave: its result, or the OCSPError it raised (anything else propagates)."""
    try:
        return fn()
    except ocspkit.OCSPError as exc:
        return exc


def verdict(fn: Callable[[], Any]) -> str:
    """A comparable verdict: the status name, or the OCSPError class name."""
    got = outcome(fn)
    if isinstance(got, ocspkit.OCSPError):
        return type(got).__name__
    return str(got.status.name)

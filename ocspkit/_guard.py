"""The one guarded boundary between untrusted bytes and ocspkit's callers.

Owns the promise that the public functions of the pure core raise nothing outside the
:class:`~ocspkit.OCSPError` tree: whatever cryptography, asn1crypto or a bug of ours raises
while reading hostile input becomes the typed error of that entry point, with the original
exception kept as ``__cause__`` (for a bug report) and a message that leaks no decoder
internals. It must never turn an exception into a result, and never catch
``MemoryError``, ``KeyboardInterrupt`` or ``SystemExit``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .errors import OCSPError

__all__ = ["typed_errors"]

P = ParamSpec("P")
R = TypeVar("R")


def typed_errors(
    error: Callable[[str], OCSPError], what: str
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a public entry point: any non-ocspkit exception becomes ``error(...)``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (OCSPError, MemoryError):
                raise
            except Exception as exc:  # the boundary: hostile input must get a typed answer
                raise error(f"{what} failed on malformed input ({type(exc).__name__})") from exc

        return guarded

    return decorate

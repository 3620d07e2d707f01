"""Crash-safe file replacement for the stapler (one copy, in :mod:`ocspkit.client.storage`)."""

from __future__ import annotations

from ..client.storage import TEMP_PREFIX, atomic_write

__all__ = ["TEMP_PREFIX", "atomic_write"]

"""Times as every check reads them: the validation time, comparisons with slack, messages.

Owns the one read of the clock in the core (``utc(None)``, the documented default of every
``now`` argument) and the comparison that cannot overflow near datetime's limits. Must never
read the clock anywhere else, sleep, or decide anything itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["after", "fmt", "utc"]


def utc(now: datetime | None) -> datetime:
    """``now`` as an aware UTC datetime; the current time when None (the one clock read)."""
    if now is None:
        return datetime.now(timezone.utc)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now


def after(a: datetime, b: datetime, slack: timedelta) -> bool:
    """``a > b + slack``, written so that it cannot overflow near 9999-12-31."""
    return a - b > slack


def fmt(t: datetime) -> str:
    """A time as messages print it (``2026-01-31T12:00:00Z``)."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

"""The pure refresh schedule (ocspkit.refresh): no clock, no randomness, no I/O."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocspkit.policy import ValidationPolicy
from ocspkit.refresh import RefreshSchedule, retry_delay, staple_times

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


def test_refresh_half_way_through_the_serving_time_by_default() -> None:
    """Half way between thisUpdate and serve_until (nextUpdate - margin), not nextUpdate."""
    sched = RefreshSchedule()
    times = staple_times(T0, T0 + 24 * H, now=T0, schedule=sched)
    assert times.serve_until == T0 + 24 * H - 5 * M
    assert times.refresh_at == T0 + (24 * H - 5 * M) / 2
    assert times.servable(T0 + 23 * H)
    assert not times.servable(T0 + 24 * H - 5 * M)
    assert not times.due(times.refresh_at - S)
    assert times.due(times.refresh_at)


@pytest.mark.parametrize(
    ("validity", "margin", "servable_for"),
    [
        (10 * M, 5 * M, 5 * M),  # HAProxy/nginx margin: refresh and expiry used to coincide
        (10 * M, timedelta(0), 10 * M),
        (2 * M, 30 * S, 90 * S),
        (2 * M, timedelta(0), 2 * M),
        (8 * S, 2 * S, 6 * S),
        (8 * S, timedelta(0), 8 * S),
    ],
)
def test_short_validity_leaves_half_the_serving_time_to_retry(
    validity: timedelta, margin: timedelta, servable_for: timedelta
) -> None:
    """Short-lived responses: min_interval (1 minute by default) does not push the refresh to
    the serving limit; half the serving time is left for retries."""
    sched = RefreshSchedule(margin=margin)  # min_interval 1 minute
    times = staple_times(T0, T0 + validity, now=T0, schedule=sched)
    assert times.serve_until == T0 + servable_for
    assert times.refresh_at == T0 + servable_for / 2
    assert times.serve_until - times.refresh_at == servable_for / 2
    # fetched a quarter into its life: not before half way, and half of what is left remains
    now = T0 + servable_for / 4
    later = staple_times(T0, T0 + validity, now=now, schedule=sched)
    assert T0 + servable_for / 2 <= later.refresh_at < later.serve_until
    assert later.serve_until - later.refresh_at >= (later.serve_until - now) / 2


@pytest.mark.parametrize("validity", [10 * M, 2 * M, 8 * S])
def test_short_validity_with_default_margin(validity: timedelta) -> None:
    """With the default 5-minute margin a 10-minute response is served 5 minutes and refreshed
    after 2.5; 2-minute and 8-second ones are never servable (refresh due at once)."""
    times = staple_times(T0, T0 + validity, now=T0, schedule=RefreshSchedule())
    if validity > 5 * M:
        assert times.servable(T0) and times.refresh_at == T0 + (validity - 5 * M) / 2
    else:
        assert not times.servable(T0)
        assert times.due(T0)


def test_fraction_is_configurable() -> None:
    sched = RefreshSchedule(fraction=0.75, margin=timedelta(0))
    times = staple_times(T0, T0 + 4 * H, now=T0, schedule=sched)
    assert times.refresh_at == T0 + 3 * H
    assert times.serve_until == T0 + 4 * H


def test_clamped_to_signer_not_after() -> None:
    """A delegated responder certificate expiring before nextUpdate ends the window."""
    sched = RefreshSchedule(margin=5 * M)
    times = staple_times(T0, T0 + 24 * H, now=T0, schedule=sched, signer_not_after=T0 + 4 * H)
    assert times.serve_until == T0 + 4 * H
    assert times.refresh_at == T0 + 2 * H


def test_no_next_update_served_for_serve_without_next_update() -> None:
    assert RefreshSchedule().serve_without_next_update == H
    sched = RefreshSchedule(serve_without_next_update=2 * H)
    times = staple_times(T0, None, now=T0, schedule=sched)
    assert times.serve_until == T0 + 2 * H
    assert times.refresh_at == T0 + H


def test_policy_acceptance_limits_cap_serving() -> None:
    """The policy's max_age (SSLStaplingResponseMaxAge) caps any response; its
    max_age_without_next_update caps one without nextUpdate when it is the shorter limit."""
    sched = RefreshSchedule(margin=timedelta(0))
    policy = ValidationPolicy(max_age=6 * H)
    times = staple_times(T0, T0 + 7 * 24 * H, now=T0, schedule=sched, policy=policy)
    assert times.serve_until == T0 + 6 * H
    assert times.refresh_at == T0 + 3 * H
    strict = ValidationPolicy(max_age_without_next_update=20 * M)
    assert staple_times(T0, None, now=T0, schedule=sched, policy=strict).serve_until == (
        T0 + 20 * M
    )
    # the default policy accepts 7 days without nextUpdate: the schedule's hour wins
    lax = staple_times(T0, None, now=T0, schedule=sched, policy=ValidationPolicy())
    assert lax.serve_until == T0 + H


def test_min_and_max_interval() -> None:
    sched = RefreshSchedule(min_interval=10 * M, max_interval=2 * H, margin=timedelta(0))
    # a tiny window: min_interval yields, half the serving time is left to retry in
    tiny = staple_times(T0, T0 + 4 * M, now=T0, schedule=sched)
    assert tiny.serve_until == T0 + 4 * M and tiny.refresh_at == T0 + 2 * M
    short = staple_times(T0, T0 + 30 * M, now=T0, schedule=sched)
    assert short.refresh_at == T0 + 15 * M
    long = staple_times(T0, T0 + 7 * 24 * H, now=T0, schedule=sched)
    assert long.refresh_at == T0 + 2 * H
    # a pre-produced (CDN-cached) response fetched late: no refetch storm
    late = staple_times(T0, T0 + 24 * H, now=T0 + 20 * H, schedule=sched)
    assert late.refresh_at == T0 + 20 * H + 10 * M


def test_loaded_late_in_life_is_due_soon() -> None:
    sched = RefreshSchedule(min_interval=M)
    times = staple_times(T0, T0 + 24 * H, now=T0 + 18 * H, schedule=sched)
    assert times.refresh_at == T0 + 18 * H + M
    assert times.servable(T0 + 18 * H)


def test_margin_larger_than_window_is_never_servable() -> None:
    sched = RefreshSchedule(margin=10 * M)
    times = staple_times(T0, T0 + 5 * M, now=T0, schedule=sched)
    assert not times.servable(T0)


def test_retry_backoff_doubles_then_caps() -> None:
    sched = RefreshSchedule(retry_initial=5 * S, retry_max=60 * S, backoff_factor=2.0, jitter=0.0)
    delays = [retry_delay(n, schedule=sched, jitter=0.5).total_seconds() for n in range(1, 8)]
    assert delays == [5, 10, 20, 40, 60, 60, 60]
    assert retry_delay(10_000, schedule=sched, jitter=0.3) == 60 * S  # no overflow


def test_retry_jitter_bounds() -> None:
    sched = RefreshSchedule(retry_initial=10 * S, retry_max=10 * M, jitter=0.25)
    assert retry_delay(1, schedule=sched, jitter=0.0) == timedelta(seconds=7.5)
    assert retry_delay(1, schedule=sched, jitter=0.5) == timedelta(seconds=10)
    assert retry_delay(1, schedule=sched, jitter=1.0) == timedelta(seconds=12.5)
    rng = random.Random(42)
    draws = [retry_delay(2, schedule=sched, jitter=rng).total_seconds() for _ in range(200)]
    assert all(15 <= d <= 25 for d in draws)
    assert len(set(draws)) > 100  # really spread


def test_retry_after_lengthens_but_capped() -> None:
    sched = RefreshSchedule(retry_initial=S, retry_max=30 * S, jitter=0.0)
    assert retry_delay(1, schedule=sched, jitter=0.0, retry_after=12) == 12 * S
    assert retry_delay(1, schedule=sched, jitter=0.0, retry_after=3600) == 30 * S
    assert retry_delay(1, schedule=sched, jitter=0.0, retry_after=0.2) == S


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fraction": 0},
        {"fraction": 1.5},
        {"margin": -S},
        {"max_interval": timedelta(0)},
        {"retry_initial": 2 * M, "retry_max": M},
        {"backoff_factor": 0.5},
        {"jitter": 1.0},
        {"serve_without_next_update": timedelta(0)},
    ],
)
def test_bad_schedules_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RefreshSchedule(**kwargs)  # type: ignore[arg-type]


def test_bad_failures_and_jitter_rejected() -> None:
    with pytest.raises(ValueError):
        retry_delay(0, schedule=RefreshSchedule(), jitter=0.5)
    with pytest.raises(ValueError):
        retry_delay(1, schedule=RefreshSchedule(), jitter=1.5)


# no deadline: on a shared machine one stalled example would fail the run as 'flaky timing'
@settings(deadline=None)
@given(
    validity=st.integers(min_value=1, max_value=30 * 24 * 3600),
    age=st.integers(min_value=0, max_value=40 * 24 * 3600),
    fraction=st.floats(min_value=0.01, max_value=1.0),
    margin=st.integers(min_value=0, max_value=3600),
    min_interval=st.integers(min_value=0, max_value=3600),
    signer_left=st.one_of(st.none(), st.integers(min_value=0, max_value=60 * 24 * 3600)),
    has_next=st.booleans(),
)
def test_invariants(
    validity: int,
    age: int,
    fraction: float,
    margin: int,
    min_interval: int,
    signer_left: int | None,
    has_next: bool,
) -> None:
    """Whatever the inputs: never served at or past nextUpdate - margin, the signer's expiry,
    the no-nextUpdate serving limit or the policy's max age, and the refresh is never planned
    after the serving limit."""
    sched = RefreshSchedule(
        fraction=fraction,
        margin=timedelta(seconds=margin),
        min_interval=timedelta(seconds=min_interval),
        serve_without_next_update=timedelta(hours=2),
    )
    next_update = T0 + timedelta(seconds=validity) if has_next else None
    signer = T0 + timedelta(seconds=signer_left) if signer_left is not None else None
    now = T0 + timedelta(seconds=age)
    policy = ValidationPolicy(max_age=timedelta(days=20))
    times = staple_times(
        T0, next_update, now=now, schedule=sched, signer_not_after=signer, policy=policy
    )
    assert times.refresh_at <= times.serve_until
    start = max(T0, now)
    if times.serve_until > start and fraction <= 0.5:
        # room to retry: at least half of the serving time left is after the refresh
        assert times.serve_until - times.refresh_at >= (times.serve_until - start) / 2
    if next_update is not None:
        assert times.serve_until <= next_update - sched.margin
    else:
        assert times.serve_until <= T0 + timedelta(hours=2)
    if signer is not None:
        assert times.serve_until <= signer
    assert times.serve_until <= T0 + timedelta(days=20)

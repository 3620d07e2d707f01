"""The Stapler against a real (in-process, loopback) OCSP responder: fetch, validate, schedule,
serve, fail, recover. Time is moved with the ``now=`` arguments where a real wait would be long."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

import ocspkit
from ocspkit.client import AsyncClient, Client
from ocspkit.refresh import RefreshSchedule, retry_delay
from ocspkit.stapling import (
    AsyncStapler,
    MemoryStore,
    MustStapleMissing,
    NginxStapleFile,
    StapleExpired,
    StapleFailed,
    StapleFile,
    Stapler,
    StapleRevoked,
    StaplerOptions,
    StapleUpdated,
    UnservableResponseError,
    try_later_response,
)
from ocspkit.testing import CA, Fault
from ocspkit.testing.responder import Responder

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA("ecdsa")


@pytest.fixture
def responder(ca: CA) -> Iterator[Responder]:
    with Responder(ca, signer="delegated") as r:
        yield r


class Events:
    """Collects every event a stapler emits."""

    def __init__(self) -> None:
        self.all: list[object] = []

    def __call__(self, event: object) -> None:
        self.all.append(event)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.all if isinstance(e, kind)]

    def hooks(self) -> dict[str, Events]:
        return {
            name: self
            for name in (
                "on_revoked",
                "on_error",
                "on_must_staple_missing",
                "on_update",
                "on_expired",
            )
        }


#: Options for responses valid a few seconds: serve until 1 s before nextUpdate, refresh freely.
SHORT = StaplerOptions(
    schedule=RefreshSchedule(margin=timedelta(seconds=1), min_interval=timedelta(0))
)


def fast_client() -> Client:
    return Client(ocspkit.ClientConfig(timeout=3, deadline=5, retries=0))


def test_add_fetches_before_returning_and_staple_validates(ca: CA, responder: Responder) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    stapler = Stapler(client=fast_client(), **ev.hooks())
    key = stapler.add(leaf.chain)
    assert responder.requests == 1
    der = stapler.staple_for(leaf.cert)
    assert der is not None, [getattr(e, "error", e) for e in ev.all]
    assert der == stapler.staple_for(key)
    result = ocspkit.validate_response(der, leaf.cert, ca.issuer)
    assert result.status is ocspkit.CertStatus.GOOD
    assert [type(e) for e in ev.all] == [StapleUpdated]
    update = ev.of(StapleUpdated)[0]
    assert update.source == "fetched" and update.key == key
    # served until nextUpdate - margin, refreshed half way to that: half of it left to retry
    assert update.serve_until == result.next_update - StaplerOptions().schedule.margin
    assert update.refresh_at == result.this_update + (update.serve_until - result.this_update) / 2
    # the store holds the same bytes
    assert stapler.store.get(key) == der
    # adding it again is a no-op
    assert stapler.add(leaf.chain_pem) == key and responder.requests == 1
    # nothing is due: refresh does no work
    assert stapler.refresh() == 0 and responder.requests == 1


def test_staple_for_rechecks_time_at_read(ca: CA, responder: Responder) -> None:
    """No refresh runs, yet a staple is never returned at or past nextUpdate - margin."""
    leaf = ca.issue(ocsp_url=responder.url)
    stapler = Stapler(client=fast_client())
    stapler.add(leaf.chain)
    until = stapler.state(leaf.cert).serve_until
    assert until is not None
    assert stapler.staple_for(leaf.cert, now=until - timedelta(seconds=1)) is not None
    assert stapler.staple_for(leaf.cert, now=until) is None
    assert stapler.staple_for(ca.issue(ocsp_url=responder.url).cert) is None  # never added


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.WRONG_SIGNER, ocspkit.ValidationError),
        (Fault.NO_EKU, ocspkit.ValidationError),
        (Fault.EXPIRED, ocspkit.ValidationError),
        (Fault.FUTURE, ocspkit.ValidationError),
        (Fault.TRY_LATER, ocspkit.ResponderError),
        (Fault.GARBAGE, ocspkit.OCSPError),
        (Fault.TRUNCATED, ocspkit.OCSPError),
        (Fault.HTTP_500, ocspkit.HTTPStatusError),
        (Fault.SHORT_VALIDITY, UnservableResponseError),
    ],
)
def test_invalid_responses_never_stored_or_served(
    ca: CA, responder: Responder, fault: Fault, error: type[Exception]
) -> None:
    responder.fault = fault
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    store = MemoryStore()
    stapler = Stapler(store=store, client=fast_client(), **ev.hooks())
    key = stapler.add(leaf.chain)
    assert stapler.staple_for(leaf.cert) is None
    assert store.get(key) is None
    errors = ev.of(StapleFailed)
    assert len(errors) == 1 and isinstance(errors[0].error, error), errors
    assert errors[0].failures == 1 and not errors[0].serving
    assert not ev.of(StapleUpdated)
    state = stapler.state(key)
    assert state.failures == 1 and state.result is None and not state.serving


def test_wrong_nonce_refused_when_nonces_sent(ca: CA, responder: Responder) -> None:
    responder.fault = Fault.WRONG_NONCE
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    stapler = Stapler(client=fast_client(), options=StaplerOptions(nonce=True), **ev.hooks())
    stapler.add(leaf.chain)
    assert stapler.staple_for(leaf.cert) is None
    assert isinstance(ev.of(StapleFailed)[0].error, ocspkit.NonceMismatchError)


def test_revoked_is_stapled_and_reported(ca: CA, responder: Responder) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    ca.revoke(leaf.cert)
    ev = Events()
    stapler = Stapler(client=fast_client(), **ev.hooks())
    stapler.add(leaf.chain)
    der = stapler.staple_for(leaf.cert)
    assert der is not None
    assert ocspkit.validate_response(der, leaf.cert, ca.issuer).status is ocspkit.CertStatus.REVOKED
    (revoked,) = ev.of(StapleRevoked)
    assert revoked.result.revoked and revoked.cert == leaf.cert


def test_revoked_not_stapled_without_return_responder_errors(ca: CA, responder: Responder) -> None:
    leaf = ca.issue(ocsp_url=responder.url, must_staple=True)
    ca.revoke(leaf.cert)
    ev = Events()
    options = StaplerOptions(return_responder_errors=False)
    stapler = Stapler(client=fast_client(), options=options, **ev.hooks())
    stapler.add(leaf.chain)
    assert stapler.staple_for(leaf.cert) is None
    assert len(ev.of(StapleRevoked)) == 1
    assert len(ev.of(MustStapleMissing)) == 1


def test_must_staple_missing_reported_once(ca: CA, responder: Responder) -> None:
    responder.fault = Fault.TRY_LATER
    leaf = ca.issue(ocsp_url=responder.url, must_staple=True)
    plain = ca.issue(ocsp_url=responder.url)
    ev = Events()
    stapler = Stapler(client=fast_client(), **ev.hooks())
    stapler.add(leaf.chain)
    stapler.add(plain.chain)
    state = stapler.state(leaf.cert)
    stapler.refresh(now=state.next_attempt)  # fails again
    (missing,) = ev.of(MustStapleMissing)  # once, though it failed twice; not for `plain`
    assert missing.cert == leaf.cert and missing.reason.startswith("refresh failed")
    assert len([e for e in ev.of(StapleFailed) if e.cert == leaf.cert]) == 2
    responder.fault = Fault.NONE
    stapler.refresh(now=stapler.state(leaf.cert).next_attempt + timedelta(seconds=1))
    assert stapler.staple_for(leaf.cert) is not None


def test_no_next_update_served_at_most_max_age(ca: CA, responder: Responder) -> None:
    responder.fault = Fault.NO_NEXT_UPDATE
    leaf = ca.issue(ocsp_url=responder.url)
    options = StaplerOptions(
        schedule=RefreshSchedule(serve_without_next_update=timedelta(minutes=20))
    )
    stapler = Stapler(client=fast_client(), options=options)
    stapler.add(leaf.chain)
    state = stapler.state(leaf.cert)
    assert state.result is not None and state.result.next_update is None
    this_update = state.result.this_update
    assert state.serve_until == this_update + timedelta(minutes=20)
    assert state.next_attempt == this_update + timedelta(minutes=10)
    assert stapler.staple_for(leaf.cert, now=this_update + timedelta(minutes=19)) is not None
    assert stapler.staple_for(leaf.cert, now=this_update + timedelta(minutes=20)) is None


def test_max_age_limits_serving_like_apache(ca: CA, responder: Responder) -> None:
    """SSLStaplingResponseMaxAge: a response is served at most max_age after its thisUpdate,
    even when its nextUpdate is later; an older one is refused."""
    leaf = ca.issue(ocsp_url=responder.url)
    max_age_10 = StaplerOptions(policy=ocspkit.ValidationPolicy(max_age=timedelta(minutes=10)))
    stapler = Stapler(client=fast_client(), options=max_age_10)
    stapler.add(leaf.chain)
    state = stapler.state(leaf.cert)
    assert state.result is not None
    this_update = state.result.this_update
    assert state.serve_until == this_update + timedelta(minutes=10)
    assert stapler.staple_for(leaf.cert, now=this_update + timedelta(minutes=10)) is None
    ev = Events()
    options = max_age_10
    restarted = Stapler(store=stapler.store, client=fast_client(), options=options, **ev.hooks())
    restarted.add(leaf.chain, fetch=False)
    assert restarted.staple_for(leaf.cert) is not None  # loaded from the store: young enough
    responder.stop()
    # 11 minutes on: the staple is too old to serve and no fresh one can be had
    later = this_update + timedelta(minutes=11)
    restarted.refresh(now=later)
    assert restarted.staple_for(leaf.cert, now=later) is None
    (failed,) = ev.of(StapleFailed)
    assert not failed.serving


def test_schedule_clamped_to_responder_certificate_expiry(ca: CA) -> None:
    """A delegated responder certificate that expires before nextUpdate ends the staple's
    window: refreshed half way to its notAfter, never served past it."""
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=30)
    signer = ca.issue_responder(not_after=soon)
    with Responder(ca, signer=signer, validity=timedelta(hours=6)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        stapler = Stapler(client=fast_client())
        stapler.add(leaf.chain)
        state = stapler.state(leaf.cert)
    assert state.result is not None and state.result.signer == signer.cert
    assert state.result.next_update == state.result.this_update + timedelta(hours=6)
    assert state.serve_until == soon
    assert state.next_attempt == state.result.this_update + (soon - state.result.this_update) / 2


def test_add_rejects_unstapleable_chains(ca: CA, responder: Responder) -> None:
    stapler = Stapler(client=fast_client())
    no_url = ca.issue(ocsp_url="")
    with pytest.raises(ocspkit.NoOCSPURLError):
        stapler.add(no_url.chain)
    leaf = ca.issue(ocsp_url=responder.url)
    with pytest.raises(ocspkit.IssuerNotFoundError):
        stapler.add([leaf.cert])
    with pytest.raises(ocspkit.IssuerNotFoundError):
        stapler.add([leaf.cert, CA("ecdsa").issuer])
    with pytest.raises(ocspkit.CertificateError):
        stapler.add(b"not a certificate")
    # force_url staples a certificate without AIA
    forced = Stapler(client=fast_client(), options=StaplerOptions(force_url=responder.url))
    forced.add(no_url.chain)
    assert forced.staple_for(no_url.cert) is not None


def test_outage_keeps_last_good_then_none_then_recovers(ca: CA, responder: Responder) -> None:
    """Stop the responder: the last good staple is served until nextUpdate - margin, with
    retries on the backoff schedule; then none; the responder is back: a fresh staple."""
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    options = StaplerOptions(
        schedule=RefreshSchedule(
            retry_initial=timedelta(seconds=5), retry_max=timedelta(minutes=4), jitter=0.2
        )
    )
    stapler = Stapler(client=fast_client(), options=options, rng=random.Random(7), **ev.hooks())
    stapler.add(leaf.chain)
    first = stapler.staple_for(leaf.cert)
    state = stapler.state(leaf.cert)
    assert first is not None and state.serve_until is not None
    responder.stop()

    now = state.next_attempt  # the planned refresh, half way through the window
    attempts: list[tuple[datetime, StapleFailed]] = []
    # past serve_until by more than the longest retry delay (4 min + 20 %): one attempt after it
    while now < state.serve_until + timedelta(minutes=5):
        stapler.refresh(now=now)
        errors = ev.of(StapleFailed)
        if len(errors) > len(attempts):
            attempts.append((now, errors[-1]))
        if now < state.serve_until:
            assert stapler.staple_for(leaf.cert, now=now) == first  # last good, still served
        else:
            assert stapler.staple_for(leaf.cert, now=now) is None  # never past the limit
        now = max(stapler.state(leaf.cert).next_attempt, now + timedelta(seconds=1))

    # the retry schedule observed: 5 s, 10 s, 20 s ... capped at 4 min, each within ±20 %
    sched = options.schedule
    assert len(attempts) >= 8
    for n, (at, err) in enumerate(attempts, start=1):
        assert err.failures == n
        assert isinstance(err.error, ocspkit.FetchError)
        delay = (err.retry_at - at).total_seconds()
        low = retry_delay(n, schedule=sched, jitter=0.0).total_seconds()
        high = retry_delay(n, schedule=sched, jitter=1.0).total_seconds()
        assert low <= delay <= high, (n, delay)
        assert err.serving == (at < state.serve_until)
    assert [type(e) for e in ev.all].count(StapleExpired) == 1

    # simulated time is ~1 h ahead of the responder's clock: give the new answers 3 h
    responder.validity = timedelta(hours=3)
    responder.start()
    requests = responder.requests
    stapler.refresh(now=now)
    fresh = stapler.staple_for(leaf.cert, now=now)
    assert fresh is not None and fresh != first
    assert responder.requests == requests + 1
    assert stapler.state(leaf.cert, now=now).failures == 0


def test_retry_after_is_honoured(ca: CA, responder: Responder) -> None:
    responder.fault = Fault.HTTP_503  # Retry-After: 1
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    options = StaplerOptions(
        schedule=RefreshSchedule(retry_initial=timedelta(milliseconds=100), jitter=0.0)
    )
    stapler = Stapler(client=fast_client(), options=options, **ev.hooks())
    stapler.add(leaf.chain)
    (err,) = ev.of(StapleFailed)
    assert isinstance(err.error, ocspkit.HTTPStatusError)
    assert stapler.state(leaf.cert).next_attempt - err.retry_at == timedelta(0)
    assert stapler.next_wakeup() is not None


def test_thread_runner_refreshes_short_lived_staples(ca: CA) -> None:
    """Real time: 6-second responses, refreshed every ~3 s by the thread runner; a staple is
    always at hand."""
    with Responder(ca, validity=timedelta(seconds=6)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        options = SHORT
        stapler = Stapler(client=fast_client(), options=options)
        stapler.add(leaf.chain)
        seen = {stapler.staple_for(leaf.cert)}
        with stapler.run_in_thread():
            assert responder.wait_for_requests(3, timeout=30)
            deadline = time.monotonic() + 10
            while len(seen) < 3 and time.monotonic() < deadline:
                seen.add(stapler.staple_for(leaf.cert))
                time.sleep(0.05)
        assert None not in seen and len(seen) >= 3


def test_staple_expires_in_real_time_without_refresh(ca: CA) -> None:
    with Responder(ca, validity=timedelta(seconds=5)) as responder:
        leaf = ca.issue(ocsp_url=responder.url)
        ev = Events()
        options = SHORT
        stapler = Stapler(client=fast_client(), options=options, **ev.hooks())
        stapler.add(leaf.chain)
        assert stapler.staple_for(leaf.cert) is not None
    # responder stopped: no refresh can succeed
    deadline = time.monotonic() + 15
    while stapler.staple_for(leaf.cert) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stapler.staple_for(leaf.cert) is None
    stapler.refresh()
    assert len(ev.of(StapleExpired)) == 1


def test_outputs_follow_the_staple(ca: CA, responder: Responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    leaf = ca.issue(ocsp_url=responder.url)
    plain = StapleFile(tmp_path / "plain.der", missing="remove")
    calls: list[int] = []
    nginx = NginxStapleFile(tmp_path / "nginx.der", reload=lambda: calls.append(1))
    not_running = NginxStapleFile(tmp_path / "later.der", pid_file=tmp_path / "no-nginx.pid")
    ev = Events()
    stapler = Stapler(client=fast_client(), **ev.hooks())
    key = stapler.add(leaf.chain, outputs=[plain, nginx, not_running])
    der = stapler.staple_for(key)
    assert der is not None
    assert (tmp_path / "later.der").read_bytes() == der  # nginx not running: nothing to reload
    assert not ev.of(StapleFailed)
    assert (tmp_path / "plain.der").read_bytes() == der == (tmp_path / "nginx.der").read_bytes()
    assert calls == [1]
    until = stapler.state(key).serve_until
    assert until is not None
    responder.stop()
    stapler.refresh(now=until)
    assert not (tmp_path / "plain.der").exists()
    assert (tmp_path / "nginx.der").read_bytes() == try_later_response()
    assert calls == [1, 1]
    assert (tmp_path / "later.der").read_bytes() == try_later_response()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failing_output_reported_and_retried(ca: CA, responder: Responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    leaf = ca.issue(ocsp_url=responder.url)
    ev = Events()
    target = tmp_path / "missing-dir" / "staple.der"
    stapler = Stapler(client=fast_client(), **ev.hooks())
    stapler.add(leaf.chain, outputs=[StapleFile(target)])
    assert stapler.staple_for(leaf.cert) is not None  # serving is unaffected
    (err,) = ev.of(StapleFailed)
    assert isinstance(err.error, ocspkit.stapling.OutputError) and err.serving
    target.parent.mkdir()
    stapler.refresh(now=datetime.now(timezone.utc) + timedelta(seconds=6))
    assert target.read_bytes() == stapler.staple_for(leaf.cert)


def test_callback_errors_do_not_break_the_stapler(ca: CA, responder: Responder) -> None:
    def boom(event: object) -> None:
        raise RuntimeError("callback bug")

    leaf = ca.issue(ocsp_url=responder.url)
    stapler = Stapler(client=fast_client(), on_update=boom)
    stapler.add(leaf.chain)
    assert stapler.staple_for(leaf.cert) is not None


def test_asyncio_add_refresh_and_runner(ca: CA) -> None:
    async def main() -> None:
        async with Responder(ca, validity=timedelta(seconds=6)) as responder:
            leaf = ca.issue(ocsp_url=responder.url)
            options = SHORT
            async with AsyncClient(
                ocspkit.ClientConfig(timeout=3, deadline=5, retries=0)
            ) as client:
                stapler = AsyncStapler(client=client, options=options)
                key = await stapler.add(leaf.chain)
                first = stapler.staple_for(key)
                assert first is not None
                assert await stapler.refresh() == 0
                task = asyncio.create_task(stapler.run())
                try:
                    deadline = time.monotonic() + 20
                    while responder.requests < 3 and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                        assert stapler.staple_for(key) is not None
                finally:
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                assert responder.requests >= 3
                assert stapler.staple_for(key) != first

    asyncio.run(main())


def test_async_with_default_client(ca: CA, responder: Responder) -> None:
    async def main() -> bytes | None:
        async with AsyncStapler() as stapler:
            await stapler.add(leaf.chain)
            return stapler.staple_for(leaf.cert)

    leaf = ca.issue(ocsp_url=responder.url)
    assert asyncio.run(main()) is not None


def test_sync_default_client(ca: CA, responder: Responder) -> None:
    leaf = ca.issue(ocsp_url=responder.url)
    with Stapler() as stapler:
        stapler.add(leaf.chain)
        assert stapler.staple_for(leaf.cert) is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"responder_timeout": 0},
        {"force_url": "ftp://x"},
        {"lease_ttl": timedelta(0)},
        {"schedule": RefreshSchedule(retry_initial=timedelta(milliseconds=50))},
        {"schedule": timedelta(minutes=5)},
        {"policy": None},
    ],
)
def test_bad_options_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StaplerOptions(**kwargs)  # type: ignore[arg-type]


def test_options_compose_schedule_policy_and_client_config() -> None:
    """Each setting has one home: the schedule's and the policy's are theirs, with their own
    defaults; the stapler's own client is built from the fetch knobs and the policy."""
    assert StaplerOptions().schedule == RefreshSchedule()
    assert StaplerOptions().policy == ocspkit.ValidationPolicy()
    policy = ocspkit.ValidationPolicy(clock_skew=timedelta(seconds=30), max_age=timedelta(days=2))
    options = StaplerOptions(
        schedule=RefreshSchedule(fraction=0.67, margin=timedelta(minutes=2)),
        policy=policy,
        responder_timeout=4.0,
        force_url="http://ocsp.example/",
    )
    assert options.store_policy.nonce is ocspkit.NonceRule.IGNORE
    assert options.store_policy.max_age == timedelta(days=2)
    config = options.client_config()
    assert isinstance(config, ocspkit.ClientConfig)
    assert (config.deadline, config.timeout, config.force_url) == (4.0, 4.0, "http://ocsp.example/")
    assert config.policy is policy
    assert options.lease_seconds() == 13
    assert StaplerOptions().lease_seconds() == 25


def test_policy_age_limits_cap_serving(ca: CA, responder: Responder) -> None:
    """A staple is never served past what the validation policy accepts: a policy stricter than
    the schedule about responses without nextUpdate wins."""
    responder.fault = Fault.NO_NEXT_UPDATE
    leaf = ca.issue(ocsp_url=responder.url)
    policy = ocspkit.ValidationPolicy(max_age_without_next_update=timedelta(minutes=8))
    stapler = Stapler(client=fast_client(), options=StaplerOptions(policy=policy))
    stapler.add(leaf.chain)
    state = stapler.state(leaf.cert)
    assert state.result is not None and state.result.next_update is None
    assert state.serve_until == state.result.this_update + timedelta(minutes=8)

"""Which roots the probe trusts: the system store by default (OpenSSL's default verify paths),
certifi only as the fallback, ``extra_roots``/``--cafile`` adding to it and
``trust_roots``/``--no-system-store`` replacing it; and the chain verdicts of the CA/B profile.

The system store of a process is chosen the way OpenSSL chooses it, through ``SSL_CERT_FILE``
and ``SSL_CERT_DIR``; it is read once per process, so those runs are subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ocspkit import CertStatus
from ocspkit.probing import aprobe, default_trust_roots, probe
from ocspkit.testing import CA, Leaf
from tests._lab import pyopenssl_staple_server

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA(key_type="ecdsa", name="ocspkit trust test", ocsp_url="http://127.0.0.1:9/ocsp")


@pytest.fixture(scope="module")
def other() -> CA:
    return CA(key_type="ecdsa", name="ocspkit other CA")


@pytest.fixture(scope="module")
def leaf(ca: CA) -> Leaf:
    return ca.issue("localhost")


@pytest.fixture(scope="module")
def port(ca: CA, leaf: Leaf) -> Iterator[int]:
    staple = ca.sign_response(leaf.cert, validity=timedelta(hours=4)).der
    with pyopenssl_staple_server(leaf.chain, leaf.key, staple) as server:
        yield server.port


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, ca: CA, other: CA) -> dict[str, Path]:
    """PEM files: our CA's root, the other CA's root, and an empty directory."""
    base = tmp_path_factory.mktemp("stores")
    (base / "ours.pem").write_bytes(ca.root_pem)
    (base / "other.pem").write_bytes(other.root_pem)
    (base / "empty").mkdir()
    hashed = base / "hashed"  # a CA directory as c_rehash leaves it: hash.N files
    hashed.mkdir()
    (hashed / "0a1b2c3d.0").write_bytes(ca.root_pem)
    (hashed / "README").write_bytes(other.root_pem)  # not a hashed name: OpenSSL ignores it
    return {
        "ours": base / "ours.pem",
        "other": base / "other.pem",
        "empty": base / "empty",
        "hashed": hashed,
        "missing": base / "missing.pem",
    }


def _env(cafile: Path, capath: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
        "SSL_CERT_FILE": str(cafile),
        "SSL_CERT_DIR": str(capath),
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocspkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _python(env: dict[str, str], code: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


# -- the default store ---------------------------------------------------------------------------


def test_cli_trusts_the_system_store(port: int, stores: dict[str, Path]) -> None:
    """A server whose CA is in the system store is trusted with no option at all."""
    env = _env(stores["ours"], stores["empty"])
    run = _cli(env, "probe", f"127.0.0.1:{port}", "--servername", "localhost", "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["chain_valid"] is True and doc["chain_error"] is None
    assert doc["staple_status"] == "good"


def test_cli_system_store_directory(port: int, stores: dict[str, Path]) -> None:
    """The CA directory's hashed files count, as OpenSSL's lookup does."""
    env = _env(stores["missing"], stores["hashed"])
    run = _cli(env, "probe", f"127.0.0.1:{port}", "--servername", "localhost", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["chain_valid"] is True


def test_cli_cafile_adds_to_the_system_store(port: int, stores: dict[str, Path]) -> None:
    env = _env(stores["other"], stores["empty"])  # the system store trusts another CA
    target = (f"127.0.0.1:{port}", "--servername", "localhost", "--json")
    untrusted = _cli(env, "probe", *target)
    assert untrusted.returncode == 3
    assert json.loads(untrusted.stdout)["chain_valid"] is False
    added = _cli(env, "probe", *target, "--cafile", str(stores["ours"]))
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["chain_valid"] is True


def test_cli_no_system_store_replaces_it(port: int, stores: dict[str, Path]) -> None:
    env = _env(stores["ours"], stores["empty"])  # the system store trusts our CA ...
    target = (f"127.0.0.1:{port}", "--servername", "localhost", "--json")
    only = _cli(env, "probe", *target, "--cafile", str(stores["other"]), "--no-system-store")
    assert only.returncode == 3  # ... but only the other CA's root is trusted now
    doc = json.loads(only.stdout)
    assert doc["chain_valid"] is False and "no path to a trust root" in doc["chain_error"]
    assert "chain is not valid" in only.stderr


def test_cli_no_system_store_needs_cafile(stores: dict[str, Path]) -> None:
    run = _cli(_env(stores["ours"], stores["empty"]), "probe", "127.0.0.1:9", "--no-system-store")
    assert run.returncode == 4
    assert "--cafile" in run.stderr


def test_certifi_is_the_fallback(stores: dict[str, Path]) -> None:
    pytest.importorskip("certifi")
    env = _env(stores["missing"], stores["empty"])
    doc = _python(
        env,
        """
        import json, certifi
        from ocspkit.probing import default_trust_roots, system_roots, certifi_roots
        d = default_trust_roots()
        print(json.dumps({"source": d.source, "n": len(d.certificates),
                          "system": len(system_roots()), "certifi": len(certifi_roots())}))
        """,
    )
    assert doc["source"] == "certifi" and doc["system"] == 0
    assert doc["n"] == doc["certifi"] and isinstance(doc["n"], int) and doc["n"] > 50


def test_no_store_and_no_certifi(port: int, stores: dict[str, Path]) -> None:
    """Without a system store and without certifi (an optional package), the chain is reported
    untrusted, with the reason; the probe still reports the staple."""
    env = _env(stores["missing"], stores["empty"])
    doc = _python(
        env,
        f"""
        import json, sys
        sys.modules["certifi"] = None  # as if certifi were not installed
        from ocspkit.probing import default_trust_roots, probe
        r = probe("127.0.0.1", {port}, servername="localhost", timeout=5)
        print(json.dumps({{"source": default_trust_roots().source, "valid": r.chain_valid,
                           "error": r.chain_error, "status": str(r.staple_status)}}))
        """,
    )
    assert doc["source"] == "none" and doc["valid"] is False
    assert "system store is empty and certifi is not installed" in str(doc["error"])
    assert doc["status"] == "CertStatus.GOOD"  # the served issuer still checks the staple


def test_the_store_is_read_on_first_use_not_at_import(stores: dict[str, Path], ca: CA) -> None:
    """``import ocspkit.probing`` reads no trust store: a store that appears after the import
    (and before the first use) is the one used."""
    late = stores["empty"].parent / "late.pem"
    env = _env(late, stores["empty"])
    doc = _python(
        env,
        f"""
        import json, pathlib
        import ocspkit, ocspkit.probing
        from ocspkit.probing import default_trust_roots
        pathlib.Path({str(late)!r}).write_bytes(pathlib.Path({str(stores["ours"])!r}).read_bytes())
        first = default_trust_roots()
        pathlib.Path({str(late)!r}).unlink()
        again = default_trust_roots()  # read once per process
        print(json.dumps({{"source": first.source, "n": len(first.certificates),
                           "again": len(again.certificates)}}))
        """,
    )
    assert doc == {"source": "system", "n": 1, "again": 1}


def test_default_store_of_this_process_is_system_or_certifi() -> None:
    roots = default_trust_roots()
    assert roots.source in ("system", "certifi", "none")
    assert (roots.source == "none") == (not roots.certificates)


# -- the Python API: extra_roots adds, trust_roots replaces ---------------------------------------


def test_extra_roots_add_to_the_default_store(ca: CA, port: int) -> None:
    # the test CA is in no system store: only the extra root makes the chain valid
    assert not probe("127.0.0.1", port, servername="localhost", timeout=5).chain_valid
    report = probe("127.0.0.1", port, servername="localhost", extra_roots=[ca.root], timeout=5)
    assert report.chain_valid and report.ok


def test_trust_roots_replace_and_extra_roots_add(ca: CA, other: CA, port: int) -> None:
    replaced = probe("127.0.0.1", port, servername="localhost", trust_roots=[other.root], timeout=5)
    assert not replaced.chain_valid
    assert replaced.chain_error is not None and "no path to a trust root" in replaced.chain_error
    both = probe(
        "127.0.0.1",
        port,
        servername="localhost",
        trust_roots=[other.root],
        extra_roots=ca.root_pem,
        timeout=5,
    )
    assert both.chain_valid and both.staple_status is CertStatus.GOOD


def test_aprobe_takes_the_same_roots(ca: CA, other: CA, port: int) -> None:
    async def run() -> tuple[bool, bool]:
        a = await aprobe("127.0.0.1", port, servername="localhost", extra_roots=[ca.root])
        b = await aprobe("127.0.0.1", port, servername="localhost", trust_roots=[other.root])
        return a.chain_valid, b.chain_valid

    assert asyncio.run(run()) == (True, False)


# -- chain verdicts under the CA/B profile ------------------------------------------------------------


def test_path_and_name_failures_are_both_named(other: CA, port: int) -> None:
    report = probe(
        "127.0.0.1", port, servername="www.example.org", trust_roots=[other.root], timeout=5
    )
    assert report.chain_error is not None
    assert "no path to a trust root" in report.chain_error
    assert "does not name 'www.example.org'" in report.chain_error


def test_missing_intermediate_reason(ca: CA) -> None:
    leaf = ca.issue("localhost")
    with pyopenssl_staple_server([leaf.cert], leaf.key, None) as server:
        report = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ca.root])
    assert report.chain_error is not None
    assert report.chain_error.startswith("no path to a trust root: an issuer is neither served")


def test_ed25519_chain_is_outside_the_web_pki_profile() -> None:
    """A measured difference from pyhanko-certvalidator (which accepted it): the CA/B
    profile allows RSA and ECDSA keys only, so an Ed25519 chain is reported
    not valid, with that reason; its staple is still checked."""
    ed = CA(key_type="ed25519", name="ocspkit ed25519")
    leaf = ed.issue("localhost")
    staple = ed.sign_response(leaf.cert).der
    with pyopenssl_staple_server(leaf.chain, leaf.key, staple) as server:
        report = probe("127.0.0.1", server.port, servername="localhost", trust_roots=[ed.root])
    assert not report.chain_valid
    assert report.chain_error is not None and "(Ed25519)" in report.chain_error
    assert report.staple_status is CertStatus.GOOD


def test_underscore_host_name_is_reported_not_raised(ca: CA) -> None:
    """cryptography's DNS name rules (the CA/B profile's) refuse an underscore label."""
    leaf = ca.issue("x", sans=("under_score.example.com",))
    with pyopenssl_staple_server(leaf.chain, leaf.key, None) as server:
        report = probe(
            "127.0.0.1", server.port, servername="under_score.example.com", trust_roots=[ca.root]
        )
    assert not report.chain_valid
    assert report.chain_error is not None and "under_score.example.com" in report.chain_error

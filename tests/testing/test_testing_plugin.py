"""The pytest plugin costs nothing unused; ocspkit.testing's names load on first use; the
CA's validity window and the status table that OCSP (and later CRLs) publish from."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

import ocspkit
import ocspkit.testing
from ocspkit import CertStatus, RevocationReason
from ocspkit.testing import CA, Leaf, Responder
from ocspkit.testing.status import StatusTable

_HEAVY = (
    "ocspkit.testing.ca",
    "ocspkit.testing.responder",
    "ocspkit.testing.openssl",
    "ocspkit.testing.profiles",
    "http.server",
    "socketserver",
)


def _modules_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return list(json.loads(out))


def test_importing_the_plugin_loads_neither_ca_nor_responder() -> None:
    loaded = _modules_after("import ocspkit.testing.pytest_plugin")
    assert "ocspkit.testing.pytest_plugin" in loaded
    assert [m for m in _HEAVY if m in loaded] == []


def test_importing_the_package_is_lazy_and_names_resolve_on_use() -> None:
    loaded = _modules_after("import ocspkit.testing")
    assert [m for m in _HEAVY if m in loaded] == []
    loaded = _modules_after("from ocspkit.testing import CA")
    assert "ocspkit.testing.ca" in loaded and "ocspkit.testing.responder" not in loaded
    for name in ocspkit.testing.__all__:
        assert getattr(ocspkit.testing, name) is not None
    assert sorted(dir(ocspkit.testing)) == sorted(ocspkit.testing.__all__)


def test_fixtures_work(ocsp_ca: CA, ocsp_responder: Responder, ocsp_leaf: Leaf) -> None:
    assert ocspkit.ocsp_urls(ocsp_leaf.cert) == (ocsp_responder.url,)
    assert ocspkit.check(ocsp_leaf.cert, ocsp_ca.issuer).status is CertStatus.GOOD


def test_ca_certificates_valid_in_a_given_window() -> None:
    then = datetime(2020, 3, 1, tzinfo=timezone.utc)
    ca = CA("ecdsa", not_before=then - timedelta(days=1), not_after=then + timedelta(days=30))
    for cert in (ca.root, ca.issuer):
        assert cert.not_valid_before_utc == then - timedelta(days=1)
        assert cert.not_valid_after_utc == then + timedelta(days=30)
    leaf = ca.issue("localhost", not_before=then, not_after=then + timedelta(days=2))
    verifier = (
        PolicyBuilder()
        .store(Store([ca.root]))
        .time(then + timedelta(hours=1))
        .build_server_verifier(x509.DNSName("localhost"))
    )
    chain = verifier.verify(leaf.cert, [ca.issuer])
    assert chain[-1] == ca.root


def test_status_table_lists_revocations_in_issuing_order() -> None:
    table = StatusTable()
    ca = CA("ecdsa")
    a, b, c = (ca.issue(f"h{i}.test").cert for i in range(3))
    for cert in (a, b, c):
        table.add(cert)
    when = datetime(2026, 1, 2, tzinfo=timezone.utc)
    table.revoke(c.serial_number, when, None)
    table.revoke(a.serial_number, when, RevocationReason.SUPERSEDED)
    assert [(r.cert, r.reason) for r in table.revoked()] == [
        (a, RevocationReason.SUPERSEDED),
        (c, None),
    ]
    table.unrevoke(c.serial_number)
    assert table.lookup(c.serial_number) == (CertStatus.GOOD, None, None)
    assert table.lookup(12345)[0] is CertStatus.UNKNOWN
    assert table.certificates() == (a, b, c)
    assert json.dumps([line.split("\t")[0] for line in table.index_lines()]) == '["R", "V", "V"]'

"""An issued test certificate with its key and chain, and the files a server needs for it.

This module owns :class:`Leaf` (what :class:`~ocspkit.testing.CA` hands out) and
:class:`LeafFiles` (what :meth:`Leaf.write` puts on disk: certificate, key, chain, and HAProxy's
combined PEM). It must never issue, sign or revoke: a Leaf is a plain frozen value, and it
imports nothing from ocspkit beyond :mod:`ocspkit.testing.keys`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from .keys import PrivateKey, cert_pem, key_pem

__all__ = ["Leaf", "LeafFiles"]


@dataclass(frozen=True)
class LeafFiles:
    """Paths written by :meth:`Leaf.write`.

    :ivar cert: the certificate alone (PEM).
    :ivar key: the private key (PKCS#8 PEM, mode 0600).
    :ivar chain: certificate + intermediate (PEM), what a TLS server sends.
    :ivar combined: chain followed by the key in one file (HAProxy's ``crt`` format).
    """

    cert: Path
    key: Path
    chain: Path
    combined: Path


@dataclass(frozen=True)
class Leaf:
    """A certificate issued by a test :class:`~ocspkit.testing.CA`, with its key and chain.

    :ivar cert: the certificate.
    :ivar key: its private key.
    :ivar chain: ``(cert, intermediate)``, the chain a server presents (root excluded).
    """

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return key_pem(self.key)

    @property
    def chain_pem(self) -> bytes:
        """The certificate followed by its intermediate(s), PEM."""
        return b"".join(cert_pem(c) for c in self.chain)

    @property
    def serial_number(self) -> int:
        """The certificate's serial number."""
        return self.cert.serial_number

    def write(self, directory: str | os.PathLike[str], name: str | None = None) -> LeafFiles:
        """Write ``NAME.crt``, ``NAME.key``, ``NAME.chain.pem`` and ``NAME.pem`` (chain + key).

        ``name`` defaults to the certificate's common name made filename-safe.
        """
        base = Path(directory)
        base.mkdir(parents=True, exist_ok=True)
        if name is None:
            cns = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            raw = str(cns[0].value) if cns else f"cert-{self.cert.serial_number:x}"
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "cert"
        files = LeafFiles(
            cert=base / f"{name}.crt",
            key=base / f"{name}.key",
            chain=base / f"{name}.chain.pem",
            combined=base / f"{name}.pem",
        )
        files.cert.write_bytes(self.cert_pem)
        _write_private(files.key, self.key_pem)
        files.chain.write_bytes(self.chain_pem)
        _write_private(files.combined, self.chain_pem + self.key_pem)
        return files


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)

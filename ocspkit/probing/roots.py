"""The probe's default trust roots: the system store, with certifi's bundle as the fallback.

Owns finding and loading the roots that :func:`ocspkit.probe` trusts when the caller names none:
OpenSSL's default verify paths (:func:`ssl.get_default_verify_paths`: its CA file, and the hashed
certificate files of its CA directory; ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured as
OpenSSL honours them), or, when that store is empty or unreadable, the Mozilla bundle of the
optional ``certifi`` package. Each is read once per process, on first use.

Must never load anything at import time, never fetch over the network, never write a file, and
never let one unreadable file or certificate lose the rest of a store.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509

__all__ = ["DefaultRoots", "certifi_roots", "default_trust_roots", "system_roots"]

_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
#: The names OpenSSL looks up in a CA directory (``c_rehash`` / ``openssl rehash``): hash.N.
#: CRLs (hash.rN) and the other files of the directory are not certificates OpenSSL would use.
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
#: A store file larger than this is not read (a system bundle is ~200 KiB).
_MAX_FILE = 16 << 20

_lock = threading.Lock()
_cache: dict[str, tuple[x509.Certificate, ...]] = {}


@dataclass(frozen=True)
class DefaultRoots:
    """The roots the probe trusts by default, and where they came from.

    :ivar certificates: the root certificates (possibly empty).
    :ivar source: ``"system"`` (OpenSSL's default verify paths), ``"certifi"`` (the fallback,
        used when the system store holds no certificate) or ``"none"`` (neither is available).
    """

    certificates: tuple[x509.Certificate, ...]
    source: str


def _pem_certificates(data: bytes) -> Iterable[x509.Certificate]:
    for block in _PEM_BLOCK.findall(data):
        with warnings.catch_warnings():  # e.g. a root with a non-positive serial number
            warnings.simplefilter("ignore")
            try:
                yield x509.load_pem_x509_certificate(block)
            except ValueError:
                continue


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_MAX_FILE)
    except OSError:
        return b""


def _unique(certs: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(dict.fromkeys(certs))  # certificates compare and hash by their DER


def _load_system() -> tuple[x509.Certificate, ...]:
    paths = ssl.get_default_verify_paths()
    certs: list[x509.Certificate] = []
    if paths.cafile:
        certs.extend(_pem_certificates(_read(paths.cafile)))
    if paths.capath:
        try:
            names = sorted(os.listdir(paths.capath))
        except OSError:
            names = []
        for name in names:
            if _HASHED_NAME.fullmatch(name):
                certs.extend(_pem_certificates(_read(os.path.join(paths.capath, name))))
    return _unique(certs)


def _load_certifi() -> tuple[x509.Certificate, ...]:
    try:
        import certifi
    except ImportError:
        return ()
    return _unique(_pem_certificates(_read(certifi.where())))


def _cached(
    key: str, load: Callable[[], tuple[x509.Certificate, ...]]
) -> tuple[x509.Certificate, ...]:
    with _lock:
        if key not in _cache:
            _cache[key] = load()
        return _cache[key]


def system_roots() -> tuple[x509.Certificate, ...]:
    """The certificates of the system store (OpenSSL's default CA file and CA directory).

    Read once per process; empty when the store is missing, empty or unreadable. Certificates
    that cryptography cannot load are skipped, duplicates (the same root in the file and the
    directory) are kept once.
    """
    return _cached("system", _load_system)


def certifi_roots() -> tuple[x509.Certificate, ...]:
    """The Mozilla roots of the ``certifi`` package (read once); empty if it is not installed."""
    return _cached("certifi", _load_certifi)


def default_trust_roots() -> DefaultRoots:
    """The roots :func:`ocspkit.probe` trusts when given no ``trust_roots``: the system store,
    or certifi's bundle when the system store holds no certificate."""
    system = system_roots()
    if system:
        return DefaultRoots(system, "system")
    fallback = certifi_roots()
    return DefaultRoots(fallback, "certifi" if fallback else "none")

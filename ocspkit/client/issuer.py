"""Finding a certificate's issuer: in a bundle, or fetched from its AIA caIssuers URL."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from ..certs import ca_issuer_urls, load_certificates, subject_text
from ..errors import CertificateError, FetchError, IssuerFetchError, IssuerNotFoundError, OCSPError
from ..issuers import find_issuer
from .transfer import Context, Flow, fetch, retrying, url_scheme

__all__ = ["issuer_flow", "parse_issuer_certificates"]

_ACCEPT = (
    ("accept", "application/pkix-cert, application/pkcs7-mime, */*;q=0.5"),
    ("accept-encoding", "identity"),
)


def parse_issuer_certificates(body: bytes) -> list[x509.Certificate]:
    """Certificates served at a caIssuers URL: DER or PEM certificate, or PKCS#7 (DER or PEM).

    Raises :class:`~ocspkit.CertificateError` for anything else.
    """
    try:
        return load_certificates(body)
    except Exception:  # CertificateError, or a parser's own error on hostile input
        pass
    for loader in (pkcs7.load_der_pkcs7_certificates, pkcs7.load_pem_pkcs7_certificates):
        try:
            certs = loader(body)
        except Exception:  # ValueError, UnsupportedAlgorithm (non-signedData), ...: not ours
            continue
        if certs:
            return certs
    raise CertificateError("caIssuers content is neither a certificate nor a PKCS#7 bundle")


def issuer_flow(
    ctx: Context, cert: x509.Certificate, bundle: Sequence[x509.Certificate]
) -> Flow[x509.Certificate]:
    """The issuer of ``cert``: from ``bundle`` if it is there, else from AIA caIssuers.

    Whatever is fetched must really have issued ``cert`` (name and signature checked).
    Raises :class:`IssuerFetchError` when every fetch failed in transport, else
    :class:`~ocspkit.IssuerNotFoundError`.
    """
    if bundle:
        try:
            return find_issuer(cert, bundle)
        except IssuerNotFoundError:
            pass
    urls = [u for u in ca_issuer_urls(cert) if url_scheme(u) in ("http", "https")]
    subject = subject_text(cert)
    if not urls:
        raise IssuerNotFoundError(
            f"issuer of {subject!r} not given, not in the bundle, and no http(s) caIssuers URL"
        )
    last: OCSPError | None = None
    for url in urls:

        def step(url: str = url) -> Flow[tuple[bytes, str]]:
            return (yield from fetch(ctx, "GET", url, headers=_ACCEPT))

        try:
            body, _ = yield from retrying(ctx, step)
        except FetchError as exc:
            last = exc
            continue
        try:
            return find_issuer(cert, parse_issuer_certificates(body))
        except (CertificateError, IssuerNotFoundError) as exc:
            last = exc
        except Exception as exc:  # hostile content must not escape as a foreign exception
            last = CertificateError(f"unusable caIssuers content at {url}: {exc!r}")
            last.__cause__ = exc
    if isinstance(last, FetchError):
        raise IssuerFetchError(f"could not fetch the issuer of {subject!r}", url=last.url) from last
    raise IssuerNotFoundError(f"no caIssuers URL of {subject!r} served its issuer") from last

"""Sphinx configuration for ocspkit's documentation (built in CI with -W)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import ocspkit  # noqa: E402

project = "ocspkit"
author = "the ocspkit authors"
copyright = "the ocspkit authors, MIT licence"  # noqa: A001
version = release = ocspkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]

root_doc = "index"
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints"]
html_theme = "alabaster"
html_theme_options = {"description": "Typed OCSP and OCSP stapling", "fixed_sidebar": True}
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "class"
# Public names live in ocspkit's private modules; show them as ocspkit.X.
add_module_names = True
python_use_unqualified_type_names = True

# Doctests in the pages run against real objects (throwaway CA, loopback responder).
doctest_global_setup = """
import ocspkit
"""
doctest_default_flags = 0


# The API reference (api.rst) is generated from ``ocspkit.__all__``, grouped as below, so it
# always documents every exported name exactly once; names in no group land in "Other names".
API_GROUPS: list[tuple[str, list[str]]] = [
    (
        "Checking certificates",
        ["check", "acheck", "Client", "AsyncClient", "ClientConfig", "ResponseCache",
         "check_many", "acheck_many", "CheckOutcome", "is_public_address",
         "parse_issuer_certificates", "IssuerFetchError"],
    ),
    (
        "Probing servers",
        ["probe", "aprobe", "probe_many", "ProbeReport", "ProbeTarget", "ProbeOutcome",
         "hostname_matches", "ProbeError", "ProbeConnectionError", "ProbeRefusedError",
         "ProbeTimeoutError", "TLSHandshakeError", "NotTLSError", "NoCertificateError"],
    ),
    (
        "Stapling",
        ["Stapler", "AsyncStapler", "StaplerOptions", "StapleState", "StaplerThread", "MemoryStore",
         "DirectoryStore", "RedisStore", "StapleStore", "StapleOutput", "StapleFile",
         "NginxStapleFile", "HAProxyOCSPFile", "HAProxyRuntime", "try_later_response",
         "StapleUpdated", "StapleRevoked", "StapleFailed", "StapleError", "StapleExpired",
         "MustStapleMissing", "StaplingError", "StoreError", "OutputError", "HAProxyAPIError",
         "UnservableResponseError", "StapleRollbackError", "MissingDependencyError", "fingerprint"],
    ),
    (
        "Refresh schedule",
        ["RefreshSchedule", "StapleTimes", "staple_times", "serve_until", "retry_delay"],
    ),
    (
        "Certificates",
        ["load_certificates", "load_certificate", "ocsp_urls", "ca_issuer_urls",
         "crl_urls", "is_must_staple", "find_issuer", "is_issued_by", "cert_id",
         "cert_id_matches"],
    ),
    ("Requests", ["build_request", "parse_request", "OCSPRequest", "CertID",
                  "HASH_ALGORITHMS", "DEFAULT_NONCE_SIZE"]),
    (
        "Responses and validation",
        ["parse_response", "validate_response", "ValidationPolicy", "NonceRule",
         "ValidationResult", "OCSPResponse", "SingleResponse", "ResponderID", "Extension",
         "CertStatus", "ResponseStatus", "RevocationReason", "build_response",
         "build_error_response", "MAX_EMBEDDED_CERTIFICATES", "MAX_SINGLE_RESPONSES",
         "MAX_EXTENSIONS"],
    ),
    (
        "Errors",
        ["OCSPError", "DecodeError", "CertificateError", "IssuerNotFoundError", "NoOCSPURLError",
         "ResponderError", "ValidationError", "IssuerMismatchError", "NoMatchingResponseError",
         "ConflictingResponsesError", "SignerNotFoundError", "UnauthorizedResponderError",
         "SignatureError", "WeakAlgorithmError", "NotYetValidError", "ExpiredResponseError",
         "StaleResponseError", "ProducedAtError", "NonceMismatchError", "NonceMissingError",
         "CriticalExtensionError", "FetchError", "FetchTimeoutError", "ConnectError",
         "HTTPStatusError", "ResponseTooLargeError", "ContentTypeError", "RedirectError",
         "UnsafeURLError", "InvalidURLError", "ContentEncodingError", "UnexpectedError"],
    ),
]


def _directive(name: str, module: object = ocspkit, prefix: str = "ocspkit") -> str:
    import inspect

    obj = getattr(module, name)
    if inspect.isclass(obj):
        kind = "exception" if issubclass(obj, BaseException) else "class"
    elif callable(obj):
        kind = "function"
    else:
        kind = "data"
    return f".. auto{kind}:: {prefix}.{name}"


def api_reference() -> str:
    """The reStructuredText of every ``ocspkit.__all__`` name, grouped."""
    exported = [n for n in ocspkit.__all__ if not n.startswith("_")]
    done: set[str] = set()
    parts: list[str] = []

    def section(title: str, names: list[str]) -> None:
        if not names:
            return
        parts.extend([title, "-" * len(title), ""])
        for name in names:
            parts.extend([_directive(name), ""])
            done.add(name)

    for title, names in API_GROUPS:
        section(title, [n for n in names if n in exported and n not in done])
    section("Other names", [n for n in exported if n not in done])
    return "\n".join(parts)


def testing_reference() -> str:
    """The reStructuredText of every ``ocspkit.testing.__all__`` name."""
    import ocspkit.testing

    parts: list[str] = []
    for name in ocspkit.testing.__all__:
        if name in ocspkit.__all__:  # an error class re-exported: documented with the tree
            continue
        parts.extend([_directive(name, ocspkit.testing, "ocspkit.testing"), ""])
    return "\n".join(parts)


def _api_source(app, docname, source):  # type: ignore[no-untyped-def]
    if docname == "api":
        text = source[0].replace(".. API-REFERENCE", api_reference())
        source[0] = text.replace(".. TESTING-REFERENCE", testing_reference())


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("source-read", _api_source)

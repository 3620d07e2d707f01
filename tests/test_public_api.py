"""The public namespace: ``ocspkit.__all__`` is complete and documented; asn1crypto is private."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import ocspkit

PACKAGE_DIR = Path(ocspkit.__file__).parent

# Modules that are namespaces of their own, not re-exported flat into ``ocspkit``.
OWN_NAMESPACES = {"ocspkit.testing", "ocspkit.cli"}

# Names a public module lists in its ``__all__`` that are deliberately *not* in ``ocspkit``.
NOT_EXPORTED: dict[str, set[str]] = {
    # the renderer hook: used by ocspkit's own notebook renderers, not by callers
    "ocspkit.models": {"HTMLRepr", "register_html"},
    # the validator's source of facts: internal to the core
    "ocspkit.response": {"response_facts"},
    "ocspkit.crl": {"crl_facts"},
    # structural protocols of the CRL models, not values a caller builds, and the parser's
    # unchecked constructor for entries (callers build CRLEntry itself)
    "ocspkit.crlmodels": {"EntryIndex", "RawExtension", "new_entry"},
    # the verdict flow's protocol and helpers, driven by the clients' runners
    "ocspkit.revocation": {
        "SOURCES",
        "AskCRL",
        "AskOCSP",
        "NeedIssuer",
        "Request",
        "VerdictFlow",
        "check_sources",
        "from_validation",
        "revocation_flow",
        "staple_answer",
    },
    # the SSRF guard's address classification, for callers who build their own policy
    "ocspkit.client": {"METADATA_ADDRESSES", "is_metadata_address", "is_public_address"},
}


def _public_modules() -> list[str]:
    """ocspkit's public top-level modules and subpackages (``ocspkit.X``, X without ``_``).

    A subpackage's own ``__init__`` ``__all__`` is what it exports; its inner modules are its
    business.
    """
    return [
        f"ocspkit.{info.name}"
        for info in pkgutil.iter_modules([str(PACKAGE_DIR)])
        if not info.name.startswith("_") and f"ocspkit.{info.name}" not in OWN_NAMESPACES
    ]


def test_every_exported_name_exists() -> None:
    missing = [name for name in ocspkit.__all__ if not hasattr(ocspkit, name)]
    assert missing == []
    assert len(set(ocspkit.__all__)) == len(ocspkit.__all__), "duplicates in __all__"


def test_every_exported_class_and_function_has_a_docstring() -> None:
    undocumented = []
    for name in ocspkit.__all__:
        obj = getattr(ocspkit, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (doc and doc.strip()):
                undocumented.append(name)
    assert undocumented == []


def test_public_methods_of_exported_classes_have_docstrings() -> None:
    undocumented = []
    for name in ocspkit.__all__:
        cls = getattr(ocspkit, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        for attr, value in vars(cls).items():
            if attr.startswith("_"):
                continue
            func = value.fget if isinstance(value, property) else value
            if isinstance(func, (staticmethod, classmethod)):
                func = func.__func__
            if inspect.isfunction(func) and not (func.__doc__ or "").strip():
                undocumented.append(f"{name}.{attr}")
    assert undocumented == []


def test_all_is_complete() -> None:
    """Every name a public module exports (its own ``__all__``) is exported by ``ocspkit``."""
    exported = set(ocspkit.__all__)
    modules = _public_modules()
    assert "ocspkit.models" in modules and "ocspkit.errors" in modules
    absent = []
    for modname in modules:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            if name in NOT_EXPORTED.get(modname, set()):
                continue
            if name not in exported:
                absent.append(f"{modname}.{name}")
    assert absent == [], "add these to ocspkit.__all__ (or to NOT_EXPORTED with a reason)"


def test_exported_objects_are_the_modules_objects() -> None:
    """``ocspkit.X`` is the very object its defining module exports (no shadowing)."""
    for name in ocspkit.__all__:
        obj = getattr(ocspkit, name)
        modname = getattr(obj, "__module__", None)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not modname:
            continue
        assert getattr(importlib.import_module(modname), obj.__name__) is obj, name


def _imports_asn1crypto(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name == "asn1crypto" or a.name.startswith("asn1crypto.") for a in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "asn1crypto" or node.module.startswith("asn1crypto."):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            args = node.args
            if (
                args
                and isinstance(args[0], ast.Constant)
                and str(args[0].value).startswith("asn1crypto")
            ):
                lines.append(node.lineno)
    return lines


def test_only_the_asn1_module_imports_asn1crypto() -> None:
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR.parent).as_posix()
        if rel == "ocspkit/_asn1.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        offenders += [f"{rel}:{line}" for line in _imports_asn1crypto(tree)]
    assert offenders == [], "asn1crypto may be imported only in ocspkit/_asn1.py"
    assert _imports_asn1crypto(ast.parse((PACKAGE_DIR / "_asn1.py").read_text())), (
        "the check itself must see the import in _asn1.py"
    )


def test_public_signatures_do_not_mention_asn1crypto() -> None:
    """No exported function or class signature exposes asn1crypto types."""
    for name in ocspkit.__all__:
        obj = getattr(ocspkit, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            try:
                text = str(inspect.signature(obj))
            except (TypeError, ValueError):
                continue
            assert "asn1crypto" not in text, name


def test_version_is_a_string() -> None:
    assert isinstance(ocspkit.__version__, str) and ocspkit.__version__.count(".") >= 2


def test_one_version_source() -> None:
    """``ocspkit.__version__`` is the installed distribution's version (setup.cfg reads it)."""
    import importlib.metadata

    assert ocspkit.__version__ == importlib.metadata.version("ocspkit")


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions (and dunders)."""
    if name.isupper() or (name.upper() == name and not name.startswith("__")):
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted_and_unique() -> None:
    """``ocspkit.__all__`` (and each public subpackage's) is sorted, without duplicates, and
    every name in it resolves (the edges' names through PEP 562)."""
    for modname in ["ocspkit", *_public_modules()]:
        module = importlib.import_module(modname)
        names = list(getattr(module, "__all__", ()))
        assert names == sorted(names, key=_isort_key), modname
        assert len(names) == len(set(names)), modname
        for name in names:
            assert getattr(module, name) is not None

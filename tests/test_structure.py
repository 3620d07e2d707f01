"""The package's shape: no import cycle (lazy imports included), small modules that say what
they own, and a light ``import ocspkit`` (the edges load on first use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ocspkit"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_lazy_imports_included() -> None:
    graph = grimp.build_graph("ocspkit", include_external_packages=False)
    packages = {
        m for m in graph.modules if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()
    }
    for pkg in packages:
        for child in graph.find_modules_directly_imported_by(pkg):
            if child.startswith(pkg + "."):
                graph.remove_import(importer=pkg, imported=child)
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_small_modules_with_a_docstring(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= 500, f"{path.name} has more than 500 lines"
    if path.name not in ("__main__.py",) and text.strip():
        assert text.lstrip().startswith('"""'), f"{path.name} opens without a docstring"


def test_import_ocspkit_loads_the_errors_only() -> None:
    """Only the exception tree and the one-line version module; everything else on first use."""
    code = "import sys, ocspkit; print(sorted(m for m in sys.modules if m.startswith(('ocspkit', 'cryptography'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['ocspkit', 'ocspkit._version', 'ocspkit.errors']"


def test_using_the_core_loads_no_edge() -> None:
    code = (
        "import sys, ocspkit; ocspkit.validate_response; ocspkit.parse_crl; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'httpcore', 'h11', 'anyio', 'OpenSSL', 'pyhanko_certvalidator', 'asyncio', "
        "'asn1crypto') or m.startswith(('ocspkit.client', 'ocspkit.stapling', 'ocspkit.probing', "
        "'ocspkit.testing', 'ocspkit.cli')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []

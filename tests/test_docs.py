"""The documentation: README commands match CI, the docs' code examples run, references are
complete.

The HTML build (``sphinx -W``) and the notebook execution are steps of ``.ci/run``; here the
examples in the pages are run with Sphinx's doctest builder.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import ocspkit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.rst"
CI = ROOT / ".ci" / "run"


def _literal_commands(text: str) -> list[str]:
    """The indented one-line literal blocks that follow a ``::`` paragraph."""
    commands = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip().endswith("::") and i + 2 < len(lines) and not lines[i + 1].strip():
            block = lines[i + 2]
            if block.startswith("    ") and block.strip():
                commands.append(block.strip())
    return commands


def readme_commands() -> tuple[str, str]:
    """The README's first two commands: (run the demo, run the tests)."""
    commands = _literal_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 2, "README must start with the demo command and the test command"
    return commands[0], commands[1]


def test_readme_starts_with_the_demo_and_the_test_command() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("ocspkit demo") and "pip install ." in demo
    assert "pytest" in tests and "pip install" in tests


def test_readme_is_valid_restructuredtext() -> None:
    """It is also the package's long description: no docutils warnings."""
    import docutils.core
    import docutils.utils

    try:
        docutils.core.publish_string(
            README.read_text(encoding="utf-8"),
            writer="null",
            settings_overrides={"halt_level": 2, "report_level": 2},
        )
    except docutils.utils.SystemMessage as exc:  # pragma: no cover - the failure message
        pytest.fail(f"README.rst: {exc}")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    assert tests in CI.read_text(encoding="utf-8")


def test_readme_documents_every_exit_code() -> None:
    text = README.read_text(encoding="utf-8")
    from ocspkit.cli.common import ExitCode

    table = text[text.index("Exit codes") :]
    for code in ExitCode:
        assert re.search(rf"^{int(code)}\s+\S", table, re.M), code


def _subcommands() -> list[str]:
    import argparse

    from ocspkit.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def test_cli_page_documents_every_subcommand_and_exit_code() -> None:
    text = (DOCS / "cli.rst").read_text(encoding="utf-8")
    subcommands = _subcommands()
    assert {"demo", "uris", "check", "probe", "staple-file", "check-many"} <= set(subcommands)
    for sub in subcommands:
        assert f"``{sub}" in text, sub
        assert f'``"{sub}"``' in text, f"JSON command name of {sub} not documented"


def _conf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocspkit_docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_documents_every_exported_name_once() -> None:
    text = _conf().api_reference()
    documented = re.findall(r"^\.\. auto\w+:: ocspkit\.(\w+)$", text, re.M)
    exported = [n for n in ocspkit.__all__ if not n.startswith("_")]
    assert sorted(documented) == sorted(exported)


def test_api_reference_documents_the_testing_helpers() -> None:
    import ocspkit.testing

    text = _conf().testing_reference()
    documented = re.findall(r"^\.\. auto\w+:: ocspkit\.testing\.(\w+)$", text, re.M)
    # names ocspkit itself exports (OpenSSLError) are documented once, with the error tree
    own = [n for n in ocspkit.testing.__all__ if n not in ocspkit.__all__]
    assert sorted(documented) == sorted(own)


def test_index_lists_every_page() -> None:
    pages = {p.stem for p in DOCS.glob("*.rst")}
    listed = set()
    for rst in DOCS.glob("*.rst"):
        for block in re.findall(r"\.\. toctree::\n((?:   .*\n|\n)+)", rst.read_text()):
            listed |= {ln.strip() for ln in block.splitlines() if ln.strip() and ":" not in ln}
    assert pages - listed == {"index"}


def test_notebook_is_valid_and_checks_its_results() -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(DOCS / "notebooks" / "tour.ipynb", as_version=4)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert code.count("assert ") >= 5
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    assert json.loads((DOCS / "notebooks" / "tour.ipynb").read_text())["nbformat"] == 4


@pytest.mark.timeout(360)
def test_docs_examples_run(tmp_path: Path) -> None:
    """Every ``doctest`` block of the docs (and doctests in autodoc'ed docstrings) passes."""
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-q", "-b", "doctest", str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    report = (tmp_path / "output.txt").read_text() if (tmp_path / "output.txt").exists() else ""
    assert proc.returncode == 0, report[-4000:] + proc.stderr[-2000:]
    match = re.search(r"^\s+(\d+) tests$", report, re.M)
    assert match and int(match.group(1)) >= 50, report[-2000:]
    assert "0 failures in tests" in report

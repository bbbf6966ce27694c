"""One exit-code table: what `sop --help` and README document is what the code can produce.

tests/integration/test_exit_codes.py produces every documented code with the real command;
this side reads the code: every SopError's ``exit_code``, every literal handed to
``sys.exit``/``ctx.exit``/``SystemExit`` or returned as an exit code, and every code the
commands' own help texts name, must be in the table.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import sop_pipeline
from sop_pipeline.cli.main import LAZY_COMMANDS, main
from sop_pipeline.errors import EXIT_MEANINGS, ExitCode, SopError
from tests.conftest import REPO

PACKAGE = Path(sop_pipeline.__file__).parent
TABLE = {int(code) for code in ExitCode}
EXIT_CALLS = {"exit", "SystemExit", "_exit"}  # sys.exit, ctx.exit, raise SystemExit, os._exit


def help_table(text: str) -> dict[int, str]:
    """``{code: meaning}`` from an "Exit codes:" table."""
    table = text.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    return {int(c): m.strip() for c, m in re.findall(r"^\s+(\d+)\s{2}(.+)$", table, re.M)}


def literal_codes(node: ast.AST | None) -> list[tuple[int, int]]:
    """(code, line) of every int literal an exit expression can evaluate to."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [(node.value, node.lineno)]
    if isinstance(node, ast.IfExp):
        return literal_codes(node.body) + literal_codes(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for value in node.values for c in literal_codes(value)]
    return []  # ExitCode.X, err.exit_code, a call: checked through the classes below


def exit_literals(tree: ast.AST) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in EXIT_CALLS and node.args:
                found += literal_codes(node.args[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", getattr(t, "attr", "")) == "exit_code" for t in targets):
                found += literal_codes(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "_run":  # a command's code
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return):
                    found += literal_codes(inner.value)
    return found


def test_the_table_is_complete_and_help_prints_it() -> None:
    assert set(EXIT_MEANINGS) == set(ExitCode)
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert help_table(result.output) == {int(c): m for c, m in EXIT_MEANINGS.items()}


def test_readme_lists_the_same_codes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M))
    assert {int(c) for c in rows} == TABLE
    for code, meaning in rows.items():
        assert meaning.strip(), f"README: exit code {code} has no meaning"


def test_every_error_class_exits_with_a_documented_code() -> None:
    for module in pkgutil.walk_packages([str(PACKAGE)], "sop_pipeline."):
        importlib.import_module(module.name)
    classes: list[type[SopError]] = []
    todo: list[type[SopError]] = [SopError]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo += cls.__subclasses__()
    assert len(classes) > 30  # the adapters' errors are in: the walk imported them
    undocumented = {c.__qualname__: c.exit_code for c in classes if c.exit_code not in TABLE}
    assert not undocumented
    assert all(c.exit_code != ExitCode.BUG for c in classes)  # 1 is a bug, never a verdict


def test_no_exit_literal_outside_the_table() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for code, line in exit_literals(tree):
            if code not in TABLE or code == ExitCode.BUG:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: exit {code}")
    assert not offenders


def test_the_check_sees_a_bad_literal() -> None:
    tree = ast.parse("import sys\ndef f(ok):\n    sys.exit(0 if ok else 1)\n")
    assert exit_literals(tree) == [(0, 3), (1, 3)]


def test_codes_in_every_commands_help_are_in_the_table() -> None:
    runner = CliRunner()
    names = [
        *LAZY_COMMANDS,
        "validate",
        "submit",
        "resubmit",
        "run",
        "status",
        "audit",
        "checkpoint",
        "steps",
    ]
    named: dict[str, set[int]] = {}
    for name in names:
        args = [name, "lint", "--help"] if name == "keyring" else [name, "--help"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (name, result.output)
        text = " ".join(result.output.split())
        codes = set(help_table(result.output)) if "Exit codes:" in result.output else set()
        for sentence in re.findall(r"(?:Kode keluar:|Exit(?= \d))([^.]*)", text):
            codes |= {int(c) for c in re.findall(r"\b(\d{1,2})\b", sentence)}
        named[name] = codes
    assert named["provision"] >= {0, 2, 7, 8, 75}
    assert named["status"] == {0, 8}
    assert not {n: c - TABLE for n, c in named.items() if c - TABLE}


def test_importing_the_cli_loads_no_adapter_library() -> None:
    heavy = ["weasyprint", "ansible_runner", "proxmoxer", "psycopg", "dns", "python_terraform"]
    heavy += ["cryptography", "jsonschema", "requests", "fakepve", "sop_pipeline.adapters.ansible"]
    probe = (
        "import sys, sop_pipeline.cli.main\n"
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.split() == []

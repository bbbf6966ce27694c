"""`make test-vm`'s groups (tests/vm_groups.py) leave no VM test out and run none twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import vm_groups

REPO = Path(__file__).resolve().parents[3]


def collected(*selection: str) -> list[str]:
    """The test ids pytest collects for ``selection`` with the VM part's marker."""
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
            "-m", vm_groups.MARK, *selection]  # fmt: skip
    run = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return [line for line in run.stdout.splitlines() if "::" in line]


def test_every_vm_test_is_in_exactly_one_group() -> None:
    everything = collected("tests")
    by_group = {group.name: collected(*group.args) for group in vm_groups.groups()}
    in_groups = [test for tests in by_group.values() for test in tests]

    assert sorted(in_groups) == sorted(everything), {
        "left out": sorted(set(everything) - set(in_groups)),
        "twice": sorted({t for t in in_groups if in_groups.count(t) > 1}),
    }
    assert all(by_group.values()), f"a group selects nothing: {by_group}"
    shards = [by_group[f"kill-matrix-{i + 1}"] for i in range(vm_groups.KILL_MATRIX_SHARDS)]
    assert abs(len(shards[0]) - len(shards[1])) <= 1, shards


def test_groups_that_run_side_by_side_have_namespaces_of_their_own() -> None:
    """A group that sets no namespace runs its files' own (soplab for Molecule, the rest's
    per file); the others name theirs, distinct from each other and from the tests' fixed ones."""
    named = [
        value for g in vm_groups.groups() for key, value in g.env.items() if "NAMESPACE" in key
    ]
    assert len(named) == vm_groups.KILL_MATRIX_SHARDS + 1 == len(set(named)), named
    assert not {"soplab", "sopkill", "sope2e", "sopgcl", "soplabsnap", "soplabtest"} & set(named)

"""`make test-vm`: the VM tests in groups that run side by side, each a pytest of its own.

One lab VM test leaves much of the two cores idle (SSH round trips, polling, mitogen's start,
guest I/O), so groups whose labs cannot meet run at the same time:

- ``molecule``: every role's scenario, one after the other on one VM, in ``soplab``;
- ``site``: ``site.yml``'s tests, in a namespace of their own (``soplabsite``, with its own
  mirror and BIND; tests/integration/ansible/ansible_labvm.py reads
  ``SOP_ANSIBLE_LAB_NAMESPACE``);
- ``kill-matrix-1`` and ``kill-matrix-2``: the lab kill matrix's points, alternately, each
  shard in a namespace of its own (``sopkill1``, ``sopkill2``; the test reads
  ``SOP_KILL_MATRIX_NAMESPACE``);
- ``rest``: every other test marked ``vm`` (each already has a namespace of its own:
  ``sopgcl``, ``soplabsnap``, ``soplabtest``, ...). A new VM test file lands here by itself,
  so no test is ever left out by a group list.

Each group writes ``<reports>/vm.<group>.xml`` (``.ci/timings.py`` sums ``vm.*.xml`` into the
vm part) and its output to a log, printed whole once every group has ended; meanwhile one line
a minute says what still runs. The exit status is the first failing group's.

    python3 -m tests.vm_groups [--reports DIR] [--only GROUP ...] [-- PYTEST-ARGS]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK = "vm and not e2e"
MOLECULE = "tests/integration/ansible/test_molecule.py"
SITE = "tests/integration/ansible/test_site.py"
KILL_MATRIX = "tests/integration/pipeline/test_kill_matrix_lab.py"
KILL_MATRIX_SHARDS = 2
HEARTBEAT_SECONDS = 60


@dataclass(frozen=True)
class Group:
    name: str
    args: tuple[str, ...]  # what pytest selects, after the common options
    env: dict[str, str] = field(default_factory=dict)


def kill_matrix_shard(index: int) -> tuple[str, ...]:
    """The matrix's test ids of shard ``index`` (0-based): every other point; the override
    build goes with the shard that has fewer points."""
    from tests.integration.pipeline.test_kill_matrix_lab import POINTS

    points = [p.name for p in POINTS][index::KILL_MATRIX_SHARDS]
    ids = [f"{KILL_MATRIX}::test_kill9_at_every_phase_of_step_8_then_one_rerun_converges[{p}]"
           for p in points]  # fmt: skip
    fewest = min(range(KILL_MATRIX_SHARDS), key=lambda i: (len(POINTS[i::KILL_MATRIX_SHARDS]), -i))
    if index == fewest:
        ids.append(
            f"{KILL_MATRIX}::test_an_over_quota_request_with_a_signed_override_is_built_and_reported"
        )
    return tuple(ids)


def groups() -> list[Group]:
    named = [MOLECULE, SITE, KILL_MATRIX]
    found = [
        Group("molecule", (MOLECULE,)),
        Group("site", (SITE,), {"SOP_ANSIBLE_LAB_NAMESPACE": "soplabsite"}),
        *(
            Group(
                f"kill-matrix-{i + 1}",
                kill_matrix_shard(i),
                {"SOP_KILL_MATRIX_NAMESPACE": f"sopkill{i + 1}"},
            )
            for i in range(KILL_MATRIX_SHARDS)
        ),
        Group("rest", ("tests", *(f"--ignore={path}" for path in named))),
    ]
    return found


def pytest_argv(group: Group, reports: Path | None, extra: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "-s", "--durations=15", "-m", MARK]
    if reports is not None:
        argv.append(f"--junitxml={reports / f'vm.{group.name}.xml'}")
    return [*argv, *extra, *group.args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--reports", type=Path, help="write vm.<group>.xml here (JUnit)")
    parser.add_argument("--only", action="append", default=[], metavar="GROUP",
                        help="run only this group (repeatable)")  # fmt: skip
    parser.add_argument("pytest_args", nargs="*", help="more pytest options, after --")
    args = parser.parse_args(argv)
    chosen = [g for g in groups() if not args.only or g.name in args.only]
    unknown = set(args.only) - {g.name for g in groups()}
    if unknown:
        parser.error(f"no such group: {', '.join(sorted(unknown))}")

    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="sop-vm-groups-"))
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for group in chosen:
        log = logs / f"{group.name}.log"
        with log.open("wb") as out:
            running[group.name] = (
                subprocess.Popen(
                    pytest_argv(group, args.reports, args.pytest_args),
                    cwd=REPO,
                    env={**os.environ, **group.env},
                    stdin=subprocess.DEVNULL,  # Ansible refuses a non-blocking stdin
                    stdout=out,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        print(f"vm: group {group.name} started ({log})", flush=True)

    statuses: dict[str, int] = {}
    last_beat = time.monotonic()
    while len(statuses) < len(running):
        time.sleep(2)
        for name, (proc, _) in running.items():
            if name not in statuses and proc.poll() is not None:
                statuses[name] = proc.returncode
                print(f"vm: group {name} ended, exit {proc.returncode}, "
                      f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS and len(statuses) < len(running):
            last_beat = time.monotonic()
            still = [n for n in running if n not in statuses]
            print(f"vm: {time.monotonic() - started:.0f} s, still running: {', '.join(still)}",
                  flush=True)  # fmt: skip

    for name, (_, log) in running.items():
        print(f"\n===== vm group {name}: exit {statuses[name]} =====", flush=True)
        sys.stdout.buffer.write(log.read_bytes())
        sys.stdout.flush()
    # pytest's 5 is "nothing collected": a failure, unless the caller narrowed the selection.
    fine = (0, 5) if args.pytest_args else (0,)
    failed = [n for n in running if statuses[n] not in fine]
    summary = ", ".join(f"{n} {statuses[n]}" for n in running)
    print(f"\nvm: {len(running)} groups in {time.monotonic() - started:.0f} s: {summary}")
    return statuses[failed[0]] if failed else 0


if __name__ == "__main__":
    sys.exit(main())

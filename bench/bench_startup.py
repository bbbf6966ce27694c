"""What starting `sop` costs: every merge-request job and every OPD's `sop validate` pays it.

Times, as separate processes (median of N runs after one warm-up: wall time, and the CPU
time the process used, which a busy shared machine disturbs less):

- `python -c pass`, the interpreter's own floor on this machine;
- `sop --version`;
- `sop validate requests/dinkes-simpus.yaml` (one example request, checked in full).

`sop` is the console script installed beside this interpreter (what CI and OPDs run); with
no such script, `python -m sop_pipeline.cli.main`. Set PYTHONPATH to time a work tree's code.
The aim is under 0.25 s for each `sop` line.
Usage: python bench/bench_startup.py [N]   (default: 9)
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "requests" / "dinkes-simpus.yaml"
AIM_SECONDS = 0.25


def sop_command() -> list[str]:
    beside = Path(sys.executable).parent / "sop"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("sop")
    if found and "shims" not in found:  # a pyenv shim adds its own start-up to every run
        return [found]
    return [sys.executable, "-m", "sop_pipeline.cli.main"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_seconds(argv: list[str], runs: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of ``runs`` runs of ``argv``."""
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)  # warm the page cache
    walls, cpus = [], []
    for _ in range(runs):
        cpu, start = children_cpu(), time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    sop = sop_command()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "sop --version": [*sop, "--version"],
        "sop validate <one request>": [*sop, "validate", str(EXAMPLE.relative_to(ROOT))],
    }
    print(f"median of {runs} runs each ({' '.join(sop)}):")
    print(f"  {'':<28} {'wall':>8} {'CPU':>8}")
    over = 0
    for label, argv in cases.items():
        wall, cpu = median_seconds(argv, runs)
        aimed = label.startswith("sop")
        mark = ("  over the aim" if wall >= AIM_SECONDS else "  ok") if aimed else ""
        over += aimed and wall >= AIM_SECONDS
        print(f"  {label:<28} {wall:6.3f} s {cpu:6.3f} s{mark}")
    print(f"aim: under {AIM_SECONDS} s wall for each sop line; {over} over")
    return 0


if __name__ == "__main__":
    sys.exit(main())

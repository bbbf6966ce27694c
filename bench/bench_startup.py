"""What starting `sop` costs: every merge-request job and every OPD's `sop validate` pays it.

Times, as separate processes (wall time, median of N runs after one warm-up):

- `python -c pass`, the interpreter's own floor on this machine;
- `sop --version`;
- `sop validate requests/dinkes-simpus.yaml` (one example request, checked in full).

`sop` is the console script installed beside this interpreter (what CI and OPDs run); with
no such script, `python -m sop_pipeline.cli`. Set PYTHONPATH to time a work tree's code.
The aim is under 0.25 s for each `sop` line.
Usage: python bench/bench_startup.py [N]   (default: 9)
"""

from __future__ import annotations

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
    return [sys.executable, "-m", "sop_pipeline.cli"]


def median_seconds(argv: list[str], runs: int) -> float:
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    sop = sop_command()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "sop --version": [*sop, "--version"],
        "sop validate <one request>": [*sop, "validate", str(EXAMPLE.relative_to(ROOT))],
    }
    print(f"median wall time of {runs} runs each ({' '.join(sop)}):")
    over = 0
    for label, argv in cases.items():
        seconds = median_seconds(argv, runs)
        aimed = label.startswith("sop")
        mark = ("  over the aim" if seconds >= AIM_SECONDS else "  ok") if aimed else ""
        over += aimed and seconds >= AIM_SECONDS
        print(f"  {label:<28} {seconds:6.3f} s{mark}")
    print(f"aim: under {AIM_SECONDS} s for each sop line; {over} over")
    return 0


if __name__ == "__main__":
    sys.exit(main())

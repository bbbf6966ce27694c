"""Requests validated per second on one core: `sop validate` beside check-jsonschema.

Generates N realistic request files (each with its letter PDF) in a scratch repository and
times, in the same run and pinned to one core:

- `sop validate` (strict YAML, schema, policy, letter digest, per-OPD totals), as a process;
- `check-jsonschema` with the same schema over the same files, as a process;
- `sop validate --since HEAD` after changing 10 files (incremental mode).

Prints files/s, the ratio, and peak memory (max RSS of each process).
Usage: python bench/bench_validate.py [N ...]   (default: 1000 10000)
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "sop_pipeline" / "schema" / "request.schema.json"
TEMPLATE = (ROOT / "requests" / "dinkes-simpus.yaml").read_text()
LETTER = (ROOT / "requests" / "dinkes-simpus" / "surat-permintaan.pdf").read_bytes()
STACKS = ["static", "php", "nodejs", "python"]


def generate(repo: Path, count: int) -> list[Path]:
    shutil.copytree(ROOT / "inventories", repo / "inventories")
    quotas = repo / "inventories" / "quotas.yaml"
    # one OPD per request so the per-OPD totals hold for every generated file
    quotas.write_text("default: {max_vms: 1, vcpu: 8, memory_mb: 16384, disk_gb: 300}\n")
    requests = repo / "requests"
    requests.mkdir()
    rng = random.Random(42)
    paths = []
    for i in range(count):
        rid = f"opd{i:05d}-app"
        folder = requests / rid
        folder.mkdir()
        letter = LETTER + f"% {rid}\n".encode()
        (folder / "surat-permintaan.pdf").write_bytes(letter)
        text = (
            TEMPLATE.replace("dinkes-simpus/", f"{rid}/")
            .replace("code: DINKES", f"code: X{i:05d}")
            .replace("hostname: simpus", f"hostname: app{i:05d}")
            .replace("stack: php", f"stack: {rng.choice(STACKS)}")
            .replace("vcpu: 2", f"vcpu: {rng.randint(1, 4)}")
            .replace(
                "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a",
                hashlib.sha256(letter).hexdigest(),
            )
        )
        path = requests / f"{rid}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


def timed(argv: list[str], cwd: Path) -> tuple[float, int, int, str]:
    """Wall seconds, exit code, peak RSS (KiB) of one process pinned to CPU 0."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        ["taskset", "-c", "0", *argv], cwd=cwd, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    return wall, done.returncode, max(peak, before), tail[0]


def peak_of(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run in a fresh process so its max RSS is its own (getrusage keeps the max of all)."""
    probe = (
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "w=time.perf_counter()-t;"
        "print(w, p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
        "print((p.stdout+p.stderr).strip().splitlines()[-1:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, "taskset", "-c", "0", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    wall, code, rss = out[0].split()
    if code != "0":
        raise SystemExit(f"{argv[0]} failed: {out[1]}")
    return float(wall), int(rss), out[1]


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    sop = shutil.which("sop")
    cjs = shutil.which("check-jsonschema")
    if not sop or not cjs:
        raise SystemExit("needs `sop` and `check-jsonschema` on PATH: pip install -e '.[test]'")
    print(f"{'files':>6} {'tool':<28} {'wall s':>7} {'files/s':>9} {'peak MiB':>9}")
    for count in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            repo = Path(scratch)
            files = generate(repo, count)
            names = [str(p.relative_to(repo)) for p in files]
            ours_wall, ours_rss, _ = peak_of([sop, "validate"], repo)
            theirs_wall, theirs_rss, _ = peak_of([cjs, "--schemafile", str(SCHEMA), *names], repo)
            print(
                f"{count:>6} {'sop validate':<28} {ours_wall:>7.2f} {count / ours_wall:>9.0f}"
                f" {ours_rss / 1024:>9.1f}"
            )
            print(
                f"{count:>6} {'check-jsonschema':<28} {theirs_wall:>7.2f}"
                f" {count / theirs_wall:>9.0f} {theirs_rss / 1024:>9.1f}"
            )
            print(
                f"{count:>6} {'ratio (sop / check-jsonschema)':<28} "
                f"{theirs_wall / ours_wall:>7.1f}x per request"
            )
            env = {
                **os.environ,
                "GIT_AUTHOR_NAME": "b",
                "GIT_AUTHOR_EMAIL": "b@b",
                "GIT_COMMITTER_NAME": "b",
                "GIT_COMMITTER_EMAIL": "b@b",
            }
            for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
                subprocess.run(["git", *argv], cwd=repo, check=True, env=env)
            for path in files[:10]:
                path.write_text(
                    path.read_text().replace("vcpu: ", "vcpu: 1#", 1).replace("1#", "", 1)
                )
                path.write_text(path.read_text() + "# diubah\n")
            inc_wall, inc_rss, tail = peak_of([sop, "validate", "--since", "HEAD"], repo)
            print(
                f"{count:>6} {'sop validate --since (10)':<28} {inc_wall:>7.2f} "
                f"{'':>9} {inc_rss / 1024:>9.1f}  {tail}"
            )


if __name__ == "__main__":
    main()

"""The package as a department installs it: a wheel, pinned by sha256, in a fresh venv.

:func:`build_wheel` runs ``python -m build`` on a copy of this checkout (the files Git
tracks or would track, as they are now); :func:`hashed_requirements` writes a requirements
file pinning that wheel and every dependency by version and sha256 (from ``pip wheel``,
as an air-gapped data centre would make its mirror); :func:`fresh_venv` installs it with
``pip install --require-hashes`` into a virtual environment that sees no other package.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+?)-.*\.whl$")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would make Python see this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def _run(argv: list[str], *, cwd: Path | None = None, timeout: int = 900) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(out: Path) -> Path:
    """The wheel of this checkout as it stands (``python -m build --wheel``)."""
    listed = _run(["git", "-C", str(REPO), "ls-files", "-z", "-co", "--exclude-standard"])
    source = out / "source"
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    dist = out / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist)], cwd=source)
    (wheel,) = dist.glob("sop_pipeline-*.whl")
    return wheel


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashed_requirements(wheel: Path, extras: str, out: Path) -> tuple[Path, Path]:
    """(requirements file, folder of the files it pins): ``wheel`` with ``extras`` and each
    dependency, every line ``name==version --hash=sha256:...``."""
    files = out / "files"
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    # `pip wheel`, not `pip download`: a dependency published only as an sdist is built
    # once here, so the venv installs wheels alone, offline, each by its hash.
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(files), target])
    lines = [f"sop-pipeline[{extras}] @ {wheel.as_uri()} --hash=sha256:{sha256(wheel)}"]
    for path in sorted(files.iterdir()):
        match = _WHEEL.match(path.name)
        assert match, f"cannot read a name and version from {path.name}"
        if match["name"].replace("-", "_").lower() == "sop_pipeline":
            continue  # the wheel itself, pinned above by its path
        lines.append(f"{match['name']}=={match['version']} --hash=sha256:{sha256(path)}")
    requirements = out / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    return requirements, files


def fresh_venv(root: Path, requirements: Path, files: Path) -> Path:
    """A venv (no system site-packages) with ``requirements`` installed by hash, offline;
    returns its ``bin/``."""
    _run([sys.executable, "-m", "venv", str(root)])
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--no-index", "--find-links", str(files), "--require-hashes", "-r",
          str(requirements)])  # fmt: skip
    return root / "bin"

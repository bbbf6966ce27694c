"""The lab's Debian mirror: the packages the roles install, served at http://10.99.0.3/debian.

A data centre's VMs install packages from the data centre's own mirror; the lab's VMs do the
same. The image build (``lab/image.py``) resolved, in a chroot of the image, every package
of ``recipe/mirror-packages.txt`` with its dependencies and recommendations that the image
lacks, and downloaded them. Here they are

1. indexed as a flat repository (``apt-ftparchive packages`` and ``release``) under
   ``<image dir>/mirror/debian/``, once per image, and
2. served over HTTP inside the lab namespace at ``10.99.0.3:80`` by Python's ``http.server``.

The image's ``sources.list`` says ``deb [trusted=yes] http://10.99.0.3/debian ./``: the lab
mirror is unsigned, which is acceptable only inside the lab; production points at the
department's signed mirror through inventory variables.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sop_pipeline import locking
from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import netns
from sop_pipeline.lab.image import LabImage

PORT = 80


class MirrorError(AdapterError):
    """Indexing or serving the lab's Debian mirror failed."""

    def diagnostics(self) -> str:
        return f"{self}\nThe lab mirror needs apt-ftparchive (Debian apt-utils) and a built image."


def root(image: LabImage) -> Path:
    """The folder served at ``http://<mirror>/`` (it holds ``debian/``)."""
    return image.directory / "mirror"


def prepare(image: LabImage) -> Path:
    """Index the image's mirror packages as a flat repository (once) and return its root.

    Labs that start side by side (`make test-vm`'s groups) index under one lock: the first
    builds, the others find it built."""
    served = root(image)
    if (served / "debian" / "Release").exists():
        return served
    with (image.directory / "mirror.lock").open("a") as handle:
        locking.lock(handle)
        try:
            return _index(image, served)
        finally:
            locking.unlock(handle)


def _index(image: LabImage, served: Path) -> Path:
    if (served / "debian" / "Release").exists():
        return served  # built by another lab while this one waited
    tmp = served.with_name("mirror.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "debian").mkdir(parents=True)
    debs = sorted(image.mirror_debs.glob("*.deb"))
    if not debs:
        raise MirrorError(f"no packages in {image.mirror_debs}: rebuild the image")
    for deb in debs:
        os.link(deb, tmp / "debian" / deb.name)
    packages = _ftparchive(["packages", "."], tmp / "debian")
    (tmp / "debian" / "Packages").write_text(packages)
    with gzip.open(tmp / "debian" / "Packages.gz", "wt") as out:
        out.write(packages)
    release = _ftparchive(["release", "."], tmp / "debian")
    (tmp / "debian" / "Release").write_text(release)
    shutil.rmtree(served, ignore_errors=True)
    tmp.rename(served)
    return served


def _ftparchive(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            ["apt-ftparchive", *args], cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise MirrorError("apt-ftparchive is missing (apt-get install apt-utils)") from exc
    if proc.returncode != 0:
        raise MirrorError(f"apt-ftparchive {args[0]} failed: {proc.stderr.strip()}")
    return proc.stdout


def package_names(image: LabImage) -> list[str]:
    """Names of the packages the mirror serves."""
    text = (root(image) / "debian" / "Packages").read_text()
    return sorted(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Package:")
    )


def start(
    image: LabImage,
    state_dir: Path,
    *,
    namespace: str | None = netns.NAMESPACE,
    address: str = netns.MIRROR_ADDRESS,
    port: int = PORT,
) -> int:
    """Serve the mirror (inside ``namespace``) at ``address:port``; return the server's pid.

    Starting a mirror that already runs returns its pid, if it serves this image's mirror in
    this namespace; any other (a stale pid file's) is stopped and a new one started.
    """
    served = prepare(image)
    state_dir.mkdir(parents=True, exist_ok=True)
    pidfile = state_dir / "mirror.pid"
    running = netns.pid_alive(pidfile)
    if running is not None:
        if _serves(running, served, namespace):
            return running
        # Left by an older image's lab, or its namespace was deleted under it (the process
        # lives on, serving nobody): this lab's VMs would find no mirror.
        netns.kill_pidfile(pidfile)
    argv = [
        sys.executable, "-m", "http.server", "--bind", address,
        "--directory", str(served), str(port),
    ]  # fmt: skip
    pid = netns.spawn(argv, pidfile, state_dir / "mirror.log", namespace)
    _wait_served(address, port, namespace, pidfile)
    return pid


def _serves(pid: int, served: Path, namespace: str | None) -> bool:
    """Whether the running mirror ``pid`` serves ``served`` inside ``namespace``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        inside = os.stat(f"/proc/{pid}/ns/net").st_ino
        wanted = os.stat(f"/run/netns/{namespace}" if namespace else "/proc/self/ns/net").st_ino
    except OSError:
        return False
    return inside == wanted and str(served).encode() in argv


def _wait_served(address: str, port: int, namespace: str | None, pidfile: Path) -> None:
    url = f"http://{address}:{port}/debian/Release"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if netns.pid_alive(pidfile) is None:
            raise MirrorError(f"the mirror server exited; see {pidfile.with_suffix('.log')}")
        if namespace is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
        else:
            probe = [
                sys.executable,
                "-c",
                f"import urllib.request as u; u.urlopen({url!r}, timeout=2)",
            ]
            if netns.run(probe, namespace, timeout=10).returncode == 0:
                return
        time.sleep(0.2)
    raise MirrorError(f"the mirror does not answer at {url}")


def stop(state_dir: Path) -> None:
    """Stop the mirror server. Stopping one that does not run is fine."""
    netns.kill_pidfile(state_dir / "mirror.pid")

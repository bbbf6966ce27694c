"""The lab VM image: Debian 12 built from Debian packages with mmdebstrap, cached by recipe.

Build, in order:

1. ``mmdebstrap`` (variant ``apt``, mode ``root``) installs the packages of
   ``recipe/image-packages.txt`` into a directory; its customize hook (``recipe/customize.sh``)
   downloads the packages of ``recipe/mirror-packages.txt`` that the image lacks (for the lab
   mirror), points apt at the lab mirror, and prepares cloud-init and first boot.
2. The kernel and initrd are copied out, so QEMU boots them directly (``-kernel/-initrd``).
3. ``mkfs.ext4 -d`` turns the directory into a file system image (no loop mount), and
   ``qemu-img convert`` into a compressed-free qcow2 that VMs use as backing file.

Everything lands in ``<cache>/image-<hash>/``, where the hash covers the recipe files and
this module's build parameters; a changed recipe gives a new directory and a rebuild. A
build is written to a temporary directory and renamed when complete, so a killed build
never leaves a half image behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sop_pipeline.errors import AdapterError

RECIPE_DIR = Path(__file__).with_name("recipe")
SUITE = "bookworm"
#: Where the build fetches packages from (Debian's own archive, as CI reaches it).
BUILD_SOURCES = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
#: The apt source inside lab VMs: the lab mirror (``lab/mirror.py``).
LAB_MIRROR_URL = "http://10.99.0.3/debian"
#: Size of the root file system (sparse; a VM overlay may be larger, cloud-init grows it).
ROOTFS_SIZE = "3G"
#: Bumped when the build steps below change in a way the recipe files do not show.
BUILD_VERSION = "1"


class ImageError(AdapterError):
    """Building the lab VM image failed."""

    def diagnostics(self) -> str:
        return (
            f"{self}\nThe image build needs root, network access to Debian's archive and the "
            "Debian packages mmdebstrap, e2fsprogs and qemu-utils (.ci/setup/lab.sh installs them)."
        )


@dataclass(frozen=True)
class LabImage:
    """A built image: the qcow2 root disk, the kernel and initrd to boot it, the mirror debs."""

    directory: Path
    disk: Path
    kernel: Path
    initrd: Path
    mirror_debs: Path
    recipe_hash: str


def cache_dir() -> Path:
    """The cache root (``$SOP_CACHE`` or /var/cache/sop-pipeline)."""
    return Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))


def recipe_hash() -> str:
    """SHA-256 (first 16 hex digits) over the recipe files and the build parameters."""
    digest = hashlib.sha256()
    params = {
        "suite": SUITE,
        "sources": BUILD_SOURCES,
        "mirror": LAB_MIRROR_URL,
        "size": ROOTFS_SIZE,
        "version": BUILD_VERSION,
    }
    digest.update(json.dumps(params, sort_keys=True).encode())
    for path in sorted(RECIPE_DIR.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _image_at(directory: Path, key: str) -> LabImage:
    return LabImage(
        directory=directory,
        disk=directory / "root.qcow2",
        kernel=directory / "vmlinuz",
        initrd=directory / "initrd.img",
        mirror_debs=directory / "mirror-debs",
        recipe_hash=key,
    )


def cached(cache: Path | None = None) -> LabImage | None:
    """The image for the current recipe if it is built, else None."""
    key = recipe_hash()
    image = _image_at((cache or cache_dir()) / f"image-{key}", key)
    if (image.directory / "COMPLETE").exists():
        return image
    return None


def _run(argv: list[str], log: Path, *, env: dict[str, str] | None = None) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        try:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
        except FileNotFoundError as exc:
            raise ImageError(f"{argv[0]} is not installed") from exc
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise ImageError(
            f"`{argv[0]}` failed with exit code {proc.returncode}; end of {log}:\n"
            + "\n".join(tail)
        )


def build(cache: Path | None = None, *, force: bool = False) -> LabImage:
    """Return the image for the current recipe, building it first if it is not cached."""
    if not force:
        found = cached(cache)
        if found is not None:
            return found
    root_cache = cache or cache_dir()
    root_cache.mkdir(parents=True, exist_ok=True)
    key = recipe_hash()
    final = root_cache / f"image-{key}"
    work = Path(tempfile.mkdtemp(prefix=f"image-{key}.", dir=root_cache))
    image = _image_at(work, key)
    log = work / "build.log"
    started = time.monotonic()
    try:
        rootfs = work / "rootfs"
        env = dict(os.environ)
        env.update(
            SOP_RECIPE_DIR=str(RECIPE_DIR),
            SOP_MIRROR_DEBS=str(image.mirror_debs),
            SOP_MIRROR_URL=LAB_MIRROR_URL,
        )
        packages = [
            line.strip()
            for line in (RECIPE_DIR / "image-packages.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        _run(
            [
                "mmdebstrap",
                "--mode=root",
                "--variant=apt",
                "--format=directory",
                f"--include={','.join(packages)}",
                f"--customize-hook={RECIPE_DIR / 'customize.sh'}",
                SUITE,
                str(rootfs),
                *BUILD_SOURCES,
            ],
            log,
            env=env,
        )
        shutil.copyfile(rootfs / "vmlinuz", image.kernel)
        shutil.copyfile(rootfs / "initrd.img", image.initrd)
        raw = work / "root.ext4"
        _run(
            [
                "mkfs.ext4",
                "-q",
                "-F",
                "-L",
                "soplab-root",
                "-d",
                str(rootfs),
                str(raw),
                ROOTFS_SIZE,
            ],
            log,
        )
        shutil.rmtree(rootfs)
        _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image.disk)], log)
        raw.unlink()
        seconds = time.monotonic() - started
        (work / "COMPLETE").write_text(json.dumps({"recipe": key, "build_seconds": seconds}))
    except BaseException:
        if log.exists():
            shutil.copyfile(log, root_cache / f"image-{key}.failed.log")
        shutil.rmtree(work, ignore_errors=True)
        raise
    if (final / "COMPLETE").exists():
        # Another process built the same recipe meanwhile, and VMs may already run on its
        # disk: keep that one, drop ours.
        shutil.rmtree(work)
        return _image_at(final, key)
    if final.exists():
        shutil.rmtree(final)
    work.rename(final)
    return _image_at(final, key)


def build_seconds(image: LabImage) -> float:
    """How long the build of ``image`` took, as recorded when it was built."""
    data = json.loads((image.directory / "COMPLETE").read_text())
    return float(data["build_seconds"])


def main() -> int:
    """``python -m sop_pipeline.lab.image``: build the image if needed and say where it is."""
    found = cached()
    image = found or build()
    state = "cached" if found else "built"
    print(
        f"lab image {image.recipe_hash} {state} at {image.directory} "
        f"(build took {build_seconds(image):.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""age encryption to SSH public keys: the ``age`` CLI (Debian ``age``), nothing else.

``encrypt`` gives the recipients' keys to ``age -R`` in a file and the plaintext on stdin, so
the secret is never in argv (``ps``) nor in a file of its own; the ciphertext comes back on
stdout. ``decrypt`` is what a deployer runs (``age -d -i ~/.ssh/id_ed25519``); the tests use it
to show that the right key opens the file and another key does not.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sop_pipeline.errors import AdapterError

TIMEOUT = 60


class AgeError(AdapterError):
    """age is missing, refused a recipient, or could not decrypt."""

    def diagnostics(self) -> str:
        return (
            f"{self}\nEnkripsi kredensial memakai age (paket Debian 'age', .ci/setup/base.sh); "
            "kunci penerima harus kunci publik SSH ed25519 atau RSA."
        )


def _age() -> str:
    found = shutil.which("age")
    if found is None:
        raise AgeError("age tidak terpasang (apt-get install age)")
    return found


def encrypt(plaintext: bytes, recipients: Sequence[str]) -> bytes:
    """The ASCII-armoured age file that any one of ``recipients`` (SSH public keys) opens."""
    if not recipients:
        raise AgeError("tidak ada penerima kredensial: permintaan tanpa deployer")
    with tempfile.TemporaryDirectory(prefix="sop-age.") as tmp:
        listed = Path(tmp) / "recipients"
        listed.write_text("".join(f"{key}\n" for key in recipients))
        proc = subprocess.run(
            [_age(), "--encrypt", "--armor", "-R", str(listed)],
            input=plaintext,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    if proc.returncode != 0:
        raise AgeError(f"age menolak mengenkripsi: {proc.stderr.decode(errors='replace')[:300]}")
    return proc.stdout


def decrypt(ciphertext: bytes, identity: Path) -> bytes:
    """The plaintext, with the private key file ``identity``; AgeError if it does not open."""
    proc = subprocess.run(
        [_age(), "--decrypt", "-i", str(identity)],
        input=ciphertext,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise AgeError(
            f"age tidak dapat membuka berkas: {proc.stderr.decode(errors='replace')[:300]}"
        )
    return proc.stdout

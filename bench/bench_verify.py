"""Signatures verified per second: native (cryptography) vs spawning `ssh-keygen -Y verify`.

1,000 statements signed by six officials' keys (RSA-3072, Ed25519, ECDSA P-256), one in ten
altered after signing; both verifiers judge every one and must give identical verdicts.

    python bench/bench_verify.py [--count 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sop_pipeline.demo.officials import T0, generate_officials, keyring_texts
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.sshsig import SshKeygen, verify_native


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory(prefix="sop-bench-") as tmp:
        root = Path(tmp)
        officials = [
            o
            for o in generate_officials(root / "keys").values()
            if any(st.role_of(n) == o.role for n in st.SIGNED_STEPS)
        ]  # not helpdesk
        texts = keyring_texts({o.handle: o for o in officials})
        keyring = keyring_mod.parse(
            allowed_signers=texts["allowed_signers"],
            roles_toml=texts["roles.toml"],
            revoked_keys=texts["revoked_keys"],
        )
        cases: list[tuple[bytes, Path, str, str]] = []
        by_signer: dict[str, list[Path]] = {}
        steps = {
            o.handle: next(n for n in st.SIGNED_STEPS if st.role_of(n) == o.role) for o in officials
        }
        for i in range(count):
            o = officials[i % len(officials)]
            n = steps[o.handle]
            s = st.new(
                request_id=f"req-{i}",
                request_sha256=f"{i:064x}",
                attachments={},
                step_number=n,
                decision="complete" if n == 4 else "approve",
                signer=o.principal,
                signed_at=T0,
                expires_at=T0 + timedelta(days=7),
                builds_on={st.step_key(e): "0" * 64 for e in st.CHAIN[n]},
            )
            path = root / f"s{i}.json"
            path.write_bytes(s.to_bytes())
            by_signer.setdefault(o.handle, []).append(path)
            cases.append((s.to_bytes(), path, o.principal, st.namespace(n)))
        started = time.perf_counter()
        for o in officials:  # one ssh-keygen per official signs all its files
            paths = by_signer[o.handle]
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-Y",
                    "sign",
                    "-f",
                    str(o.key),
                    "-n",
                    st.namespace(steps[o.handle]),
                    *map(str, paths),
                ],
                check=True,
                capture_output=True,
            )
        signing = time.perf_counter() - started
        loaded = []
        for i, (data, path, principal, namespace) in enumerate(cases):
            sig = path.with_name(path.name + ".sig").read_bytes()
            if i % 10 == 9:
                data = data.replace(b'"approve"', b'"reject"').replace(
                    b'"complete"', b'"incomplete"'
                )
            loaded.append((data, sig, principal, namespace))

        started = time.perf_counter()
        native = [
            verify_native(
                d,
                s,
                principal=p,
                namespace=n,
                signers=keyring.signers,
                revoked=keyring.revoked_blobs,
                at=T0,
            ).ok
            for d, s, p, n in loaded
        ]
        native_s = time.perf_counter() - started

        keygen = SshKeygen()
        with keyring.files() as (signers, revoked):
            started = time.perf_counter()
            spawned = [
                keygen.verify(
                    d, s, principal=p, namespace=n, allowed_signers=signers, revoked=revoked, at=T0
                ).ok
                for d, s, p, n in loaded
            ]
            spawned_s = time.perf_counter() - started

    identical = native == spawned
    print(
        f"statements: {count} (signed by ssh-keygen in {signing:.2f} s), "
        f"valid: {sum(native)}, altered: {count - sum(native)}"
    )
    print(
        f"native:     {count / native_s:10.0f} signatures/s ({native_s * 1000 / count:.3f} ms each)"
    )
    print(
        f"ssh-keygen: {count / spawned_s:10.0f} signatures/s "
        f"({spawned_s * 1000 / count:.3f} ms each)"
    )
    print(f"speed-up: {spawned_s / native_s:.1f}x; identical verdicts: {identical}")
    if not identical:
        raise SystemExit("verdicts differ")


if __name__ == "__main__":
    main()

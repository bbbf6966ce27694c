"""`sop sign`, `sop verify`, `sop gate`, `sop keyring lint` through click's CliRunner."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest
from click.testing import CliRunner

from sop_pipeline.cli.signing import COMMANDS
from sop_pipeline.demo.officials import T0, Lab, RequestFlow

pytestmark = pytest.mark.integration


@click.group()
def sop() -> None:
    """Stand-in for the package's `sop` group."""


for command in COMMANDS:
    sop.add_command(command)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def run(lab: Lab, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sop, [*args[:1], *args[1:], "--repo", str(lab.repo)])
    return result.exit_code, result.output


def test_sign_verify_gate_and_lint(lab: Lab) -> None:
    lab.write_request("dinkes-simpus")
    RequestFlow(lab, "dinkes-simpus", records=lab.repo / "records").pipeline_step(1, T0)
    o = lab.officials
    for step, who, decision, minute in (
        (2, "kadis", "approve", 1),
        (3, "kabid", "approve", 2),
        (4, "koordinator", "complete", 3),
    ):
        code, out = run(
            lab,
            "sign",
            "dinkes-simpus",
            "--step",
            str(step),
            "--decision",
            decision,
            "--signer",
            o[who].principal,
            "--key",
            str(o[who].key),
            "--at",
            at(minute),
        )
        assert code == 0, out
        assert "Pernyataan ditulis" in out

    code, out = run(lab, "verify", "dinkes-simpus", "--at", at(4))
    assert code == 0, out
    assert out.count("SAH (valid)") == 3 and o["koordinator"].principal in out

    code, out = run(lab, "gate", "dinkes-simpus", "--step", "4", "--at", at(5))
    assert code == 0, out
    assert "Tercatat: langkah 4 'lengkap'" in out and "TERPENUHI" in out
    code, out = run(lab, "gate", "dinkes-simpus", "--step", "8", "--at", at(6))
    assert code == 7 and "TIDAK TERPENUHI" in out

    # Step 7 cannot be signed before the analysis (step 6).
    code, out = run(
        lab,
        "sign",
        "dinkes-simpus",
        "--step",
        "7",
        "--decision",
        "approve",
        "--signer",
        o["kabid"].principal,
        "--key",
        str(o["kabid"].key),
        "--at",
        at(7),
    )
    assert code == 6 and "[out-of-order]" in out

    # Without --key: the statement is written and the stock OpenSSH command printed.
    code, out = run(
        lab,
        "sign",
        "dinkes-simpus",
        "--step",
        "6",
        "--decision",
        "approve",
        "--signer",
        o["teknis1"].principal,
        "--at",
        at(8),
    )
    assert code == 0 and "ssh-keygen -Y sign -n sop-hosting-step-06@" in out
    code, out = run(lab, "verify", "dinkes-simpus", "--at", at(9))
    assert code == 6 and "[signature-missing]" in out

    code, out = run(lab, "keyring", "lint", "--base", "main", "--at", at(0))
    assert code == 0, out
    assert "0 kesalahan" in out
    code, out = run(lab, "keyring", "lint", "--base", "main", "--at", "2031-01-01T00:00:00+00:00")
    assert code == 3 and "[expired-key]" in out

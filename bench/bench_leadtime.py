"""Benchmark: lead time from the Kabid's signature (step 7) to the site answering by its name.

Brings up a lab of its own (namespace ``sopbench``), walks ``dinkes-simpus`` (PHP) through
steps 1-7 with six officials' real keys, then times step 8 as the pipeline runs it: gates
again, allocation, Terraform (bpg provider, offline mirror), the VM booting under QEMU, the
guest agent, Ansible (site.yml), DNS, the HTTPS check, and step 9's report.

    python bench/bench_leadtime.py [--keep] [--stack php|static|nodejs|python]

Prints the lead time, each phase, and the pipeline's own share (everything except waiting on
Terraform, the VM and Ansible), beside the SOP's targets for steps 8 and 9 (one working day
each). Wall-clock seconds on this machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sop_pipeline.adapters.infrastructure import Infrastructure  # noqa: E402
from sop_pipeline.config import TrustedConfig  # noqa: E402
from sop_pipeline.demo.officials import generate_officials  # noqa: E402
from sop_pipeline.demo.scenario import Lab, Scenario, publish_base  # noqa: E402
from sop_pipeline.domain.sop import step  # noqa: E402
from sop_pipeline.lab import control, netns  # noqa: E402
from sop_pipeline.steps.pipeline import Pipeline  # noqa: E402
from sop_pipeline.steps.provisioning import PHASES, provisioner_for  # noqa: E402

NAMESPACE = "sopbench"
#: Phases that wait on Terraform, the VM and Ansible; the rest is the pipeline's own work.
WAITING = ("terraform", "agent", "ansible")
WORKING_DAY_S = 8.5 * 3600  # Mon-Thu 07:30-16:00 (inventories/calendar.yaml)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sop-bench-lead-"))
    lab_dir = root / "lab"
    started = time.monotonic()
    control.up(lab_dir=lab_dir, namespace=NAMESPACE)
    print(f"lab up: {time.monotonic() - started:.1f} s", flush=True)
    stack = contextlib.ExitStack()
    try:
        lab = Lab(root, generate_officials(root / "keys"))
        infra = Infrastructure.from_lab(lab_dir)
        netns.enter(NAMESPACE)
        publish_base(lab)
        trusted = stack.enter_context(TrustedConfig.from_commit(lab.repo, "main"))
        run = Scenario(lab, infra, lab_dir, trusted)
        flow = run.flow("dinkes-simpus")
        run.advance("dinkes-simpus", 0)
        run.sign(flow, 2, "kadis", 2)
        run.sign(flow, 3, "kabid", 4)
        run.sign(flow, 4, "koordinator", 6, "complete")
        run.sign(flow, 6, "teknis1", 30, evidence=run.analyse("dinkes-simpus", 20))
        run.sign(flow, 7, "kabid", 40)
        signed = time.monotonic()  # the Kabid's signature exists from here on
        run.clock.running(41)
        provisioner = provisioner_for(infra, trusted, run.clock)
        pipeline = Pipeline(
            run.ws, trusted=trusted, now=run.clock, log=lambda _l: None, provisioner=provisioner
        )
        recorded = pipeline.advance("dinkes-simpus").recorded
        finished = time.monotonic()
        if 8 not in recorded:
            print("step 8 did not complete", file=sys.stderr)
            return 1
        report(provisioner.times.seconds, provisioner.times.ended, signed, finished)
    finally:
        stack.close()
        if not args.keep:
            control.down(lab_dir=lab_dir, namespace=NAMESPACE)
            shutil.rmtree(root, ignore_errors=True)
    return 0


def report(seconds: dict[str, float], ended: dict[str, float], signed: float, end: float) -> None:
    answered = ended["http"] - signed
    total = end - signed
    waiting = sum(seconds[p] for p in WAITING)
    own_to_site = answered - waiting
    print("\nlead time from the Kabid's signature (step 7) to the site answering by name")
    print(f"{'phase':<28}{'seconds':>10}{'share':>9}")
    site = PHASES[: PHASES.index("http") + 1]  # the backup runs after the site answers
    before = answered - sum(seconds[p] for p in site)
    rows = [("gates, request re-read", before)] + [(p, seconds[p]) for p in site]
    for name, value in rows:
        kind = "waiting" if name in WAITING else "pipeline"
        print(f"{name:<28}{value:>10.1f}{value / answered:>8.1%}  ({kind})")
    print(f"{'site answers by name':<28}{answered:>10.1f}")
    print(f"{'+ first backup':<28}{seconds.get('backup', 0.0):>10.1f}")
    print(f"{'+ record, step 9 report':<28}{total - answered:>10.1f}")
    print(f"{'steps 8 and 9 recorded':<28}{total:>10.1f}")
    print(
        f"\npipeline's own work: {own_to_site:.1f} s of {answered:.1f} s = "
        f"{own_to_site / answered:.1%} (aim < 10%); waiting on Terraform/VM/Ansible: "
        f"{waiting:.1f} s"
    )
    print(f"lead time {answered / 60:.1f} min (aim < 3 min under TCG)")
    targets = " + ".join(f"step {n}: {step(n).target.label}" for n in (8, 9))
    print(
        f"SOP targets {targets} ({WORKING_DAY_S / 3600:.1f} working hours each); steps 8 and 9"
        f" together took {total:.0f} s = {total / WORKING_DAY_S:.2%} of one working day"
    )


if __name__ == "__main__":
    sys.exit(main())

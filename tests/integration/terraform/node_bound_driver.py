"""One request's step-8 Terraform part in a process of its own, for test_node_bound.py.

    python node_bound_driver.py REQUEST_ID EVENTS_FILE

The settings come from ``SOP_*`` variables (``Infrastructure.from_env``, as the protected CI
job reads them, ``SOP_TF_PARALLEL_PER_NODE`` included). Every line :func:`create_vm` logs is
written to EVENTS_FILE as JSON with the wall-clock time it was said.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tf_support import ROOT, facts_for

from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.config import load_pools
from sop_pipeline.steps.provisioning import create_vm


def main() -> int:
    request_id, events = sys.argv[1], Path(sys.argv[2])
    infra = Infrastructure.from_env()
    ports = infra.open(pools=load_pools(ROOT / "inventories" / "pools.yaml"), zone="lab.invalid")
    with events.open("w", encoding="utf-8") as out:

        def log(line: str) -> None:
            out.write(json.dumps({"at": time.time(), "line": line}) + "\n")
            out.flush()

        placed = create_vm(
            facts_for(request_id),
            infra=infra,
            proxmox=ports.proxmox,
            allocator=ports.allocator,
            runner=infra.terraform_runner(request_id, ROOT / "terraform"),
            limiter=infra.node_limiter(),
            log=log,
        )
        out.write(
            json.dumps(
                {
                    "vmid": placed.allocation.vmid,
                    "ipv4": placed.allocation.ipv4,
                    "node": placed.node,
                }
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`sop run` over a real Git repository: idempotent, policy from the base branch only."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import Lab
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.ledger.tracking import state_of
from sop_pipeline.workspace import Workspace

pytestmark = pytest.mark.integration


@pytest.fixture
def lab(lab: Lab) -> Lab:
    """The shared lab, with the department's policy on main and the requests on the MR."""
    publish_base(lab)
    return lab


def sop(lab: Lab, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(lab.repo), *args])
    return result.exit_code, result.output


def test_run_records_step_1_once_and_waits_for_signatures(lab: Lab) -> None:
    code, out = sop(lab, "run")
    assert code == 0, out
    assert out.count("langkah 1 dicatat") == 3
    assert "dinkes-simpus: 1 langkah baru dicatat; menunggu langkah 2" in out
    code, again = sop(lab, "run")
    assert code == 0 and "langkah 1 dicatat" not in again
    assert "dinkes-simpus: 0 langkah baru dicatat; menunggu langkah 2" in again
    ledger = Workspace(lab.repo).ledgers
    assert [len(ledger.for_request(r).records()) for r in ledger.request_ids()] == [1, 1, 1]


def test_an_invalid_request_is_refused_and_the_others_go_on(lab: Lab) -> None:
    path = lab.request_file("dinkes-simpus")
    path.write_text(path.read_text().replace("vcpu: 2", "vcpu: 64"))
    code, out = sop(lab, "run")
    assert code == 2
    assert "dinkes-simpus.yaml:25: resources.vcpu: 64 di luar batas" in out
    assert out.count("langkah 1 dicatat") == 2
    assert state_of(Workspace(lab.repo).ledgers, "dinkes-simpus").runs == ()


def test_a_merge_request_cannot_loosen_the_policy_it_is_checked_against(lab: Lab) -> None:
    policy = lab.repo / "inventories" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("vcpu: {min: 1, max: 8}", "vcpu: {min: 1, max: 64}")
    )
    path = lab.request_file("dinkes-simpus")
    path.write_text(path.read_text().replace("vcpu: 2", "vcpu: 64"))
    lab.commit("MR: longgarkan kebijakan sendiri")
    code, out = sop(lab, "run", "dinkes-simpus")
    assert code == 2 and "[size-range]" in out  # main's policy still says 8


def test_validate_reads_the_policy_from_the_base_branch_never_the_work_tree(lab: Lab) -> None:
    policy = lab.repo / "inventories" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("vcpu: {min: 1, max: 8}", "vcpu: {min: 1, max: 64}")
    )
    path = lab.request_file("dinkes-simpus")
    path.write_text(path.read_text().replace("vcpu: 2", "vcpu: 12"))  # within DINKES' quota
    lab.commit("MR: longgarkan kebijakan sendiri")
    # The MR's own commit would allow it: only a base named on purpose reads it.
    assert sop(lab, "validate", "--base", "mr/request", str(path))[0] == 0
    for args in ((), ("--base", "main")):  # the default base is main, never the work tree
        code, out = sop(lab, "validate", *args, str(path))
        assert code == 2 and "resources.vcpu: 12 di luar batas" in out, out

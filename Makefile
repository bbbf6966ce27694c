# The two commands of this project: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
export SOP_CACHE ?= /var/cache/sop-pipeline

.PHONY: help setup setup-demo lint test test-fast test-unit test-integration test-vm test-e2e test-ansible-vm \
	test-lab test-terraform test-signing demo bench clean

PYTEST = $(PYTHON) -m pytest
# pytest-xdist workers for the parts that may run in parallel. What must run alone is marked
# `vm` or `e2e` (tests/conftest.py refuses those inside a worker). XDIST= runs serially.
XDIST ?= -n auto
# Every part prints its 15 slowest tests; with TEST_REPORTS=<dir> (.ci/run sets it) each part
# also writes <dir>/<part>.xml, which .ci/timings.py sums up across parts.
DURATIONS ?= --durations=15
junit = $(if $(TEST_REPORTS),--junitxml=$(TEST_REPORTS)/$(1).xml)
# What the unit and integration parts leave out: the tests that must run alone (test-vm,
# test-e2e). test-fast leaves out the ones marked slow too.
SKIP ?= vm or e2e

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup-demo:  ## Install what the demo needs: the package, PDF tools, the lab, Terraform's mirror
	bash .ci/setup/base.sh
	bash .ci/setup/reports.sh
	bash .ci/setup/lab.sh
	bash .ci/setup/terraform.sh

setup: setup-demo  ## Everything the tests need too: gitlab-ci-local, actionlint, zizmor, chromium
	bash .ci/setup/ci-tools.sh
	bash .ci/setup/browser.sh

lint: setup  ## ruff and mypy (strict) on the package
	$(PYTHON) -m ruff check sop_pipeline tests bench
	$(PYTHON) -m mypy

test: setup lint test-unit test-integration test-vm test-e2e  ## The whole test suite, as CI runs it (.ci/run times each part)

test-fast: setup  ## For developers: lint, unit and integration, no VM, nothing marked slow (not CI's test)
	$(MAKE) -o setup lint test-unit test-integration SKIP="vm or e2e or slow"

test-unit: setup  ## Only the fast, pure tests, in parallel
	$(PYTEST) $(XDIST) $(DURATIONS) $(call junit,unit) -m "not ($(SKIP))" tests/unit

# tests/attacks is named (pytest collects it once), so the xdist controller loads its tally.
test-integration: setup  ## Real binaries and servers without VMs, in parallel (one test file per worker)
	$(PYTEST) $(XDIST) --dist loadfile $(DURATIONS) $(call junit,integration) \
		-m "not ($(SKIP))" --ignore=tests/unit tests tests/attacks

# The VM tests run in groups side by side, each a pytest of its own (tests/vm_groups.py: which
# groups, and why their labs cannot meet): one lab VM test leaves much of the two cores idle
# (SSH round trips, polling, mitogen's start). Each group's output comes whole at the end.
test-vm: setup  ## Everything that boots a lab VM (lab, site.yml, Molecule, gitlab-ci-local, kill matrix)
	$(PYTHON) -m tests.vm_groups $(if $(TEST_REPORTS),--reports $(TEST_REPORTS))

test-e2e: setup  ## The whole SOP in the lab (make demo's scenario), alone
	$(PYTEST) $(DURATIONS) $(call junit,e2e) -m e2e tests

test-ansible-vm: setup  ## Ansible site.yml and Molecule on real lab VMs (slow under TCG)
	$(PYTHON) -m pytest -s tests/integration/ansible/test_site.py tests/integration/ansible/test_molecule.py

test-lab: setup  ## The lab: namespace, seed, BIND/DNS, a real VM under QEMU (slow under TCG)
	$(PYTHON) -m pytest -s tests/integration/lab tests/integration/dns

test-terraform: setup  ## Terraform + bpg provider against the lab Proxmox API, PostgreSQL state
	$(PYTHON) -m pytest -s tests/integration/terraform tests/unit/test_allocator.py

test-signing: setup  ## Approvals: unit, real ssh-keygen, and the attack suite
	$(PYTHON) -m pytest tests/unit/signing tests/integration/signing tests/attacks

demo: setup-demo  ## The whole SOP in the local lab, a VM provisioned for real (ARGS=--keep keeps lab and repo)
	$(PYTHON) -m sop_pipeline.demo.scenario $(ARGS)

bench: setup  ## Benchmarks that print figures (see bench/)
	$(PYTHON) bench/bench_startup.py
	$(PYTHON) bench/bench_validate.py
	$(PYTHON) bench/bench_verify.py
	$(PYTHON) bench/bench_terraform.py
	$(PYTHON) bench/bench_lab_boot.py
	$(PYTHON) bench/bench_ansible.py
	$(PYTHON) bench/bench_leadtime.py

clean:  ## Remove caches made by the tests (not $(SOP_CACHE))
	rm -rf .pytest_cache .mypy_cache .ruff_cache

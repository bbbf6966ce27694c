# The two commands of this project: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
export SOP_CACHE ?= /var/cache/sop-pipeline

.PHONY: help setup setup-demo lint test test-ansible-vm test-unit test-lab test-terraform test-signing demo bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup-demo:  ## Install what the demo needs: the package, PDF tools, the lab, Terraform's mirror
	bash .ci/setup/base.sh
	bash .ci/setup/reports.sh
	bash .ci/setup/lab.sh
	bash .ci/setup/terraform.sh

setup: setup-demo  ## Everything the tests need too: gitlab-ci-local, actionlint, zizmor
	bash .ci/setup/ci-tools.sh

lint: setup  ## ruff and mypy (strict) on the package
	$(PYTHON) -m ruff check sop_pipeline tests bench
	$(PYTHON) -m mypy

test: setup lint  ## The whole test suite, as CI runs it
	$(PYTHON) -m pytest

test-ansible-vm: setup  ## Ansible site.yml and Molecule on real lab VMs (slow under TCG)
	$(PYTHON) -m pytest -s tests/integration/ansible/test_site.py tests/integration/ansible/test_molecule.py

test-unit: setup  ## Only the fast, pure tests
	$(PYTHON) -m pytest tests/unit

test-lab: setup  ## The lab: namespace, seed, BIND/DNS, a real VM under QEMU (slow under TCG)
	$(PYTHON) -m pytest -s tests/integration/lab tests/integration/dns

test-terraform: setup  ## Terraform + bpg provider against the lab Proxmox API, PostgreSQL state
	$(PYTHON) -m pytest -s tests/integration/terraform tests/unit/test_allocator.py

test-signing: setup  ## Approvals: unit, real ssh-keygen, and the attack suite
	$(PYTHON) -m pytest tests/unit/signing tests/integration/signing tests/attacks

demo: setup-demo  ## The whole SOP in the local lab, a VM provisioned for real (ARGS=--keep keeps lab and repo)
	$(PYTHON) -m sop_pipeline.demo $(ARGS)

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

"""Terraform adapter: one request's VM through the ``terraform`` CLI (python-terraform).

Each request gets its own working copy of ``terraform/`` under ``work_root/<request id>/``; the
request's values go in as ``request.auto.tfvars.json`` written with :func:`json.dumps` (never
HCL built from strings). State is local by default (``terraform.tfstate`` in the working copy)
or, with a PostgreSQL connection string, the ``pg`` backend with one workspace per request.

python-terraform builds the command lines (:meth:`Terraform.generate_cmd_string`). It cannot
run them the way the pipeline must: 0.10.1 passes every call the process environment (so the
API token would have to sit in ``os.environ`` of a multi-threaded process), and its
``synchronous=False`` reaches Terraform as a flag. So this adapter starts the process itself,
in its own process group, with the environment of that one run, and on cancellation forwards
SIGINT and gives Terraform time to stop cleanly before it is killed.

Every failure becomes a :class:`TerraformError` (an :class:`~sop_pipeline.errors.AdapterError`)
with a message in Bahasa Indonesia for the merge request and the raw diagnostics kept apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from sop_pipeline import locking
from sop_pipeline.adapters import processes
from sop_pipeline.adapters.leftovers import (
    MARKER_VARIABLE,
    RunMarker,
    classify,
    holder_provably_dead,
    parse_state_lock,
)
from sop_pipeline.errors import AdapterError

STACK = Path("stacks") / "request"
VM_ADDRESS = "module.vm.proxmox_virtual_environment_vm.this"
TFVARS_NAME = "request.auto.tfvars.json"
PG_OVERRIDE = "_sop_backend_override.tf"
# Fixed text, no value in it: only switches the backend; settings come from the environment.
PG_OVERRIDE_TEXT = 'terraform {\n  backend "pg" {}\n}\n'
SIGINT_GRACE_SECONDS = 60.0
#: Written into the working copy's module only by step 8 of a signed retirement (kind
#: pensiun), after both gates verified: it lifts the module's literal ``prevent_destroy``.
#: Fixed text, no value in it; :meth:`TerraformRunner.prepare` removes it on every other run.
RETIREMENT_OVERRIDE = Path("modules") / "proxmox_vm" / "_sop_retirement_override.tf"
RETIREMENT_OVERRIDE_TEXT = (
    "# Written by sop-pipeline for a signed retirement (kind: pensiun) only.\n"
    'resource "proxmox_virtual_environment_vm" "this" {\n'
    "  lifecycle {\n"
    "    prevent_destroy = false\n"
    "  }\n"
    "}\n"
)


class TerraformError(AdapterError):
    """Terraform failed; ``message`` is for people, ``detail`` is Terraform's own output."""

    def __init__(self, message: str, *, detail: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.returncode = returncode

    def diagnostics(self) -> str:
        tail = "\n".join(self.detail.strip().splitlines()[-15:])
        return f"{self.message}\n{tail}" if tail else self.message


class RequestBusyError(TerraformError):
    """Another run holds this request (its local lock or its state lock): nothing was done."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class CancelledError(TerraformError):
    """The run was cancelled; Terraform got SIGINT."""


@dataclass(frozen=True)
class ProxmoxAccess:
    """How Terraform reaches the Proxmox API. The token goes to the process environment only."""

    endpoint: str
    api_token: str = field(repr=False)
    ca_file: Path | None = None


@dataclass(frozen=True)
class TerraformSettings:
    """Where the CLI, the configuration, the offline mirror and the working copies are."""

    source_dir: Path
    work_root: Path
    cli_config: Path
    binary: str = "terraform"
    pg_conn_str: str | None = field(default=None, repr=False)
    plugin_timeout_seconds: float = 1800.0
    #: How long Terraform waits for the state lock. The pg backend briefly takes one global
    #: advisory lock (-1) on every lock and workspace creation, so concurrent runs of different
    #: requests need a wait; a second run of the *same* request is refused earlier by the lease.
    pg_lock_timeout: str = "300s"


@dataclass(frozen=True)
class PlanSummary:
    """What a plan would do, counted, with a short Indonesian text for the merge request."""

    add: int
    change: int
    destroy: int
    text: str
    #: (resource address, actions joined by "+", e.g. "create" or "delete+create"), in plan
    #: order, for the resources the plan changes (filled from ``show -json`` only).
    resources: tuple[tuple[str, str], ...] = ()
    #: One Indonesian sentence per VM the plan touches (its name, VMID, node and size).
    details: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.add == self.change == self.destroy == 0


def request_tfvars(
    *,
    request_id: str,
    opd_code: str,
    environment: str,
    vcpu: int,
    memory_mb: int,
    disk_gb: int,
    os_template: Mapping[str, Any],
    vmid: int,
    node_name: str,
    ipv4: str,
    prefix: int,
    gateway: str,
    dns_servers: Sequence[str],
    ssh_public_keys: Sequence[str],
    vlan_id: int | None = None,
    bridge: str = "vmbr0",
    agent_timeout: str = "5m",
    admin_user: str = "sopadmin",
) -> dict[str, Any]:
    """The root stack's variables for one request, as plain JSON-able values."""
    network: dict[str, Any] = {
        "ipv4": ipv4,
        "prefix": prefix,
        "gateway": gateway,
        "dns_servers": list(dns_servers),
        "bridge": bridge,
    }
    if vlan_id is not None:
        network["vlan_id"] = vlan_id
    return {
        "request_id": request_id,
        "opd_code": opd_code,
        "environment": environment,
        "vcpu": vcpu,
        "memory_mb": memory_mb,
        "disk_gb": disk_gb,
        "os_template": dict(os_template),
        "vmid": vmid,
        "node_name": node_name,
        "network": network,
        "ssh_public_keys": list(ssh_public_keys),
        "agent_timeout": agent_timeout,
        "admin_user": admin_user,
        # every built hosting: PVE refuses to remove it until a signed retirement lifts it
        "protection": True,
    }


class TerraformRunner:
    """Runs the root stack for one request. Not thread-safe: one runner per request and thread."""

    def __init__(self, settings: TerraformSettings, access: ProxmoxAccess, request_id: str) -> None:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", request_id):
            raise TerraformError(f"{request_id!r}: id permohonan bukan label DNS yang sah")
        self.settings = settings
        self.access = access
        self.request_id = request_id
        self.workdir = settings.work_root / request_id
        self.stack_dir = self.workdir / STACK
        self._cancel = threading.Event()
        #: The Terraform process running now (its own process group), or None.
        self.current: subprocess.Popen[str] | None = None
        #: This run's marker, set in every child's environment (see adapters/leftovers.py).
        self.marker: RunMarker = processes.own_marker(
            request_id, processes.scope_of(settings.work_root)
        )
        #: The run recorded beside the lock before this one took it (None if none).
        self.previous: RunMarker | None = None
        #: Set once this run holds the request's lock and has swept its leftovers.
        self._swept = False
        #: What the last sweep stopped: (pid, name) of each leftover of a dead run.
        self.stopped: tuple[tuple[int, str], ...] = ()
        #: Told (one Indonesian line) when a dead holder's state lock is cleared.
        self.on_leftovers: Callable[[str], None] = lambda _line: None

    # ------------------------------------------------------------------ the lock of the request

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this request's lock for the duration; another holder means RequestBusyError.

        Once held: the run is recorded beside the lock (pid, start time, host), and what a
        dead run of this request left running (its marker, its pid gone) is stopped before
        anything else starts. Processes of a live run of another job are never touched: that
        run is refused as busy, named.
        """
        self.settings.work_root.mkdir(parents=True, exist_ok=True)
        path = self.settings.work_root / f"{self.request_id}.lock"
        handle = open(path, "a+")  # noqa: SIM115 - kept open while the lock is held
        try:
            locking.lock(handle, blocking=False)
        except BlockingIOError:
            handle.close()
            _, who = processes.read_record(path)
            raise RequestBusyError(
                f"Permohonan {self.request_id} sedang diproses oleh proses lain ({who}); "
                "tidak ada yang diubah. Tunggu proses itu selesai lalu jalankan ulang."
            ) from None
        try:
            self.previous, _ = processes.read_record(path)
            processes.write_record(path, self.marker)
            self.sweep()
            yield
        finally:
            self._swept = False
            locking.unlock(handle)
            handle.close()

    def sweep(self) -> tuple[tuple[int, str], ...]:
        """Stop the leftovers of dead runs of this request; refuse if a live run has some."""
        found = classify(self.request_id, processes.process_table(), me=self.marker)
        if found.live_runs:
            other = found.live_runs[0]
            raise RequestBusyError(
                f"Permohonan {self.request_id} masih dikerjakan oleh run lain (pid {other.pid}) "
                "di host ini; tidak ada yang diubah. Tunggu run itu selesai lalu jalankan ulang."
            )
        if found.leftovers:
            processes.stop(found.leftovers)
        self.stopped = tuple((p.pid, p.name) for p in found.leftovers)
        self._swept = True
        return self.stopped

    def cancel(self) -> None:
        """Ask the running Terraform command to stop (SIGINT, then a bounded wait)."""
        self._cancel.set()

    # ------------------------------------------------------------------ steps

    def prepare(self, tfvars: Mapping[str, Any]) -> None:
        """Lay out the working copy (configuration refreshed, state kept) and write the tfvars."""
        src = self.settings.source_dir
        for sub in ("modules", "stacks"):
            dest = self.workdir / sub
            shutil.copytree(
                src / sub,
                dest,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(
                    ".terraform",
                    "*.tfstate*",
                    "tests",
                    "examples",
                    "*.auto.tfvars.json",
                    RETIREMENT_OVERRIDE.name,
                ),
            )
        retirement = self.workdir / RETIREMENT_OVERRIDE
        if retirement.exists():  # only a retirement's own run may hold it (allow_destroy)
            retirement.unlink()
        override = self.stack_dir / PG_OVERRIDE
        if self.settings.pg_conn_str:
            override.write_text(PG_OVERRIDE_TEXT, encoding="utf-8")
        elif override.exists():
            override.unlink()
        tmp = self.stack_dir / (TFVARS_NAME + ".tmp")
        tmp.write_text(json.dumps(dict(tfvars), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self.stack_dir / TFVARS_NAME)

    def init(self) -> float:
        """``terraform init`` from the offline mirror, lock file read-only; returns seconds."""
        started = time.monotonic()
        self._run(
            "init",
            input=False,
            lockfile="readonly",
            upgrade=False,
            reconfigure=IsFlagged if self.settings.pg_conn_str else None,
        )
        if self.settings.pg_conn_str:
            self._select_workspace()
        return time.monotonic() - started

    def _select_workspace(self) -> None:
        """Select (creating it if needed) the request's workspace in the pg backend.

        Creating a workspace takes the pg backend's one global creation lock, and ``workspace
        new`` does not wait for it; so a bounded retry with jitter rides over other requests'
        creations (about 20 s at most).
        """
        for attempt in range(40):
            code, out, err = self._run_raw("workspace select", self.request_id)
            if code == 0:
                return
            code, out, err = self._run_raw(
                "workspace new", self.request_id, lock_timeout=self.lock_timeout
            )
            if code == 0:
                return
            if "already exists" in err:
                continue
            if "Already locked" not in err and "already locked" not in err:
                raise self._translate("workspace new", code, out, err)
            time.sleep(0.2 + random.random() * 0.4 + attempt * 0.01)  # noqa: S311 - jitter, not crypto
        raise RequestBusyError(
            f"Workspace state untuk {self.request_id} tidak dapat dibuat: "
            "kunci pembuatan terus dipegang."
        )

    @property
    def lock_timeout(self) -> str:
        return self.settings.pg_lock_timeout if self.settings.pg_conn_str else "0s"

    def state_has_vm(self) -> bool:
        """True if the state already tracks the request's VM."""
        code, out, err = self._run_raw("state list")
        if code != 0:
            if "No state file was found" in err or "does not exist" in err:
                return False
            raise self._translate("state list", code, out, err)
        return VM_ADDRESS in out.split()

    def import_vm(self, node: str, vmid: int) -> None:
        """Adopt an existing VM into the state (after a killed apply left it outside)."""
        self._run(
            "import", VM_ADDRESS, f"{node}/{vmid}", input=False, lock_timeout=self.lock_timeout
        )

    def plan(self, *, destroy: bool = False, detailed: bool = True) -> PlanSummary:
        """``terraform plan`` into ``tfplan``; returns its summary.

        ``detailed`` reads the saved plan back with ``show -json`` to describe the VM (for the
        merge request); without it the counts come from the plan's own ``-json`` stream, which
        saves a second Terraform process (about 2 s of CPU) on the apply path.
        """
        args: dict[str, Any] = {"input": False, "lock_timeout": self.lock_timeout, "out": "tfplan"}
        if destroy:
            args["destroy"] = IsFlagged
        if not detailed:
            _, out, _ = self._run("plan", json=IsFlagged, **args)
            return summarise_stream(out, self.request_id)
        self._run("plan", **args)
        return summarise_plan(self.show_plan(), self.request_id)

    def show_plan(self) -> dict[str, Any]:
        """The saved plan ``tfplan`` as ``terraform show -json`` gives it: what the change
        classifier (``domain.change_class``) and the summary read."""
        _, out, _ = self._run("show", "-json", "tfplan")
        plan = json.loads(out)
        if not isinstance(plan, dict):
            raise TerraformError("terraform show -json: keluaran bukan objek JSON")
        return plan

    def apply(self) -> None:
        """Apply the saved plan ``tfplan``."""
        self._run(
            "apply", "tfplan", input=False, lock_timeout=self.lock_timeout, auto_approve=IsFlagged
        )

    def refresh_drift(self) -> list[dict[str, Any]]:
        """What changed outside Terraform: ``plan -refresh-only -detailed-exitcode -json``.

        Runs in the working copy step 8 left (its tfvars and state; nothing is prepared
        again, so the comparison is with what was applied). Exit 0: nothing drifted, ``[]``;
        exit 2: the saved plan is read back with ``show -json`` and its ``resource_drift``
        entries (address, type, change.before/after) are returned. Anything else is a
        :class:`TerraformError`: a failed check, never "no drift". The state is not changed
        (a refresh-only plan is not applied).
        """
        if not (self.stack_dir / TFVARS_NAME).exists():
            raise TerraformError(
                f"Salinan kerja Terraform untuk {self.request_id} tidak ada "
                f"({self.stack_dir / TFVARS_NAME}); drift tidak dapat diperiksa di runner ini."
            )
        if not (self.stack_dir / ".terraform").exists():
            self.init()
        code, out, err = self._run_raw(
            "plan",
            refresh_only=IsFlagged,
            detailed_exitcode=IsFlagged,
            json=IsFlagged,
            input=False,
            lock_timeout=self.lock_timeout,
            out="drift.tfplan",
        )
        if code == 0:
            return []
        if code != 2:
            raise self._translate("plan -refresh-only", code, out, err)
        _, shown, _ = self._run("show", "-json", "drift.tfplan")
        return list(json.loads(shown).get("resource_drift") or [])

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs: vmid, node, address, agent_ipv4_addresses, request_tag."""
        _, out, _ = self._run("output", "-json")
        return {name: item.get("value") for name, item in json.loads(out or "{}").items()}

    def applied_tfvars(self) -> dict[str, Any]:
        """The tfvars the last apply of this working copy used (a retirement destroys with
        them); TerraformError when this runner has no working copy of the request."""
        path = self.stack_dir / TFVARS_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TerraformError(
                f"Salinan kerja Terraform untuk {self.request_id} tidak ada atau rusak ({path})."
            ) from exc
        return dict(data)

    def allow_destroy(self) -> None:
        """Lift the module's ``prevent_destroy`` in this working copy (after :meth:`prepare`):
        only step 8 of a retirement whose gates verified calls it."""
        path = self.workdir / RETIREMENT_OVERRIDE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(RETIREMENT_OVERRIDE_TEXT, encoding="utf-8")
        tmp.replace(path)

    def destroy(self) -> None:
        """Destroy the request's VM. The caller releases VMID and IP only after this returns.
        Refused by Terraform (``prevent_destroy``) unless :meth:`allow_destroy` was called,
        and by Proxmox while the VM's ``protection`` is set."""
        self._run("destroy", input=False, lock_timeout=self.lock_timeout, auto_approve=IsFlagged)

    # ------------------------------------------------------------------ running terraform

    def environment(self) -> dict[str, str]:
        """The child's environment: offline CLI config, Proxmox access, pg settings; no more."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.settings.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            PROXMOX_VE_ENDPOINT=self.access.endpoint,
            PROXMOX_VE_API_TOKEN=self.access.api_token,
        )
        env[MARKER_VARIABLE] = self.marker.text()  # inherited by the providers too
        if self.access.ca_file is not None:
            env["SSL_CERT_FILE"] = str(self.access.ca_file)
        if self.settings.pg_conn_str:
            env["PG_CONN_STR"] = self.settings.pg_conn_str
            env["PG_SCHEMA_NAME"] = "terraform_remote_state"
        return env

    def _run(self, cmd: str, *args: str, **options: Any) -> tuple[int, str, str]:
        code, out, err = self._run_raw(cmd, *args, **options)
        if code != 0 and self._unlocked_stale(f"{err}\n{out}"):
            code, out, err = self._run_raw(cmd, *args, **options)
        if code != 0:
            raise self._translate(cmd, code, out, err)
        return code, out, err

    def _unlocked_stale(self, text: str) -> bool:
        """Clear Terraform's state lock if its holder is provably dead; True if cleared.

        Only under the request's lock, after the sweep, with the lock id Terraform named
        (see :func:`~sop_pipeline.adapters.leftovers.holder_provably_dead`).
        """
        if "Error acquiring the state lock" not in text or not self._swept:
            return False
        lock = parse_state_lock(text)
        if lock is None or not holder_provably_dead(
            lock,
            host=socket.gethostname(),
            request_id=self.request_id,
            table=processes.process_table(),
            me=self.marker,
            previous=self.previous,
            workdir=str(self.workdir.resolve()),
        ):
            return False
        code, _, _ = self._spawn([self.settings.binary, "force-unlock", "-force", lock.lock_id])
        if code != 0:
            return False  # e.g. the local backend cannot: the busy error, naming the holder
        self.on_leftovers(
            f"{self.request_id}:   kunci state Terraform {lock.lock_id} dari run yang mati dibuka"
        )
        return True

    def _run_raw(self, cmd: str, *args: str, **options: Any) -> tuple[int, str, str]:
        options.setdefault("no_color", IsFlagged)
        # The builder only builds argv; pointed at a directory with no state, its constructor does
        # not parse terraform.tfstate (which a killed run can leave empty).
        builder = Terraform(
            working_dir=str(self.workdir / ".no-state"), terraform_bin_path=self.settings.binary
        )
        argv = builder.generate_cmd_string(cmd, *args, **options)
        return self._spawn(argv)

    def _spawn(self, argv: list[str]) -> tuple[int, str, str]:
        if self._cancel.is_set():
            raise CancelledError(
                f"Proses Terraform untuk {self.request_id} dibatalkan sebelum dimulai."
            )
        proc = subprocess.Popen(
            argv,
            cwd=self.stack_dir,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            # Dies with this thread, which waits below until Terraform is reaped. SIGTERM is
            # Terraform's graceful stop (like SIGINT); the next run sweeps what outlives it.
            preexec_fn=processes.die_with_parent(signal.SIGTERM),
        )
        self.current = proc
        result: dict[str, str] = {}

        def collect() -> None:
            result["out"], result["err"] = proc.communicate()

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        deadline = time.monotonic() + self.settings.plugin_timeout_seconds
        while reader.is_alive():
            reader.join(0.2)
            if self._cancel.is_set() or time.monotonic() > deadline:
                self._interrupt(proc)
                reader.join()
                raise CancelledError(
                    f"Proses Terraform untuk {self.request_id} dihentikan (SIGINT); "
                    "jalankan ulang untuk melanjutkan.",
                    detail=result.get("err", "") + "\n" + result.get("out", ""),
                    returncode=proc.returncode,
                )
        return proc.returncode, result.get("out", ""), result.get("err", "")

    @staticmethod
    def _interrupt(proc: subprocess.Popen[str]) -> None:
        """SIGINT to Terraform alone (it tells its providers), then wait; SIGKILL the group last."""
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(SIGINT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _translate(self, cmd: str, code: int, out: str, err: str) -> TerraformError:
        text = f"{err}\n{out}"
        rid = self.request_id
        if "Error acquiring the state lock" in text:
            lock = parse_state_lock(text)
            holder = f" ({lock.who}, kunci {lock.lock_id})" if lock else ""
            return RequestBusyError(
                f"State Terraform untuk {rid} sedang dikunci oleh proses lain{holder} yang "
                "masih hidup; tidak ada yang diubah. "
                "Tunggu proses itu selesai lalu jalankan ulang.",
                detail=text,
                returncode=code,
            )
        if "can't lock file" in text and "got timeout" in text:
            msg = (
                f"Proxmox sedang sibuk (kunci konfigurasi VM habis waktu) saat memproses {rid}; "
                "coba lagi."
            )
        elif re.search(r"connection refused|no such host|i/o timeout|dial tcp", text, re.I):
            msg = f"API Proxmox tidak dapat dihubungi saat '{cmd}' untuk {rid}."
        elif "401" in text and "authentication" in text.lower():
            msg = f"Token API Proxmox ditolak saat '{cmd}' untuk {rid}."
        elif "x509" in text or "certificate" in text.lower():
            msg = f"Sertifikat TLS API Proxmox tidak dapat diverifikasi saat '{cmd}' untuk {rid}."
        elif "Invalid value for variable" in text or "Invalid value for input variable" in text:
            msg = f"Nilai permohonan {rid} ditolak oleh validasi modul Terraform."
        elif "checksums" in text and "lock file" in text:
            msg = (
                "Provider di mirror lokal tidak cocok dengan hash di .terraform.lock.hcl "
                "(lihat docs/terraform.md)."
            )
        elif "clone failed" in text or "unable to clone" in text.lower():
            msg = f"Kloning template gagal untuk {rid}; tidak ada VM yang dibuat."
        elif "already exists" in text:
            msg = f"VMID untuk {rid} sudah dipakai VM lain di Proxmox."
        elif "Instance cannot be destroyed" in text:
            msg = (
                f"VM {rid} dilindungi (prevent_destroy): hanya pensiun yang ditandatangani "
                "(kind: pensiun, langkah 4 dan 7 oleh dua orang) yang dapat menghapusnya; "
                "tidak ada yang dihapus. [prevent-destroy]"
            )
        elif "protection mode enabled" in text:
            msg = (
                f"Proxmox menolak menghapus VM {rid}: proteksi VM aktif; hanya pensiun yang "
                "ditandatangani yang mencabutnya. [vm-protected]"
            )
        else:
            msg = f"Perintah 'terraform {cmd}' gagal untuk {rid} (kode {code})."
        return TerraformError(msg, detail=text, returncode=code)


def summarise_stream(lines: str, request_id: str) -> PlanSummary:
    """The counts of ``terraform plan -json``'s ``change_summary`` message."""
    for line in lines.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "change_summary":
            changes = message.get("changes") or {}
            add, change, destroy = (
                int(changes.get("add", 0)),
                int(changes.get("change", 0)),
                int(changes.get("remove", 0)),
            )
            text = (
                f"Rencana Terraform untuk {request_id}: "
                f"{add} ditambah, {change} diubah, {destroy} dihapus."
            )
            if add == change == destroy == 0:
                text += " Tidak ada perubahan: infrastruktur sudah sesuai."
            return PlanSummary(add=add, change=change, destroy=destroy, text=text)
    raise TerraformError(
        f"Ringkasan rencana Terraform untuk {request_id} tidak ditemukan.", detail=lines[-2000:]
    )


def summarise_plan(plan: Mapping[str, Any], request_id: str) -> PlanSummary:
    """Count the plan's actions and describe them in one short Indonesian paragraph."""
    add = change = destroy = 0
    lines: list[str] = []
    resources: list[tuple[str, str]] = []
    for rc in plan.get("resource_changes") or []:
        actions = list((rc.get("change") or {}).get("actions") or [])
        if actions in (["no-op"], ["read"]):
            continue
        resources.append((str(rc.get("address") or ""), "+".join(actions)))
        add += "create" in actions
        destroy += "delete" in actions
        change += actions == ["update"]
        after = (rc.get("change") or {}).get("after") or {}
        before = (rc.get("change") or {}).get("before") or {}
        vm = after or before
        if rc.get("type") == "proxmox_virtual_environment_vm":
            verb = {"create": "dibuat", "update": "diubah", "delete": "dihapus"}.get(
                actions[-1], "diganti"
            )
            if sorted(actions) == ["create", "delete"]:
                verb = "diganti (hapus lalu buat ulang)"
            cpu = ((vm.get("cpu") or [{}])[0] or {}).get("cores")
            mem = ((vm.get("memory") or [{}])[0] or {}).get("dedicated")
            disk = ((vm.get("disk") or [{}])[0] or {}).get("size")
            lines.append(
                f"VM {vm.get('name')} (VMID {vm.get('vm_id')}) "
                f"di node {vm.get('node_name')} akan {verb}: "
                f"{cpu} vCPU, {mem} MiB memori, disk {disk} GiB."
            )
    head = (
        f"Rencana Terraform untuk {request_id}: {add} ditambah, {change} diubah, {destroy} dihapus."
    )
    if add == change == destroy == 0:
        head += " Tidak ada perubahan: infrastruktur sudah sesuai."
    return PlanSummary(
        add=add,
        change=change,
        destroy=destroy,
        text=" ".join([head, *lines]),
        resources=tuple(resources),
        details=tuple(lines),
    )


def is_lock_timeout(error: TerraformError) -> bool:
    """True for PVE's "can't lock file ... got timeout": worth a retry after a pause."""
    return "can't lock file" in error.detail and "got timeout" in error.detail


def backoff_delays(attempts: int = 4, first: float = 2.0, factor: float = 2.0) -> list[float]:
    """Pauses between retries: 2 s, 4 s, 8 s, ... (bounded by ``attempts``)."""
    return [first * factor**n for n in range(max(attempts - 1, 0))]

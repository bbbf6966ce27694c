"""Where one environment's infrastructure is, and how to open its adapters.

:class:`Infrastructure` holds the settings of one environment (the lab or production): the
Proxmox API, the allocator's database, the DNS primary and its TSIG key, Terraform (CLI,
offline mirror, working copies, state backend), and for the lab its network namespace.
Secrets (the Proxmox token, the TSIG secret, a database password) are read from files or the
environment once, kept out of ``repr`` and never logged; :meth:`Infrastructure.describe`
gives the lines that may be shown.

Two constructors:

- :meth:`Infrastructure.from_lab` reads ``<lab_dir>/lab.json`` as ``sop lab up`` writes it;
- :meth:`Infrastructure.from_env` reads ``SOP_*`` variables, for production and CI
  (the table is in its docstring and in ``docs/infra.md``).

:meth:`Infrastructure.open` gives the adapters (Proxmox, allocator, DNS, and a Terraform
runner per request) for the step-6 analysis and for step 8.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sop_pipeline.adapters.allocator import Allocator, Pool
from sop_pipeline.adapters.backups import ProxmoxBackups
from sop_pipeline.adapters.dns import DnsAdapter, DnsSettings
from sop_pipeline.adapters.node_slots import DEFAULT_PER_NODE, NodeLimiter
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings
from sop_pipeline.adapters.terraform import ProxmoxAccess, TerraformRunner, TerraformSettings
from sop_pipeline.errors import ConfigError

ENVIRONMENTS = ("lab", "production")
DEFAULT_CACHE = "/var/cache/sop-pipeline"
DEFAULT_TF_WORK = "/var/lib/sop-pipeline/terraform"
#: The lab's address pool's reverse zone (the BIND of ``sop lab up`` serves it).
LAB_REVERSE_ZONE = "0.99.10.in-addr.arpa"
_KEY_BLOCK = re.compile(
    r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>.*?)\}\s*;', re.DOTALL | re.IGNORECASE
)


def _cache() -> Path:
    return Path(os.environ.get("SOP_CACHE", DEFAULT_CACHE))


def default_terraform_binary() -> str:
    """``terraform`` on PATH, else the OpenTofu that ``.ci/setup/terraform.sh`` built."""
    return shutil.which("terraform") or str(_cache() / "terraform" / "bin" / "tofu")


def default_cli_config() -> Path:
    """The offline CLI configuration written by ``.ci/setup/terraform.sh``."""
    return _cache() / "terraform" / "cli.tfrc"


def read_secret(path: Path, what: str) -> str:
    """The stripped content of a secret file; ConfigError (naming the file only) otherwise."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{what}: berkas {path} tidak dapat dibaca ({err.strerror}).") from err
    if not text:
        raise ConfigError(f"{what}: berkas {path} kosong.")
    return text


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key: name, algorithm and secret (base64)."""

    name: str
    algorithm: str
    secret: str = field(repr=False)


def parse_tsig_key(text: str, *, default_name: str = "sop-pipeline") -> TsigKey:
    """A key in ``named.conf`` syntax (as ``tsig-keygen`` writes it) or a bare base64 secret."""
    match = _KEY_BLOCK.search(text)
    if match is None:
        secret = text.strip()
        if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", secret):
            raise ConfigError(
                'Kunci TSIG harus berupa blok `key "nama" { algorithm ...; secret "..."; };` '
                "atau rahasia base64 saja."
            )
        return TsigKey(default_name, "hmac-sha256", secret)
    body = match.group("body")
    found_algorithm = re.search(r"algorithm\s+\"?([A-Za-z0-9-]+)\"?\s*;", body)
    found_secret = re.search(r'secret\s+"([A-Za-z0-9+/=]+)"\s*;', body)
    if found_secret is None:
        raise ConfigError(f'Kunci TSIG {match.group("name")!r} tidak memuat `secret "...";`.')
    algorithm = found_algorithm.group(1) if found_algorithm else "hmac-sha256"
    return TsigKey(match.group("name"), algorithm, found_secret.group(1))


def read_public_keys(path: Path) -> tuple[str, ...]:
    """OpenSSH public keys, one a line (``#`` comments and blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(
            f"Kunci publik SSH administrator: {path} tidak dapat dibaca ({err.strerror})."
        ) from err
    keys = tuple(" ".join(ln.split()) for ln in lines if ln.strip() and not ln.startswith("#"))
    if not keys:
        raise ConfigError(f"Kunci publik SSH administrator: {path} tidak memuat satu kunci pun.")
    return keys


def _without_password(dsn: str) -> str:
    """A DSN fit for a log line: a PostgreSQL URL's password replaced by ``***``."""
    if "://" not in dsn or dsn.startswith("sqlite"):
        return dsn
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Adapters:
    """The adapters of one environment, opened by :meth:`Infrastructure.open`."""

    infra: Infrastructure
    proxmox: ProxmoxAdapter
    allocator: Allocator
    dns: DnsAdapter
    backups: ProxmoxBackups

    def terraform(self, request_id: str, source_dir: Path) -> TerraformRunner:
        """A Terraform runner for one request over the ``terraform/`` folder ``source_dir``."""
        return self.infra.terraform_runner(request_id, source_dir)


@dataclass(frozen=True, kw_only=True)
class Infrastructure:
    """One environment's settings; secrets are held but never shown (see :meth:`describe`)."""

    #: The pool in ``inventories/pools.yaml`` and Terraform's ``environment``: lab|production.
    environment: str
    pve_url: str
    pve_token: str = field(repr=False)
    pve_ca_file: Path | None = None
    cpu_overcommit: float = 4.0
    #: SQLite path (or ``sqlite:///path``) or ``postgresql://`` URL of the allocator.
    allocator_dsn: str = field(repr=False)
    dns_server: str
    dns_port: int = 53
    dns_reverse_zone: str | None = None
    #: None where only the analysis runs: DNS queries need no key, updates (step 8) do.
    tsig: TsigKey | None = field(default=None, repr=False)
    #: Terraform CLI, offline CLI config (the provider mirror), working copies, pg state.
    terraform_binary: str = field(default_factory=default_terraform_binary)
    terraform_cli_config: Path = field(default_factory=default_cli_config)
    terraform_work_root: Path = Path(DEFAULT_TF_WORK)
    terraform_pg_conn_str: str | None = field(default=None, repr=False)
    #: At most this many Terraform runs touch one Proxmox node at once (across processes and,
    #: with a PostgreSQL allocator, runners): parallel clones make PVE time out on its locks.
    terraform_parallel_per_node: int = DEFAULT_PER_NODE
    #: The administrators' OpenSSH public keys put on every VM.
    ssh_public_keys: tuple[str, ...] = ()
    #: Step 8: the private key Ansible connects with (its public half is in the list above),
    #: the account Terraform's cloud-init makes, and the TSIG key file (named.conf syntax)
    #: the dns_record role signs with.
    ssh_private_key: Path | None = None
    admin_user: str = "sopadmin"
    tsig_key_file: Path | None = None
    #: The lab's network namespace (its addresses answer only inside it); None in production.
    netns: str | None = None

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(
                f"Lingkungan infrastruktur {self.environment!r} tidak dikenal; "
                f"pilih salah satu: {', '.join(ENVIRONMENTS)}."
            )
        if self.terraform_parallel_per_node < 1:
            raise ConfigError(
                "Batas Terraform per node (SOP_TF_PARALLEL_PER_NODE) harus paling sedikit 1, "
                f"bukan {self.terraform_parallel_per_node}."
            )
        if not self.pve_url.startswith("https://"):
            raise ConfigError(
                f"Alamat API Proxmox harus https://host:port, bukan {self.pve_url!r}."
            )

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_lab(cls, lab_dir: Path) -> Infrastructure:
        """The lab that ``sop lab up`` started, from ``<lab_dir>/lab.json``.

        Allocator: ``<lab_dir>/allocator.sqlite``; Terraform working copies:
        ``<lab_dir>/terraform``; the pipeline's SSH key: ``<lab_dir>/ssh/id_ed25519`` (made
        with ``ssh-keygen`` at the first use).
        """
        path = lab_dir / "lab.json"
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(
                f"{path} tidak ada: lab belum berjalan. Jalankan `sop lab up --lab-dir "
                f"{lab_dir}` lebih dulu."
            ) from err
        except ValueError as err:
            raise ConfigError(f"{path} bukan JSON yang sah: {err}") from err
        try:
            tsig = parse_tsig_key(
                read_secret(Path(info["tsig_secret_file"]), "Kunci TSIG lab"),
                default_name=str(info.get("tsig_key_name") or "sop-pipeline"),
            )
            return cls(
                environment="lab",
                pve_url=str(info["pve_url"]),
                pve_token=read_secret(Path(info["pve_token_file"]), "Token API Proxmox lab"),
                pve_ca_file=Path(info["pve_cafile"]),
                allocator_dsn=f"sqlite:///{lab_dir / 'allocator.sqlite'}",
                dns_server=str(info["dns_server"]),
                dns_port=int(info["dns_port"]),
                dns_reverse_zone=LAB_REVERSE_ZONE,
                tsig=tsig,
                terraform_work_root=lab_dir / "terraform",
                ssh_public_keys=(lab_ssh_public_key(lab_dir),),
                ssh_private_key=lab_dir / "ssh" / "id_ed25519",
                tsig_key_file=lab_dir / "bind" / f"{tsig.name}.key",
                netns=str(info["namespace"]) or None,
            )
        except KeyError as err:
            raise ConfigError(
                f"{path}: kunci {err} tidak ada; jalankan ulang `sop lab up`."
            ) from err

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Infrastructure:
        """Production or CI settings from ``SOP_*`` variables (``env`` defaults to os.environ).

        =========================== ========================================================
        variable                    meaning
        =========================== ========================================================
        ``SOP_ENVIRONMENT``         pool and Terraform environment: ``production`` (default)
                                    or ``lab``
        ``SOP_PVE_URL``             required: ``https://host:8006`` of the Proxmox API
        ``SOP_PVE_TOKEN_FILE``      file holding the API token ``user@realm!id=SECRET``
        ``SOP_PVE_TOKEN``           the token itself (CI masked variable), if no file
        ``SOP_PVE_CA_FILE``         CA bundle for the API's certificate (default: system CAs)
        ``SOP_PVE_CPU_OVERCOMMIT``  vCPUs per physical thread counted as room (default 4)
        ``SOP_ALLOCATOR_DSN``       required: SQLite path or ``postgresql://...`` URL
        ``SOP_DNS_SERVER``          required: address of the department's primary
        ``SOP_DNS_PORT``            its port (default 53)
        ``SOP_DNS_REVERSE_ZONE``    reverse zone for PTR records (default: none)
        ``SOP_TSIG_KEY_FILE``       TSIG key (named.conf syntax or bare secret); only
                                    step 8 needs it, the analysis does not
        ``SOP_TF_BINARY``           Terraform/OpenTofu CLI (default: ``terraform`` on PATH)
        ``SOP_TF_CLI_CONFIG``       CLI config with the provider mirror
                                    (default ``$SOP_CACHE/terraform/cli.tfrc``)
        ``SOP_TF_WORK_DIR``         working copies per request
                                    (default ``/var/lib/sop-pipeline/terraform``)
        ``SOP_TF_PG_CONN_STR``      PostgreSQL URL for the ``pg`` state backend (default:
                                    local state in the working copy)
        ``SOP_TF_PARALLEL_PER_NODE`` Terraform runs at once per Proxmox node, across runners
                                    sharing the allocator (default 2)
        ``SOP_SSH_PUBLIC_KEYS_FILE`` required: administrators' OpenSSH public keys, one a line
        ``SOP_SSH_KEY_FILE``        step 8: private key Ansible connects with
        ``SOP_ADMIN_USER``          step 8: the VM account cloud-init makes (default sopadmin)
        ``SOP_NETNS``               network namespace to enter first (lab experiments only)
        =========================== ========================================================
        """
        env = os.environ if env is None else env

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"Variabel lingkungan {name} belum diatur (lihat docs/infra.md).")
            return value

        token_file = env.get("SOP_PVE_TOKEN_FILE", "").strip()
        if token_file:
            token = read_secret(Path(token_file), "Token API Proxmox (SOP_PVE_TOKEN_FILE)")
        elif env.get("SOP_PVE_TOKEN", "").strip():
            token = env["SOP_PVE_TOKEN"].strip()
        else:
            raise ConfigError(
                "Token API Proxmox belum diatur: isi SOP_PVE_TOKEN_FILE (berkas) atau "
                "SOP_PVE_TOKEN (variabel CI yang disamarkan). Lihat docs/infra.md."
            )
        tsig_file = env.get("SOP_TSIG_KEY_FILE", "").strip()
        tsig = (
            parse_tsig_key(read_secret(Path(tsig_file), "Kunci TSIG (SOP_TSIG_KEY_FILE)"))
            if tsig_file
            else None
        )
        try:
            port = int(env.get("SOP_DNS_PORT", "53"))
            overcommit = float(env.get("SOP_PVE_CPU_OVERCOMMIT", "4"))
            per_node = int(env.get("SOP_TF_PARALLEL_PER_NODE", "").strip() or DEFAULT_PER_NODE)
        except ValueError as err:
            raise ConfigError(
                f"SOP_DNS_PORT/SOP_PVE_CPU_OVERCOMMIT/SOP_TF_PARALLEL_PER_NODE bukan angka: {err}"
            ) from err
        ca = env.get("SOP_PVE_CA_FILE", "").strip()
        return cls(
            environment=env.get("SOP_ENVIRONMENT", "production").strip() or "production",
            pve_url=need("SOP_PVE_URL"),
            pve_token=token,
            pve_ca_file=Path(ca) if ca else None,
            cpu_overcommit=overcommit,
            allocator_dsn=need("SOP_ALLOCATOR_DSN"),
            dns_server=need("SOP_DNS_SERVER"),
            dns_port=port,
            dns_reverse_zone=env.get("SOP_DNS_REVERSE_ZONE", "").strip() or None,
            tsig=tsig,
            terraform_binary=env.get("SOP_TF_BINARY", "").strip() or default_terraform_binary(),
            terraform_cli_config=Path(
                env.get("SOP_TF_CLI_CONFIG", "").strip() or default_cli_config()
            ),
            terraform_work_root=Path(env.get("SOP_TF_WORK_DIR", "").strip() or DEFAULT_TF_WORK),
            terraform_pg_conn_str=env.get("SOP_TF_PG_CONN_STR", "").strip() or None,
            terraform_parallel_per_node=per_node,
            ssh_public_keys=read_public_keys(Path(need("SOP_SSH_PUBLIC_KEYS_FILE"))),
            netns=env.get("SOP_NETNS", "").strip() or None,
            ssh_private_key=Path(key) if (key := env.get("SOP_SSH_KEY_FILE", "").strip()) else None,
            admin_user=env.get("SOP_ADMIN_USER", "").strip() or "sopadmin",
            tsig_key_file=Path(tsig_file) if tsig_file else None,
        )

    # ------------------------------------------------------------------ showing it

    def describe(self) -> list[str]:
        """Lines fit for a log: where everything is, with no secret in them."""
        state = "PostgreSQL (pg)" if self.terraform_pg_conn_str else "lokal per permintaan"
        return [
            f"lingkungan: {self.environment}"
            + (f" (namespace jaringan {self.netns})" if self.netns else ""),
            f"API Proxmox: {self.pve_url}"
            + (f" (CA {self.pve_ca_file})" if self.pve_ca_file else ""),
            f"alokator: {_without_password(self.allocator_dsn)}",
            f"DNS: {self.dns_server}:{self.dns_port}"
            + (f" (kunci TSIG {self.tsig.name})" if self.tsig else " (tanpa kunci TSIG)"),
            f"Terraform: {self.terraform_binary}, mirror {self.terraform_cli_config}, "
            f"salinan kerja {self.terraform_work_root}, state {state}, "
            f"paling banyak {self.terraform_parallel_per_node} sekaligus per node",
        ]

    # ------------------------------------------------------------------ opening adapters

    def enter_netns(self) -> None:
        """Move this process into the lab's namespace (call before any thread starts)."""
        if self.netns:
            from sop_pipeline.lab import netns

            netns.enter(self.netns)

    def proxmox(self) -> ProxmoxAdapter:
        return ProxmoxAdapter(
            ProxmoxSettings(
                endpoint=self.pve_url,
                api_token=self.pve_token,
                ca_file=self.pve_ca_file,
                cpu_overcommit=self.cpu_overcommit,
            )
        )

    def backups(self) -> ProxmoxBackups:
        """The backup calls (vzdump jobs, archives) over the same API and token."""
        return ProxmoxBackups(
            ProxmoxSettings(
                endpoint=self.pve_url, api_token=self.pve_token, ca_file=self.pve_ca_file
            )
        )

    def allocator(self, pools: Mapping[str, Pool]) -> Allocator:
        """The allocator over ``pools`` (the base branch's ``inventories/pools.yaml``)."""
        if self.environment not in pools:
            raise ConfigError(
                f"inventories/pools.yaml tidak memuat pool {self.environment!r} untuk "
                "lingkungan ini."
            )
        return Allocator(pools, self.allocator_dsn)

    def dns(self, zone: str) -> DnsAdapter:
        """The DNS adapter for ``zone``. Without a TSIG key only its queries can be used."""
        key = self.tsig or TsigKey("sop-pipeline", "hmac-sha256", "")
        return DnsAdapter(
            DnsSettings(
                server=self.dns_server,
                port=self.dns_port,
                zone=zone,
                reverse_zone=self.dns_reverse_zone,
                key_name=key.name,
                key_algorithm=key.algorithm,
                key_secret=key.secret,
            )
        )

    def require_tsig(self) -> TsigKey:
        """The TSIG key, for the steps that change DNS; ConfigError saying how to give it."""
        if self.tsig is None:
            raise ConfigError(
                "Kunci TSIG belum diatur: langkah 8 mengubah DNS dan memerlukan "
                "SOP_TSIG_KEY_FILE. Tidak ada yang diubah."
            )
        return self.tsig

    def terraform_runner(self, request_id: str, source_dir: Path) -> TerraformRunner:
        """A runner for one request over ``source_dir`` (the base branch's ``terraform/``)."""
        settings = TerraformSettings(
            source_dir=source_dir,
            work_root=self.terraform_work_root,
            cli_config=self.terraform_cli_config,
            binary=self.terraform_binary,
            pg_conn_str=self.terraform_pg_conn_str,
        )
        access = ProxmoxAccess(
            endpoint=self.pve_url.rstrip("/") + "/",
            api_token=self.pve_token,
            ca_file=self.pve_ca_file,
        )
        return TerraformRunner(settings, access, request_id)

    def node_limiter(self) -> NodeLimiter:
        """The per-node bound on Terraform runs, kept in the allocator's database."""
        return NodeLimiter(self.allocator_dsn, self.terraform_parallel_per_node)

    def open(self, *, pools: Mapping[str, Pool], zone: str) -> Adapters:
        """Proxmox (and its backups), allocator and DNS adapters for this environment.

        Only the allocator's database is reached now (its table is made if absent); Proxmox
        and DNS are asked nothing until a method is called.
        """
        return Adapters(
            infra=self,
            proxmox=self.proxmox(),
            allocator=self.allocator(pools),
            dns=self.dns(zone),
            backups=self.backups(),
        )


def lab_ssh_public_key(lab_dir: Path) -> str:
    """The lab pipeline's public key, ``<lab_dir>/ssh/id_ed25519.pub``, made if absent."""
    key = lab_dir / "ssh" / "id_ed25519"
    if not key.with_suffix(".pub").exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        binary = shutil.which("ssh-keygen")
        if binary is None:
            raise ConfigError("ssh-keygen tidak ditemukan: apt-get install openssh-client")
        done = subprocess.run(
            [binary, "-q", "-t", "ed25519", "-N", "", "-C", "sop-pipeline@lab", "-f", str(key)],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise ConfigError(f"ssh-keygen gagal membuat kunci lab: {done.stderr.decode().strip()}")
    return " ".join(key.with_suffix(".pub").read_text(encoding="utf-8").split()[:3])

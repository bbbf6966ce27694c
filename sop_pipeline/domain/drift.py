"""Drift: what runs compared with what was approved, as plain items (no I/O, no clock).

A nightly ``sop drift`` reads the live systems (Terraform's refresh-only plan, the DNS zone by
AXFR, Proxmox's ``/cluster/resources``, the allocator's leases) through adapters, and hands
what it read to the pure functions here:

- :func:`terraform_items`  the resources a refresh-only plan says changed outside Terraform,
  one item per changed attribute, with the bpg provider's known noise (:data:`TERRAFORM_NOISE`)
  left out;
- :func:`compare_dns`      the records the pipeline made against the zone, both directions;
- :func:`compare_proxmox`  every VM of the cluster against the hostings of the ledger;
- :func:`compare_allocator` the leases against Proxmox and the ledger;
- :func:`ansible_items`    the tasks ``site.yml`` in check and diff mode says would change,
  one item per changed file, package or service, from the task's diff.

Every item names its owner (a request id, or :data:`UNOWNED` for things no request owns),
its source, the resource, the attribute, the approved and the actual value, and its kind.
Nothing here fixes anything: reconciliation is a change request (``sop drift --propose``).
"""

from __future__ import annotations

import difflib
import fnmatch
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

UNOWNED = "unowned"
SOURCES = ("terraform", "dns", "proxmox", "allocator", "ansible")
Source = Literal["terraform", "dns", "proxmox", "allocator", "ansible"]

#: ``changed``: present, but not as approved; ``missing``: approved, not there;
#: ``unmanaged``: there, and no request owns it.
KINDS = ("changed", "missing", "unmanaged")
Kind = Literal["changed", "missing", "unmanaged"]

KIND_LABELS = {
    "changed": "berbeda dari yang disetujui",
    "missing": "hilang",
    "unmanaged": "tidak dimiliki permintaan mana pun",
}
SOURCE_LABELS = {
    "terraform": "Terraform",
    "dns": "DNS",
    "proxmox": "Proxmox",
    "allocator": "alokator",
    "ansible": "Ansible",
}


@dataclass(frozen=True, order=True)
class DriftItem:
    """One difference between what was approved and what runs."""

    owner: str  # request id, or UNOWNED
    source: Source
    resource: str  # e.g. "vm/9101", "A dinkes-simpus.lab.example.", a Terraform address
    attribute: str  # e.g. "memory_mb", "tags", "address"; "" for the whole resource
    approved: str | None  # the approved value as text; None: nothing was approved
    actual: str | None  # the value that runs as text; None: it is not there
    kind: Kind

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftItem:
        return cls(
            owner=str(data["owner"]),
            source=data["source"],
            resource=str(data["resource"]),
            attribute=str(data["attribute"]),
            approved=None if data["approved"] is None else str(data["approved"]),
            actual=None if data["actual"] is None else str(data["actual"]),
            kind=data["kind"],
        )

    def sentence(self) -> str:
        """One Indonesian sentence for the Laporan Drift and the CLI, on one line: control
        characters of values read from outside (a zone, a VM's description) are escaped."""
        return printable(self._sentence())

    def _sentence(self) -> str:
        what = f"{self.resource}" + (f" ({self.attribute})" if self.attribute else "")
        if self.kind == "missing":
            return f"{SOURCE_LABELS[self.source]}: {what} hilang; disetujui {self.approved}."
        if self.kind == "unmanaged":
            return (
                f"{SOURCE_LABELS[self.source]}: {what} = {self.actual} ada, "
                "tetapi tidak dimiliki permintaan mana pun."
            )
        return (
            f"{SOURCE_LABELS[self.source]}: {what} berbeda: disetujui {self.approved}, "
            f"berjalan {self.actual}."
        )


def printable(text: str) -> str:
    """``text`` with every non-printable character (newline, ESC...) as a ``\\x..`` escape."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def sort_items(items: Iterable[DriftItem]) -> list[DriftItem]:
    """Items in a fixed order (owner, source, resource, attribute), duplicates removed."""
    return sorted(set(items))


# ----------------------------------------------------------------------------- Terraform


@dataclass(frozen=True)
class NoiseRule:
    """An attribute the bpg provider reports as changed on refresh although nothing drifted."""

    resource_type: str
    #: Dotted attribute path with ``*`` for any list index or key (fnmatch), e.g.
    #: ``ipv4_addresses`` or ``disk.*.path_in_datastore``.
    path: str
    reason: str

    def matches(self, resource_type: str, path: str) -> bool:
        return fnmatch.fnmatchcase(resource_type, self.resource_type) and fnmatch.fnmatchcase(
            path, self.path
        )


VM_TYPE = "proxmox_virtual_environment_vm"

#: The bpg/proxmox provider's known noise on ``plan -refresh-only``: each is an attribute that
#: a refresh rewrites with no change by anyone. Tested one by one (tests/unit/test_drift.py);
#: add a rule only with the reason it is not drift.
TERRAFORM_NOISE: tuple[NoiseRule, ...] = (
    NoiseRule(
        VM_TYPE,
        "ipv4_addresses*",
        "read from the guest agent on every refresh (addresses, order, a NIC coming up)",
    ),
    NoiseRule(VM_TYPE, "ipv6_addresses*", "read from the guest agent on every refresh"),
    NoiseRule(VM_TYPE, "mac_addresses*", "read from the guest agent on every refresh"),
    NoiseRule(VM_TYPE, "network_interface_names*", "read from the guest agent on every refresh"),
    NoiseRule(
        VM_TYPE,
        "disk.*.path_in_datastore",
        "computed volume name, filled on the first refresh after create or import",
    ),
    NoiseRule(
        VM_TYPE,
        "initialization.*.meta_data_file_id",
        "cloud-init snippet ids, computed and rewritten by refresh (unused by the module)",
    ),
    NoiseRule(
        VM_TYPE,
        "timeout_*",
        "provider-side timeouts, never read from Proxmox (a provider upgrade changes them)",
    ),
    NoiseRule(VM_TYPE, "clone*", "only used at creation; ignore_changes in the module too"),
)


def is_noise(resource_type: str, path: str, rules: Sequence[NoiseRule] = TERRAFORM_NOISE) -> bool:
    """Whether the attribute at ``path`` of a resource of ``resource_type`` is known noise."""
    return any(rule.matches(resource_type, path) for rule in rules)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"cpu.0.cores": 2, "tags": ["a", "b"], ...}``: the leaves of a Terraform value, by
    dotted path; a list of plain values is one leaf."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return (out or {prefix: {}}) if prefix else out
    if isinstance(value, list) and value and not any(isinstance(v, dict | list) for v in value):
        return {prefix: value}  # a list of plain values (tags) is one attribute
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out or ({prefix: []} if prefix else out)
    return {prefix: value}


def _same(a: Any, b: Any) -> bool:
    """Equal, or both unset: the provider reads an unset list or map back as empty
    (``cpu.flags``: null in the state, ``[]`` after a refresh), which is no change."""
    return a == b or (a in (None, [], {}) and b in (None, [], {}))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def terraform_items(
    request_id: str,
    resource_drift: Iterable[Mapping[str, Any]],
    rules: Sequence[NoiseRule] = TERRAFORM_NOISE,
) -> list[DriftItem]:
    """The drift items of ``show -json``'s ``resource_drift`` for one request's state.

    Each entry holds ``address``, ``type`` and ``change`` with ``before`` (the state: what
    Terraform applied, which is what was approved) and ``after`` (what the refresh read).
    A resource deleted outside Terraform (``after`` null) is one ``missing`` item.
    """
    items: list[DriftItem] = []
    for entry in resource_drift:
        address = str(entry.get("address") or "")
        rtype = str(entry.get("type") or "")
        change = entry.get("change") or {}
        before, after = change.get("before"), change.get("after")
        if after is None:
            items.append(DriftItem(request_id, "terraform", address, "", "ada", None, "missing"))
            continue
        old, new = _flatten(before or {}), _flatten(after)
        for path in sorted(set(old) | set(new)):
            if _same(old.get(path), new.get(path)) or is_noise(rtype, path, rules):
                continue
            items.append(
                DriftItem(
                    request_id,
                    "terraform",
                    address,
                    path,
                    _text(old.get(path)),
                    _text(new.get(path)),
                    "changed",
                )
            )
    return sort_items(items)


# ----------------------------------------------------------------------------- what was approved


@dataclass(frozen=True)
class Hosting:
    """A live hosting as approved: the request file's values and step 8's record."""

    request_id: str
    vmid: int
    node: str
    fqdn: str  # with or without the trailing dot
    ip_address: str
    vcpu: int
    memory_mb: int
    tags: frozenset[str]
    protection: bool = False
    #: Where the name should point when not at the VM: a soft-retired hosting's holding host
    #: (docs/expiry.md); empty: the VM's address.
    dns_address: str = ""

    @property
    def name(self) -> str:
        return self.request_id

    @property
    def approved_dns_address(self) -> str:
        return self.dns_address or self.ip_address


def approved_tags(
    request_id: str, opd_code: str, environment: str, template: str
) -> frozenset[str]:
    """The Proxmox tags the module sets (terraform/modules/proxmox_vm/main.tf, lower case)."""
    return frozenset(
        t.lower()
        for t in (
            "sop-pipeline",
            f"sop-req-{request_id}",
            f"sop-opd-{opd_code}",
            f"env-{environment}",
            f"tmpl-{template}",
        )
    )


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


# ----------------------------------------------------------------------------- DNS


@dataclass(frozen=True)
class ZoneRecord:
    """One record of the zone as AXFR gave it: absolute name, type, presentation value."""

    name: str
    rdtype: str
    value: str


#: Types that make a name "in use" in the zone (the apex's SOA/NS and DNSSEC are not hostings).
HOST_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV")


def compare_dns(
    hostings: Iterable[Hosting],
    records: Iterable[ZoneRecord],
    *,
    zone: str,
    known_names: Iterable[str] = (),
    reverse: Iterable[ZoneRecord] | None = None,
) -> list[DriftItem]:
    """The zone against the A records the pipeline made, in both directions; with
    ``reverse`` (the reverse zone's records), the PTR records too.

    - an approved name with no A record: ``missing``;
    - an approved name whose A records are not exactly the approved address: ``changed``;
    - a name in the zone that no hosting owns (other than the apex, the zone's name servers
      and ``known_names``, the department's own names): ``unmanaged``, owner :data:`UNOWNED`;
    - a hosting's address in the reverse zone with no PTR (``missing``) or a PTR to another
      name (``changed``); a PTR at an address no hosting holds, to a name that is not the
      department's own: ``unmanaged``, owner :data:`UNOWNED`.
    """
    apex = _fqdn(zone)
    by_name: dict[str, list[ZoneRecord]] = {}
    for rec in records:
        by_name.setdefault(_fqdn(rec.name), []).append(rec)
    ns_targets = {_fqdn(r.value) for r in by_name.get(apex, []) if r.rdtype == "NS"}
    ignored = {apex, *ns_targets, *(_fqdn(n) for n in known_names)}
    items: list[DriftItem] = []
    owned: set[str] = set()
    hostings_list = list(hostings)
    for h in hostings_list:
        name = _fqdn(h.fqdn)
        owned.add(name)
        found = sorted(r.value for r in by_name.get(name, []) if r.rdtype == "A")
        resource = f"A {name}"
        approved = h.approved_dns_address
        if not found:
            items.append(
                DriftItem(h.request_id, "dns", resource, "address", approved, None, "missing")
            )
        elif found != [approved]:
            items.append(
                DriftItem(
                    h.request_id,
                    "dns",
                    resource,
                    "address",
                    approved,
                    ",".join(found),
                    "changed",
                )
            )
    if reverse is not None:
        items += _compare_ptr(hostings_list, list(reverse), ignored)
    for name, recs in sorted(by_name.items()):
        if name in owned or name in ignored or not name.endswith(apex):
            continue
        for rdtype in HOST_TYPES:
            values = sorted(r.value for r in recs if r.rdtype == rdtype)
            if values:
                items.append(
                    DriftItem(
                        UNOWNED, "dns", f"{rdtype} {name}", "", None, ",".join(values), "unmanaged"
                    )
                )
    return sort_items(items)


def _ptr_name(address: str) -> str:
    return ipaddress.IPv4Address(address).reverse_pointer + "."


def _compare_ptr(
    hostings: Sequence[Hosting], reverse: Sequence[ZoneRecord], ignored: set[str]
) -> list[DriftItem]:
    """PTR records against the hostings' addresses (the reverse zone's SOA/NS are no host:
    only names that hold a PTR count)."""
    ptrs: dict[str, list[str]] = {}
    apexes = set()
    for rec in reverse:
        if rec.rdtype == "PTR":
            ptrs.setdefault(_fqdn(rec.name), []).append(_fqdn(rec.value))
        elif rec.rdtype == "SOA":
            apexes.add(_fqdn(rec.name))
    items: list[DriftItem] = []
    held: set[str] = set()
    for h in hostings:
        try:
            rname = _ptr_name(h.ip_address)
        except ValueError:
            continue
        if not any(rname.endswith("." + apex) for apex in apexes):
            continue  # the address is outside the reverse zone: the pipeline made no PTR
        held.add(rname)
        found = sorted(ptrs.get(rname, []))
        want = _fqdn(h.fqdn)
        resource = f"PTR {rname}"
        if not found:
            items.append(DriftItem(h.request_id, "dns", resource, "name", want, None, "missing"))
        elif found != [want]:
            items.append(
                DriftItem(h.request_id, "dns", resource, "name", want, ",".join(found), "changed")
            )
    for rname, names in sorted(ptrs.items()):
        foreign = sorted(n for n in names if n not in ignored)
        if rname in held or not foreign:
            continue
        items.append(
            DriftItem(UNOWNED, "dns", f"PTR {rname}", "", None, ",".join(foreign), "unmanaged")
        )
    return items


# ----------------------------------------------------------------------------- Proxmox


@dataclass(frozen=True)
class ClusterVm:
    """A VM as ``/cluster/resources`` (and its config, for protection) shows it."""

    vmid: int
    node: str
    name: str
    tags: frozenset[str]
    template: bool
    cores: int | None
    memory_mb: int | None
    protection: bool | None  # None: not read


def request_of_tags(tags: Iterable[str]) -> str | None:
    """The request id a VM's ``sop-req-<id>`` tag names, if any."""
    for tag in sorted(tags):
        if tag.startswith("sop-req-") and len(tag) > len("sop-req-"):
            return tag[len("sop-req-") :]
    return None


def compare_proxmox(
    hostings: Iterable[Hosting],
    vms: Iterable[ClusterVm],
    *,
    in_progress: Iterable[str] = (),
) -> list[DriftItem]:
    """Every VM of the cluster against the hostings.

    - a hosting whose VMID is not on the cluster: ``missing``;
    - a hosting's VM whose tags, protection, vCPU or memory differ: ``changed`` per attribute;
    - a VM (not a template) that no hosting holds: ``unmanaged``, owned by the request its
      ``sop-req-`` tag names when that request is known (``in_progress`` requests, being
      provisioned now, are left out), else :data:`UNOWNED`.
    """
    cluster = {vm.vmid: vm for vm in vms}
    busy = set(in_progress)
    items: list[DriftItem] = []
    held: set[int] = set()
    for h in hostings:
        held.add(h.vmid)
        resource = f"vm/{h.vmid}"
        vm = cluster.get(h.vmid)
        if vm is None or vm.template:
            items.append(DriftItem(h.request_id, "proxmox", resource, "", "ada", None, "missing"))
            continue
        checks: list[tuple[str, str, str | None]] = [
            ("tags", ";".join(sorted(h.tags)), ";".join(sorted(vm.tags))),
            ("node", h.node, vm.node),
            ("name", h.name, vm.name),
        ]
        if vm.cores is not None:
            checks.append(("vcpu", str(h.vcpu), str(vm.cores)))
        if vm.memory_mb is not None:
            checks.append(("memory_mb", str(h.memory_mb), str(vm.memory_mb)))
        if vm.protection is not None:
            checks.append(("protection", _bool(h.protection), _bool(vm.protection)))
        for attribute, approved, actual in checks:
            if approved != actual:
                items.append(
                    DriftItem(
                        h.request_id, "proxmox", resource, attribute, approved, actual, "changed"
                    )
                )
    for vm in sorted(cluster.values(), key=lambda v: v.vmid):
        if vm.template or vm.vmid in held:
            continue
        owner = request_of_tags(vm.tags)
        if owner is not None and owner in busy:
            continue
        items.append(
            DriftItem(
                UNOWNED,
                "proxmox",
                f"vm/{vm.vmid}",
                "",
                None,
                f"{vm.name} di {vm.node}" + (f" (tag sop-req-{owner})" if owner else ""),
                "unmanaged",
            )
        )
    return sort_items(items)


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ----------------------------------------------------------------------------- allocator


@dataclass(frozen=True)
class Lease:
    """What the allocator holds for a request: its VMID and address in a pool."""

    request_id: str
    pool: str
    vmid: int | None
    ipv4: str | None


def leases_of(rows: Iterable[tuple[str, str, str, str]]) -> list[Lease]:
    """The allocator's rows ``(kind, pool, value, request_id)`` grouped per request."""
    grouped: dict[tuple[str, str], dict[str, str]] = {}
    for kind, pool, value, request_id in rows:
        grouped.setdefault((request_id, pool), {})[kind] = value
    return [
        Lease(rid, pool, int(v["vmid"]) if "vmid" in v else None, v.get("ip"))
        for (rid, pool), v in sorted(grouped.items())
    ]


def compare_allocator(
    leases: Iterable[Lease],
    hostings: Iterable[Hosting],
    vms: Iterable[ClusterVm],
    *,
    known_requests: Iterable[str] = (),
    in_progress: Iterable[str] = (),
) -> list[DriftItem]:
    """The leases against Proxmox and the ledger.

    - a lease whose VMID has no VM on the cluster: ``missing`` (the VM is gone, the VMID and
      address stay held); owned by its request when the ledger knows it, else UNOWNED;
    - a hosting's lease that holds another VMID or address than step 8 recorded: ``changed``;
    - a hosting with no lease at all: ``missing`` (its VMID and address could be handed out
      again).

    Requests ``in_progress`` (holding their provisioning lease now) are left out.
    """
    on_cluster = {vm.vmid for vm in vms if not vm.template}
    known = set(known_requests)
    busy = set(in_progress)
    by_request = {h.request_id: h for h in hostings}
    items: list[DriftItem] = []
    leased: set[str] = set()
    for lease in leases:
        leased.add(lease.request_id)
        if lease.request_id in busy:
            continue
        owner = (
            lease.request_id
            if lease.request_id in known or lease.request_id in by_request
            else UNOWNED
        )
        resource = f"lease/{lease.pool}/{lease.request_id}"
        if lease.vmid is not None and lease.vmid not in on_cluster:
            items.append(
                DriftItem(owner, "allocator", resource, "vmid", str(lease.vmid), None, "missing")
            )
        hosting = by_request.get(lease.request_id)
        if hosting is None:
            continue
        for attribute, approved, actual in (
            ("vmid", str(hosting.vmid), None if lease.vmid is None else str(lease.vmid)),
            ("ipv4", hosting.ip_address, lease.ipv4),
        ):
            if actual is not None and approved != actual:
                items.append(
                    DriftItem(owner, "allocator", resource, attribute, approved, actual, "changed")
                )
    for h in by_request.values():
        if h.request_id not in leased and h.request_id not in busy:
            items.append(
                DriftItem(
                    h.request_id,
                    "allocator",
                    f"lease/{h.request_id}",
                    "",
                    f"VMID {h.vmid}, {h.ip_address}",
                    None,
                    "missing",
                )
            )
    return sort_items(items)


# ----------------------------------------------------------------------------- Ansible


@dataclass(frozen=True)
class AnsibleChange:
    """One task of a check-mode run of ``site.yml`` that would change the server.

    ``diffs`` are Ansible's diffs as text (``before``/``after``: the file on the server and the
    file the role writes, or a state as JSON; apt's ``prepared``); ``wanted_state`` and
    ``running_state`` are a service task's (``started`` against ``ActiveState=inactive``).
    """

    task: str
    role: str
    action: str
    diffs: tuple[Mapping[str, str], ...] = ()
    hidden: bool = False  # no_log: the content is not shown
    wanted_state: str = ""
    running_state: str = ""
    message: str = ""  # the module's own words (``msg``), for a change with nothing to show


#: What an item says when a task reports "changed" in check mode with nothing to show: a
#: defect of the role (it must give a diff or report no change), never filtered out.
NO_DIFF = "(tanpa diff: cacat peran, laporkan)"


def _lines_only_in(first: str, second: str) -> str:
    """The lines of ``first`` that ``second`` lacks, in order (one side of a line diff)."""
    out = []
    for line in difflib.ndiff(second.splitlines(), first.splitlines()):
        if line.startswith("+ "):
            out.append(line[2:])
    return "\n".join(out)


def _packages(prepared: str) -> str:
    """The package names of apt's ``prepared`` text (``The following NEW packages ...``)."""
    names: list[str] = []
    taking = False
    for line in prepared.splitlines():
        if re.match(r"^The following .*packages will be", line):
            taking = True
            continue
        if taking and line.startswith("  "):
            names += line.split()
        else:
            taking = False
    return " ".join(names) or " ".join(prepared.split())[:300]


def ansible_items(owner: str, host: str, changes: Iterable[AnsibleChange]) -> list[DriftItem]:
    """The drift items of a check-and-diff run: ``resource`` is ``<host>/<task>``.

    For a file, ``approved`` holds the lines the role writes that the server lacks and
    ``actual`` the lines the server has that the role does not write (the whole state for a
    link or a directory); for a package, the packages the role installs; for a service, the
    state the role wants against the running one.
    """
    items: list[DriftItem] = []
    for change in changes:
        resource = f"{host}/{change.task}"
        if change.hidden:
            items.append(
                DriftItem(
                    owner, "ansible", resource, "", "(disembunyikan: no_log)",
                    "(disembunyikan: no_log)", "changed",
                )
            )  # fmt: skip
            continue
        found = False
        for diff in change.diffs:
            # before_header is the file on the server (after_header, a template's is the
            # controller's temporary copy)
            attribute = diff.get("before_header") or diff.get("after_header") or ""
            if "prepared" in diff:
                items.append(
                    DriftItem(
                        owner, "ansible", resource, "packages",
                        f"terpasang: {_packages(diff['prepared'])}", "tidak terpasang", "changed",
                    )
                )  # fmt: skip
                found = True
                continue
            before, after = diff.get("before"), diff.get("after")
            if before is None and after is None:
                continue
            found = True
            if _is_state(before) or _is_state(after):
                approved, actual = after, before
            else:
                approved = _lines_only_in(after or "", before or "")
                actual = _lines_only_in(before or "", after or "")
            items.append(
                DriftItem(
                    owner, "ansible", resource, str(attribute),
                    approved or "(tidak ada)", actual or "(tidak ada)", "changed",
                )
            )  # fmt: skip
        if not found and change.wanted_state:
            items.append(
                DriftItem(
                    owner, "ansible", resource, "state",
                    change.wanted_state, change.running_state or None, "changed",
                )
            )  # fmt: skip
        elif not found:
            said = f"{NO_DIFF}: {change.message[:300]}" if change.message else NO_DIFF
            items.append(DriftItem(owner, "ansible", resource, "", NO_DIFF, said, "changed"))
    return sort_items(items)


def _is_state(text: str | None) -> bool:
    """A diff side that is a module's state as JSON (``{"path": ..., "state": "link"}``)."""
    return bool(text) and str(text).startswith("{") and str(text).rstrip().endswith("}")


# ----------------------------------------------------------------------------- the run


#: How one check of one run ended: "ok" (read and compared), or "gagal: <why>".
CheckStatus = str


@dataclass(frozen=True)
class DriftReport:
    """One run: the items per owner, and how each check ended (a failed check is no verdict)."""

    items: tuple[DriftItem, ...]
    #: check name ("dns", "proxmox", "allocator", "terraform:<id>", "ansible:<id>") -> status.
    checks: Mapping[str, CheckStatus]
    hostings: tuple[str, ...]

    @property
    def failed(self) -> dict[str, str]:
        return {
            name: s for name, s in self.checks.items() if s != "ok" and not s.startswith("skipped")
        }

    @property
    def drifted(self) -> bool:
        return bool(self.items)

    def for_owner(self, owner: str) -> list[DriftItem]:
        return [i for i in self.items if i.owner == owner]

    def owners(self) -> list[str]:
        return sorted({i.owner for i in self.items})

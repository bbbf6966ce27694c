"""DNS adapter (dnspython): checks and RFC 2136 updates signed with TSIG.

Wraps exactly one library, dnspython, and turns its exceptions and reply codes into the
errors below. dnspython raises only for TSIG and transport errors; every other failure
(REFUSED, NOTAUTH, a failed prerequisite) comes back as a reply code, and some updates come
back NOERROR and change nothing. So every reply code is checked, and every change is
confirmed by a follow-up query to the primary.

Ownership: a name the pipeline publishes carries a TXT record
``"sop-pipeline owner=<owner>"`` next to its A record. Updates carry prerequisites (RFC 2136
section 2.4) so the server itself refuses to touch a name that someone else created or that
changed since it was read:

- create: the name is not in use; add A and the ownership TXT;
- change: the ownership TXT with our value exists; replace the A record;
- PTR: no PTR exists at the reverse name (or exactly ours already does);
- remove: the ownership TXT with our value exists; delete exactly our A, TXT and PTR rdata.

``plan_publish`` reads the current state and decides; ``apply`` sends the updates and
confirms them. ``publish`` is both. A plan applied after someone else changed the name
fails on its prerequisite, never overwrites.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from sop_pipeline.errors import AdapterError

OWNER_PREFIX = "sop-pipeline owner="
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_OWNER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# -- errors ----------------------------------------------------------------------------------


class DnsError(AdapterError):
    """A DNS check or update failed; the subclass says how."""


class DnsTransportError(DnsError):
    """The DNS server did not answer (timeout, connection refused, network unreachable)."""


class TsigKeyUnknown(DnsError):
    """The server does not know the TSIG key name we signed with (BADKEY)."""


class TsigSignatureInvalid(DnsError):
    """The server knows the key name but our signature did not verify: wrong secret (BADSIG)."""


class TsigClockSkew(DnsError):
    """Our clock and the server's differ by more than the TSIG fudge (BADTIME)."""


class UpdateRefused(DnsError):
    """The server refused the update: outside its update-policy or not allowed (REFUSED)."""


class ZoneNotServed(DnsError):
    """The server is not authoritative for the zone (NOTAUTH/NOTZONE, or a refused query)."""


class PrerequisiteFailed(DnsError):
    """The update's prerequisite did not hold: the name changed since it was read."""


class NameOwnedByOther(DnsError):
    """The name (or its reverse name) holds records that this owner did not create."""


class UpdateNotApplied(DnsError):
    """The server answered NOERROR, but a follow-up query does not show the change."""


class DnsServerError(DnsError):
    """The server answered with another error code (SERVFAIL, FORMERR, NOTIMP...)."""


class InvalidDnsInput(DnsError):
    """A label, address or owner given to the adapter is not acceptable."""


_PREREQ_RCODES = {dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.NXRRSET}


# -- settings and plans ----------------------------------------------------------------------


@dataclass(frozen=True)
class DnsSettings:
    """Where the primary is, which zones it serves, and the TSIG key to sign updates with."""

    server: str
    zone: str
    key_secret: str = field(repr=False)
    key_name: str = "sop-pipeline"
    key_algorithm: str = "hmac-sha256"
    reverse_zone: str | None = None
    port: int = 53
    ttl: int = 300
    timeout: float = 5.0


@dataclass(frozen=True)
class PublishPlan:
    """What ``apply`` will do for one name: decided from the state read by ``plan_publish``."""

    label: str
    fqdn: str
    address: str
    owner: str
    forward: Literal["create", "replace", "none"]
    reverse: Literal["create", "none", "skip"]
    #: Addresses the name pointed to before a replace: their PTR to this name is removed.
    stale_addresses: tuple[str, ...] = ()


# -- the adapter -----------------------------------------------------------------------------


class DnsAdapter:
    """Reads and changes the department's zone on its primary server."""

    def __init__(self, settings: DnsSettings) -> None:
        self.settings = settings
        self._zone = dns.name.from_text(settings.zone)
        self._key = dns.tsig.Key(
            dns.name.from_text(settings.key_name), settings.key_secret, settings.key_algorithm
        )

    # -- names and inputs

    def fqdn(self, label: str) -> str:
        """``<label>.<zone>`` with a trailing dot, for a valid one-label host name."""
        if not isinstance(label, str) or not _LABEL.match(label):
            raise InvalidDnsInput(
                f"label {label!r} is not one lowercase LDH label (a-z, 0-9, '-', 1-63 chars)"
            )
        return dns.name.Name((label, *self._zone.labels)).to_text()

    @staticmethod
    def _address(ip: str) -> str:
        try:
            return str(ipaddress.IPv4Address(ip))
        except ValueError as exc:
            raise InvalidDnsInput(f"{ip!r} is not an IPv4 address") from exc

    @staticmethod
    def _owner_text(owner: str) -> str:
        if not isinstance(owner, str) or not _OWNER.match(owner):
            raise InvalidDnsInput(f"owner {owner!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
        return OWNER_PREFIX + owner

    def _reverse(self, ip: str) -> str | None:
        zone = self.settings.reverse_zone
        if zone is None:
            return None
        ptr = ipaddress.IPv4Address(ip).reverse_pointer + "."
        return ptr if dns.name.from_text(ptr).is_subdomain(dns.name.from_text(zone)) else None

    # -- queries

    def _query(self, name: str, rdtype: str) -> tuple[int, list[str]]:
        """Ask the primary; return (rcode, texts of the rdata of exactly that type at name)."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        try:
            reply, _ = dns.query.udp_with_fallback(
                query, self.settings.server, timeout=self.settings.timeout, port=self.settings.port
            )
        except (dns.exception.Timeout, OSError) as exc:
            raise DnsTransportError(f"no answer from {self._where()} for {name}: {exc}") from exc
        except dns.exception.DNSException as exc:
            raise DnsServerError(f"bad answer from {self._where()} for {name}: {exc}") from exc
        rcode = reply.rcode()
        if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH) or (
            rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) and not reply.flags & dns.flags.AA
        ):
            raise ZoneNotServed(f"{self._where()} is not authoritative for {name}")
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DnsServerError(
                f"{self._where()} answered {dns.rcode.to_text(rcode)} for {name} {rdtype}"
            )
        wanted = dns.name.from_text(name)
        found: list[str] = []
        for rrset in reply.answer:
            if rrset.name == wanted and rrset.rdtype == dns.rdatatype.from_text(rdtype):
                found.extend(_rdata_text(rd) for rd in rrset)
        return rcode, sorted(found)

    def _name_in_use(self, name: str) -> bool:
        rcode, _ = self._query(name, "TXT")
        if rcode == dns.rcode.NXDOMAIN:
            return False
        for rdtype in ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR"):
            if self._query(name, rdtype)[1]:
                return True
        return False

    def name_is_free(self, label: str) -> bool:
        """Whether ``<label>.<zone>`` holds no records (NXDOMAIN or an empty node)."""
        return not self._name_in_use(self.fqdn(label))

    def addresses_of(self, label: str) -> list[str]:
        """The A records the primary answers for ``<label>.<zone>`` (sorted; [] if none)."""
        return self._query(self.fqdn(label), "A")[1]

    def resolves_to(self, label: str, ip: str) -> bool:
        """Whether the primary answers exactly ``ip`` for ``<label>.<zone>`` A."""
        return self._query(self.fqdn(label), "A")[1] == [self._address(ip)]

    def owner_of(self, label: str) -> str | None:
        """The owner in the name's ownership TXT record, or None when it has none."""
        for text in self._query(self.fqdn(label), "TXT")[1]:
            if text.startswith(OWNER_PREFIX):
                return text[len(OWNER_PREFIX) :]
        return None

    # -- the whole zone

    def zone_records(self) -> list[tuple[str, str, str]]:
        """Every record of the zone by AXFR signed with the TSIG key: (absolute name, type,
        value), sorted. Any failure (refused, not signed, no answer) is a :class:`DnsError`:
        a zone that cannot be read is never an empty zone."""
        return self._transfer(self.settings.zone)

    def reverse_records(self) -> list[tuple[str, str, str]] | None:
        """The reverse zone's records by AXFR, as :meth:`zone_records`; None when no reverse
        zone is configured (the pipeline then makes no PTR records)."""
        if self.settings.reverse_zone is None:
            return None
        return self._transfer(self.settings.reverse_zone)

    def _transfer(self, zone_name: str) -> list[tuple[str, str, str]]:
        where = self._where()
        import dns.xfr
        import dns.zone

        try:
            zone = dns.zone.Zone(dns.name.from_text(zone_name), relativize=False)
            query, _ = dns.xfr.make_query(zone, keyring=self._key)
            dns.query.inbound_xfr(
                self.settings.server,
                zone,
                query=query,
                port=self.settings.port,
                timeout=self.settings.timeout,
                lifetime=self.settings.timeout * 6,
            )
        except dns.tsig.PeerBadKey as exc:
            raise TsigKeyUnknown(f"{where} does not know TSIG key for the zone transfer") from exc
        except (dns.tsig.PeerError, dns.tsig.BadSignature) as exc:
            raise TsigSignatureInvalid(f"{where} rejected the zone transfer's TSIG: {exc}") from exc
        except dns.xfr.TransferError as exc:
            raise ZoneNotServed(f"{where} refused the zone transfer of {zone_name}: {exc}") from exc
        except (dns.exception.Timeout, OSError, EOFError) as exc:
            raise DnsTransportError(f"no answer from {where} (AXFR): {exc}") from exc
        except dns.exception.DNSException as exc:
            raise DnsServerError(f"bad zone transfer from {where}: {exc}") from exc
        out = []
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                for rdata in rdataset:
                    # Presentation text (TXT quoted, control bytes as \\ddd): a foreign
                    # record's value reaches reports and terminals only escaped.
                    out.append(
                        (name.to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdata.to_text())
                    )
        if not out:
            raise DnsServerError(f"{where} sent an empty zone {zone_name}")
        return sorted(out)

    # -- publish

    def plan_publish(self, label: str, ip: str, owner: str) -> PublishPlan:
        """Read the current records and decide the updates; refuse another owner's name."""
        fqdn = self.fqdn(label)
        address = self._address(ip)
        ours = self._owner_text(owner)
        texts = self._query(fqdn, "TXT")[1]
        addresses = self._query(fqdn, "A")[1]
        forward: Literal["create", "replace", "none"]
        if ours in texts:
            forward = "none" if addresses == [address] else "replace"
        elif self._name_in_use(fqdn):
            holder = next((t for t in texts if t.startswith(OWNER_PREFIX)), None)
            raise NameOwnedByOther(
                f"{fqdn} already exists and is not owned by {owner}"
                + (f" ({holder})" if holder else " (no ownership record)")
            )
        else:
            forward = "create"
        reverse: Literal["create", "none", "skip"] = "skip"
        rname = self._reverse(address)
        if rname is not None:
            ptrs = self._query(rname, "PTR")[1]
            if ptrs == [fqdn]:
                reverse = "none"
            elif ptrs:
                raise NameOwnedByOther(f"{rname} already points to {', '.join(ptrs)}")
            else:
                reverse = "create"
        stale = tuple(a for a in addresses if a != address) if forward == "replace" else ()
        return PublishPlan(label, fqdn, address, owner, forward, reverse, stale)

    def apply(self, plan: PublishPlan) -> None:
        """Send the plan's updates, check each reply code, and confirm each by a query."""
        ours = self._owner_text(plan.owner)
        ttl = self.settings.ttl
        if plan.forward != "none":
            update = self._update(self.settings.zone)
            if plan.forward == "create":
                update.absent(plan.fqdn)
                update.add(plan.fqdn, ttl, _txt(ours))
            else:
                update.present(plan.fqdn, _txt(ours))
                update.delete(plan.fqdn, "A")
            update.add(plan.fqdn, ttl, "A", plan.address)
            self._send(update, f"publish {plan.fqdn} A {plan.address}")
        texts = self._query(plan.fqdn, "TXT")[1]
        addresses = self._query(plan.fqdn, "A")[1]
        if ours not in texts or addresses != [plan.address]:
            raise UpdateNotApplied(
                f"{self._where()} accepted the update of {plan.fqdn}, but it now answers "
                f"A {addresses or 'nothing'}; expected {plan.address} owned by {plan.owner}"
            )
        for old in plan.stale_addresses:
            self._remove_ptr(plan.fqdn, old)
        if plan.reverse == "skip":
            return
        rname = self._reverse(plan.address)
        assert rname is not None and self.settings.reverse_zone is not None  # noqa: S101 - plan
        if plan.reverse == "create":
            update = self._update(self.settings.reverse_zone)
            update.absent(rname, "PTR")
            update.add(rname, ttl, "PTR", plan.fqdn)
            self._send(update, f"publish {rname} PTR {plan.fqdn}")
        ptrs = self._query(rname, "PTR")[1]
        if ptrs != [plan.fqdn]:
            raise UpdateNotApplied(
                f"{self._where()} accepted the update of {rname}, but it now answers "
                f"PTR {ptrs or 'nothing'}; expected {plan.fqdn}"
            )

    def publish(self, label: str, ip: str, owner: str) -> PublishPlan:
        """Make ``<label>.<zone>`` point to ``ip`` (A and PTR), owned by ``owner``; confirmed."""
        plan = self.plan_publish(label, ip, owner)
        self.apply(plan)
        return plan

    # -- remove

    def remove(self, label: str, ip: str, owner: str) -> None:
        """Delete exactly the A, TXT and PTR records ``owner`` published for ``label``; confirmed.

        A name that is already gone is fine; a name owned by someone else is refused.
        """
        fqdn = self.fqdn(label)
        address = self._address(ip)
        ours = self._owner_text(owner)
        texts = self._query(fqdn, "TXT")[1]
        if ours in texts:
            update = self._update(self.settings.zone)
            update.present(fqdn, _txt(ours))
            update.delete(fqdn, "A", address)
            update.delete(fqdn, _txt(ours))
            self._send(update, f"remove {fqdn}")
            if ours in self._query(fqdn, "TXT")[1] or address in self._query(fqdn, "A")[1]:
                raise UpdateNotApplied(
                    f"{self._where()} accepted the removal of {fqdn}, "
                    "but the records are still there"
                )
        elif any(t.startswith(OWNER_PREFIX) for t in texts):
            raise NameOwnedByOther(f"{fqdn} is owned by someone else; not removing it")
        self._remove_ptr(fqdn, address)

    def _remove_ptr(self, fqdn: str, address: str) -> None:
        """Delete the PTR of ``address`` if (and only if) it points to ``fqdn``; confirmed."""
        rname = self._reverse(address)
        if rname is None or self.settings.reverse_zone is None:
            return
        if fqdn in self._query(rname, "PTR")[1]:
            update = self._update(self.settings.reverse_zone)
            update.present(rname, "PTR", fqdn)
            update.delete(rname, "PTR", fqdn)
            self._send(update, f"remove {rname} PTR {fqdn}")
            if fqdn in self._query(rname, "PTR")[1]:
                raise UpdateNotApplied(
                    f"{self._where()} accepted the removal of {rname}, "
                    "but the PTR record is still there"
                )

    # -- sending

    def _update(self, zone: str) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(zone, keyring=self._key)

    def _where(self) -> str:
        return f"DNS server {self.settings.server}:{self.settings.port}"

    def _send(self, update: dns.update.UpdateMessage, what: str) -> None:
        """Send a signed update over TCP and turn every non-NOERROR outcome into an error."""
        where = self._where()
        key = self.settings.key_name
        try:
            reply = dns.query.tcp(
                update, self.settings.server, timeout=self.settings.timeout, port=self.settings.port
            )
        except dns.tsig.PeerBadKey as exc:
            raise TsigKeyUnknown(f"{where} does not know TSIG key {key!r} ({what})") from exc
        except dns.tsig.PeerBadSignature as exc:
            raise TsigSignatureInvalid(
                f"{where} rejected the signature of key {key!r}: wrong secret ({what})"
            ) from exc
        except dns.tsig.PeerBadTime as exc:
            raise TsigClockSkew(
                f"{where} rejected the signature time: the clocks differ by more than the fudge "
                f"({what}); check NTP on this machine and on the server"
            ) from exc
        except dns.tsig.PeerError as exc:
            raise TsigSignatureInvalid(f"{where} rejected the TSIG signature: {exc}") from exc
        except dns.tsig.BadSignature as exc:
            raise TsigSignatureInvalid(
                f"the reply from {where} is not signed with our key"
            ) from exc
        except (dns.exception.Timeout, OSError) as exc:
            raise DnsTransportError(f"no answer from {where} ({what}): {exc}") from exc
        except dns.exception.DNSException as exc:
            raise DnsServerError(f"bad reply from {where} ({what}): {exc}") from exc
        rcode = reply.rcode()
        name = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NOERROR:
            if not reply.had_tsig:
                raise TsigSignatureInvalid(
                    f"the NOERROR reply from {where} was not signed ({what})"
                )
            return
        if rcode == dns.rcode.REFUSED:
            raise UpdateRefused(f"{where} refused {what} (REFUSED): outside its update-policy")
        if rcode in (dns.rcode.NOTAUTH, dns.rcode.NOTZONE):
            raise ZoneNotServed(f"{where} is not authoritative for the zone ({name}, {what})")
        if rcode in _PREREQ_RCODES:
            raise PrerequisiteFailed(
                f"{where} did not apply {what}: prerequisite failed ({name}); the name changed "
                "since it was read"
            )
        raise DnsServerError(f"{where} answered {name} to {what}")


def _txt(text: str) -> dns.rdtypes.ANY.TXT.TXT:
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [text.encode()])


def _rdata_text(rdata: object) -> str:
    """TXT rdata as its joined strings, other types as their presentation text."""
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        return b"".join(rdata.strings).decode(errors="replace")
    return str(rdata)

"""The typed Request the loader builds: every field from its own place in the file, typed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import get_args

import pytest

from sop_pipeline.domain import request as model
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import (
    Application,
    Letter,
    Opd,
    Period,
    Pic,
    Request,
    Resources,
)
from sop_pipeline.loader import (
    RequestInvalid,
    load_request,
    parse_yaml,
    read_request_model,
    request_schema,
)
from tests.conftest import REPO

# Every value distinct from every other, so a field read from the wrong place cannot pass.
DISTINCT = """\
schema_version: 1
opd:
  code: DISDIK
  name: Dinas Pendidikan Provinsi Sumatera Barat
pic:
  name: Hendra Gunawan, S.Kom
  nip: "198807212015031002"
  email: hendra.gunawan@disdik.sumbarprov.go.id
  phone: "+6285263118870"
letter:
  number: 421/877/Disdik-2026
  date: "2026-10-05"
  file: uji-model/surat-permintaan.pdf
  sha256: "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
application:
  name: Info Sekolah
  purpose: |
    Profil sekolah
      dan   jadwal penerimaan.
  kind: website
  stack: python
hostname: infosekolah
resources:
  vcpu: 3
  memory_mb: 1280
  disk_gb: 35
  template: debian-12-cloudinit
environment: staging
period:
  start: "2026-12-03"
  end: "2027-06-30"
data_classification: rahasia
exposure: internal
"""


def _write(tmp_path: Path, text: str, request_id: str = "uji-model") -> Path:
    path = tmp_path / f"{request_id}.yaml"
    path.write_bytes(text.encode())
    return path


def test_every_field_comes_from_its_own_place(tmp_path: Path, policy: Policy) -> None:
    path = _write(tmp_path, DISTINCT)
    loaded = load_request(path, policy=policy, check_attachments=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.request == Request(
        request_id="uji-model",
        digest=digest,
        zone="sumbarprov.go.id",
        schema_version=1,
        opd=Opd(code="DISDIK", name="Dinas Pendidikan Provinsi Sumatera Barat"),
        pic=Pic(
            name="Hendra Gunawan, S.Kom",
            nip="198807212015031002",
            email="hendra.gunawan@disdik.sumbarprov.go.id",
            phone="+6285263118870",
        ),
        letter=Letter(
            number="421/877/Disdik-2026",
            date=date(2026, 10, 5),
            file="uji-model/surat-permintaan.pdf",
            sha256="abcdef0123456789" * 4,  # written upper case, kept lower case
        ),
        application=Application(
            name="Info Sekolah",
            purpose="Profil sekolah dan jadwal penerimaan.",  # the block's breaks folded
            kind="website",
            stack="python",
        ),
        hostname="infosekolah",
        resources=Resources(vcpu=3, memory_mb=1280, disk_gb=35, template="debian-12-cloudinit"),
        environment="staging",
        period=Period(start=date(2026, 12, 3), end=date(2027, 6, 30)),
        data_classification="rahasia",
        exposure="internal",
    )
    assert loaded.request.fqdn == "infosekolah.sumbarprov.go.id"
    assert loaded.requester == ("hendra.gunawan@disdik.sumbarprov.go.id", "198807212015031002")
    assert loaded.attachments == {"uji-model/surat-permintaan.pdf": "abcdef0123456789" * 4}
    # The signed identity stays the file's bytes, not the model.
    assert loaded.digest == digest and loaded.raw == path.read_bytes()
    assert loaded.request_id == "uji-model"


def test_dates_are_dates_and_sizes_are_ints(tmp_path: Path, policy: Policy) -> None:
    request = load_request(_write(tmp_path, DISTINCT), policy=policy, check_attachments=False)
    r = request.request
    for value in (r.letter.date, r.period.start, r.period.end):
        assert type(value) is date
    for number in (r.schema_version, r.resources.vcpu, r.resources.memory_mb):
        assert type(number) is int
    assert type(r.resources.disk_gb) is int


def test_the_model_is_frozen(tmp_path: Path, policy: Policy) -> None:
    r = load_request(_write(tmp_path, DISTINCT), policy=policy, check_attachments=False).request
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.hostname = "lain"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.resources.vcpu = 8  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted((REPO / "requests").glob("*.yaml")), ids=lambda p: p.stem)
def test_as_data_gives_back_the_file(path: Path, policy: Policy) -> None:
    """What the playbooks receive as sop_request is the file's own data (the examples' purposes
    are one line and their sha256 lower case, so nothing is folded)."""
    doc, problems = parse_yaml(path.read_text())
    assert doc is not None and not problems
    # A file without ``kind`` is a new hosting: the playbooks are told so.
    assert load_request(path, policy=policy).request.as_data() == {"kind": "baru", **doc.data}


def test_choices_are_the_schemas_enums() -> None:
    """The Literal types follow the schema, the source of truth for what is accepted."""
    props = request_schema()["properties"]
    app = props["application"]["properties"]
    pairs = {
        model.Kind: app["kind"]["enum"],
        model.Stack: app["stack"]["enum"],
        model.Environment: props["environment"]["enum"],
        model.Classification: props["data_classification"]["enum"],
        model.Exposure: props["exposure"]["enum"],
        model.DatabaseEngine: props["database"]["properties"]["engine"]["enum"],
        model.RequestKind: props["kind"]["enum"],
    }
    for literal, enum in pairs.items():
        assert list(get_args(literal)) == enum


def test_every_schema_field_has_a_place_in_the_model() -> None:
    props = request_schema()["properties"]
    fields = {f.name: f for f in dataclasses.fields(Request)}
    assert set(props) <= set(fields)
    parts = {
        "opd": Opd,
        "pic": Pic,
        "letter": Letter,
        "application": Application,
        "resources": Resources,
        "period": Period,
    }
    for name, part in parts.items():
        assert set(props[name]["properties"]) == {f.name for f in dataclasses.fields(part)}, name


@pytest.mark.parametrize("kind", ["baru", "ubah", "perpanjang", "pensiun"])
def test_kind_is_read_and_a_missing_kind_is_baru(tmp_path: Path, policy: Policy, kind: str) -> None:
    assert "kind:" not in DISTINCT.replace("kind: website", "")
    plain = load_request(_write(tmp_path, DISTINCT), policy=policy, check_attachments=False)
    assert plain.request.kind == "baru"
    path = _write(tmp_path, f"kind: {kind}\n" + DISTINCT, "jenis")
    assert read_request_model(path, zone=policy.zone) is not None
    loaded = read_request_model(path, zone=policy.zone)
    assert loaded is not None and loaded.kind == kind and loaded.as_data()["kind"] == kind


def test_an_unknown_kind_is_refused_by_the_schema(tmp_path: Path, policy: Policy) -> None:
    path = _write(tmp_path, "kind: hapus\n" + DISTINCT, "jenis")
    with pytest.raises(RequestInvalid) as refused:
        load_request(path, policy=policy, check_attachments=False)
    assert [(p.field, p.rule) for p in refused.value.problems] == [("kind", "enum")]


def test_an_impossible_date_builds_no_model(tmp_path: Path, policy: Policy) -> None:
    path = _write(tmp_path, DISTINCT.replace('end: "2027-06-30"', 'end: "2027-02-29"'))
    with pytest.raises(RequestInvalid) as refused:
        load_request(path, policy=policy, check_attachments=False)
    assert [(p.field, p.rule, p.line) for p in refused.value.problems] == [
        ("period.end", "date", 31)
    ]
    assert read_request_model(path, zone=policy.zone) is None


def test_policy_rules_read_the_model(tmp_path: Path, policy: Policy) -> None:
    """A rule reading a wrong field would miss these: each value breaks exactly one rule."""
    text = (
        DISTINCT.replace("vcpu: 3", "vcpu: 9")
        .replace("memory_mb: 1280", "memory_mb: 1300")
        .replace('start: "2026-12-03"', 'start: "2027-07-01"')
        .replace("file: uji-model/", "file: lain/")
    )
    with pytest.raises(RequestInvalid) as refused:
        load_request(_write(tmp_path, text), policy=policy, check_attachments=False)
    found = {(p.field, p.rule) for p in refused.value.problems}
    assert found == {
        ("resources.vcpu", "size-range"),
        ("resources.memory_mb", "size-multiple"),
        ("period.end", "period-order"),
        ("letter.file", "attachment-folder"),
    }


def test_a_past_request_outside_todays_policy_still_has_its_model(
    tmp_path: Path, policy: Policy
) -> None:
    """The Laporan Kegiatan names old requests: schema and calendar decide, not the policy."""
    path = _write(tmp_path, DISTINCT.replace("template: debian-12-cloudinit", "template: lama-1"))
    with pytest.raises(RequestInvalid):
        load_request(path, policy=policy, check_attachments=False)
    past = read_request_model(path, zone=policy.zone)
    assert past is not None and past.resources.template == "lama-1"
    assert past.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    not_schema = _write(tmp_path, DISTINCT.replace("vcpu: 3", 'vcpu: "3"'), "rusak")
    assert read_request_model(not_schema, zone=policy.zone) is None


def test_as_data_is_json_for_the_playbooks(tmp_path: Path, policy: Policy) -> None:
    r = load_request(_write(tmp_path, DISTINCT), policy=policy, check_attachments=False).request
    data = json.loads(json.dumps(r.as_data()))
    assert data["letter"]["date"] == "2026-10-05"
    assert data["period"] == {"start": "2026-12-03", "end": "2027-06-30"}
    assert data["application"]["stack"] == "python" and data["hostname"] == "infosekolah"
    assert "digest" not in data and "zone" not in data and "request_id" not in data


def test_placement_reads_the_demand_from_the_request(tmp_path: Path, policy: Policy) -> None:
    from sop_pipeline.domain.placement import Demand, demand_of

    loaded = load_request(_write(tmp_path, DISTINCT), policy=policy, check_attachments=False)
    assert demand_of(loaded.request) == Demand("uji-model", "DISDIK", 3, 1280, 35)

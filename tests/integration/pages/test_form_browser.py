"""The request form in a real headless chromium: filled with mistakes the page must catch
(in Indonesian, and no download), then right, with a real PDF whose sha256 the browser
computes; the downloaded YAML passes ``sop validate`` unchanged. A live hosting's change page
opens prefilled from its request file (hostile strings included) and round-trips it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sop_pipeline.config import load_policy
from sop_pipeline.demo.officials import T0, Lab, Official, RequestFlow
from sop_pipeline.domain.sop import PROVISION_STEP
from sop_pipeline.ledger.tracking import STEP_KIND
from sop_pipeline.loader import load_request, load_yaml_file
from sop_pipeline.signing.record import consume_approvals
from tests.support.browser import Browser, browser, require_browser_tools, serve
from tests.support.sitelab import sop, with_inventories

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
NEW = "disdik-antrian"
LIVE = "dinkes-kutip"
HOSTILE_NAME = 'SIM "Kutip" </script><b>x</b> {{ 7*7 }}'
HOSTILE_PURPOSE = (
    "Baris satu: yes, no, on, off, 0777, 2026-01-02 \\ akhir\nBaris dua # bukan komentar"
)


def minimal_pdf(text: str) -> bytes:
    """A small valid PDF (one page, one line of text), offsets computed."""
    stream = f"BT /F1 12 Tf 72 760 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


LIVE_YAML = f"""\
schema_version: 1
opd:
  code: "DINKES"
  name: "Dinas Kesehatan Provinsi Sumatera Barat"
pic:
  name: "dr. Rina \\"Ina\\" Marlina, M.Kes"
  nip: "018203152009012003"
  email: "rina.marlina@dinkes.sumbarprov.go.id"
  phone: "081266104532"
letter:
  number: "440/1123/Dinkes-2026"
  date: "2026-11-02"
  file: "{LIVE}/surat-permintaan.pdf"
  sha256: "{{sha}}"
application:
  name: "SIM \\"Kutip\\" </script><b>x</b> {{{{ 7*7 }}}}"
  purpose: "Baris satu: yes, no, on, off, 0777, 2026-01-02 \\\\ akhir\\nBaris dua # bukan komentar"
  kind: "application"
  stack: "php"
hostname: "kutip"
resources:
  vcpu: 2
  memory_mb: 2048
  disk_gb: 20
  template: "debian-12-cloudinit"
environment: "production"
period:
  start: "2026-12-01"
  end: "2027-11-30"
data_classification: "internal"
exposure: "public"
"""


class Form:
    def __init__(self, lab: Lab, out: Path, port: int, chrome: Browser, shots: Path) -> None:
        self.lab, self.out, self.port, self.chrome, self.shots = lab, out, port, chrome, shots

    def build(self) -> None:
        done = sop(
            self.lab.repo,
            "site",
            "build",
            str(self.out),
            "--verifier",
            "native",
            "--gitlab-url",
            "https://gitlab.example/dkis/hosting",
        )
        assert done.returncode == 0, done.stderr

    def open(self, page: str) -> None:
        assert self.chrome("goto", url=f"http://localhost:{self.port}/{page}")["status"] == 200
        self.chrome("wait_ready")

    def shot(self, name: str) -> None:
        self.chrome("screenshot", file=str(self.shots / f"{name}.png"))

    def fill(self, values: dict[str, str]) -> None:
        for selector, value in values.items():
            if selector.startswith("select:"):
                self.chrome("select", selector=selector[7:], value=value)
            else:
                self.chrome("fill", selector=selector, value=value)

    def make(self) -> dict[str, Any]:
        self.chrome("click", selector="#make-yaml")
        return {
            "errors": self.chrome("text", selector="#form-errors")["text"],
            "message": self.chrome("text", selector="#form-message")["text"],
            "download": self.chrome("state", selector="#download-yaml"),
        }

    def validate(self, request_id: str) -> subprocess.CompletedProcess[str]:
        return sop(self.lab.repo, "validate", f"requests/{request_id}.yaml")


@pytest.fixture
def form(
    tmp_path: Path, officials: dict[str, Official], request: pytest.FixtureRequest
) -> Iterator[Form]:
    require_browser_tools()
    lab = Lab(tmp_path / "lab", officials)
    with_inventories(lab)
    lab.write_request("dinkes-simpus")
    lab.commit("requests")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    out = tmp_path / "site"
    out.mkdir()
    try:
        with (
            serve(out) as port,
            browser(tmp_path / "browser") as chrome,
        ):
            f = Form(lab, out, port, chrome, shots)
            f.build()
            yield f
    finally:
        artifacts = os.environ.get("TEST_ARTIFACTS")
        if artifacts:
            target = Path(artifacts) / "site-screenshots" / request.node.name
            target.mkdir(parents=True, exist_ok=True)
            for png in shots.glob("*.png"):
                shutil.copyfile(png, target / png.name)


def built(lab: Lab, rid: str) -> None:
    """Steps 1-7 signed and recorded, then step 8's record with the applied facts (what
    pipeline.step_8_provision writes): the hosting is live."""
    flow = RequestFlow(lab, rid, records=lab.repo / "records")
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0 + timedelta(minutes=1))
    flow.sign(3, "kabid", T0 + timedelta(minutes=2))
    flow.sign(4, "koordinator", T0 + timedelta(minutes=3), decision="complete")
    flow.record(T0 + timedelta(minutes=4))
    flow.pipeline_step(5, T0 + timedelta(minutes=5))
    flow.sign(
        6, "teknis1", T0 + timedelta(days=1), evidence=flow.analyse(T0 + timedelta(minutes=9))
    )
    flow.record(T0 + timedelta(days=1, minutes=1))
    flow.sign(7, "kabid", T0 + timedelta(days=1, minutes=5))
    flow.record(T0 + timedelta(days=1, minutes=6))
    gate = flow.gate(8, T0 + timedelta(days=1, minutes=7))
    consume_approvals(
        flow.consumed_ledger,
        request_id=rid,
        statements=gate.statements,
        at=T0 + timedelta(days=1, minutes=8),
    )
    loaded = load_request(lab.request_file(rid), policy=load_policy(REPO / "inventories"))
    flow.ledger.append(
        kind=STEP_KIND,
        step=PROVISION_STEP,
        actor="pipeline",
        at=T0 + timedelta(days=1, minutes=40),
        inputs={"request": loaded.digest},
        data={"outcome": "done", "applied": loaded.request.as_data()},
    )


def ssh_key(tmp: Path) -> str:
    key = tmp / "deployer"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "budi@laptop", "-f", str(key)],
        check=True,
        timeout=60,
    )
    return key.with_suffix(".pub").read_text().strip()


NEW_VALUES = {
    "#f-opd-code": "DISDIK",
    "#f-opd-name": "Dinas Pendidikan Provinsi Sumatera Barat",
    "#f-pic-name": 'Budi "Bud" Santoso, S.Kom',
    "#f-pic-nip": "19820315200901200",  # 17 digits: the mistake
    "#f-pic-email": "budi@disdukcapil.sumbarprov.go.id",
    "#f-pic-phone": "081234567890",
    "#f-letter-number": "0777/12/Disdukcapil-2026",
    "#f-letter-date": "2026-11-20",
    "#f-application-name": "",  # missing: the second mistake
    "#f-application-purpose": HOSTILE_PURPOSE,
    "select:#f-application-kind": "application",
    "select:#f-application-stack": "python",
    "#f-hostname": "antrian",
    "#f-resources-vcpu": "2",
    "#f-resources-memory_mb": "2048",
    "#f-resources-disk_gb": "20",
    "#f-resources-template": "debian-12-cloudinit",
    "select:#f-environment": "production",
    "#f-period-start": "2026-12-01",
    "#f-period-end": "2027-11-30",
    "select:#f-data_classification": "internal",
    "select:#f-exposure": "public",
}


def test_new_request_mistakes_caught_then_yaml_passes_sop_validate(
    form: Form, tmp_path: Path
) -> None:
    form.open("formulir.html")
    form.shot("form-empty")
    form.chrome("fill", selector="#request-id", value=NEW)
    form.fill(NEW_VALUES)
    pdf = tmp_path / "surat-permintaan.pdf"
    pdf.write_bytes(minimal_pdf("Surat permintaan hosting Disdukcapil"))
    form.chrome("set_files", selector="#letter-pdf", file=str(pdf))
    sha = form.chrome("wait_value", selector="#f-letter-sha256")["value"]
    assert sha == hashlib.sha256(pdf.read_bytes()).hexdigest()
    # the file path followed the id
    assert (
        dict(form.chrome("values", selector="#f-letter-file")["values"])["letter.file"]
        == f"{NEW}/surat-permintaan.pdf"
    )

    caught = form.make()
    form.shot("form-mistakes")
    assert "NIP PIC: bentuknya tidak sesuai. NIP 18 angka" in caught["errors"], caught
    assert "Nama aplikasi atau situs: wajib diisi." in caught["errors"], caught
    assert "berkas belum dibuat" in caught["message"]
    assert caught["download"]["hidden"] and not caught["download"]["href"]
    assert form.chrome("state", selector="#form-result")["hidden"]

    form.fill({"#f-pic-nip": "198203152009012003", "#f-application-name": HOSTILE_NAME})
    form.chrome("click", selector='[data-add="deployers"]')
    key = ssh_key(tmp_path)
    item = '[data-items="deployers"] .item:nth-child(1) '
    form.fill(
        {
            item + '[data-key="name"]': "Budi Santoso",
            item + '[data-key="nip"]': "019901012015011001",
            item + '[data-key="ssh_public_key"]': key,
        }
    )
    form.chrome("check", selector='[data-toggle="database"]')
    form.fill({"select:#f-database-engine": "mariadb", "#f-database-name": "antrian"})
    made = form.make()
    form.shot("form-made")
    assert made["errors"] == "" and "Berkas siap" in made["message"], made
    assert made["download"]["href"].startswith("blob:")
    mr = form.chrome("state", selector="#gitlab-new-mr")["href"]
    assert mr.startswith("https://gitlab.example/dkis/hosting/-/merge_requests/new?")
    assert "merge_request%5Btarget_branch%5D=main" in mr
    new_file = form.chrome("state", selector="#gitlab-new-file")["href"]
    assert new_file.startswith(
        f"https://gitlab.example/dkis/hosting/-/new/main/requests?file_name={NEW}.yaml&content="
    )

    saved = Path(form.chrome("download", selector="#download-yaml", name=f"{NEW}.yaml")["path"])
    raw = saved.read_bytes()
    target = form.lab.request_file(NEW)
    target.write_bytes(raw)
    (target.parent / NEW).mkdir()
    shutil.copyfile(pdf, target.parent / NEW / "surat-permintaan.pdf")
    done = form.validate(NEW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 sah" in done.stdout
    assert target.read_bytes() == raw  # unchanged
    data = load_yaml_file(target).data
    assert data["letter"]["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert data["application"]["name"] == HOSTILE_NAME
    assert data["application"]["purpose"] == HOSTILE_PURPOSE
    assert data["pic"]["name"] == 'Budi "Bud" Santoso, S.Kom'
    assert data["pic"]["phone"] == "081234567890"  # leading zero kept: a string
    assert data["deployers"] == [
        {"name": "Budi Santoso", "nip": "019901012015011001", "ssh_public_key": key}
    ]
    assert data["database"] == {"engine": "mariadb", "name": "antrian"}
    assert data["letter"]["number"] == "0777/12/Disdukcapil-2026"
    text = raw.decode()
    keys = [line.split(":")[0].strip() for line in text.splitlines() if line and line[0] != "#"]
    assert keys[:4] == ["schema_version", "kind", "opd", "code"]  # schema order
    for line in text.splitlines():
        if ": " in line and not line.lstrip().startswith("#"):
            value = line.split(": ", 1)[1]
            assert value.startswith('"') or value.isdigit(), line  # quoted, or an integer


def test_taken_id_and_a_non_pdf_are_refused_in_the_page(form: Form, tmp_path: Path) -> None:
    form.open("formulir.html")
    form.chrome("fill", selector="#request-id", value="dinkes-simpus")
    notpdf = tmp_path / "surat.pdf"
    notpdf.write_bytes(b"GIF89a not a letter")
    form.chrome("set_files", selector="#letter-pdf", file=str(notpdf))
    form.chrome("wait_selector", selector='#letter-pdf[data-checked="1"]')
    refused = form.chrome("text", selector="#form-errors")["text"]
    assert "Surat: berkas ini bukan PDF (tidak diawali %PDF-)" in refused
    form.chrome("fill", selector="#f-opd-name", value="Dinas\u200bKesehatan")  # zero-width space
    form.chrome("fill", selector="#f-resources-vcpu", value="2,5")
    form.chrome("select", selector="#f-environment", value="staging")
    caught = form.make()
    form.shot("form-refused")
    assert "ID permintaan: sudah dipakai" in caught["errors"], caught
    assert "Nama OPD: memuat karakter tersembunyi atau kontrol (U+200B)" in caught["errors"]
    assert "Jumlah vCPU: harus bilangan bulat" in caught["errors"]
    assert "SHA-256 PDF surat: wajib diisi." in caught["errors"], caught
    assert caught["download"]["hidden"]


def test_change_page_prefilled_from_a_live_hosting_round_trips(form: Form, tmp_path: Path) -> None:
    letter = minimal_pdf("Surat permintaan awal")
    folder = form.lab.repo / "requests" / LIVE
    folder.mkdir(parents=True)
    (folder / "surat-permintaan.pdf").write_bytes(letter)
    path = form.lab.request_file(LIVE)
    path.write_text(LIVE_YAML.replace("{sha}", hashlib.sha256(letter).hexdigest()))
    original = load_yaml_file(path).data
    assert original["application"]["name"] == HOSTILE_NAME
    built(form.lab, LIVE)
    assert form.validate(LIVE).returncode == 0
    form.build()
    page = (form.out / "formulir" / "ubah" / f"{LIVE}.html").read_text()
    assert "</script><b>" not in page and "<b>x</b>" not in page
    form.open(f"formulir/ubah/{LIVE}.html")
    shown = dict(form.chrome("values", selector="[data-path]")["values"])
    assert shown["application.name"] == HOSTILE_NAME
    assert shown["application.purpose"] == HOSTILE_PURPOSE
    assert shown["pic.name"] == original["pic"]["name"]
    assert shown["pic.nip"] == "018203152009012003"
    assert shown["kind"] == "ubah"
    assert shown["letter.sha256"] == "" and shown["letter.number"] == ""
    form.shot("form-change-prefilled")

    form.fill(
        {
            "#f-letter-number": "440/2001/Dinkes-2026",
            "#f-letter-date": "2026-11-25",
            "#f-resources-memory_mb": "4096",
        }
    )
    new_letter = tmp_path / "surat-perubahan.pdf"
    new_letter.write_bytes(minimal_pdf("Surat perubahan: memori 4096"))
    form.chrome("set_files", selector="#letter-pdf", file=str(new_letter))
    form.chrome("wait_value", selector="#f-letter-sha256")
    made = form.make()
    form.shot("form-change-made")
    assert made["errors"] == "", made
    saved = Path(form.chrome("download", selector="#download-yaml", name=f"{LIVE}.yaml")["path"])
    path.write_bytes(saved.read_bytes())
    shutil.copyfile(new_letter, folder / "surat-perubahan.pdf")
    done = form.validate(LIVE)
    assert done.returncode == 0, done.stdout + done.stderr
    changed = load_yaml_file(path).data
    expected = {
        **original,
        "kind": "ubah",
        "letter": {
            "number": "440/2001/Dinkes-2026",
            "date": "2026-11-25",
            "file": f"{LIVE}/surat-perubahan.pdf",
            "sha256": hashlib.sha256(new_letter.read_bytes()).hexdigest(),
        },
        "resources": {**original["resources"], "memory_mb": 4096},
    }
    assert changed == expected

"""The site's pages are built from untrusted request values: every value is escaped in the
markup, and the embedded data cannot end its <script> element."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sop_pipeline.site.enrol import enrol_page
from sop_pipeline.site.layout import json_data, render
from sop_pipeline.site.signing import SigningContext, WebAuthnSigner, signing_page, upload_link

HOSTILE = '</script><script>alert(1)</script><img src=x onerror=alert(2)> & "\u2028'


def context(**overrides: object) -> SigningContext:
    fields: dict[str, object] = {
        "request_id": "dinkes-simpus",
        "step": 7,
        "statement": {
            "format": "sop-hosting-statement/v1",
            "request_id": "dinkes-simpus",
            "request_sha256": "a" * 64,
            "attachments": {HOSTILE: "b" * 64},
            "step": 7,
            "role": "kabid",
            "builds_on": {"step-04": "c" * 64, "step-06": "d" * 64},
            "evidence": {},
            "record_head": "e" * 64,
        },
        "file_name": "step-07-kabid.json",
        "facts": [("application.name", HOSTILE)],
        "signers": [WebAuthnSigner("kabid@x.go.id", "AAAA", "Y3JlZA", name=HOSTILE)],
        "analysis": [("Putusan analisis", HOSTILE)],
        "analysis_text": HOSTILE,
    }
    fields.update(overrides)
    return SigningContext(**fields)  # type: ignore[arg-type]


def scripts(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)


def test_json_data_cannot_close_its_element_and_reads_back() -> None:
    text = json_data({"v": HOSTILE})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"v": HOSTILE}


def test_signing_page_escapes_every_request_value() -> None:
    page = signing_page(context(), agency="Dinas", rp_id="localhost", valid_days=14)
    html = page.html
    assert "<img" not in html and "alert(1)</script>" not in html
    assert html.count("&lt;img src=x onerror=alert(2)&gt;") >= 3  # facts, analysis, signer
    # exactly two script elements: the data (not executed) and the site's own script file
    assert len(re.findall(r"<script\b", html)) == 2
    data = re.search(r'<script type="application/json" id="sop-data">(.*?)</script>', html, re.S)
    assert data is not None
    parsed = json.loads(data.group(1))
    assert parsed["statement"]["attachments"] == {HOSTILE: "b" * 64}
    assert parsed["namespace"] == "sop-hosting-step-07@diskominfotik.sumbarprov.go.id"
    assert parsed["rp_id"] == "localhost"
    assert 'src="../../static/sop.js"' in html  # relative: works under any path


def test_no_inline_script_runs_and_nothing_is_fetched_elsewhere() -> None:
    page = render("a/b.html", title=HOSTILE, body="", agency=HOSTILE, data={"x": 1}, script=True)
    assert "default-src &#x27;none&#x27;; script-src &#x27;self&#x27;" in page.html
    assert "<title>&lt;/script&gt;" in page.html
    assert all(not body.strip() or body.startswith("{") for body in scripts(page.html))


def test_upload_link_quotes_the_branch() -> None:
    link = upload_link("https://gitlab.example/dkis/hosting/", 'x"><b', "dinkes-simpus")
    assert link == (
        "https://gitlab.example/dkis/hosting/-/tree/x%22%3E%3Cb/requests/dinkes-simpus.approvals"
    )
    assert upload_link("", "b", "r") == ""


def test_enrol_page_offers_every_signing_role_with_its_namespaces() -> None:
    page = enrol_page(
        agency="Dinas", rp_id="localhost", rp_name="SOP", now=datetime(2026, 3, 2, tzinfo=UTC)
    )
    data = json.loads(
        re.search(r'id="sop-data">(.*?)</script>', page.html, re.S).group(1)  # type: ignore[union-attr]
    )
    assert data["namespaces"]["kabid"] == (
        "sop-hosting-step-03@diskominfotik.sumbarprov.go.id,"
        "sop-hosting-step-07@diskominfotik.sumbarprov.go.id,"
        "sop-hosting-step-11@diskominfotik.sumbarprov.go.id"
    )
    assert set(data["namespaces"]) == {"kadis", "kabid", "koordinator", "tim_teknis"}
    assert 'value="20270302Z"' in page.html


def test_hostings_expiring_within_30_days_are_marked_and_availability_is_not_claimed() -> None:
    from datetime import date

    from sop_pipeline.site.dashboard import Hosting, hostings_section

    today = date(2026, 12, 5)
    html = hostings_section(
        [
            Hosting("dinkes-simpus", "DINKES", date(2027, 12, 31)),
            Hosting(HOSTILE, "BPBD", date(2027, 1, 4), last_backup="04-12-2026 02.00 WIB"),
            Hosting("disdik-lama", "DISDIK", date(2026, 12, 1)),
        ],
        today,
    )
    assert 'id="expiring" data-count="2"' in html
    assert 'data-days-left="30" data-expiring="true"' in html
    assert 'data-days-left="391" data-expiring="false"' in html
    assert "sudah berakhir" in html and "belum dicatat" in html
    assert html.count("belum dipantau") == 3
    assert "<script>" not in html and "&lt;/script&gt;" in html


def test_last_backups_come_from_sop_backups_json() -> None:
    import pytest

    from sop_pipeline.site.dashboard import last_backups

    data = [
        {"request_id": "dinkes-simpus", "breach": False,
         "last_backup": {"volid": "b:1", "ctime": "2026-12-04T02:00:00+07:00", "size": 1}},
        {"request_id": "bpbd-peringatan-dini", "breach": True, "last_backup": None},
    ]  # fmt: skip
    assert last_backups(data, "b.json") == {
        "dinkes-simpus": "2026-12-04T02:00+07:00 (baik)",
        "bpbd-peringatan-dini": "belum ada cadangan",
    }
    with pytest.raises(ValueError, match=r"b\.json: \[0\]\.last_backup\.ctime"):
        last_backups([{"request_id": "x", "last_backup": {"ctime": "kemarin"}}], "b.json")
    with pytest.raises(ValueError, match=r"\[backups-json\]"):
        last_backups({"request_id": "x"}, "b.json")

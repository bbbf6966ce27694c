"""Expiry: H-30/H-14/H-7 in working days, missed days, renewals, notices and their encoding."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sop_pipeline.config import load_calendar
from sop_pipeline.domain import expiry as ex
from sop_pipeline.reports import expiry as rep
from tests.conftest import REPO

CAL = load_calendar(REPO / "inventories")


def test_h_n_counts_working_days_back_skipping_weekends_and_holidays() -> None:
    # end Thursday 2026-12-31; the 24th and 25th are holidays (cuti bersama, Natal)
    end = date(2026, 12, 31)
    assert ex.working_days_before(CAL, end, 1) == date(2026, 12, 30)
    # 30, 29, 28 (Mon), 23, 22, 21 (Mon), 18 (Fri): the 24/25 and weekends not counted
    assert ex.working_days_before(CAL, end, 7) == date(2026, 12, 18)
    days = ex.warning_days(CAL, end)
    assert days[14] == date(2026, 12, 9)
    assert days[30] == date(2026, 11, 17)
    # an end on a Monday: H-1 is the Friday before
    assert ex.working_days_before(CAL, date(2026, 12, 14), 1) == date(2026, 12, 11)
    # an end on a holiday itself is not counted either
    assert ex.working_days_before(CAL, date(2026, 12, 25), 1) == date(2026, 12, 23)
    with pytest.raises(ValueError):
        ex.working_days_before(CAL, end, 0)


def test_due_notices_once_each_and_a_missed_day_is_sent_late_once() -> None:
    end = date(2026, 12, 31)
    assert ex.due_notice(CAL, end, date(2026, 11, 16), ()) is None  # before H-30
    due = ex.due_notice(CAL, end, date(2026, 11, 17), ())
    assert due is not None and due.threshold == 30 and not due.late
    assert ex.due_notice(CAL, end, date(2026, 11, 17), {30}) is None  # same day again
    assert ex.due_notice(CAL, end, date(2026, 11, 18), {30}) is None  # nothing until H-14
    # CI down on the H-14 day (9 Dec): the next run (10 Dec) sends H-14, once
    late = ex.due_notice(CAL, end, date(2026, 12, 10), {30})
    assert late is not None and late.threshold == 14 and late.day == date(2026, 12, 9)
    assert late.late and not late.superseded
    assert ex.due_notice(CAL, end, date(2026, 12, 11), {30, 14}) is None
    # down for weeks: only the most urgent one is sent, the others recorded as superseded
    jump = ex.due_notice(CAL, end, date(2026, 12, 21), ())
    assert jump is not None and jump.threshold == 7 and jump.superseded == (30, 14)
    assert ex.due_notice(CAL, end, date(2026, 12, 21), {7}) is None
    # after the period: no notice, soft retirement is due
    assert ex.due_notice(CAL, end, date(2027, 1, 1), ()) is None
    assert ex.retirement_day(end) == date(2027, 1, 1)


def _notice(end: str, n: int, superseded: tuple[int, ...] = ()) -> ex.Event:
    return ex.Event(
        ex.EXPIRY_KIND,
        "h" * 64,
        {"event": ex.NOTICE, "end": end, "threshold": n, "superseded": list(superseded)},
    )


def test_a_renewal_moves_the_end_and_the_thresholds_start_again() -> None:
    life = ex.fold([_notice("2026-12-31", 30), _notice("2026-12-31", 7, (14,))])
    assert life.sent_for(date(2026, 12, 31)) == {30, 14, 7}
    old = ex.action_for(life, CAL, date(2026, 12, 31), date(2026, 12, 28))
    assert old.kind == "none"
    renewed = date(2027, 12, 31)  # perpanjang: the last applied record says a later end
    assert ex.action_for(life, CAL, renewed, date(2027, 1, 4)).kind == "none"
    act = ex.action_for(life, CAL, renewed, ex.warning_days(CAL, renewed)[30])
    assert act.kind == ex.NOTICE and act.notice is not None and act.notice.threshold == 30


def test_soft_retirement_quarantine_reversal_and_its_end() -> None:
    end = date(2026, 12, 31)
    life = ex.fold([])
    assert ex.action_for(life, CAL, end, date(2026, 12, 31)).kind != "soft-retire"
    assert ex.action_for(life, CAL, end, date(2027, 1, 1)).kind == "soft-retire"
    until = ex.quarantine_until(date(2027, 1, 1), 30)
    assert until == date(2027, 1, 30)
    soft = ex.Event(
        ex.EXPIRY_KIND,
        "a" * 64,
        {"event": ex.SOFT_RETIRED, "end": "2026-12-31", "on": "2027-01-01",
         "quarantine_until": until.isoformat(), "vm_address": "10.99.0.100",
         "holding_address": "10.99.0.4"},
    )  # fmt: skip
    life = ex.fold([soft])
    assert life.phase == "pensiun lunak"
    assert ex.action_for(life, CAL, end, date(2027, 1, 30)).kind == "none"
    assert ex.quarantine_ended({"x": life}, date(2027, 1, 30)) == []
    assert ex.quarantine_ended({"x": life}, date(2027, 1, 31)) == ["x"]
    assert ex.action_for(life, CAL, end, date(2027, 1, 31)).kind == ex.QUARANTINE_ENDED
    ended = ex.Event(ex.EXPIRY_KIND, "b" * 64, {"event": ex.QUARANTINE_ENDED,
                                                 "retirement": "a" * 64})  # fmt: skip
    life2 = ex.fold([soft, ended])
    assert life2.phase == "karantina berakhir"
    assert ex.action_for(life2, CAL, end, date(2027, 2, 1)).kind == "none"
    # a reversal naming another retirement does nothing; the right one clears it
    wrong = ex.Event(ex.EXPIRY_KIND, "c" * 64, {"event": ex.REVERSED, "retirement": "f" * 64})
    assert ex.fold([soft, wrong]).soft is not None
    right = ex.Event(ex.EXPIRY_KIND, "c" * 64, {"event": ex.REVERSED, "retirement": "a" * 64})
    assert ex.fold([soft, right]).soft is None
    assert ex.fold([soft, ex.Event("retirement", "d" * 64, {})]).phase == "pensiun"


HOSTILE = "Andi\r\nBcc: attacker@evil.example\u202e <script>alert(1)</script> [x](http://e) @all"


def _facts(**extra: object) -> rep.NoticeFacts:
    base: dict[str, object] = dict(
        request_id="dinkes-simpus",
        fqdn="dinkes-simpus.sumbarprov.go.id",
        application="Sistem *Informasi* <b>Puskesmas</b>",
        opd_name="Dinas Kesehatan | Sumbar",
        pic_name=HOSTILE,
        pic_email="andi.pratama@dinkes.sumbarprov.go.id",
        end=date(2026, 12, 31),
        threshold=14,
        retirement_day=date(2027, 1, 1),
        quarantine_days=30,
        issued=datetime(2026, 12, 9, 1, 0, tzinfo=UTC),
    )
    base.update(extra)
    return rep.NoticeFacts(**base)  # type: ignore[arg-type]


SENDER = rep.Sender("Helpdesk Diskominfotik", "diskominfotik@sumbarprov.go.id", "Diskominfotik")


def test_the_eml_parses_is_utf8_and_carries_no_injected_header() -> None:
    raw = rep.notice_email(_facts(), SENDER)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "andi.pratama@dinkes.sumbarprov.go.id"
    assert msg["From"].addresses[0].addr_spec == "diskominfotik@sumbarprov.go.id"
    assert msg["Bcc"] is None and b"\nBcc:" not in raw
    assert "H-14" in msg["Subject"] and "31 Desember 2026" in msg["Subject"]
    body = msg.get_content()
    assert msg.get_content_charset() == "utf-8"
    assert "Masa hosting aplikasi" in body and "Kamis, 31 Desember 2026" in body
    assert "perpanjangan" in body and "\u202e" not in body and "\r\nBcc" not in body
    assert msg["Message-ID"] == rep.message_id(_facts(), SENDER)  # stable: idempotent
    assert raw == rep.notice_email(_facts(), SENDER)


def test_markdown_and_comment_escape_request_values() -> None:
    text = rep.notice_markdown(_facts(), SENDER, CAL.tz)
    assert "# Pemberitahuan Berakhirnya Masa Hosting (H-14)" in text
    assert "<script>" not in text and "<b>" not in text and "\\[x\\](http" in text
    assert "\\@all" in text and "\\*Informasi\\*" in text and "\\|" in text
    comment = rep.notice_comment(_facts(), logs_url="https://ci.example/job/1")
    assert comment.startswith("<!-- sop-pipeline:expiry:dinkes-simpus -->")
    assert "<script>" not in comment and "31 Desember 2026" in comment
    late = rep.notice_markdown(_facts(late=True), SENDER, CAL.tz)
    assert "terlambat" in late


def test_maintenance_page_escapes_the_name() -> None:
    page = rep.maintenance_page('<img src=x onerror="alert(1)">.sumbarprov.go.id')
    assert "Layanan Sedang Dihentikan Sementara" in page and "<img" not in page
    assert '<html lang="id">' in page


def test_repository_policy_has_an_expiry_block(tmp_path: Path) -> None:
    from sop_pipeline.config import load_expiry_policy

    policy = load_expiry_policy(REPO / "inventories")
    assert policy.quarantine_days == 30 and "lab" in policy.holding_addresses
    (tmp_path / "policy.yaml").write_text("zone: x\n")
    assert load_expiry_policy(tmp_path).quarantine_days == ex.DEFAULT_QUARANTINE_DAYS


def test_a_name_with_address_specials_stays_one_recipient() -> None:
    for name in ('Ańdi "x" <a@b>, c@d', "a: b@evil.example;", "Dr. Rina (Dinkes)"):
        raw = rep.notice_email(_facts(pic_name=name), SENDER)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        (only,) = msg["To"].addresses
        assert only.addr_spec == "andi.pratama@dinkes.sumbarprov.go.id", name


def test_a_reversal_statement_is_canonical_and_names_the_koordinator() -> None:
    from sop_pipeline.signing import reversal as rv

    r = rv.new(
        request_id="dinkes-simpus", request_sha256="a" * 64, retirement="b" * 64,
        signer="rina@diskominfotik.sumbarprov.go.id", reason="diperpanjang",
        at=datetime(2027, 1, 2, 1, 0, tzinfo=UTC),
    )  # fmt: skip
    assert rv.parse(r.to_bytes()) == r
    with pytest.raises(rv.ReversalRefused) as err:
        rv.parse(r.to_bytes().replace(b'","', b'", "', 1))  # not canonical
    assert err.value.rule == "reversal-invalid"
    from dataclasses import replace as dc_replace

    kabid = dc_replace(r, role="kabid")
    with pytest.raises(rv.ReversalRefused) as err:
        rv.parse(kabid.to_bytes())
    assert err.value.rule == "reversal-wrong-role"
    hidden = dc_replace(r, reason="ok\u202e")
    with pytest.raises(rv.ReversalRefused):
        rv.parse(hidden.to_bytes())
    assert rv.FILE_NAME.match("reversal-koordinator-2.json")
    assert not rv.FILE_NAME.match("step-04-koordinator.json")


def test_drift_expects_a_soft_retired_name_at_the_holding_host() -> None:
    from sop_pipeline.domain.drift import Hosting, ZoneRecord, compare_dns

    def hosting(dns_address: str) -> Hosting:
        return Hosting(
            "x", 1000, "pve1", "x.sumbarprov.go.id", "10.99.0.100", 2, 2048, frozenset(),
            dns_address=dns_address,
        )  # fmt: skip

    zone = [ZoneRecord("x.sumbarprov.go.id.", "A", "10.99.0.4")]
    assert compare_dns([hosting("10.99.0.4")], zone, zone="sumbarprov.go.id") == []
    (item,) = compare_dns([hosting("")], zone, zone="sumbarprov.go.id")
    assert item.attribute == "address" and item.kind == "changed"

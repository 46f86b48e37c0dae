"""End of day (issue 18): the X report against the terminal's own totals (asked over the
real link), a mismatch reported loudly, the Z report kept per batch and returned by
SubmitBatch, ``/admin/Report``, ``posbridge report`` (text, CSV) and a v1 session's refusal.

The terminal is posbridge.testing.ScriptedTerminal (the simulator's model) behind the real
link; the journal is a real SQLite file.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from posbridge import cli, errors, reports
from posbridge.http import models
from posbridge.journal import Journal
from posbridge.protocol.messages import Totals, TotalsResult, decode_message, encode_message
from posbridge.simulator.model import SimPayment
from rig import run
from test_service import Rig, rig


async def day(r: Rig) -> None:
    """A day's mix: two PayNow, one Alipay, a decline, a void and a partial refund."""
    await r.paid("p1", "10.00")
    await r.paid("p2", "2.50")
    await r.service.create_payment("a1", "4.00", "30")
    await r.until(lambda: r.status("a1") == "approved", what="a1 approved")
    await r.service.create_payment("d1", "3.05", "82")
    await r.until(lambda: r.status("d1") == "declined", what="d1 declined")
    await r.paid("v1", "1.00")
    await r.service.void_payment("v1")
    await r.service.refund_payment("p1", "c1", "0.40")


def line(report: dict[str, Any], kind: str, code: str, status: str) -> tuple[int, str]:
    for ln in report["lines"]:
        if (ln["kind"], ln["condition_code"], ln["status"]) == (kind, code, status):
            return ln["count"], ln["total"]
    return 0, "none"


def test_the_x_report_matches_the_terminals_totals(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await day(r)
            report = await r.service.x_report()
            assert report["mismatch"] == [], report["mismatch"]
            assert report["kind"] == "X" and report["since_batch"] == 0
            assert line(report, "payment", "82", "approved") == (2, "12.50")
            assert line(report, "payment", "82", "declined") == (1, "3.05")
            assert line(report, "payment", "82", "voided") == (1, "1.00")
            assert line(report, "payment", "30", "approved") == (1, "4.00")
            assert line(report, "refund", "82", "approved") == (1, "0.40")
            assert report["terminal"] == report["lines"]
            paynow = next(m for m in report["by_method"] if m["condition_code"] == "82")
            assert (paynow["method"], paynow["approved_total"], paynow["refunded_total"],
                    paynow["net"]) == ("PayNow", "12.50", "0.40", "12.10")
            assert report["net"] == "16.10"
            assert any(m.KIND == "totals" for m in r.terminal.received)
            text = reports.text(report)
            assert "MISMATCH" not in text and "the terminal's totals agree" in text
            assert "Alipay" in text and "SGD      12.50" in text
            # Read-only: nothing journaled for it.
            with sqlite3.connect(r.journal.path) as db:
                assert db.execute("SELECT COUNT(*) FROM operations WHERE kind NOT IN "
                                  "('void', 'refund')").fetchone() == (0,)

    run(main())


def test_a_payment_the_journal_does_not_know_of_is_a_loud_mismatch(
        journal_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "10.00")
            # Approved on the terminal, never learned of by the POS ("force done").
            r.terminal.payments["ghost"] = SimPayment("ghost", 700, "82", "approved", "00",
                                                      "T1", period=r.terminal.batch_number)
            report = await r.service.x_report()
            assert report["mismatch"] == [
                "PayNow (82) approved payments: journal 1 for 10.00, terminal 2 for 17.00"]
            text = reports.text(report)
            assert text.splitlines()[0] == (
                "!!! MISMATCH: the journal and the terminal do not agree !!!")
            assert "terminal 2 for 17.00" in text.splitlines()[1]
            assert "do not agree" in caplog.text

    run(main())


def test_a_journal_changed_behind_its_back_is_a_mismatch(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "10.00")
            with sqlite3.connect(r.journal.path) as db:
                db.execute("UPDATE payments SET amount_minor = 100 WHERE ref = 'p1'")
            report = await r.service.x_report()
            assert report["mismatch"] == [
                "PayNow (82) approved payments: journal 1 for 1.00, terminal 1 for 10.00"]

    run(main())


def test_the_z_report_is_kept_per_batch_and_returned_by_submit_batch(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await day(r)
            summary = await r.service.submit_batch()
            z = summary.report
            assert z is not None and (z["kind"], z["batch_number"]) == ("Z", 1)
            assert z["mismatch"] == []
            assert line(z, "payment", "82", "approved") == (2, "12.50")
            assert line(z, "payment", "82", "declined") == (1, "3.05")
            assert line(z, "refund", "82", "approved") == (1, "0.40")
            assert r.journal.report(1) == z
            body = models.submit_batch_response(summary)
            assert body["report"] == z
            msgspec.convert(body, models.SubmitBatchResponse)
            # The next period starts empty, and agrees with the terminal.
            x = await r.service.x_report()
            assert (x["lines"], x["mismatch"], x["since_batch"]) == ([], [], 1)
            await r.paid("q1", "5.00")
            await r.service.create_payment("q2", "1.17", "82")
            await r.until(lambda: r.status("q2") == "cancelled", what="q2 cancelled")
            second = await r.service.submit_batch()
            assert second.report is not None
            assert [(ln["status"], ln["count"], ln["total"])
                    for ln in second.report["lines"]] == [("approved", 1, "5.00"),
                                                          ("cancelled", 1, "1.17")]
            assert r.journal.report(1) == z  # the first batch's report is unchanged

    run(main())


def test_a_z_report_that_differs_from_the_terminals_batch_says_so(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "10.00")
            r.terminal.payments["ghost"] = SimPayment("ghost", 700, "82", "approved", "00",
                                                      "T1")
            summary = await r.service.submit_batch()
            assert summary.report is not None
            assert summary.report["mismatch"] == [
                "settled payments: journal 1 for 10.00, terminal's batch 2 for 17.00"]

    run(main())


def test_a_z_report_that_cannot_be_kept_leaves_the_batch_settled(
        journal_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The report is derived; the settle is money. A report the journal refuses (here a
    trigger planted in the real SQLite file) is logged, and the batch stays settled."""
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "10.00")
            with sqlite3.connect(journal_path) as db:
                db.execute("CREATE TRIGGER planted BEFORE INSERT ON reports "
                           "BEGIN SELECT RAISE(ABORT, 'planted'); END")
            summary = await r.service.submit_batch()
            assert (summary.batch_number, summary.count, summary.report) == (1, 1, None)
            assert r.journal.get("p1").batch_number == 1
            assert "settled and journaled, but its Z report could not be kept" in caplog.text

    run(main())


def test_a_version_1_session_is_refused_the_terminals_totals(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("r1")
            await r.reconnect_as_v1()
            with pytest.raises(errors.TerminalRefused, match="v1, which has no totals"):
                await r.service.x_report()
            assert not any(m.KIND == "totals" for m in r.terminal.received)
            assert r.client.connected
            # SubmitBatch still works on v1, and keeps its Z report.
            summary = await r.service.submit_batch()
            assert summary.report is not None and summary.report["kind"] == "Z"

    run(main())


def test_the_report_holds_the_terminal_like_a_command(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            r.terminal.next("totals", "late", delay=0.3)
            import asyncio

            asking = asyncio.ensure_future(r.service.x_report())
            await r.until(lambda: r.service.holder is not None, what="report holds")
            with pytest.raises(errors.TerminalBusy) as info:
                await r.service.submit_batch()
            assert info.value.extra["held_by"] == {"command": "report"}
            assert "end-of-day report" in info.value.message
            assert (await asking)["mismatch"] == []

    run(main())


def test_totals_messages_round_trip() -> None:
    msg = TotalsResult(4, 2, ("payment:82:approved:2:1250", "refund:82:approved:1:40"))
    assert decode_message(encode_message(msg)) == msg
    assert decode_message(encode_message(Totals(3))) == Totals(3)
    with pytest.raises(ValueError, match="kind:code:status:count:total"):
        reports.decode_lines(["payment:82:approved:x:1"])


def test_the_admin_endpoint_gives_reports_to_this_pc_only(journal_path: Path) -> None:
    import httpx

    from posbridge.http.app import create_app

    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "2.00")
            app = create_app(r.service)
            headers = {"x-api-version": "v1"}
            remote = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
            async with httpx.AsyncClient(transport=remote, base_url="http://192.168.1.20") \
                    as client:
                answer = await client.post("/admin/Report", json={}, headers=headers)
            assert answer.status_code == 403
            assert answer.json()["error_code"] == "FORBIDDEN_HOST"
            local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=local, base_url="http://localhost") \
                    as client:
                x = await client.post("/admin/Report", json={}, headers=headers)
                assert x.status_code == 200, x.text
                assert x.json()["message"] == "Report command processed"
                assert x.json()["report"]["mismatch"] == []
                batch = await client.post("/SubmitBatch", json={}, headers=headers)
                assert batch.json()["report"]["kind"] == "Z"
                z = await client.post("/admin/Report", json={"batch": 1}, headers=headers)
                assert z.json()["report"] == batch.json()["report"]
                missing = await client.post("/admin/Report", json={"batch": 9},
                                            headers=headers)
                assert (missing.status_code, missing.json()["error_code"]) == (
                    404, "REPORT_NOT_FOUND")
                assert missing.json()["success"] is False
                for bad in ({"batch": "1"}, {"batch": 0}, {"batch": None, "x": 1},
                            {"batch": True}):
                    answer = await client.post("/admin/Report", json=bad, headers=headers)
                    assert answer.status_code == 400, (bad, answer.text)
                    assert answer.json()["success"] is False
                    assert answer.json()["error_code"] == "INVALID_REQUEST"
                    assert answer.json()["message"]

    run(main())


def test_posbridge_report_batch_prints_the_kept_z_report_as_text_and_csv(
        journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await day(r)
            await r.service.submit_batch()

    run(main())
    assert cli.main(["report", "--batch", "1", "--journal", str(journal_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Z report: batch 1\n")
    assert "PayNow" in text and "declined" in text and "net (approved payments less " \
        "refunds): SGD 16.10" in text
    assert cli.main(["report", "--batch", "1", "--csv", "--journal", str(journal_path)]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == list(reports_columns())
    assert ["Z", "1", "journal", "refund", "82", "PayNow", "approved", "1", "0.40"] in rows
    assert cli.main(["report", "--batch", "1", "--json", "--journal", str(journal_path)]) == 0
    assert json.loads(capsys.readouterr().out)["batch_number"] == 1
    assert cli.main(["report", "--batch", "2", "--journal", str(journal_path)]) == 1
    assert "no report of batch 2" in capsys.readouterr().err


def reports_columns() -> tuple[str, ...]:
    from posbridge.tools import REPORT_COLUMNS

    return REPORT_COLUMNS


def test_a_mismatch_row_in_csv_cannot_become_a_formula() -> None:
    from posbridge.tools import write_report_csv

    report = reports.build([reports.Item("payment", "82", "approved", 100)], kind="X",
                           terminal=[], mismatch=["=HYPERLINK(1)"])
    out = io.StringIO()
    write_report_csv(out, report)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert ["X", "", "mismatch", "", "", "'=HYPERLINK(1)", "", "", ""] in rows
    assert rows[-1][5].startswith("PayNow (82) approved payments: journal 1 for 1.00")


def test_a_version_4_journal_is_migrated_and_gains_reports(journal_path: Path) -> None:
    from posbridge.journal import _MIGRATIONS

    with sqlite3.connect(journal_path) as db:
        for script in _MIGRATIONS[:4]:
            db.executescript(script)
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (4);
            INSERT INTO payments (ref, amount, amount_minor, condition_code, status,
                response_code, transaction_id, batch_number, created_at, updated_at)
                VALUES ('old', '5.00', 500, '82', 'approved', '00', 'T9', NULL, 'a', 'b');
            INSERT INTO events (ref, at, from_status, to_status, detail)
                VALUES ('old', 'a', NULL, 'received', 'amount 5.00');
        """)
    db.close()
    j = Journal(journal_path)
    try:
        with sqlite3.connect(journal_path) as db:
            assert db.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
        assert j.report(1) is None
        found = j.period_items()
        assert found == (0, [reports.Item("payment", "82", "approved", 500)])
        j.save_report("b1", 1, "SIM", {"kind": "Z"})
        assert j.report(1) == {"kind": "Z"}
    finally:
        j.close()


def test_posbridge_report_exits_5_on_a_mismatch_and_1_without_a_bridge(
        journal_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from posbridge import tools

    kept = reports.build([reports.Item("payment", "82", "approved", 100)], kind="Z",
                         batch_number=1, mismatch=["settled payments: journal 1 for 1.00, "
                                                   "terminal's batch 0 for 0.00"])
    j = Journal(journal_path)
    j.save_report("b1", 1, "SIM", kept)
    j.close()
    assert cli.main(["report", "--batch", "1", "--journal", str(journal_path)]) == 5
    captured = capsys.readouterr()
    assert captured.out.startswith("!!! MISMATCH")
    assert "do not agree" in captured.err
    monkeypatch.delenv("POSBRIDGE_TOKEN", raising=False)
    assert cli.main(["report", "--url", "http://127.0.0.1:9"]) == 1
    assert "is 'posbridge serve' running?" in capsys.readouterr().err
    assert tools.EXIT_MISMATCH == 5

"""The chaos run (bench/chaos.py): the short run against the real bridge, and the same
harness against bridges with a bug planted in their launcher (bench/chaos_launcher.py), each
of which must make the run fail with the right count in the right view."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"
CHAOS = BENCH / "chaos.py"
sys.path.insert(0, str(BENCH))

import chaos_proxy  # noqa: E402
from chaos import Mix, make_plan, plan_digest  # noqa: E402

from posbridge.protocol.frames import FrameDecoder, encode_frame  # noqa: E402
from posbridge.protocol.messages import Batch, Data, Refund, Reply, encode_message  # noqa: E402


def chaos(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(CHAOS), "--workdir", str(tmp_path / "run"), "--json", str(out),
         *args],
        capture_output=True, text=True, timeout=timeout,
    )
    text = proc.stdout + proc.stderr
    assert out.exists(), text
    return proc.returncode, json.loads(out.read_text()), text


def views(result: dict[str, Any], category: str) -> dict[str, int]:
    by_view: dict[str, int] = result["findings"][category]["by_view"]
    return by_view


def test_short_run_loses_duplicates_and_mismatches_nothing(tmp_path: Path) -> None:
    code, result, text = chaos(tmp_path, "--commands", "55", "--seed", "3",
                               "--mix", "batch=0.1,idle=0.06,void=0.3,refund=0.35")
    assert code == 0, text
    assert (result["lost"], result["duplicated"], result["mismatched"]) == (0, 0, 0), text
    assert result["log"]["tracebacks"] == 0, text
    assert result["commands_total"] >= 50
    # The faults really fired inside commands, of every kind.
    assert result["faults_total"] >= 20, text
    assert set(result["faults_by_kind"]) == set(chaos_proxy.KINDS), text
    assert len(result["faults_by_moment"]) >= 8, text
    # Refunds were in the mix, with faults at both of their moments, replays and refusals.
    assert {"refund_sent", "refund_answer_lost"} <= set(result["faults_by_moment"]), text
    assert result["commands"].get("refund", 0) >= 10, text
    assert result["commands"].get("refund_over", 0) >= 1, text
    assert result["answers_by_path"].get("/RefundPayment 409", 0) >= 1, text
    assert result["answers_by_path"].get("/RefundPayment 200", 0) >= 5, text


# Each planted bug's schedule: only the moments and kinds that reach it, so the run is short.
SCHEDULES = {
    "failed_at_startup": [
        "--commands", "8", "--seed", "1", "--only-moments", "sale_sent,sale_reply_lost",
        "--only-kinds", "kill_bridge",
        "--mix", "fault_sale=1,batch=0,idle=0,cancel=0,void=0,refund=0"],
    "lost_void": [
        "--commands", "10", "--seed", "1", "--only-moments", "void_sent,void_answer_lost",
        "--only-kinds", "kill_bridge",
        "--mix", "fault_sale=0,batch=0,idle=0,cancel=0,void=1,fault_void=1,refund=0"],
    "drop_late_batch": [
        "--commands", "6", "--seed", "2", "--settle-delay", "2.5", "--step-timeout", "12",
        "--mix", "fault_sale=0,batch=0.3,idle=0,cancel=0,void=0,fault_batch=0,refund=0"],
    # replay=0: after no answer the POS asks QueryPayment before sending again (docs/api.md
    # allows either); sending the same refund again would heal the bug.
    "failed_lost_refund": [
        "--commands", "8", "--seed", "1", "--only-moments", "refund_sent,refund_answer_lost",
        "--only-kinds", "kill_bridge",
        "--mix", "fault_sale=0,batch=0,idle=0,cancel=0,void=0,refund=1,replay=0,"
        "fault_refund=1"],
}


@pytest.mark.parametrize("bug", sorted(SCHEDULES))
def test_each_planted_bug_schedule_passes_on_the_real_bridge(tmp_path: Path, bug: str) -> None:
    """The control: what the bug tests below catch is the planted bug, not the schedule."""
    code, result, text = chaos(tmp_path, *SCHEDULES[bug])
    assert code == 0, text
    assert (result["lost"], result["duplicated"], result["mismatched"]) == (0, 0, 0), text


def test_unresolved_sales_failed_at_startup_show_as_double_charges(tmp_path: Path) -> None:
    """The bug the old chaos run passed with 0/0/0: a bridge that marks unresolved sales
    failed at start-up without asking. The POS sends a failed sale again under a new
    reference, so the customer is charged twice: duplicated, seen on the terminal."""
    code, result, text = chaos(tmp_path, "--bug", "failed_at_startup",
                               *SCHEDULES["failed_at_startup"])
    assert code == 1, text
    assert result["faults_total"] >= 6, text
    assert result["duplicated"] >= 1 and set(views(result, "duplicated")) == {"terminal"}, text
    assert "charged 2 times" in json.dumps(result["findings"]["duplicated"]), text
    # ... and the journal says failed where the terminal has the payment.
    assert views(result, "mismatched").get("journal", 0) >= 1, text


def test_a_void_assumed_not_done_after_a_kill_is_caught(tmp_path: Path) -> None:
    """A bridge that, at start-up, takes a void in flight for not done: QueryPayment tells
    the POS "approved" (paid) while the terminal has voided it."""
    code, result, text = chaos(tmp_path, "--bug", "lost_void", *SCHEDULES["lost_void"])
    assert code == 1, text
    assert result["faults_by_kind"].get("kill_bridge", 0) >= 3, text
    assert result["mismatched"] >= 1 and views(result, "mismatched").get("pos", 0) >= 1, text
    assert "after the terminal had voided it" in json.dumps(result["findings"]), text


def test_a_dropped_late_batch_answer_is_caught(tmp_path: Path) -> None:
    """A terminal that takes longer than --terminal-timeout to settle; a bridge that drops
    the late answer (and recovery's): the terminal settled payments the journal shows
    unsettled, and no SubmitBatch answer told the POS about that batch."""
    code, result, text = chaos(tmp_path, "--bug", "drop_late_batch",
                               *SCHEDULES["drop_late_batch"])
    assert code == 1, text
    assert result["commands"].get("batch", 0) >= 1, text
    assert result["lost"] >= 1, text
    assert views(result, "lost").get("journal", 0) >= 1, text
    assert "the journal says unsettled" in json.dumps(result["findings"]["lost"]), text


def test_a_refund_assumed_never_sent_after_a_kill_is_caught(tmp_path: Path) -> None:
    """A bridge that, at start-up, journals a refund in flight as failed without asking:
    the POS, told nothing was refunded, refunds again under a new reference, and the
    terminal refunds the customer twice (or refuses the second as more than remains)."""
    code, result, text = chaos(tmp_path, "--bug", "failed_lost_refund",
                               *SCHEDULES["failed_lost_refund"])
    assert code == 1, text
    assert result["faults_by_kind"].get("kill_bridge", 0) >= 3, text
    assert views(result, "duplicated").get("terminal", 0) >= 1, text
    assert "made 2 times" in json.dumps(result["findings"]["duplicated"]), text
    # ... and the journal's refunded total disagrees with the terminal's.
    assert views(result, "mismatched").get("journal", 0) >= 1, text


def test_a_seed_reproduces_the_plan_exactly() -> None:
    kinds, moments = chaos_proxy.KINDS, chaos_proxy.MOMENTS
    first = make_plan(7, 300, Mix(), moments, kinds)
    assert plan_digest(first) == plan_digest(make_plan(7, 300, Mix(), moments, kinds))
    assert plan_digest(first) != plan_digest(make_plan(8, 300, Mix(), moments, kinds))
    # Every (moment, kind) cell is planned, about equally often.
    cells = ([s.fault for s in first if s.fault] + [s.void_fault for s in first if s.void_fault]
             + [r.fault for s in first for r in s.refunds if r.fault])
    assert {c[0] for c in cells} == set(moments)
    assert {c[1] for c in cells} == set(kinds)


def test_the_proxy_recognises_messages_and_tolerates_unknown_kinds() -> None:
    decoder = FrameDecoder()
    sale = encode_frame(encode_message(Data(3, Batch(9, "b-1"))))
    reply = encode_frame(encode_message(Data(4, Reply(9, "r", accepted=True))))
    refund = encode_frame(encode_message(Data(5, Refund(10, "r", "r-r1-1", 250))))
    unknown = encode_frame(b'{"k":"data","seq":6,"m":{"k":"gift_card","rid":11,"ref":"x"}}')
    frames = [chaos_proxy.classify(p) for p in decoder.feed(sale + reply + refund + unknown)]
    assert [(f.kind, f.inner, f.seq, f.rid) for f in frames] == [
        ("data", "batch", 3, 9), ("data", "reply", 4, 9), ("data", "refund", 5, 10),
        ("data", "other", 6, 11)]
    assert frames[1].accepted and frames[1].ref == "r"
    assert chaos_proxy.classify(b'{"k":"gossip"}').kind == "other"
    assert chaos_proxy.classify(b"\xff not json").kind == "other"
    corrupted = chaos_proxy.corrupted(sale)
    assert len(corrupted) == len(sale) and FrameDecoder().feed(corrupted) == []


def test_reliability_doc_names_every_moment_kind_and_planted_bug() -> None:
    import chaos_launcher

    text = (BENCH.parent / "docs" / "reliability.md").read_text()
    for name in (*chaos_proxy.MOMENTS, *chaos_proxy.KINDS, *chaos_launcher.BUGS):
        assert f"`{name}`" in text, name

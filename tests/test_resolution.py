"""Settling by hand a payment the terminal can never answer for (issue 18): never
automatic, refused while the terminal still answers for it (it is asked first), and
recorded with who and why. Against a scripted terminal, without HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from posbridge import errors
from posbridge.http import models
from posbridge.journal import Journal
from posbridge.payments import OpKind
from posbridge.protocol.messages import Query
from posbridge.testing import ScriptedTerminal
from rig import run
from test_service import ops, rig


def void_in_flight_on_a_lost_terminal(path: Path) -> None:
    """The journal as a bridge left it: p1 approved on the old terminal, a void sent to
    it, its answer never came, and that terminal is gone."""
    j = Journal(path)
    try:
        j.create("p1", "4.00", 400, "82")
        j.transition("p1", "pending", "sale accepted")
        j.transition("p1", "approved", "reported", response_code="00",
                     transaction_id="100126120100000000000001")
        with j.atomic():
            j.open_op(OpKind.VOID, "p1", "void sent to the terminal")
            j.transition("p1", "unknown", "void sent")
    finally:
        j.close()


def test_a_payment_the_new_terminal_has_no_record_of_is_settled_by_hand(
        journal_path: Path) -> None:
    void_in_flight_on_a_lost_terminal(journal_path)

    async def main() -> None:
        # A replacement terminal: it has never seen p1, so recovery cannot settle it.
        async with rig(journal_path, ScriptedTerminal(customer_delay=0.1),
                       serial="SIM-NEW") as r:
            await r.until(lambda: any(isinstance(m, Query) for m in r.terminal.received),
                          what="recovery asked the new terminal")
            assert r.status("p1") == "unknown"  # never settled automatically
            asked = sum(isinstance(m, Query) for m in r.terminal.received)
            payment = await r.service.resolve_payment(
                "p1", paid=True, reason="the old terminal's slip shows the void failed",
                by="alice")
            assert sum(isinstance(m, Query) for m in r.terminal.received) > asked  # asked
            assert (payment.status, payment.resolved_by) == ("approved", "alice")
            assert ops(r.journal, "void") == [("p1", "not_done")]
            [last] = [e for e in r.journal.events("p1") if e.kind == "payment"][-1:]
            assert (last.from_status, last.to_status) == ("unknown", "approved")
            assert "settled by hand by alice as paid" in last.detail
            assert "the old terminal's slip shows the void failed" in last.detail
            assert "SIM-NEW" in last.detail
            answer = models.query_payment_response(payment)
            assert (answer["resolved_by_hand"], answer["transaction_status"]) == (True, "00")
            with pytest.raises(errors.NotResolvable, match="its outcome is known"):
                await r.service.resolve_payment("p1", paid=False, reason="again", by="bob")

    run(main())


def test_not_paid_for_a_void_in_flight_means_voided(journal_path: Path) -> None:
    void_in_flight_on_a_lost_terminal(journal_path)

    async def main() -> None:
        async with rig(journal_path, serial="SIM-NEW") as r:
            payment = await r.service.resolve_payment("p1", paid=False, reason="voided",
                                                      by="alice")
            assert payment.status == "voided"
            assert ops(r.journal, "void") == [("p1", "done")]

    run(main())


def test_refused_while_the_terminal_still_answers_for_the_payment(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=3.0)) as r:
            await r.service.create_payment("p1", "1.00", "82")
            assert r.status("p1") == "pending"
            with pytest.raises(errors.NotResolvable, match="still has payment 'p1'") as info:
                await r.service.resolve_payment("p1", paid=True, reason="customer says so",
                                                by="alice")
            assert info.value.extra["status"] == "pending"
            payment = r.journal.get("p1")
            assert payment is not None
            assert (payment.status, payment.resolved_by) == ("pending", "")
            assert not any("by hand" in e.detail for e in r.journal.events("p1"))
            await r.service.cancel_payment()

    run(main())


def test_bad_reasons_and_final_payments_are_refused_and_change_nothing(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1")
            for reason in ("", "   ", "two\nlines", "x" * 201):
                with pytest.raises(errors.InvalidRequest, match="reason"):
                    await r.service.resolve_payment("p1", paid=False, reason=reason,
                                                    by="alice")
            with pytest.raises(errors.NotResolvable, match="approved"):
                await r.service.resolve_payment("p1", paid=False, reason="no", by="alice")
            with pytest.raises(errors.PaymentNotFound):
                await r.service.resolve_payment("nope", paid=False, reason="no", by="alice")
            assert r.status("p1") == "approved"

    run(main())


def test_the_admin_endpoint_refuses_another_machine_even_with_access(
        journal_path: Path) -> None:
    """The check on the peer's address (a real non-loopback peer needs a second machine;
    the ASGI transport sets the peer address the server would see)."""
    import httpx

    from posbridge.http.app import create_app

    void_in_flight_on_a_lost_terminal(journal_path)

    async def main() -> None:
        async with rig(journal_path, serial="SIM-NEW") as r:
            app = create_app(r.service)
            body = {"retrieval_reference_number": "p1", "outcome": "paid", "reason": "slip",
                    "by": "mallory"}
            headers = {"x-api-version": "v1"}
            remote = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
            async with httpx.AsyncClient(transport=remote, base_url="http://192.168.1.20") \
                    as client:
                answer = await client.post("/admin/ResolvePayment", json=body,
                                           headers=headers)
            assert answer.status_code == 403, answer.text
            assert answer.json()["error_code"] == "FORBIDDEN_HOST"
            assert "from this PC only" in answer.json()["message"]
            assert r.status("p1") == "unknown"
            local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=local, base_url="http://localhost") \
                    as client:
                answer = await client.post("/admin/ResolvePayment", json=body,
                                           headers=headers)
            assert answer.status_code == 200, answer.text
            assert (answer.json()["status"], answer.json()["resolved_by_hand"]) == (
                "approved", True)
            assert answer.json()["message"] == "Resolve payment command processed"

    run(main())

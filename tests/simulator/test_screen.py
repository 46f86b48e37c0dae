"""The clickable terminal without a display: what its screen shows, and its clicks (made
from another thread, as the Tk window makes them) through a real bridge."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from posbridge.protocol.messages import Progress
from posbridge.simulator import TerminalModel
from posbridge.simulator.customer import DECLINE, LINK_DROP, Outcome, Sale
from posbridge.simulator.qr import paynow_payload
from posbridge.simulator.screen import (
    BUTTONS,
    ScreenState,
    Showing,
    WindowCustomer,
    outcome_for,
    present,
)
from rig import bridge, create_body, run

QR = paynow_payload(1250, "inv-1")


def test_idle_screen_waits_for_the_pos_and_only_the_cable_can_be_pulled() -> None:
    view = present(ScreenState(last="inv-0: paid (00)"))
    assert (view.headline, view.qr) == ("Ready", "")
    assert view.detail == "Waiting for a payment from the POS"
    assert view.last == "Last payment: inv-0: paid (00)"
    assert view.enabled == {name: name == "drop_link" for name in BUTTONS}


def test_a_waiting_qr_payment_shows_amount_method_and_qr_with_every_button() -> None:
    view = present(ScreenState(Showing("inv-1", 1250, "82", "PayNow", QR, waiting=True)))
    assert (view.headline, view.method, view.qr) == (
        "SGD 12.50", "PayNow (condition code 82)", QR)
    assert view.detail.startswith("Scan the QR code to pay. Reference inv-1")
    assert all(view.enabled.values())


def test_a_payment_the_cents_table_decides_cannot_be_clicked() -> None:
    view = present(ScreenState(Showing("inv-2", 317, "77", "", "", waiting=False), auto=True))
    assert view.method == "condition code 77"
    assert "the cents table decides (.17)" in view.detail
    assert view.enabled == {name: name == "drop_link" for name in BUTTONS}


@pytest.mark.parametrize("code", ["5", "051", "ab", " ", "5 "])
def test_a_decline_code_must_be_two_digits_or_capitals(code: str) -> None:
    with pytest.raises(ValueError, match="Decline code"):
        outcome_for("decline", code)


def test_buttons_give_their_outcomes() -> None:
    assert outcome_for("decline", " 51 ") == Outcome(DECLINE, "51")
    assert [outcome_for(b).kind for b in ("pay", "cancel", "timeout", "lose_result")] == [
        "approve", "cancel", "timeout", "result_lost"]


def click_from_another_thread(customer: WindowCustomer, button: str, code: str = "") -> None:
    thread = threading.Thread(target=customer.click, args=(button, code))
    thread.start()
    thread.join()


async def shown(customer: WindowCustomer, ref: str) -> Showing:
    for _ in range(200):
        showing = customer.snapshot().showing
        if showing is not None and showing.ref == ref:
            return showing
        await asyncio.sleep(0.01)
    raise AssertionError(f"{ref} never shown: {customer.snapshot()}")


def test_clicks_drive_a_real_bridge(journal_path: Path) -> None:
    customer = WindowCustomer(0.1)
    model = TerminalModel(customer=customer)

    async def main() -> None:
        async with bridge(journal_path, model=model) as b:
            assert b.simulator is not None
            customer.bind(lambda: model.drop_link(), asyncio.get_running_loop())

            await b.post("/CreatePayment", create_body("w-1", "12.50"))
            showing = await shown(customer, "w-1")
            assert showing.waiting and showing.qr_payload == paynow_payload(1250, "w-1")
            await asyncio.sleep(0.3)  # nobody clicks: it waits, whatever its cents say
            assert (await b.wait_status("w-1", "pending"))["transaction_status"] == "09"
            click_from_another_thread(customer, "pay")
            assert (await b.wait_status("w-1", "approved"))["transaction_status"] == "00"
            assert customer.snapshot().last == "w-1: paid (00)"

            await b.post("/CreatePayment", create_body("w-2", "3.00", "30"))
            await shown(customer, "w-2")
            click_from_another_thread(customer, "decline", "5")
            assert "Decline code" in customer.snapshot().error  # refused, still waiting
            await asyncio.sleep(0.1)
            assert customer.snapshot().showing is not None
            click_from_another_thread(customer, "decline", "51")
            assert (await b.wait_status("w-2", "declined"))["transaction_status"] == "51"
            assert customer.snapshot().error == ""

            # The cable is pulled while the customer pays; the payment waits on the screen.
            await b.post("/CreatePayment", create_body("w-3", "4.00"))
            await shown(customer, "w-3")
            click_from_another_thread(customer, "drop_link")
            for _ in range(100):
                if not b.service.terminal.connected:
                    break
                await asyncio.sleep(0.01)
            assert not b.service.terminal.connected
            assert await b.service.terminal.wait_connected(5)
            click_from_another_thread(customer, "lose_result")
            # The result message is lost: the bridge learns it by asking (recovery).
            assert (await b.wait_status("w-3", "approved"))["transaction_status"] == "00"

            # The POS cancels: the screen says so.
            await b.post("/CreatePayment", create_body("w-4", "1.00"))
            await shown(customer, "w-4")
            assert (await b.post("/CancelPayment", {})).json()["status"] == "cancelled"
            assert customer.snapshot().last == "w-4: cancelled by the POS (17)"
            assert customer.snapshot().showing is None

            # Ticking the cents table decides the waiting payment by its cents, and the next.
            await b.post("/CreatePayment", create_body("w-5", "1.68"))
            await shown(customer, "w-5")
            threading.Thread(target=customer.set_auto, args=(True,)).start()
            assert (await b.wait_status("w-5", "timed_out"))["transaction_status"] == "68"
            await b.post("/CreatePayment", create_body("w-6", "2.51"))
            assert not (await shown(customer, "w-6")).waiting
            assert (await b.wait_status("w-6", "declined"))["transaction_status"] == "51"

    run(main(), timeout=60)


def test_a_click_after_the_payment_ended_does_nothing() -> None:
    async def main() -> None:
        customer = WindowCustomer(0.1)
        customer.bind(lambda: None, asyncio.get_running_loop())
        sale = Sale("r", 100, "82", Progress("r", "qr_shown", "x"))
        task = asyncio.create_task(customer.decide(sale))
        await asyncio.sleep(0.01)
        customer.click("timeout")
        customer.click("pay")  # the second click lands after the first decided
        assert (await task).kind == "timeout"
        await asyncio.sleep(0.01)
        customer.finished("r")
        assert customer.snapshot().last == "r: timed out (68)"
        # and a link drop chosen by the cents table keeps its pause before approving
        customer.set_auto(True)
        outcome = await customer.decide(Sale("s", 198, "82", Progress("s", "qr_shown")))
        assert outcome == Outcome(LINK_DROP, after=0.05)

    run(main())

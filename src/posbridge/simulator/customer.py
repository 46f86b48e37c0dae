"""Who decides what the simulated customer (and terminal) does with each payment.

``TerminalModel`` asks its ``Customer`` once per sale and carries out the ``Outcome`` it
gets; three customers exist:

* ``CentsTable`` (the default): the amount's cents choose, after ``customer_delay``;
* ``Scenario`` (``simulator/scenario.py``): the next outcome listed in a JSON file;
* ``WindowCustomer`` (``simulator/window.py``): whatever is clicked in the terminal window.

An outcome is one of OUTCOMES. ``result_lost`` approves the payment but the result message
to the PC is lost (the bridge's recovery must find it by asking); ``link_drop`` drops the
link mid-payment and approves it ``after`` seconds later.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from ..protocol.messages import Progress

APPROVE, DECLINE, CANCEL, TIMEOUT, RESULT_LOST, LINK_DROP = (
    "approve", "decline", "cancel", "timeout", "result_lost", "link_drop")
OUTCOMES = (APPROVE, DECLINE, CANCEL, TIMEOUT, RESULT_LOST, LINK_DROP)

#: The decline codes the cents table knows; a scenario or a click may give any two
#: characters. They are posbridge's simulator's codes, not FOMO's (docs/api.md).
DECLINE_CENTS = {5: "05", 51: "51", 55: "55", 91: "91"}
CANCEL_CENTS = 17
TIMEOUT_CENTS = 68
RESULT_LOST_CENTS = 97
LINK_DROP_CENTS = 98


@dataclass(frozen=True)
class Outcome:
    kind: str  # one of OUTCOMES
    code: str = ""  # the decline code, for DECLINE
    after: float = 0.0  # LINK_DROP: seconds between the drop and the approval

    def describe(self) -> str:
        return f"{self.kind} {self.code}" if self.code else self.kind


@dataclass(frozen=True)
class Sale:
    """What the customer is asked about: one sale on the terminal."""

    ref: str
    amount_minor: int
    condition_code: str
    shown: Progress  # what the terminal shows (the QR code for a QR method)


class Customer(Protocol):
    def unavailable(self) -> str:
        """Why the terminal cannot take a new sale now ("" when it can): a scenario that
        has run out says so here, and the sale is refused before anything starts."""
        ...

    async def decide(self, sale: Sale) -> Outcome:
        """Wait as the customer takes their time, then say what happened. Cancelled when
        the PC cancels the payment."""
        ...

    def finished(self, ref: str) -> None:
        """The payment ended (any way, including a cancel from the PC)."""
        ...


#: A refund's part by its amount's cents, when no scenario says otherwise.
REFUND_DECLINE_CENTS = 44
REFUND_LOST_CENTS = 47


def refund_from_cents(amount_minor: int) -> str:
    """"decline" for .44, "answer_lost" for .47, else "refund" (refunded at once)."""
    cents = amount_minor % 100
    return {REFUND_DECLINE_CENTS: "decline", REFUND_LOST_CENTS: "answer_lost"}.get(
        cents, "refund")


def from_cents(amount_minor: int, delay: float) -> tuple[Outcome, float]:
    """The cents table: the outcome for an amount, and how long the customer takes."""
    cents = amount_minor % 100
    if cents in DECLINE_CENTS:
        return Outcome(DECLINE, DECLINE_CENTS[cents]), delay
    if cents == CANCEL_CENTS:
        return Outcome(CANCEL), delay
    if cents == TIMEOUT_CENTS:
        return Outcome(TIMEOUT), delay
    if cents == RESULT_LOST_CENTS:
        return Outcome(RESULT_LOST), delay
    if cents == LINK_DROP_CENTS:
        return Outcome(LINK_DROP, after=delay / 2), delay / 2
    return Outcome(APPROVE), delay


class CentsTable:
    """The default customer: the amount's cents choose, after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def unavailable(self) -> str:
        return ""

    async def decide(self, sale: Sale) -> Outcome:
        outcome, wait = from_cents(sale.amount_minor, self.delay)
        await asyncio.sleep(wait)
        return outcome

    def finished(self, ref: str) -> None:
        pass

"""Scripted outcomes: ``posbridge simulator --scenario FILE`` plays one per payment, in order.

The file is JSON (``examples/scenario.json``)::

    {"description": "what this script checks",
     "delay": 0.5,
     "payments": [
       {"outcome": "approve"},
       {"outcome": "decline", "code": "51"},
       {"outcome": "cancel", "delay": 2},
       {"outcome": "timeout"},
       {"outcome": "result_lost"},
       {"outcome": "link_drop", "after": 1}
     ],
     "refunds": [
       {"outcome": "refund"},
       {"outcome": "decline"},
       {"outcome": "answer_lost"}
     ]}

``outcome`` is one of ``customer.OUTCOMES``; ``delay`` is how long the customer takes (the
file's ``delay``, else ``--customer-delay``); ``code`` the decline code (default "05");
``after``, for ``link_drop``, how long the link stays down before the payment is approved.
The amount plays no part. When every listed payment has been played, the terminal refuses
each new sale with a detail that says the script has run out (the POS gets
``TERMINAL_REFUSED`` and nothing is recorded) and the log says so too.

``refunds``, optional, plays one step per refund in the same way: ``refund`` (refunded at
once), ``decline`` (the acquirer declines it; nothing is refunded) or ``answer_lost``
(refunded, but the answer to the PC is lost, so the bridge must ask). A refund sent again
under the same refund reference is answered from the terminal's record and plays no step.
Without ``refunds`` the refund amount's cents decide (``model.py``); with it, once every
step has been played, new refunds are refused like new sales.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from .customer import DECLINE, LINK_DROP, Outcome, Sale, refund_from_cents

log = logging.getLogger("posbridge.simulator")


Seconds = Annotated[float, Meta(ge=0, le=3600)]


class Step(Struct, forbid_unknown_fields=True, frozen=True):
    outcome: Literal["approve", "decline", "cancel", "timeout", "result_lost", "link_drop"]
    code: Annotated[str, Meta(pattern="^[0-9A-Z]{2}$")] = "05"
    delay: Seconds | None = None
    after: Seconds = 0.5
    note: str = ""  # for the reader of the file; logged with the step


class RefundStep(Struct, forbid_unknown_fields=True, frozen=True):
    outcome: Literal["refund", "decline", "answer_lost"]
    note: str = ""


class ScenarioFile(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    description: str = ""
    delay: Seconds | None = None
    payments: Annotated[list[Step], Meta(min_length=1)]
    refunds: list[RefundStep] | None = None


class ScenarioError(ValueError):
    """The file cannot be played; the text says where and why."""


def load(path: str | Path) -> ScenarioFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"--scenario {path}: {exc.strerror}") from None
    try:
        return msgspec.json.decode(text, type=ScenarioFile)
    except msgspec.ValidationError as exc:  # "Expected `str`... - at `$.payments[0].code`"
        raise ScenarioError(f"--scenario {path}: {exc}") from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ScenarioError(f"--scenario {path}: the file is not valid JSON ({exc})") from None


class Scenario:
    """The customer that plays a scenario file's payments in order."""

    def __init__(self, script: ScenarioFile, *, default_delay: float, name: str = "") -> None:
        self.steps = script.payments
        self.refund_steps = script.refunds
        self.refunds_played = 0
        self.delay = script.delay if script.delay is not None else default_delay
        self.name = name or "the scenario"
        self.played = 0

    @classmethod
    def from_file(cls, path: str | Path, *, default_delay: float) -> Scenario:
        return cls(load(path), default_delay=default_delay, name=str(path))

    def unavailable(self) -> str:
        if self.played < len(self.steps):
            return ""
        return (f"the simulator's scenario {self.name} has run out: all {len(self.steps)} "
                "of its payments have been played; restart the simulator to play it again")

    async def decide(self, sale: Sale) -> Outcome:
        step = self.steps[self.played]
        self.played += 1
        log.info("simulator: %s: scenario step %d of %d: %s%s%s", sale.ref, self.played,
                 len(self.steps), step.outcome, f" {step.code}" if step.outcome == DECLINE
                 else "", f" ({step.note})" if step.note else "")
        await asyncio.sleep(self.delay if step.delay is None else step.delay)
        if step.outcome == DECLINE:
            return Outcome(DECLINE, step.code)
        if step.outcome == LINK_DROP:
            return Outcome(LINK_DROP, after=step.after)
        return Outcome(step.outcome)

    def refund_outcome(self, ref: str, refund_ref: str, amount_minor: int) -> str:
        """The next refund step's outcome ("refund", "decline", "answer_lost"), "" when the
        script has none left (the refund is refused), or the cents table's without a
        ``refunds`` list."""
        if self.refund_steps is None:
            return refund_from_cents(amount_minor)
        if self.refunds_played >= len(self.refund_steps):
            log.warning("simulator: %s: refund %s refused: the scenario %s has played all "
                        "%d of its refunds", ref, refund_ref, self.name,
                        len(self.refund_steps))
            return ""
        step = self.refund_steps[self.refunds_played]
        self.refunds_played += 1
        log.info("simulator: %s: scenario refund %d of %d: %s%s", ref, self.refunds_played,
                 len(self.refund_steps), step.outcome, f" ({step.note})" if step.note else "")
        return step.outcome

    def finished(self, ref: str) -> None:
        if self.played == len(self.steps):
            log.warning("simulator: the scenario %s is finished: every payment in it has "
                        "been played; new sales will be refused", self.name)

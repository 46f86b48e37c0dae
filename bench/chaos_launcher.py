"""Start posbridge's CLI with one bug planted, to show that the chaos run catches it.

    POSBRIDGE_CHAOS_BUG=failed_at_startup python bench/chaos_launcher.py serve ...

The bug is monkeypatched into this process only (never into src/): the chaos harness and
its self-tests (tests/e2e/test_chaos.py) start the bridge through this script. With no
POSBRIDGE_CHAOS_BUG (or "none") it is plain `posbridge`.

Bugs (each is the kind of change a hurried fix could make):

- ``failed_at_startup``: at start-up every payment that is not final is marked ``failed``
  without asking the terminal. A payment the customer paid is then reported not paid, the
  POS sends it again under a new reference, and the customer is charged twice.
- ``lost_void``: a void is not journaled before it is sent, and an answer the bridge did not
  see is never recovered: after a kill or a lost answer the terminal has voided the payment
  while the journal (and QueryPayment) still say approved.
- ``drop_late_batch``: a batch answer that arrives after the command gave up, or one the
  bridge has to ask for again, is dropped: the terminal settled payments the journal never
  marks as settled.
- ``failed_lost_refund``: at start-up a refund still in flight (the bridge was killed after
  sending it) is journaled ``failed`` ("it never reached the terminal") without asking. The
  POS, told nothing was refunded, refunds again under a new refund reference: the terminal
  refunds the customer twice, or refuses the second as more than remains while the journal
  shows nothing refunded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

BUG_ENV = "POSBRIDGE_CHAOS_BUG"


def _failed_at_startup() -> None:
    from posbridge import journal as journal_mod
    from posbridge import service

    original = service.PaymentService.start

    async def start(self: Any) -> None:
        for payment in self.journal.active():
            status = str(payment.status)
            if status in ("received", "pending", "unknown"):
                self.journal.transition(payment.ref, journal_mod.FAILED,
                                        "planted bug: failed at start-up without asking")
        await original(self)

    service.PaymentService.start = start  # type: ignore[method-assign]


def _lost_void() -> None:
    from posbridge import service

    cls: Any = service.PaymentService
    if not hasattr(cls, "_apply_reply"):
        return  # the code before issue 13 loses voids already: nothing to plant
    from posbridge.payments import APPROVED, UNKNOWN, OpKind, OpState

    original = cls.start

    async def start(self: Any) -> None:
        # The hurried "fix": a void still in flight at start-up surely never happened.
        for op in self.journal.open_ops(OpKind.VOID):
            self.journal.close_op(op.id, OpState.NOT_DONE, "planted bug: assumed not done")
            payment = self.journal.get(op.ref)
            if payment is not None and payment.status == UNKNOWN:
                self.journal.transition(op.ref, APPROVED, "planted bug: void assumed not done")
        await original(self)

    cls.start = start


def _drop_late_batch() -> None:
    from posbridge import service

    cls: Any = service.PaymentService
    if not hasattr(cls, "_apply_batch"):
        return  # the code before issue 13 drops late batch answers already
    original = cls._apply_batch

    def _apply_batch(self: Any, result: Any, sent: Any) -> None:
        held = self.holder
        if sent is not None and sent.waiting and held is not None and held.command == "batch":
            original(self, result, sent)
            return
        # The SubmitBatch gave up (504) before this answer came, or it answers recovery's
        # question: treat the batch as never settled.
        batch_id = result.batch_id or (sent.ref if sent else "")
        for op in self.journal.open_ops("batch"):
            if op.ref == batch_id:
                self.journal.batch_not_done(op.id, batch_id, "planted bug: late answer dropped")
        service.log.info("link: late answer %s ignored (planted bug)", result)

    cls._apply_batch = _apply_batch


def _failed_lost_refund() -> None:
    from posbridge import service
    from posbridge.payments import OpKind, RefundStatus

    cls: Any = service.PaymentService
    original = cls.start

    async def start(self: Any) -> None:
        # The hurried "fix": a refund with no answer at start-up surely never arrived.
        for op in self.journal.open_ops(OpKind.REFUND):
            record = self.journal.refund_of_op(op.id)
            if record is not None:
                self.journal.finish_refund(record.refund_ref, RefundStatus.FAILED,
                                           "planted bug: assumed never sent")
        await original(self)

    cls.start = start


BUGS: dict[str, Callable[[], None]] = {
    "failed_at_startup": _failed_at_startup,
    "lost_void": _lost_void,
    "drop_late_batch": _drop_late_batch,
    "failed_lost_refund": _failed_lost_refund,
}


def main() -> int:
    bug = os.environ.get(BUG_ENV, "none")
    if bug != "none":
        if bug not in BUGS:
            raise SystemExit(f"chaos_launcher: unknown bug {bug!r}; one of {', '.join(BUGS)}")
        BUGS[bug]()
        print(f"chaos_launcher: planted bug {bug}", file=sys.stderr, flush=True)
    from posbridge.cli import main as posbridge_main

    return posbridge_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

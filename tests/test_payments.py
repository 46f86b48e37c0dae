"""The pure payments core: statuses, transitions, input rules and decisions, with Hypothesis.

No I/O here: what the journal is told to write for any journal state and any terminal answer.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from posbridge import payments
from posbridge.payments import (
    ACTIVE,
    APPROVED,
    FINAL,
    TRANSITIONS,
    Known,
    OpState,
    Status,
    TerminalView,
)

statuses = st.sampled_from(list(Status))
link_statuses = st.sampled_from(["pending", "approved", "declined", "cancelled", "timed_out",
                                 "voided", "", "bogus"])
codes = st.sampled_from(["", "00", "05", "09", "17", "51", "68", "96", "VD"]) | st.text(
    alphabet="0123456789VD", min_size=0, max_size=2)
knowns = st.builds(Known, statuses, st.integers(1, 10**6),
                   st.sampled_from(["", "T1"]), st.sampled_from([None, 3]))
views = st.builds(TerminalView, st.booleans(), link_statuses, codes,
                  st.sampled_from(["", "T1", "T2"]), st.integers(0, 10**6),
                  st.sampled_from([0, 3, 4]), st.sampled_from(["", "82"]))


def test_every_status_is_in_the_table_and_final_ones_stay_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert set(ACTIVE) | set(FINAL) == set(Status)
    assert not set(ACTIVE) & set(FINAL)
    for status in (Status.DECLINED, Status.CANCELLED, Status.TIMED_OUT, Status.VOIDED):
        assert TRANSITIONS[status] == frozenset()
    # Paid can only become voided, or unknown while a void's answer is awaited.
    assert TRANSITIONS[APPROVED] == {Status.VOIDED, Status.UNKNOWN}


@given(statuses, codes)
def test_only_approved_shows_transaction_status_00(status: Status, code: str) -> None:
    """A POS that only checks "00" can never take an unpaid payment for a paid one, whatever
    response code a confused terminal sent with it."""
    assert (payments.transaction_status(status, code) == "00") == (status == APPROVED)


@given(statuses)
def test_the_pos_never_sees_received(status: Status) -> None:
    public = payments.public_status(status)
    assert public != Status.RECEIVED
    assert (public == Status.UNKNOWN) == (status in (Status.RECEIVED, Status.UNKNOWN))


@given(knowns, views)
def test_a_terminal_answer_only_moves_along_the_table(known: Known, view: TerminalView
                                                      ) -> None:
    change = payments.on_terminal_view(known, view, "test")
    if change is None:
        return
    assert payments.allowed(known.status, change.status)
    if change.status != known.status and known.status not in ACTIVE:
        # Out of a final status only: paid -> voided (or failed -> started again).
        assert (known.status, change.status) in {(APPROVED, Status.VOIDED)}


@given(knowns, views)
def test_nothing_becomes_paid_unless_the_terminal_says_approved(known: Known,
                                                                view: TerminalView) -> None:
    change = payments.on_terminal_view(known, view, "test")
    if change is not None and change.status == APPROVED and known.status != APPROVED:
        assert view.found and view.status == "approved"


@given(knowns, views)
def test_an_unknown_outcome_is_never_guessed(known: Known, view: TerminalView) -> None:
    """Not found means "never reached the terminal" only for a sale without a transaction
    id; a payment the terminal once had (a transaction id) is never failed by a not-found."""
    change = payments.on_terminal_view(known, view, "test")
    if not view.found and change is not None and change.status == Status.FAILED:
        assert known.status in (Status.RECEIVED, Status.UNKNOWN, Status.PENDING)
        if known.status == Status.UNKNOWN:
            assert known.transaction_id == ""
        if known.status == Status.PENDING:
            assert change.problem  # logged as an error: the terminal lost a record
    if change is not None and view.found and payments.from_terminal(view.status) is None:
        assert change.status == known.status and change.problem


@given(knowns, st.integers(1, 99))
def test_settling_is_learned_once(known: Known, batch: int) -> None:
    view = TerminalView(True, "approved", "00", "T1", known.amount_minor, batch)
    change = payments.on_terminal_view(known, view, "test")
    if change is not None and change.settled_in is not None:
        assert known.batch_number is None and change.status == APPROVED


def test_a_stale_pending_after_a_final_result_is_silent() -> None:
    known = Known(APPROVED, 100, "T1", None)
    assert payments.on_terminal_view(known, TerminalView(True, "pending"), "x") is None


@given(st.integers(1, 10**12 - 1))
def test_amounts_round_trip_in_cents(minor: int) -> None:
    text = payments.format_minor(minor)
    assert payments.parse_amount(text, 10**14) == minor
    whole, frac = divmod(minor, 100)
    if frac % 10 == 0:
        assert payments.parse_amount(f"{whole}.{frac // 10}", 10**14) == minor


@given(st.text(max_size=20))
def test_an_amount_is_parsed_or_refused_with_a_message(text: str) -> None:
    try:
        minor = payments.parse_amount(text, 10**14)
    except payments.InvalidInput as exc:
        assert exc.field == "amount" and exc.message
    else:
        assert minor > 0 and isinstance(minor, int)


@given(st.sampled_from(list(Status)))
def test_cancel_and_void_outcomes_follow_the_payment(status: Status) -> None:
    cancel, void = payments.cancel_outcome(status), payments.void_outcome(status)
    if status in ACTIVE:
        assert cancel is None and void is None
    else:
        assert cancel == (OpState.DONE if status == Status.CANCELLED else OpState.NOT_DONE)
        assert void == (OpState.DONE if status == Status.VOIDED else OpState.NOT_DONE)

"""What the panel shows in each state of the service, without a display: the presenter is a
pure function from a status snapshot to texts, colours and button states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from posbridge import errors
from posbridge.gui.choices import NETWORK, SIMULATOR, TerminalOption
from posbridge.gui.presenter import (
    AMBER,
    GREEN,
    GREY,
    PAID,
    RED,
    SIMULATOR_BANNER,
    UNPAID,
    WAITING,
    FormError,
    Light,
    PanelView,
    Resolution,
    ago,
    batch_done,
    batch_question,
    payment_rows,
    present,
    read_form,
    read_resolution,
    reference_filter,
    resolvable,
    resolve_question,
    settle_by_hand,
    stop_question,
    tcp_spec,
)
from posbridge.journal import Payment
from posbridge.listener import RUNNING, STARTING, STOPPED, STOPPING, ListenerStatus
from posbridge.protocol.messages import Hello
from posbridge.service import BatchSummary
from posbridge.terminal import LinkStatus
from procs import Stack
from test_resolution import void_in_flight_on_a_lost_terminal

NOW = 1_800_000_000.0
USB = TerminalOption("Terminal on USB", "usb")
TERMINAL = Hello(role="terminal", version=1, session="s", serial="A123", model="Verifone X",
                 app_version="2.4.1", condition_codes=("00", "82"))


def payment(ref: str = "inv-1", status: str = "pending", amount: str = "12.50",
            code: str = "", batch: int | None = None,
            created: str = "2027-01-15T09:30:05.000+00:00") -> Payment:
    minor = int(amount.replace(".", ""))
    return Payment(ref, amount, minor, "82", status, code, "", batch, created, created)


def link(state: str, *, peer: Hello | None = TERMINAL, error: str = "",
         last_rx: float | None = NOW - 0.4) -> LinkStatus:
    return LinkStatus(state=state, terminal=peer, since=NOW - 5, last_error=error,
                      last_rx=last_rx, description="tcp://10.0.0.7:9100")


def running(link_status: LinkStatus | None, *, pay: Payment | None = None,
            simulated: bool = False) -> ListenerStatus:
    return ListenerStatus(RUNNING, terminal_spec="tcp://10.0.0.7:9100", simulated=simulated,
                          address="http://127.0.0.1:8080", link=link_status, payment=pay)


def buttons(view: PanelView) -> tuple[bool, bool, bool, bool]:
    return view.start_enabled, view.stop_enabled, view.batch_enabled, view.form_enabled


def test_stopped() -> None:
    view = present(ListenerStatus(STOPPED), NOW, USB)
    assert (view.listener.text, view.listener.colour) == ("Stopped", GREY)
    assert view.terminal.colour == GREY and "stopped" in view.terminal.text
    assert view.terminal_detail == "" and view.banner == ""
    assert view.title == "posbridge: stopped"
    assert buttons(view) == (True, False, False, True)  # only Start; the form can change


def test_stopped_after_a_failure_to_start_says_why_in_red() -> None:
    view = present(ListenerStatus(STOPPED, error="port 8080 on 127.0.0.1 is already in use"),
                   NOW, USB)
    assert view.listener == Light("Stopped: port 8080 on 127.0.0.1 is already in use", RED)
    assert buttons(view) == (True, False, False, True)


def test_starting() -> None:
    view = present(ListenerStatus(STARTING), NOW, USB)
    assert (view.listener.text, view.listener.colour) == ("Starting...", AMBER)
    assert buttons(view) == (False, True, False, False)  # can be stopped, not restarted


def test_stopping() -> None:
    view = present(ListenerStatus(STOPPING), NOW, USB)
    assert (view.listener.text, view.listener.colour) == ("Stopping...", AMBER)
    assert buttons(view) == (False, False, False, False)


def test_running_while_the_terminal_is_connecting() -> None:
    view = present(running(link("connecting", peer=None, last_rx=None)), NOW, NETWORK)
    assert (view.listener.text, view.listener.colour) == (
        "Running on http://127.0.0.1:8080", GREEN)
    assert view.title == "posbridge: running on http://127.0.0.1:8080"
    assert (view.terminal.text, view.terminal.colour) == (
        "Connecting to tcp://10.0.0.7:9100...", AMBER)
    assert view.terminal_detail == "not heard yet"
    assert buttons(view) == (False, True, False, False)  # no batch without a terminal


def test_running_and_connected_shows_the_terminal_and_when_it_was_last_heard() -> None:
    view = present(running(link("connected")), NOW, NETWORK)
    assert (view.terminal.text, view.terminal.colour) == (
        "Connected: Verifone X, serial A123", GREEN)
    # A terminal that names no method: the known code by its known name, the other bare.
    assert view.terminal_detail == ("app 2.4.1; payment methods 00, 82 PayNow; "
                                    "last heard 0.4 s ago")
    assert (view.payment.text, view.payment.colour) == ("No payment on the terminal", GREY)
    assert buttons(view) == (False, True, True, False)


def test_the_terminal_s_own_method_names_are_shown() -> None:
    named = Hello(role="terminal", version=2, session="s", serial="A1", model="M",
                  app_version="1", condition_codes=("82", "30", "99"),
                  condition_code_names=("PayNow", "Alipay", "Visa QR"))
    view = present(running(link("connected", peer=named)), NOW, NETWORK)
    assert view.terminal_detail.startswith(
        "app 1; payment methods 82 PayNow, 30 Alipay, 99 Visa QR; ")


def test_disconnected_shows_the_error_in_red() -> None:
    status = running(link("disconnected", error="connecting to tcp://10.0.0.7:9100: "
                          "connection refused", last_rx=NOW - 95))
    view = present(status, NOW, NETWORK)
    assert (view.terminal.text, view.terminal.colour) == (
        "Not connected: connecting to tcp://10.0.0.7:9100: connection refused", RED)
    assert view.terminal_detail == ("posbridge keeps trying to reach tcp://10.0.0.7:9100; "
                                    "last heard 95 s ago")
    assert buttons(view) == (False, True, False, False)


@pytest.mark.parametrize(("status", "text", "colour"), [
    ("received", "inv-1: 12.50, being sent to the terminal", AMBER),
    ("pending", "inv-1: 12.50, waiting for the customer on the terminal", AMBER),
    ("unknown", "inv-1: 12.50, outcome unknown: asking the terminal", RED),
])
def test_payment_in_progress(status: str, text: str, colour: str) -> None:
    view = present(running(link("connected"), pay=payment(status=status)), NOW, NETWORK)
    assert (view.payment.text, view.payment.colour) == (text, colour)
    assert not view.batch_enabled  # the batch waits for the payment
    assert view.stop_enabled  # stopping is allowed, after a question (stop_question)


def test_the_simulator_is_marked_as_taking_no_real_money() -> None:
    sim = Hello(role="terminal", version=1, session="s", serial="SIM-000001",
                model="posbridge simulator (no real money)", app_version="0.1.0")
    view = present(running(link("connected", peer=sim), simulated=True), NOW, NETWORK)
    assert view.banner == SIMULATOR_BANNER and "no real money" in view.banner
    assert view.title.endswith("(SIMULATOR)")
    assert "no real money" in view.terminal.text
    # While stopped, the banner follows the choice in the form.
    assert present(ListenerStatus(STOPPED), NOW, SIMULATOR).banner == SIMULATOR_BANNER
    assert present(ListenerStatus(STOPPED), NOW, NETWORK).banner == ""
    # While running, it follows what is running, whatever the form says.
    assert present(running(link("connected")), NOW, SIMULATOR).banner == ""


def test_ages() -> None:
    assert [ago(s) for s in (-1, 0.44, 12.4, 300, 10_000)] == [
        "0.0 s ago", "0.4 s ago", "12 s ago", "5 min ago", "3 h ago"]


def test_stopping_asks_only_when_a_payment_is_on_the_terminal() -> None:
    assert stop_question(running(link("connected"))) is None
    question = stop_question(running(link("connected"), pay=payment()))
    assert question is not None
    assert "inv-1 (12.50)" in question and "journal keeps the payment" in question


def test_batch_question_shows_count_and_total() -> None:
    question = batch_question([payment("a", "approved", "12.50"),
                               payment("b", "approved", "0.75")])
    assert "2 approved payment(s), total 13.25" in question
    assert "No approved payment" in batch_question([])
    assert batch_done(BatchSummary(7, 2, 1325)) == (
        "Batch 7 submitted: 2 payment(s), total 13.25.")


def test_form_gives_the_listener_settings() -> None:
    config = read_form(" 127.0.0.1 ", " 8090 ", SIMULATOR, "", customer_delay=0.3)
    assert (config.terminal, config.host, config.port, config.customer_delay, config.journal) \
        == ("simulator", "127.0.0.1", 8090, 0.3, None)
    assert read_form("localhost", "8080", NETWORK, "10.0.0.7:9100").terminal == \
        "tcp://10.0.0.7:9100"
    assert read_form("127.0.0.1", "8080", USB, "ignored").terminal == "usb"
    assert str(read_form("127.0.0.1", "1", USB, "", journal="/x/j.sqlite3").journal) == \
        "/x/j.sqlite3"


@pytest.mark.parametrize(("host", "port", "address", "message"), [
    ("127.0.0.1", "99999", "", "Port: give a whole number from 1 to 65535 (got '99999')"),
    ("127.0.0.1", "80a", "", "got '80a'"),
    ("127.0.0.1", "", "", "got ''"),
    ("127.0.0.1", "\uff18\uff10", "", "got '\uff18\uff10'"),  # full-width digits
    ("", "8080", "", "Host: give the address"),
    ("0.0.0.0", "8080", "", "can be reached from other machines"),
    ("127.0.0.1", "8080", "", "Terminal address: give"),
    ("127.0.0.1", "8080", "tcp://10.0.0.7", "Terminal address: 'tcp://10.0.0.7' is not"),
])
def test_form_refuses_what_cannot_work_with_a_reason(host: str, port: str, address: str,
                                                     message: str) -> None:
    with pytest.raises(FormError) as caught:
        read_form(host, port, NETWORK, address)
    assert message in str(caught.value)


def test_tcp_spec_adds_the_scheme() -> None:
    assert tcp_spec(" 10.0.0.7:9100 ") == "tcp://10.0.0.7:9100"
    assert tcp_spec("tcp://[::1]:9100") == "tcp://[::1]:9100"


def test_payment_rows() -> None:
    cet = timezone(timedelta(hours=1))
    now = datetime(2027, 1, 15, 18, 0, tzinfo=cet)
    rows = payment_rows([
        payment("a", "approved", "1.00", "00"),
        payment("b", "declined", "2.51", "51"),
        payment("c", "pending", "3.00"),
        payment("d", "received", "4.00"),
        payment("e", "approved", "5.00", "00", batch=3,
                created="2027-01-14T08:00:00.000+00:00"),
        payment("f", "voided", "6.00", "VD"),
    ], now)
    assert [r.values for r in rows] == [
        ("10:30:05", "a", "1.00", "82", "approved (00)"),
        ("10:30:05", "b", "2.51", "82", "declined (51)"),
        ("10:30:05", "c", "3.00", "82", "pending (09)"),
        ("10:30:05", "d", "4.00", "82", "unknown (09)"),  # received is shown as unknown
        ("2027-01-14 09:00", "e", "5.00", "82", "approved (00), batch 3"),
        ("10:30:05", "f", "6.00", "82", "voided (VD)"),
    ]
    assert [r.tag for r in rows] == [PAID, UNPAID, WAITING, WAITING, PAID, UNPAID]
    assert payment_rows([payment(created="garbage")], datetime.now(UTC))[0].values[0] == \
        "garbage"


def test_reference_filter() -> None:
    assert reference_filter("  ") is None
    assert reference_filter(" inv ") == "inv"


def test_the_link_history_newest_first_with_the_attempts() -> None:
    from posbridge.gui.presenter import HISTORY_LINES
    from posbridge.terminal import LinkEvent

    events = tuple(LinkEvent(NOW - 60 + i, kind, detail) for i, (kind, detail) in enumerate([
        ("opened", "usb 2d00"), ("up", "Verifone X serial A123, app 2.4.1"),
        ("down", "USB accessory read: no such device"),
        ("open_failed", "no USB device in accessory mode"), ("opened", "usb 2d00"),
        ("up", "Verifone X serial A123, app 2.4.1")]))
    status = running(replace(link("connected"), history=events, attempts=3))
    lines = present(status, NOW, NETWORK).link_history
    clock = datetime.fromtimestamp(NOW - 55).strftime("%H:%M:%S")
    assert len(lines) == HISTORY_LINES + 1
    assert lines[0] == f"{clock} terminal connected: Verifone X serial A123, app 2.4.1"
    assert lines[2] == (f"{datetime.fromtimestamp(NOW - 57).strftime('%H:%M:%S')} could not "
                        "open the terminal: no USB device in accessory mode")
    assert lines[3].endswith("link lost: USB accessory read: no such device")
    assert lines[-1] == "3 connection attempt(s) since the listener started"
    assert present(ListenerStatus(STOPPED), NOW, USB).link_history == ()
@pytest.mark.parametrize(("delay", "journal", "message"), [
    (float("nan"), "", "Customer delay (settings file): give a finite number"),
    (-1.0, "", "Customer delay (settings file): give a number of seconds, zero or more"),
    (2.0, "/", "Journal (settings file): / is a folder"),
])
def test_form_refuses_a_bad_setting_from_the_settings_file(delay: float, journal: str,
                                                           message: str) -> None:
    # The settings file is JSON, which Python reads NaN from: checked like the form's fields.
    with pytest.raises(FormError) as caught:
        read_form("127.0.0.1", "8080", SIMULATOR, "", customer_delay=delay, journal=journal)
    assert message in str(caught.value)


# -- settling a payment by hand (issue 18) ------------------------------------------------


@pytest.mark.parametrize("status", ["received", "pending", "unknown"])
def test_resolve_is_offered_for_a_payment_whose_outcome_is_not_known(status: str) -> None:
    up = running(link("connected"))
    assert resolvable(up, payment(status=status))
    assert not resolvable(replace(up, state=STOPPED), payment(status=status))
    assert not resolvable(up, None)


@pytest.mark.parametrize("status", ["approved", "declined", "cancelled", "timed_out",
                                    "voided", "failed"])
def test_resolve_is_not_offered_for_a_final_payment(status: str) -> None:
    assert not resolvable(running(link("connected")), payment(status=status))


def test_resolve_question_names_the_payment_and_says_the_terminal_is_asked() -> None:
    text = resolve_question(payment("inv-9", "unknown", "4.00"))
    assert "inv-9 (4.00) is unknown" in text
    assert "asks the connected terminal first" in text


def test_resolution_needs_an_outcome_and_a_reason() -> None:
    assert read_resolution("p1", "paid", "  slip shows it  ") == Resolution(
        "p1", True, "slip shows it")
    assert read_resolution("p1", "not_paid", "cash").paid is False
    with pytest.raises(FormError, match="paid or not"):
        read_resolution("p1", "", "cash")
    with pytest.raises(FormError, match="Reason: say why"):
        read_resolution("p1", "paid", "   ")
    with pytest.raises(FormError, match="Reason: the reason must be"):
        read_resolution("p1", "paid", "two\nlines")


@pytest.mark.e2e
def test_settle_by_hand_goes_through_the_bridge_and_shows_its_refusal(tmp_path: Path) -> None:
    """What the Resolve button does, against a real bridge and simulator: the same
    /admin/ResolvePayment as posbridge journal resolve; a refusal is shown as given."""
    stack = Stack(tmp_path, customer_delay=0.2)
    void_in_flight_on_a_lost_terminal(stack.journal)  # the simulator never had p1
    with stack.running():
        stack.wait_connected()
        ok, text = settle_by_hand(stack.url, Resolution("p1", False, "old terminal's report"),
                                  "alice")
        assert ok, text
        assert text == ("Payment p1 settled by hand by alice: voided "
                        "(transaction_status VD).")
        after = stack.post("/QueryPayment", {"retrieval_reference_number": "p1"}).json()
        assert (after["status"], after["resolved_by_hand"]) == ("voided", True)
        # Now final: the bridge refuses, and the panel shows its message.
        ok, text = settle_by_hand(stack.url, Resolution("p1", True, "x"), "alice")
        assert not ok
        assert text.startswith("Payment p1 was not settled by hand (409 NOT_RESOLVABLE):")
        assert "its outcome is known" in text
    # No bridge at all: said so, nothing raised.
    ok, text = settle_by_hand(stack.url, Resolution("p1", True, "x"), "alice")
    assert not ok and "did not answer" in text
def test_batch_question_shows_the_x_report_and_a_mismatch_first(tmp_path: Path) -> None:
    from posbridge import reports
    from posbridge.gui.presenter import panel_report
    from posbridge.journal import Journal

    agreed = reports.build([reports.Item("payment", "82", "approved", 1250)], kind="X",
                           terminal=[reports.Line("payment", "82", "approved", 1, 1250)])
    question = batch_question([payment("a", "approved", "12.50")], agreed)
    assert question.startswith("Submit the batch for the end of the day?")
    assert "X report: since the first payment" in question
    assert "PayNow" in question and "the terminal's totals agree" in question
    differs = reports.build([reports.Item("payment", "82", "approved", 1250)], kind="X",
                            terminal=[])
    question = batch_question([payment("a", "approved", "12.50")], differs)
    assert question.startswith("The journal and the terminal do not agree")
    assert "!!! MISMATCH" in question and "terminal none" in question
    # The bridge could not give it (a v1 terminal): the journal's own, with the reason.
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        journal.create("p1", "2.00", 200, "30")
        fallback = panel_report(errors.TerminalRefused("the terminal speaks link protocol "
                                                       "v1, which has no totals"), journal)
        text = batch_question([], fallback)
        assert "Alipay" in text and "received" in text
        assert "not compared: the terminal speaks link protocol v1" in text
        assert panel_report(agreed, journal) is agreed
    finally:
        journal.close()

"""The Listener (the one way the bridge is assembled) and its thread wrapper, on real ports
with a real journal file and the built-in simulator."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from posbridge.http.access import AccessPolicy
from posbridge.journal import Journal
from posbridge.listener import (
    RUNNING,
    STOPPED,
    Listener,
    ListenerConfig,
    ListenerError,
    ListenerNotRunning,
    ListenerThread,
)
from rig import HEADERS, create_body, free_port, run

T = TypeVar("T")


def config(tmp_path: Path, **kw: Any) -> ListenerConfig:
    values: dict[str, Any] = {"terminal": "simulator", "port": 0, "customer_delay": 0.2,
                              "journal": tmp_path / "journal.sqlite3"}
    return ListenerConfig(**{**values, **kw})


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def eventually(check: Callable[[], T | None], what: str, timeout: float = 10) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_listener_serves_payments_and_stop_closes_the_port(tmp_path: Path) -> None:
    async def main() -> None:
        listener = Listener(config(tmp_path))
        await listener.start()
        status = listener.status()
        assert status.state == RUNNING and status.simulated
        assert status.address.startswith("http://127.0.0.1:")
        port = int(status.address.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=status.address, headers=HEADERS) as http:
            assert (await http.get("/health")).status_code == 200
            while (link := listener.status().link) is None or link.state != "connected":
                await asyncio.sleep(0.02)
            r = await http.post("/CreatePayment", json=create_body("l-1"))
            assert r.status_code == 200, r.text
            payment = listener.status().payment
            assert payment is not None and payment.ref == "l-1"
        await listener.stop()
        assert listener.status().state == STOPPED
        assert not port_open(port)

    run(main())


def test_a_taken_port_is_a_plain_error_and_leaves_nothing_open(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def main() -> None:
            listener = Listener(config(tmp_path, port=port))
            with pytest.raises(ListenerError, match=f"port {port} on 127.0.0.1 is already in use"):
                await listener.start()
            assert listener.status().state == STOPPED
            assert "already in use" in listener.status().error

        run(main())
    assert not (tmp_path / "journal.sqlite3").exists()  # refused before it opened anything


@pytest.mark.parametrize(("kw", "message"), [
    ({"terminal": "carrier-pigeon"}, "'carrier-pigeon' is not known"),
    ({"terminal": "tcp://nowhere"}, "not a tcp://HOST:PORT address"),
    ({"max_amount": "lots"}, "maximum amount"),
    ({"host": "0.0.0.0"}, "refusing to listen on 0.0.0.0"),
    ({"host": "no-such-host.invalid", "policy": AccessPolicy.build(token="t" * 32)},
     "cannot listen on 'no-such-host.invalid'"),
])
def test_bad_settings_are_refused_with_a_reason(tmp_path: Path, kw: dict[str, Any],
                                                message: str) -> None:
    async def main() -> None:
        listener = Listener(config(tmp_path, **kw))
        with pytest.raises(ListenerError, match=message):
            await listener.start()
        assert listener.status().state == STOPPED

    run(main())


def test_a_token_allows_listening_beyond_this_pc(tmp_path: Path) -> None:
    async def main() -> None:
        token = "t" * 32
        listener = Listener(config(tmp_path, host="0.0.0.0",
                                   policy=AccessPolicy.build(token=token)))
        await listener.start()
        assert listener.status().address.startswith("http://0.0.0.0:")
        await listener.stop()

    run(main())


def test_thread_runs_the_listener_without_blocking_its_caller(tmp_path: Path) -> None:
    thread = ListenerThread(publish_interval=0.05)
    port = free_port()
    thread.start(config(tmp_path, port=port, customer_delay=30))
    try:
        status = eventually(lambda: (s := thread.status()).link and
                            s.link.state == "connected" and s, "terminal connected")
        assert status.address == f"http://127.0.0.1:{port}" and status.simulated
        with httpx.Client(base_url=status.address, headers=HEADERS) as http:
            assert http.post("/CreatePayment", json=create_body("t-1")).status_code == 200
        held = eventually(lambda: (p := thread.status().payment) and p.status == "pending"
                          and p, "payment pending on the terminal")
        assert held.ref == "t-1"
        # The batch waits for the payment on the terminal: the service's answer arrives
        # through the future, as it would for the panel.
        with pytest.raises(Exception, match="busy"):
            thread.submit_batch().result(10)
    finally:
        thread.stop()
        assert thread.join(20)
    assert thread.status().state == STOPPED and thread.status().error == ""
    assert not port_open(port)
    # Stopped mid-payment: the journal still has it, pending, for the next start to finish.
    journal = Journal(tmp_path / "journal.sqlite3", readonly=True)
    try:
        payment = journal.get("t-1")
        assert payment is not None and payment.status == "pending"
    finally:
        journal.close()
    with pytest.raises(ListenerNotRunning):
        thread.submit_batch().result(1)


def test_thread_batch_settles_the_approved_payments(tmp_path: Path) -> None:
    thread = ListenerThread(publish_interval=0.05)
    thread.start(config(tmp_path))
    try:
        address = eventually(lambda: (s := thread.status()).link and
                             s.link.state == "connected" and s.address, "connected")
        with httpx.Client(base_url=address, headers=HEADERS) as http:
            for ref, amount in (("b-1", "1.00"), ("b-2", "2.50")):
                assert http.post("/CreatePayment",
                                 json=create_body(ref, amount)).status_code == 200
                eventually(lambda r=ref: http.post(
                    "/QueryPayment", json={"retrieval_reference_number": r}
                ).json()["status"] == "approved", f"{ref} approved")
        summary = thread.submit_batch().result(10)
        assert (summary.count, summary.total_minor) == (2, 350)
    finally:
        thread.stop()
        assert thread.join(20)


def test_thread_start_failure_shows_in_the_status(tmp_path: Path) -> None:
    thread = ListenerThread()
    thread.start(config(tmp_path, terminal="carrier-pigeon"))
    assert thread.join(10)
    status = thread.status()
    assert status.state == STOPPED and "carrier-pigeon" in status.error
    # And it can be started again once the setting is right.
    thread.start(config(tmp_path))
    try:
        eventually(lambda: thread.status().state == RUNNING, "running")
        assert thread.status().error == ""
    finally:
        thread.stop()
        assert thread.join(20)


def test_stop_while_starting_stops(tmp_path: Path) -> None:
    thread = ListenerThread()
    thread.start(config(tmp_path))
    thread.stop()
    assert thread.join(20)
    assert thread.status().state == STOPPED


def test_a_failure_while_serving_is_an_error_not_a_clean_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `posbridge serve` must exit non-zero so that systemd (Restart=on-failure) or launchd
    # starts it again.
    from posbridge import listener as listener_module

    async def broken_main_loop(self: Any) -> None:
        raise RuntimeError("the event loop's sockets broke")

    monkeypatch.setattr(listener_module._Server, "main_loop", broken_main_loop)

    async def main() -> None:
        listener = Listener(config(tmp_path))
        with pytest.raises(ListenerError, match="the HTTP server failed: the event loop"):
            await listener.run()
        assert listener.status().state == STOPPED
        Journal(tmp_path / "journal.sqlite3").close()  # closed, and its lock released

    run(main())

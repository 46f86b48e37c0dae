"""The serial transport through a real pty with pyserial, the simulator at the far end."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from posbridge.simulator import TerminalModel, TerminalServer
from posbridge.simulator.stream import open_pty, serve_fd
from posbridge.terminals import TerminalSpecError, choose_terminal
from posbridge.transports import TransportClosed
from posbridge.transports.serial import parse_serial_spec, serial_connector
from rig import FAST_TIMERS, bridge, create_body, run


@contextlib.asynccontextmanager
async def simulator_on_pty() -> AsyncIterator[tuple[str, int]]:
    """The simulated terminal serving the master end of a new pty: yields the path of the
    end a serial port opens, and the master fd."""
    master, path = open_pty()
    server = TerminalServer(TerminalModel(customer_delay=0.2), timers=FAST_TIMERS)
    task = asyncio.create_task(serve_fd(server, master))
    try:
        yield path, master
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()
        with contextlib.suppress(OSError):
            os.close(master)


def test_a_payment_over_a_pty_is_approved(journal_path: Path) -> None:
    async def main() -> None:
        async with simulator_on_pty() as (path, _), \
                bridge(journal_path, connector=serial_connector(path)) as b:
            assert await b.service.terminal.wait_connected(5)
            response = await b.post("/CreatePayment", create_body("pty-1", "3.00"))
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "pending"
            body = await b.wait_status("pty-1", "approved")
            assert body["transaction_status"] == "00"
            declined = await b.post("/CreatePayment", create_body("pty-2", "3.51"))
            assert declined.status_code == 200, declined.text
            assert (await b.wait_status("pty-2", "declined"))["transaction_status"] == "51"
            assert sorted((p.ref, p.status) for p in b.journal.recent()) == [
                ("pty-1", "approved"), ("pty-2", "declined")]

    run(main(), timeout=30)


def test_bytes_cross_and_a_closed_far_end_ends_the_read() -> None:
    async def main() -> None:
        master, path = open_pty()
        try:
            transport = await serial_connector(path)()
            try:
                assert transport.description == f"serial:{path}"
                os.write(master, b"\x00\xffhello")
                data = b""
                while len(data) < 7:
                    data += await transport.read(100, 1.0)
                assert data == b"\x00\xffhello"
                await transport.write(b"ping\n\x00")
                got = b""
                while len(got) < 6:
                    await asyncio.sleep(0.01)
                    with contextlib.suppress(BlockingIOError):
                        got += os.read(master, 100)
                assert got == b"ping\n\x00"
                assert await transport.read(100, 0.05) == b""
                os.close(master)
                master = -1
                with pytest.raises(TransportClosed, match=f"reading from serial:{path}"):
                    while True:
                        await transport.read(100, 2.0)
                with pytest.raises(TransportClosed):
                    await transport.write(b"more")
            finally:
                await transport.close()
                await transport.close()
        finally:
            if master >= 0:
                os.close(master)

    run(main(), timeout=20)


def test_a_missing_port_says_how_to_find_one(tmp_path: Path) -> None:
    async def main() -> None:
        missing = tmp_path / "ttyACM9"
        with pytest.raises(TransportClosed, match="posbridge devices") as info:
            await serial_connector(str(missing))()
        assert str(missing) in str(info.value)

    run(main(), timeout=10)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("serial:/dev/ttyACM0", ("/dev/ttyACM0", 115200)),
        ("serial:COM3", ("COM3", 115200)),
        ("serial:COM3?baud=9600", ("COM3", 9600)),
        ("serial:/dev/ttyUSB1?baud=4000000", ("/dev/ttyUSB1", 4000000)),
    ],
)
def test_parse_serial_spec_accepts(spec: str, expected: tuple[str, int]) -> None:
    assert parse_serial_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["serial:", "serial:?baud=9600", "serial:COM3?baud=", "serial:COM3?baud=fast",
     "serial:COM3?baud=10", "serial:COM3?speed=9600", "serial:COM3?baud=\u00b9\u00b2",
     "serial:COM3?baud=9600&parity=E", "serial:COM3?=", "serial:COM3?baud=-1"],
)
def test_parse_serial_spec_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="serial") as info:
        parse_serial_spec(spec)
    assert repr(spec) in str(info.value)
    with pytest.raises(TerminalSpecError):
        choose_terminal(spec)


def test_choose_terminal_knows_serial_and_usb() -> None:
    assert choose_terminal("serial:/dev/ttyACM0?baud=9600").description == (
        "serial:/dev/ttyACM0 at 9600 baud")
    assert choose_terminal("usb").description == "usb"
    assert choose_terminal("usb:18D1:4ee1").description == "usb:18d1:4ee1"
    assert choose_terminal("usb?model=T1&timeout=5").description == "usb"
    for bad in ("usb:18d1", "usb:xyz:1", "usb:18d1:4ee1:1", "usb?colour=red",
                "usb?timeout=0", "usb?timeout=nan", "usbx", "usb:12345:1"):
        with pytest.raises(TerminalSpecError):
            choose_terminal(bad)

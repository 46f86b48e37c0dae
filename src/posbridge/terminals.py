"""Which terminal to talk to: ``--terminal SPEC`` to a Connector.

One place turns the operator's terminal spec into a way to open the link, so ``serve`` and
every other front end (the desktop panel) accept the same specs with the same errors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .transports import Connector

log = logging.getLogger("posbridge")

SPEC_HELP = ("'simulator' (built in, takes no real money); 'usb' (find the Android terminal "
             "on USB) or usb:VID:PID (that device; 'posbridge devices' lists them); "
             "serial:PORT[?baud=N] (a serial port: /dev/ttyACM0, COM3); or tcp://HOST:PORT (a "
             "terminal or a 'posbridge simulator' on the network)")


class TerminalSpecError(ValueError):
    """The spec names no terminal posbridge knows how to reach; the message says what would."""


@dataclass
class TerminalChoice:
    connector: Connector
    description: str
    #: True when no real money can be taken (the built-in simulator).
    simulated: bool = False
    #: Called once when the bridge stops, to release what opening the choice took.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        for close in self.closers:
            await close()


def choose_terminal(spec: str, *, customer_delay: float = 2.0,
                    customer: Any = None) -> TerminalChoice:
    """The terminal for ``spec``; TerminalSpecError when it is not understood. ``customer``
    decides the built-in simulator's payments (the cents table when None); a window's
    customer is bound to this loop here, so call this from the loop that will run it."""
    if spec == "simulator":
        from .simulator import TerminalModel, TerminalServer
        from .simulator.screen import WindowCustomer

        model = TerminalModel(customer_delay=customer_delay, customer=customer)
        if isinstance(customer, WindowCustomer):
            customer.bind(lambda: model.drop_link(), asyncio.get_running_loop())
        simulator = TerminalServer(model)
        return TerminalChoice(simulator.connect_in_process, "in-process simulator",
                              simulated=True, closers=[simulator.close])
    if spec.startswith("tcp://"):
        from .transports.tcp import parse_tcp_url, tcp_connector

        try:
            host, port = parse_tcp_url(spec)
        except ValueError as exc:
            raise TerminalSpecError(str(exc)) from None
        return TerminalChoice(tcp_connector(host, port), spec)
    if spec == "usb" or spec.startswith(("usb:", "usb?")):
        from .transports.usb import parse_usb_spec, usb_connector

        try:
            usb = parse_usb_spec(spec)
        except ValueError as exc:
            raise TerminalSpecError(str(exc)) from None
        return TerminalChoice(usb_connector(usb), usb.text)
    if spec.startswith("serial:"):
        from .transports.serial import parse_serial_spec, serial_connector

        try:
            device, baud = parse_serial_spec(spec)
        except ValueError as exc:
            raise TerminalSpecError(str(exc)) from None
        return TerminalChoice(serial_connector(device, baud), f"serial:{device} at {baud} baud")
    raise TerminalSpecError(f"--terminal {spec!r} is not known; use {SPEC_HELP}")

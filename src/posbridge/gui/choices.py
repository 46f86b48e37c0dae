"""The terminals the panel offers: the one list the operator picks from.

``terminal_options()`` is the only place the list is made. Terminals found on this PC (USB,
serial) come from ``detected_terminals()``, which asks ``posbridge.devices`` (the same list
``posbridge devices`` prints), and the panel shows them first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TerminalOption:
    label: str  # what the operator sees in the list
    spec: str  # the --terminal spec; "" when it comes from the address field
    simulated: bool = False  # no real money is taken
    takes_address: bool = False  # the spec is the tcp:// address the operator types


NETWORK = TerminalOption("Terminal on the network (tcp://HOST:PORT)", "", takes_address=True)
SIMULATOR = TerminalOption("Simulator (takes NO real money)", "simulator", simulated=True)


def detected_terminals() -> list[TerminalOption]:
    """Terminals found on this PC right now: USB terminals and serial ports, each with the
    spec that selects it (``usb:VID:PID``, ``serial:PORT``). Never raises: a PC with no
    libusb still lists its serial ports."""
    from ..devices import list_devices

    found = list_devices()
    options = []
    for usb in found.usb:
        name = " ".join(filter(None, (usb.manufacturer, usb.product))) or "USB device"
        state = {"accessory": "connected before", "can switch": "ready",
                 "unknown": "cannot be opened: see the log"}.get(usb.accessory, usb.accessory)
        options.append(TerminalOption(f"{name} (USB {usb.vid:04x}:{usb.pid:04x}, {state})",
                                      usb.spec))
    for port in found.serial:
        options.append(TerminalOption(f"{port.device} ({port.description or 'serial port'})",
                                      port.spec))
    return options


def terminal_options(
    detected: Sequence[TerminalOption] | None = None, saved: str = ""
) -> list[TerminalOption]:
    """Detected terminals first, then a network address, then the simulator. A saved spec
    that is not among them (a USB terminal unplugged now) stays choosable, marked so."""
    options = [*(detected_terminals() if detected is None else detected), NETWORK, SIMULATOR]
    if saved and not saved.startswith("tcp://") and all(o.spec != saved for o in options):
        options.insert(0, TerminalOption(f"{saved} (not found now)", saved))
    return options


def option_for(spec: str, options: Sequence[TerminalOption]) -> TerminalOption:
    """The option a saved spec selects: tcp:// addresses select the address entry."""
    if spec.startswith("tcp://"):
        return NETWORK
    for option in options:
        if option.spec == spec and spec:
            return option
    return options[0]

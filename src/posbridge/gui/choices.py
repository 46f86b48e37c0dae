"""The terminals the panel offers: the one list the operator picks from.

``terminal_options()`` is the only place the list is made. Terminals found on this PC (USB,
serial) come from ``detected_terminals()``, which returns none until ``posbridge.devices``
exists; then it calls that and the panel shows them first, with no other change.
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
    """Terminals found on this PC right now: USB terminals and serial ports.

    None yet: when ``posbridge.devices`` lands, this becomes a call to it, one
    TerminalOption per device with its spec (``usb:VID:PID``, ``serial:PORT``).
    """
    return []


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

"""The operator's settings, checked before anything starts.

Each function takes the text an operator typed and returns the value, or raises ValueError
with a message that says what to give instead. ``posbridge serve`` and ``posbridge
simulator`` use them as argparse ``type=`` functions (``argument``), so a bad value is
refused with the option's name and exit status 2 before any port, file or link is opened;
the panel's settings form uses the same functions and names its own field. A setting left
unchecked is how ``--port 84536`` came to listen on port 19000 and ``--terminal-timeout
nan`` to answer 500 for a sale the terminal had accepted.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CODE = re.compile(r"[0-9]{2}")


def port(text: str) -> int:
    """A TCP port, 1 to 65535."""
    value = text.strip()
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        raise ValueError(f"give a whole number from 1 to 65535 (got {text!r})")
    return int(value)


def seconds(text: str) -> float:
    """A duration that must pass: finite and greater than zero."""
    value = _number(text)
    if value <= 0:
        raise ValueError(f"give a number of seconds greater than zero (got {text!r})")
    return value


def delay(text: str) -> float:
    """A duration that may be nothing: finite, zero or more."""
    value = _number(text)
    if value < 0:
        raise ValueError(f"give a number of seconds, zero or more (got {text!r})")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"give a number of seconds such as 2 or 0.5 (got {text!r})") from None
    if not math.isfinite(value):
        raise ValueError(f"give a finite number of seconds such as 2 or 0.5 (got {text!r})")
    return value


def amount(text: str) -> str:
    """An amount as CreatePayment takes it: a decimal with at most two places, above zero."""
    from .service import parse_amount

    try:
        parse_amount(text, 10**14)
    except Exception as exc:  # errors.InvalidAmount: its message says what is wrong
        raise ValueError(str(exc)) from None
    return text


def file_to_write(text: str) -> str:
    """A file posbridge creates or writes (the journal, a log, the simulator's state): not a
    folder, and in a folder that is not a file."""
    path = Path(text).expanduser()
    if not text.strip():
        raise ValueError("give a file name")
    if path.is_dir():
        raise ValueError(f"{text} is a folder; give the name of a file (in it, or anywhere)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{parent} is a file, so {text} cannot be made")
            break
    return text


def file_to_read(text: str) -> str:
    """A file that must exist and be readable (the token file)."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {text}" if not path.exists() else
                         f"{text} is not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"cannot read {text}: {exc.strerror}") from None
    return text


def tcp_address(text: str) -> str:
    """``tcp://HOST:PORT`` with a port from 1 to 65535."""
    from .transports.tcp import parse_tcp_url

    parse_tcp_url(text)  # its ValueError says what to give
    return text


def condition_codes(text: str) -> str:
    """The simulator's payment methods: ``82=PayNow,30,99=Visa QR`` (methods.parse_spec)."""
    from .methods import parse_spec

    parse_spec(text)  # raises ValueError saying what is wrong
    return text


def argument(check: Callable[[str], T]) -> Callable[[str], T]:
    """``check`` as an argparse ``type=``: its message is printed after the option's name,
    and posbridge exits with status 2."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__  # argparse names the type in some messages
    return parse

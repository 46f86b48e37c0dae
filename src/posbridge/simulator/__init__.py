"""The terminal simulator: the terminal's side of the link and a payment lifecycle."""

from __future__ import annotations

from .model import TerminalModel
from .server import TerminalServer

__all__ = ["TerminalModel", "TerminalServer"]

"""posbridge: serve the PC POS USB API on a cashier PC and carry it to a payment terminal."""

from __future__ import annotations

__version__ = "0.1.0"

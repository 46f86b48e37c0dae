"""Transports: one small async interface over every kind of link to a terminal."""

from __future__ import annotations

from .base import Connector, Transport, TransportClosed, TransportError

__all__ = ["Connector", "Transport", "TransportClosed", "TransportError"]

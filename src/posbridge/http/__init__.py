"""The HTTP adapter: the PC POS USB API over Starlette."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]

"""The HTTP adapter: the PC POS USB API over Starlette.

``create_app`` is imported on first use, so that importing ``posbridge.http.access`` (the
access policy, which the command line needs) does not import the app and its models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

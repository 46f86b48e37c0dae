"""Protocol errors, split as h11 does: who broke the rules."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of the link's protocol errors."""


class LocalProtocolError(ProtocolError):
    """Our side asked for something the protocol does not allow (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something malformed or out of place."""

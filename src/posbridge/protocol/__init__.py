"""The posbridge link protocol, sans-I/O: no asyncio, no sockets, no clock reads."""

from __future__ import annotations

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .frames import FrameDecoder, encode_frame
from .link import (
    Event,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    MessageReceived,
    Role,
    State,
)
from .messages import PROTOCOL_VERSION, Hello, Message, decode_message, encode_message

__all__ = [
    "PROTOCOL_VERSION",
    "Event",
    "FrameDecoder",
    "Hello",
    "LinkConnection",
    "LinkDown",
    "LinkTimers",
    "LinkUp",
    "LocalProtocolError",
    "Message",
    "MessageReceived",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "State",
    "decode_message",
    "encode_frame",
    "encode_message",
]

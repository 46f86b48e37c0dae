"""The posbridge link protocol, sans-I/O: no asyncio, no sockets, no clock reads."""

from __future__ import annotations

from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .frames import FrameDecoder, encode_frame
from .link import (
    IDLE_DEAD_INTERVALS,
    PRODUCTION_TIMERS,
    Event,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    MessageReceived,
    Role,
    State,
    agree_idle_heartbeat,
    with_idle_heartbeat,
)
from .messages import PROTOCOL_VERSION, Hello, Message, decode_message, encode_message

__all__ = [
    "IDLE_DEAD_INTERVALS",
    "PRODUCTION_TIMERS",
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
    "agree_idle_heartbeat",
    "decode_message",
    "encode_frame",
    "encode_message",
    "with_idle_heartbeat",
]

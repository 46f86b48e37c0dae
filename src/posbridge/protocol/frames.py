"""Frame encoding and decoding for the posbridge link.

Theory of operation
-------------------
A link is a byte stream (USB bulk endpoints, a serial line, TCP) that may split, join,
corrupt, drop or repeat bytes. A frame gives the stream edges and an integrity check:

    +------+------+--------+-----------+---------------+-----------+
    | 0xA5 | 0x5A | length | hdr CRC16 | payload       | CRC32     |
    |  1   |  1   | 2 (BE) | 2 (BE)    | length bytes  | 4 (BE)    |
    +------+------+--------+-----------+---------------+-----------+

The header CRC (CRC-16/CCITT over the two length bytes) lets the decoder trust a length
before waiting for that many bytes: without it a corrupted length would make the decoder
sit on good frames until enough bytes arrived to fill the bogus length. The payload CRC is
CRC-32 (zlib). When either check fails, or a length is above MAX_PAYLOAD, the decoder drops
one byte and searches for the next magic: the resynchronisation costs at most the bytes of
the damaged frame, and every intact frame after it is recovered.

The decoder never raises on input: garbage is counted and skipped, never an exception.
"""

from __future__ import annotations

import binascii
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"\xa5\x5a"
MAX_PAYLOAD = 8192
_HEADER = struct.Struct(">2sHH")
_TRAILER = struct.Struct(">I")
HEADER_SIZE = _HEADER.size
OVERHEAD = HEADER_SIZE + _TRAILER.size


def _header_crc(length: int) -> int:
    return binascii.crc_hqx(length.to_bytes(2, "big"), 0xFFFF)


def encode_frame(payload: bytes) -> bytes:
    """Wrap one payload in a frame."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    length = len(payload)
    return (
        _HEADER.pack(MAGIC, length, _header_crc(length))
        + payload
        + _TRAILER.pack(zlib.crc32(payload))
    )


@dataclass
class DecoderStats:
    """What the decoder has seen, for logs and the chaos harness."""

    frames: int = 0
    bytes_skipped: int = 0
    bad_header: int = 0
    bad_crc: int = 0


class FrameDecoder:
    """Turns a byte stream, fed in any chunks, into the payloads of intact frames."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the payloads of every frame they complete, in order."""
        self._buf += data
        out: list[bytes] = []
        while True:
            payload = self._next()
            if payload is None:
                return out
            out.append(payload)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _skip(self, n: int) -> None:
        del self._buf[:n]
        self.stats.bytes_skipped += n

    def _next(self) -> bytes | None:
        buf = self._buf
        while True:
            start = buf.find(MAGIC)
            if start < 0:
                # Keep a trailing first magic byte: the second may be in the next chunk.
                keep = 1 if buf[-1:] == MAGIC[:1] else 0
                self._skip(len(buf) - keep)
                return None
            if start:
                self._skip(start)
            if len(buf) < HEADER_SIZE:
                return None
            _, length, hcrc = _HEADER.unpack_from(buf)
            if length > MAX_PAYLOAD or hcrc != _header_crc(length):
                self.stats.bad_header += 1
                self._skip(1)
                continue
            end = HEADER_SIZE + length + _TRAILER.size
            if len(buf) < end:
                return None
            payload = bytes(buf[HEADER_SIZE : HEADER_SIZE + length])
            (crc,) = _TRAILER.unpack_from(buf, HEADER_SIZE + length)
            if crc != zlib.crc32(payload):
                self.stats.bad_crc += 1
                self._skip(1)
                continue
            del buf[:end]
            self.stats.frames += 1
            return payload

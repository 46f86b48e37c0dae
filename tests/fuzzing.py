"""Hostile requests made by Hypothesis, and the rule every answer must keep.

Shared by tests/test_fuzz.py (a short run in `make test`) and bench/fuzz.py (the long run).
A request is a path, headers and raw body bytes: JSON of the right and wrong shapes, wrong
types, huge numbers, unicode, control characters, duplicate keys, truncated JSON, and
headers with odd versions, content types and values.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from posbridge import errors

PATHS = ("/CreatePayment", "/CancelPayment", "/QueryPayment", "/VoidPayment", "/SubmitBatch")
FIELDS = ("amount", "retrieval_reference_number", "condition_code")
CODES = {cls.code: cls.http_status for cls in errors.all_errors()}


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


_text = st.text(max_size=40)
_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([10**400, -(10**400), 1e308, 0, -0.0]),
)
_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_text, inner, max_size=4)),
    max_leaves=12,
)
_amounts = st.one_of(
    st.builds(lambda whole, frac: f"{whole}{frac}", st.integers(0, 10**14),
              st.sampled_from(["", ".", ".0", ".5", ".05", ".99", ".00", ".001"])),
    st.sampled_from(["1.00", "0.00", "0", "-1.00", "1e3", " 1.00", "1,00",
                     "\uff11.\uff10\uff10", "999999.99", "1000000.00",
                     "\u0663.\u0660\u0660", "NaN", ""]),
    _text,
)
_refs = st.one_of(
    st.builds("fz-{}".format, st.integers(0, 10**8)),
    st.text(min_size=0, max_size=80),
    st.text(alphabet=st.characters(codec="ascii"), max_size=70),
    st.sampled_from(["", " ", "\x00", "a" * 64, "a" * 65, "ref\r\nx", "ref\u202e"]),
)
_codes = st.one_of(st.sampled_from(["82", "00", "01", "08", "59", "99", "8", "820", ""]),
                   _text)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Raw body bytes: plausible objects with hostile values, other JSON, or not JSON."""
    kind = draw(st.sampled_from(["fields", "fields", "fields", "json", "bytes", "empty"]))
    if kind == "empty":
        return b""
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(_json_values)).encode()
    pairs: list[tuple[str, Any]] = []
    for name, values in (("amount", _amounts), ("retrieval_reference_number", _refs),
                         ("condition_code", _codes)):
        if draw(st.integers(0, 9)) < 8:
            value = draw(values) if draw(st.integers(0, 9)) < 8 else draw(_json_values)
            pairs.append((name, value))
    if draw(st.booleans()) and draw(st.booleans()):
        pairs.append((draw(st.sampled_from([*FIELDS, "extra"])), draw(_json_values)))
    if pairs and draw(st.integers(0, 9)) == 0:
        pairs.append(pairs[0])  # a duplicate key
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]  # truncated
    return raw


_header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
_header_names = st.sampled_from(
    ["x-forwarded-for", "x-real-ip", "x-api-key", "x-requested-with", "accept",
     "accept-encoding", "cookie", "expect", "origin-x", "x-http-method-override",
     "authorization", "content-encoding", "x-api-version-2", "range"])


@st.composite
def requests(draw: st.DrawFn) -> Request:
    path = draw(st.sampled_from(
        [*PATHS, *PATHS, *PATHS, "/createpayment", "/CreatePayment/", "/",
         "/health/../CreatePayment", "/%00", "/CreatePayment?x=1", "//CreatePayment"]))
    headers: dict[str, str] = {}
    version = draw(st.one_of(st.just("v1"), st.just("v1"), st.none(), _header_values,
                             st.sampled_from(["V1", "v2", " v1", "v1,v1", "1"])))
    if version is not None:
        headers["x-api-version"] = version
    content_type = draw(st.one_of(st.just("application/json"), st.none(), _header_values))
    if content_type is not None:
        headers["content-type"] = content_type
    for name, value in draw(st.dictionaries(_header_names, _header_values, max_size=3)).items():
        headers[name] = value
    return Request(path, headers, draw(bodies()))


class RawClient:
    """HTTP/1.1 on one keep-alive socket, sending exactly the bytes given: no client library
    cleans up a hostile header on its way out. Reconnects when the server closes."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, req: Request) -> tuple[int, bytes]:
        head = [f"POST {req.path} HTTP/1.1", f"Host: {self.address[0]}:{self.address[1]}",
                f"Content-Length: {len(req.body)}"]
        head += [f"{k}: {v}" for k, v in req.headers.items()]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=30)
                self.buffer = b""
            try:
                self.sock.sendall(data)
                return self._response()
            except (ConnectionError, EOFError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def journal_state(path: Path) -> dict[str, str]:
    """Each payment's reference and status, read from the journal file as it is on disk."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT ref, status FROM payments"))


def check_answer(status: int, body: bytes, before: dict[str, str],
                 after: dict[str, str]) -> None:
    """The rule: a documented JSON answer, never a server error, and a refused request
    adds and changes no payment (payments already in flight may finish meanwhile)."""
    assert status < 500 or status in (503, 504), (status, body[:300])
    answer = json.loads(body)
    assert isinstance(answer, dict) and isinstance(answer.get("success"), bool), body[:300]
    if answer["success"]:
        assert status == 200
        return
    assert CODES.get(answer["error_code"]) == status, (status, body[:300])
    # Messages quote what was wrong, cut short: their size never grows with the input.
    assert isinstance(answer["message"], str) and 0 < len(answer["message"]) < 600
    if status in (504,):
        return  # the outcome is not known: the payment is journaled as unknown, by design
    assert set(after) == set(before), (status, body[:300])
    for ref, state in before.items():
        if state not in ("pending", "unknown", "received"):
            assert after[ref] == state, (ref, state, after[ref], body[:300])

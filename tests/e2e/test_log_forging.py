"""Nothing from a request can forge a log line: a real `posbridge serve --log-file` is sent
CR, LF, ANSI escapes and Unicode line separators in each place a log line quotes (the path
of a 403, 401 and 404, header values, a reference in a body), and the log file is read."""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path

import pytest

from posbridge import logs
from procs import Proc
from rig import free_port

pytestmark = pytest.mark.e2e

TOKEN = "log-forging-test-token-0123456789"
FORGED = "2026-12-01 10:00:00,000 INFO    posbridge.service: inv-1: pending -> approved"
# The path, percent-encoded as a client sends it (the server decodes it before logging).
PATH = ("/CreatePayment%0d%0a" + FORGED.replace(" ", "%20") + "%1b%5b2J%0a"
        + "FORGED%E2%80%A8FORGED%C2%85FORGED%0bx").encode()
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def forged(text: str) -> list[str]:
    """The lines of a log that are not posbridge's: any that does not start with a record's
    timestamp (nor is an indented traceback line), and any control character left in."""
    bad = [line for line in text.split("\n")
           if line and not LINE.match(line) and not line.startswith("    ")]
    bad += [repr(c) for c in "\r\x1b\x0b\x85\x9b\u2028\u2029" if c in text]
    return bad


def test_the_check_finds_a_forged_line() -> None:
    # The check itself can fail: the stdlib's formatter, given the same decoded path, writes
    # a forged line, and an ANSI escape.
    record = logging.LogRecord("posbridge.http", logging.WARNING, __file__, 1,
                               "refused POST %s", ("/x\r\n" + FORGED + "\x1b[2J",), None)
    assert forged(logging.Formatter(logs.FORMAT).format(record) + "\n")
    assert not forged(logs.Formatter().format(record) + "\n")


def _send(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_no_request_can_forge_a_log_line(tmp_path: Path) -> None:
    port, log_file = free_port(), tmp_path / "posbridge.log"
    bridge = Proc(["serve", "--terminal", "simulator", "--port", str(port), "--journal",
                   str(tmp_path / "j.sqlite3"), "--log-file", str(log_file),
                   "--log-level", "debug", "--token", TOKEN], tmp_path / "console.log")
    bridge.start()
    try:
        deadline = time.monotonic() + 15
        while f"listening on http://127.0.0.1:{port}" not in bridge.text():
            assert time.monotonic() < deadline, bridge.text()
            time.sleep(0.05)
        auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
        body = (b'{"amount": "1.00", "condition_code": "82", "retrieval_reference_number": '
                b'"inv-1\\r\\n' + FORGED.encode() + b'\\u001b[2J\\u2028x"}')
        sent = {
            # 403: a web page's Host, and a web page's Origin, with C1 controls and a line
            # separator in them (httptools refuses C0 controls in a header: see "400 http").
            "403 host": b"POST " + PATH + b" HTTP/1.1\r\nHost: evil\xc2\x85\x9b2J.test\r\n"
                        b"Connection: close\r\n\r\n",
            "403 origin": b"POST " + PATH + b" HTTP/1.1\r\nHost: localhost\r\n"
                          b"Origin: http://evil.test\x9b2J\xe2\x80\xa8\r\n"
                          b"Connection: close\r\n\r\n",
            "400 http": b"POST " + PATH + b" HTTP/1.1\r\nHost: evil\x1b[2J\r\n\r\n",
            "401": b"POST " + PATH + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                   b"\r\n\r\n",
            "404": b"POST " + PATH + b" HTTP/1.1\r\nHost: localhost\r\n" + auth
                   + b"Connection: close\r\n\r\n",
            "400 header": b"POST /CreatePayment HTTP/1.1\r\nHost: localhost\r\n" + auth
                          + b"x-api-version: v1\x9b2J\xe2\x80\xa8\r\nConnection: close"
                          b"\r\n\r\n",
            "400 reference": b"POST /CreatePayment HTTP/1.1\r\nHost: localhost\r\n" + auth
                             + b"x-api-version: v1\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n" % len(body) + body,
        }
        for what, request in sent.items():
            status = int(_send(port, request).split(b" ", 2)[1])
            assert status == int(what[:3]), (what, status)
        time.sleep(0.3)
    finally:
        bridge.stop()
    text = log_file.read_text(encoding="utf-8")
    assert forged(text) == [], text
    # The refusals were logged, their paths escaped onto one line (so the check saw them).
    refused = [line for line in text.splitlines() if "refused POST /CreatePayment\\r\\n" in line]
    assert len(refused) == 3, text  # the two 403s and the 401
    assert any("UNAUTHORIZED" in line for line in refused)
    # uvicorn's access line (--log-level debug) quotes the path as it came, percent-encoded.
    assert any("/CreatePayment%0D%0A" in line and '" 404' in line for line in text.splitlines())

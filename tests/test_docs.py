"""The docs name every error code and status the code can produce."""

from __future__ import annotations

import re
from pathlib import Path

from posbridge import errors, journal
from posbridge.protocol import decode_message, encode_frame, encode_message
from posbridge.service import TRANSACTION_STATUS

ROOT = Path(__file__).resolve().parent.parent


def test_api_doc_lists_every_error_code_with_its_http_status() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for cls in errors.all_errors():
        assert f"`{cls.code}`" in text, cls.code
        rows = [line for line in text.splitlines() if f"`{cls.code}`" in line and "|" in line]
        assert any(str(cls.http_status) in row for row in rows), (cls.code, cls.http_status)


def test_api_doc_lists_every_status_and_its_transaction_status() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for status in set(journal.FINAL) | {journal.PENDING, journal.UNKNOWN}:
        assert f"`{status}`" in text, status
    for code in set(TRANSACTION_STATUS.values()):
        assert f'"{code}"' in text or f"`{code}`" in text, code


def test_every_error_code_is_unique() -> None:
    codes = [cls.code for cls in errors.all_errors()]
    assert len(codes) == len(set(codes))
    assert len(codes) >= 19


def test_every_payload_in_the_link_protocol_doc_is_what_the_encoder_writes() -> None:
    # The doc says a payload carries every field, defaults included: its examples are what
    # an implementer compares bytes with. Lines shortened with "..." are left out.
    text = (ROOT / "docs" / "link-protocol.md").read_text()
    examples = [m.group(1) for m in re.finditer(r'(\{"k":.*\})\s*$', text, re.M)
                if "..." not in m.group(1).replace('"..."', "")]
    assert len(examples) > 40
    for example in examples:
        message = decode_message(example.encode())
        assert encode_message(message).decode() == example


def test_the_link_protocol_docs_worked_frames_are_what_the_encoder_writes() -> None:
    text = (ROOT / "docs" / "link-protocol.md").read_text()
    assert "a5 5a 00 0a bc 45 7b 22 6b 22 3a 22 68 62 22 7d b6 a0 fb c8" in text
    assert encode_frame(b'{"k":"hb"}').hex(" ") == (
        "a5 5a 00 0a bc 45 7b 22 6b 22 3a 22 68 62 22 7d b6 a0 fb c8")
    dump = re.search(r"^0000  a5 5a 00 6a.*?^0070 .*?$", text, re.M | re.S)
    assert dump is not None
    frame = bytes.fromhex("".join(line[6:53] for line in dump.group(0).splitlines()))
    payload = (b'{"k":"data","seq":1,"m":{"k":"sale","rid":1,"ref":"invoice-123456789",'
               b'"amount":100,"condition_code":"82"}}')
    assert frame == encode_frame(payload)

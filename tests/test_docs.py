"""The docs name every error code and status the code can produce."""

from __future__ import annotations

from pathlib import Path

from posbridge import errors, journal
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

"""Hostile request bodies (http/models.py): refused with the right code, changing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rig import HEADERS, bridge, run


@pytest.mark.parametrize("body, code", [
    (b'{"amount": "1.00", "amount": "100.00", "retrieval_reference_number": "dup-1", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    # The same key twice, once written with an escape: still the same key.
    (b'{"amount": "1.00", "\\u0061mount": "100.00", "retrieval_reference_number": "dup-2", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    (b'{"condition_code": "82", "amount": "1.00", "retrieval_reference_number": "dup-3", '
     b'"condition_code":"59"}', "INVALID_JSON"),
    # Valid JSON, but an array: refused as not an object, before any nesting is read.
    (b"[" * 5000 + b"]" * 5000, "INVALID_REQUEST"),
    # Nested deeper than the decoder reads (Python's recursion limit): not readable JSON.
    (b'{"amount": "1.00", "tip": ' + b"[" * 5000 + b"]" * 5000 + b"}", "INVALID_JSON"),
    # A number where the amount's string belongs, however large: the amount is wrong.
    (b'{"amount": ' + b"9" * 5000 + b', "retrieval_reference_number": "big-1", '
     b'"condition_code": "82"}', "INVALID_AMOUNT"),
    # NaN is not JSON (RFC 8259).
    (b'{"amount": NaN, "retrieval_reference_number": "nan-1", "condition_code": "82"}',
     "INVALID_JSON"),
    (b'{"amount": "1.00", "retrieval_reference_number": "' + b"\\u0000" * 10
     + b'", "condition_code": "82"}', "INVALID_REQUEST"),
    (b'{"amount": "1.00", "retrieval_reference_number": "trunc', "INVALID_JSON"),
    (json.dumps({f"{'k' * 1000}{i}": [1] for i in range(12)}).encode(), "INVALID_REQUEST"),
    (b'\xff\xfe{"amount": "1.00"}', "INVALID_JSON"),
])
def test_hostile_bodies_are_refused_and_change_nothing(
    journal_path: Path, body: bytes, code: str
) -> None:
    async def go() -> Any:
        async with bridge(journal_path) as b:
            r = await b.client.post(b.url + "/CreatePayment", content=body, headers=HEADERS)
            assert r.status_code == 400, r.text
            assert r.json()["error_code"] == code, r.text
            assert len(r.json()["message"]) < 400  # quotes the input cut short, never whole
            assert b.journal.recent() == []

    run(go())


@pytest.mark.parametrize("body, repeated", [
    (b'{"retrieval_reference_number": "amount"}', False),  # a value that reads like a key
    (b'{"retrieval_reference_number": "\\"retrieval_reference_number\\""}', False),
    (b'{"retrieval_reference_number": "a", "retrieval_reference_number": "a"}', True),
    (b'{"retrieval_reference_number": "a", "retrieval_reference_numbe\\u0072": "b"}', True),
])
def test_duplicate_keys_are_found_however_they_are_written(body: bytes, repeated: bool) -> None:
    from posbridge import errors
    from posbridge.http import models

    if repeated:
        with pytest.raises(errors.InvalidJson, match="more than once"):
            models.parse_body(models.QueryPaymentRequest, body)
    else:
        parsed = models.parse_body(models.QueryPaymentRequest, body)
        assert parsed.retrieval_reference_number == json.loads(body)[
            "retrieval_reference_number"]


@pytest.mark.parametrize("body, fields", [
    # Each problem once, in the command's field order, then the fields it does not take.
    (b'{"amount": 1, "condition_code": 82, "tip": "1", "note": 2}',
     ['amount must be a JSON string with at most two decimal places, for example "1.00"',
      "retrieval_reference_number is required", "condition_code must be a JSON string",
      "'tip', 'note' are not fields of this command (it takes: amount, "
      "retrieval_reference_number, condition_code)"]),
    (b'{"retrieval_reference_number": null}',
     ["amount is required", "retrieval_reference_number must be a JSON string",
      "condition_code is required"]),
])
def test_a_refused_body_lists_every_problem(journal_path: Path, body: bytes,
                                            fields: list[str]) -> None:
    """msgspec stops at a body's first problem; the answer names them all (`fields`)."""
    async def go() -> None:
        async with bridge(journal_path) as b:
            r = await b.client.post(b.url + "/CreatePayment", content=body, headers=HEADERS)
            got = r.json()
            assert (r.status_code, got["error_code"]) == (400, "INVALID_REQUEST"), got
            assert got["fields"] == fields
            assert got["message"] == "; ".join(fields)
            assert b.journal.recent() == []

    run(go())


def test_an_admin_body_of_the_wrong_type_says_what_msgspec_expected() -> None:
    from posbridge import errors
    from posbridge.http import models

    with pytest.raises(errors.InvalidRequest, match=r"^batch: Expected `int` >= 1$"):
        models.parse_body(models.ReportRequest, b'{"batch": 0}')
    with pytest.raises(errors.InvalidRequest, match=r"^outcome: Invalid enum value 'maybe'"):
        models.parse_body(models.ResolvePaymentRequest,
                          b'{"retrieval_reference_number": "r", "outcome": "maybe", '
                          b'"reason": "x", "by": "me"}')

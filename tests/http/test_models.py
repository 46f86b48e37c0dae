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
    (b"[" * 5000 + b"]" * 5000, "INVALID_JSON"),
    (b'{"amount": ' + b"9" * 5000 + b', "retrieval_reference_number": "big-1", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    (b'{"amount": NaN, "retrieval_reference_number": "nan-1", "condition_code": "82"}',
     "INVALID_AMOUNT"),
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

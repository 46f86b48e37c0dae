"""The OpenAPI document: generated from the code, checked in, served, and complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec

from posbridge import errors
from posbridge.http import models
from posbridge.http.commands import BY_NAME, COMMANDS
from posbridge.http.openapi import build_spec, dumps

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_openapi_json_is_current() -> None:
    assert (ROOT / "openapi.json").read_text() == dumps(), (
        "openapi.json is out of date: run `posbridge openapi > openapi.json`"
    )


def test_the_cli_prints_the_same_document() -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", "openapi"], capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout == dumps()


def test_every_command_and_error_code_is_in_the_document() -> None:
    spec = build_spec()
    assert set(spec["paths"]) == {"/CreatePayment", "/CancelPayment", "/QueryPayment",
                                  "/VoidPayment", "/SubmitBatch", "/RefundPayment", "/events"}
    text = json.dumps(spec)
    route_level = {"NOT_FOUND", "METHOD_NOT_ALLOWED"}  # not answered by any one operation
    # Answered only by POST /admin/ResolvePayment, the loopback-only endpoint behind
    # `posbridge journal resolve`: not part of the POS's API, so not in its document.
    route_level.add("NOT_RESOLVABLE")
    # Answered only by POST /admin/Report, the loopback-only endpoint behind
    # `posbridge report`.
    route_level.add("REPORT_NOT_FOUND")
    for cls in errors.all_errors():
        if cls.code not in route_level:
            assert f'"{cls.code}"' in text, cls.code
    for path, op in spec["paths"].items():
        for status, response in (op.get("post") or op["get"])["responses"].items():
            if status != "200":
                codes = response["content"]["application/json"]["schema"]["allOf"][1][
                    "properties"]["error_code"]["enum"]
                assert all(errors_by_code[c].http_status == int(status) for c in codes), path


errors_by_code = {cls.code: cls for cls in errors.all_errors()}


def test_examples_are_the_references_bodies_and_validate() -> None:
    reference = (ROOT.parent / "shared" / "reference" / "pc-pos-usb-api.txt")
    text = reference.read_text() if reference.exists() else ""
    for command in COMMANDS:
        msgspec.convert(command.example, command.request)
        msgspec.convert(command.answer, command.response)
        if text and command.name != "RefundPayment":  # posbridge's extension, not the vendor's
            assert command.path in text
            assert command.message in text
    assert BY_NAME["CreatePayment"].example == {
        "amount": "1.00", "retrieval_reference_number": "invoice-123456789",
        "condition_code": "82"}
    assert msgspec.convert({"success": False, "message": "m", "error_code": "X", "extra": 1},
                           models.ErrorResponse)

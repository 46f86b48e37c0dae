"""The OpenAPI document: generated from the code, checked in, served, and complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from posbridge import errors
from posbridge.http import models
from posbridge.http.openapi import ROUTES, build_spec, dumps

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
                                  "/VoidPayment", "/SubmitBatch", "/events"}
    text = json.dumps(spec)
    route_level = {"NOT_FOUND", "METHOD_NOT_ALLOWED"}  # not answered by any one operation
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
    for path, route in ROUTES.items():
        route["request"].model_validate(route["example"])
        route["response"].model_validate(route["answer"])
        if text:
            assert path in text
    assert ROUTES["/CreatePayment"]["example"] == {
        "amount": "1.00", "retrieval_reference_number": "invoice-123456789",
        "condition_code": "82"}
    assert models.ErrorResponse.model_validate(
        {"success": False, "message": "m", "error_code": "X", "extra": 1})

"""Fuzzing through real processes and sockets: schemathesis against the served OpenAPI
document, and Hypothesis-made hostile requests. No answer is a server error, every answer
is documented JSON, and a refused request leaves the journal as it was.

This is the short run for `make test`; bench/fuzz.py is the long one (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from fuzzing import RawClient, Request, check_answer, journal_state, requests
from procs import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("fuzz"), customer_delay=0).running() as s:
        yield s
    log = s.bridge.text()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]


@pytest.fixture(scope="module")
def api_schema(stack: Stack) -> Any:
    """The document the bridge serves, loaded by schemathesis from the bridge itself."""
    return schemathesis.openapi.from_url(stack.url + "/openapi.json")


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_schemathesis(stack: Stack, api_schema: Any, mode: GenerationMode) -> None:
    # schemathesis's own pytest plugin does not run on pytest 9 yet, so its case strategy
    # drives a Hypothesis test here; call_and_validate runs all its checks on each answer
    # but one: the document gives the syntax of each field, and a value of the right syntax
    # may still be refused (an amount of 0, a condition code this terminal does not take).
    @given(data=st.data())
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def run(data: st.DataObject) -> None:
        case = data.draw(api_schema.as_strategy(generation_mode=mode))
        before = journal_state(stack.journal)
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        if "text/event-stream" in str(response.headers.get("content-type")):
            # GET /events: its events were validated against the document above.
            assert journal_state(stack.journal) == before
            return
        check_answer(response.status_code, response.content, before,
                     journal_state(stack.journal))

    run()


@pytest.fixture(scope="module")
def raw_client(stack: Stack) -> Iterator[RawClient]:
    client = RawClient("127.0.0.1", stack.port)
    yield client
    client.close()


@given(request_=requests())
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_requests(stack: Stack, raw_client: RawClient, request_: Request) -> None:
    before = journal_state(stack.journal)
    status, body = raw_client.request(request_)
    note(f"answer {status} {body[:300]!r}")
    check_answer(status, body, before, journal_state(stack.journal))


def test_the_bridge_still_takes_a_payment_after_the_fuzzing(stack: Stack) -> None:
    ref = "after-fuzz-1"
    r = stack.post("/CreatePayment", {"amount": "3.00", "retrieval_reference_number": ref,
                                      "condition_code": "82"})
    if r.status_code == 409:  # a fuzzed payment may hold the terminal for a moment
        stack.wait_connected()
        r = stack.post("/CreatePayment", {"amount": "3.00",
                                          "retrieval_reference_number": ref,
                                          "condition_code": "82"})
    assert r.status_code == 200, r.text
    stack.wait_status(ref, "approved")


def test_fuzz_rig_catches_a_server_error() -> None:
    # The rule is real: a 500 or a refused request that added a payment fails it.
    with pytest.raises(AssertionError):
        check_answer(500, b'{"success": false, "message": "x", "error_code": '
                     b'"INTERNAL_ERROR"}', {}, {})
    with pytest.raises(AssertionError):
        check_answer(400, b'{"success": false, "message": "x", "error_code": '
                     b'"INVALID_REQUEST"}', {}, {"new": "pending"})
    with pytest.raises(AssertionError):
        check_answer(400, b'{"success": false, "message": "x", "error_code": '
                     b'"PAYMENT_NOT_FOUND"}', {}, {})


"""A Python client for the PC POS USB API, sync and async (httpx).

    from posbridge.client import Client

    with Client("http://localhost:8080") as pos:
        pos.create_payment("12.50", "invoice-1001")
        payment = pos.wait_final("invoice-1001")
        if payment["transaction_status"] == "00":
            ...  # paid

Every error answer raises ``ApiError`` with the HTTP status, the stable ``error_code`` and
the message; a bridge that cannot be reached raises ``httpx.TransportError``. A 504
(``TERMINAL_TIMEOUT``) from CreatePayment means the outcome is not known yet: call
``wait_final`` for the same reference, never create a new payment for the same sale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from . import journal
from .http.commands import BY_NAME

DEFAULT_URL = "http://localhost:8080"
#: Statuses a payment waits for: its outcome. ``approved`` can still be voided (by the POS
#: alone) and ``failed`` retried by sending the same CreatePayment again.
FINAL = frozenset(journal.FINAL)
#: The command paths, from the server's own table (posbridge.http.commands).
_PATH = {command.method: command.path for command in BY_NAME.values()}

Answer = dict[str, Any]


class ApiError(Exception):
    """posbridge answered with an error: ``status`` (HTTP), ``code`` and ``message``."""

    def __init__(self, status: int, body: Answer) -> None:
        self.status = status
        self.code: str = body.get("error_code", "UNKNOWN")
        self.message: str = body.get("message", "")
        self.body = body
        super().__init__(f"{status} {self.code}: {self.message}")


def _headers(token: str | None) -> dict[str, str]:
    headers = {"x-api-version": "v1", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {"success": False, "error_code": "NOT_JSON",
                "message": response.text[:200] or response.reason_phrase}
    if not isinstance(body, dict):
        body = {"success": False, "error_code": "NOT_JSON", "message": str(body)[:200]}
    if response.status_code != 200 or not body.get("success"):
        raise ApiError(response.status_code, body)
    return body


def _refund_body(ref: str, refund_reference: str, amount: str) -> Answer:
    return {"retrieval_reference_number": ref, "refund_reference": refund_reference,
            "amount": amount}


def _create_body(amount: str, ref: str, condition_code: str) -> Answer:
    return {"amount": amount, "retrieval_reference_number": ref,
            "condition_code": condition_code}


class Client:
    """The API over one keep-alive connection; use it as a context manager or ``close()``."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url, headers=_headers(token), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: Answer) -> Answer:
        return _answer(self._http.post(path, json=body))

    def create_payment(self, amount: str, ref: str, condition_code: str = "82") -> Answer:
        return self._post(_PATH["create_payment"], _create_body(amount, ref, condition_code))

    def cancel_payment(self) -> Answer:
        return self._post(_PATH["cancel_payment"], {})

    def query_payment(self, ref: str) -> Answer:
        return self._post(_PATH["query_payment"], {"retrieval_reference_number": ref})

    def void_payment(self, ref: str) -> Answer:
        return self._post(_PATH["void_payment"], {"retrieval_reference_number": ref})

    def submit_batch(self) -> Answer:
        return self._post(_PATH["submit_batch"], {})

    def refund_payment(self, ref: str, refund_reference: str, amount: str) -> Answer:
        """Refund ``amount`` of payment ``ref`` once per ``refund_reference`` (posbridge's
        extension); sending the same refund again is safe."""
        return self._post(_PATH["refund_payment"], _refund_body(ref, refund_reference, amount))

    def resolve_payment(self, ref: str, *, paid: bool, reason: str, by: str) -> Answer:
        """Settle by hand a payment the terminal cannot answer for (``POST
        /admin/ResolvePayment``, from this PC only; what ``posbridge journal resolve``
        uses)."""
        return self._post("/admin/ResolvePayment", {
            "retrieval_reference_number": ref, "outcome": "paid" if paid else "not_paid",
            "reason": reason, "by": by})

    def health(self) -> Answer:
        return _answer(self._http.get("/health"))

    def wait_final(self, ref: str, *, poll: float = 0.5, timeout: float | None = None,
                   progress: Callable[[Answer], None] | None = None) -> Answer:
        """Query ``ref`` until its status is final; return the last answer. With a
        ``timeout``, raise TimeoutError (the payment is then still pending or unknown). A
        bridge that cannot be reached for a while (restarting) is asked again: the outcome
        of a payment is what this waits for, and giving up early is how a till pays twice."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status = "unknown"
        while True:
            try:
                answer = self.query_payment(ref)
            except httpx.TransportError:
                answer = None
            if answer is not None:
                if progress is not None:
                    progress(answer)
                if answer["status"] in FINAL:
                    return answer
                status = answer["status"]
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"payment {ref!r} is still {status}")
            time.sleep(poll)


class AsyncClient:
    """The same API for asyncio programs."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(base_url=url, headers=_headers(token), timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: Answer) -> Answer:
        return _answer(await self._http.post(path, json=body))

    async def create_payment(self, amount: str, ref: str, condition_code: str = "82") -> Answer:
        return await self._post(_PATH["create_payment"],
                                _create_body(amount, ref, condition_code))

    async def cancel_payment(self) -> Answer:
        return await self._post(_PATH["cancel_payment"], {})

    async def query_payment(self, ref: str) -> Answer:
        return await self._post(_PATH["query_payment"], {"retrieval_reference_number": ref})

    async def void_payment(self, ref: str) -> Answer:
        return await self._post(_PATH["void_payment"], {"retrieval_reference_number": ref})

    async def submit_batch(self) -> Answer:
        return await self._post(_PATH["submit_batch"], {})

    async def refund_payment(self, ref: str, refund_reference: str, amount: str) -> Answer:
        return await self._post(_PATH["refund_payment"],
                                _refund_body(ref, refund_reference, amount))

    async def health(self) -> Answer:
        return _answer(await self._http.get("/health"))

    async def wait_final(self, ref: str, *, poll: float = 0.5, timeout: float | None = None,
                         progress: Callable[[Answer], None] | None = None) -> Answer:
        """As ``Client.wait_final``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        status = "unknown"
        while True:
            try:
                answer: Answer | None = await self.query_payment(ref)
            except httpx.TransportError:
                answer = None
            if answer is not None:
                if progress is not None:
                    progress(answer)
                if answer["status"] in FINAL:
                    return answer
                status = answer["status"]
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"payment {ref!r} is still {status}")
            await asyncio.sleep(poll)

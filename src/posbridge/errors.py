"""One exception tree for posbridge, each class with a stable error code.

The code (``error_code`` in a JSON error) is for programs and never changes once released;
the message is for a person and says what to do. The HTTP status lives here too, so that
this module is the one table of errors: the HTTP adapter maps any ``PosBridgeError`` to a
response with nothing but these three values, and docs/api.md lists the same rows (a test
checks that they agree).
"""

from __future__ import annotations

from typing import Any, ClassVar


class PosBridgeError(Exception):
    """An error with a stable code, an HTTP status and a message for a person."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Extra fields for the JSON error body (for example ``supported_versions``).
        self.extra = extra


# -- 400: the request is wrong; fix it and send it again --------------------------------


class InvalidApiVersion(PosBridgeError):
    code = "INVALID_API_VERSION"
    http_status = 400


class InvalidJson(PosBridgeError):
    code = "INVALID_JSON"
    http_status = 400


class InvalidRequest(PosBridgeError):
    code = "INVALID_REQUEST"
    http_status = 400


class InvalidAmount(PosBridgeError):
    code = "INVALID_AMOUNT"
    http_status = 400


class UnsupportedConditionCode(PosBridgeError):
    code = "UNSUPPORTED_CONDITION_CODE"
    http_status = 400


# -- 401 / 403: the caller may not use the bridge; nothing was done -------------------------


class Unauthorized(PosBridgeError):
    code = "UNAUTHORIZED"
    http_status = 401


class ForbiddenHost(PosBridgeError):
    code = "FORBIDDEN_HOST"
    http_status = 403


class ForbiddenOrigin(PosBridgeError):
    code = "FORBIDDEN_ORIGIN"
    http_status = 403


# -- 404 --------------------------------------------------------------------------------


class PaymentNotFound(PosBridgeError):
    code = "PAYMENT_NOT_FOUND"
    http_status = 404


class RouteNotFound(PosBridgeError):
    code = "NOT_FOUND"
    http_status = 404


# -- 405 --------------------------------------------------------------------------------


class MethodNotAllowed(PosBridgeError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


# -- 408 --------------------------------------------------------------------------------


class RequestTimeout(PosBridgeError):
    code = "REQUEST_TIMEOUT"
    http_status = 408


# -- 409: the request is valid but the state does not allow it ---------------------------


class ReferenceConflict(PosBridgeError):
    code = "REFERENCE_CONFLICT"
    http_status = 409


class TerminalBusy(PosBridgeError):
    code = "TERMINAL_BUSY"
    http_status = 409


class NoPaymentInProgress(PosBridgeError):
    code = "NO_PAYMENT_IN_PROGRESS"
    http_status = 409


class PaymentNotApproved(PosBridgeError):
    code = "PAYMENT_NOT_APPROVED"
    http_status = 409


class AlreadyVoided(PosBridgeError):
    code = "ALREADY_VOIDED"
    http_status = 409


class AlreadySettled(PosBridgeError):
    code = "ALREADY_SETTLED"
    http_status = 409


class RefundExceedsPayment(PosBridgeError):
    """A refund of more than remains of the payment (paid, less what is refunded or may
    have been); ``remaining`` says how much may still be refunded."""

    code = "REFUND_EXCEEDS_PAYMENT"
    http_status = 409


class AlreadyRefunded(PosBridgeError):
    """A void of a payment that has refunds: refund what remains instead."""

    code = "ALREADY_REFUNDED"
    http_status = 409


class NotResolvable(PosBridgeError):
    """A payment cannot be settled by hand: its outcome is known, or the terminal still
    answers for it."""

    code = "NOT_RESOLVABLE"
    http_status = 409


class ReportNotFound(PosBridgeError):
    """No end-of-day report is kept for the batch asked for."""

    code = "REPORT_NOT_FOUND"
    http_status = 404


class TerminalRefused(PosBridgeError):
    code = "TERMINAL_REFUSED"
    http_status = 409


# -- 413 / 431: too big -----------------------------------------------------------------


class RequestTooLarge(PosBridgeError):
    code = "REQUEST_TOO_LARGE"
    http_status = 413


class HeadersTooLarge(PosBridgeError):
    code = "HEADERS_TOO_LARGE"
    http_status = 431


# -- 5xx: the bridge or the terminal could not do it ------------------------------------


class InternalError(PosBridgeError):
    code = "INTERNAL_ERROR"
    http_status = 500


class TerminalNotConnected(PosBridgeError):
    code = "TERMINAL_NOT_CONNECTED"
    http_status = 503


class JournalUnavailable(PosBridgeError):
    """posbridge cannot write its journal (disk full, a write lock held by another program,
    the file deleted or replaced): no money command is sent until it can."""

    code = "JOURNAL_UNAVAILABLE"
    http_status = 503


class TooManyConnections(PosBridgeError):
    """More connections than the bridge serves at once; answered at connect, then closed."""

    code = "TOO_MANY_CONNECTIONS"
    http_status = 503


class TooManySubscribers(PosBridgeError):
    """GET /events: the bridge already streams to as many subscribers as it allows."""

    code = "TOO_MANY_SUBSCRIBERS"
    http_status = 503


class TerminalTimeout(PosBridgeError):
    """The terminal did not answer in time: the command's outcome is not known."""

    code = "TERMINAL_TIMEOUT"
    http_status = 504


def all_errors() -> list[type[PosBridgeError]]:
    """Every concrete error class, in definition order (for docs and tests)."""
    seen: list[type[PosBridgeError]] = [PosBridgeError]
    out: list[type[PosBridgeError]] = []
    while seen:
        cls = seen.pop(0)
        for sub in cls.__subclasses__():
            seen.append(sub)
            if sub.code not in {c.code for c in out}:
                out.append(sub)
    return out

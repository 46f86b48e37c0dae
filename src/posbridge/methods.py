"""Condition codes are payment methods: the one table of the codes posbridge knows.

In the PC POS USB API, ``condition_code`` is not an ISO 8583 POS condition code. FOMO Pay's
cloud POS integration guide ("Mobile Payment Integration (POS)", the same terminals' payment
methods over HTTPS) carries it in field 25, "condition code", and uses it to choose the
payment method (the source of funds). The names below are not FOMO's words: they are what
public integrators' code for that API uses (see docs/api.md and
``shared/reference/fomo-facts.md``). All four are QR payments in SGD: the terminal shows a
dynamic QR code and the customer scans it with a banking or wallet app.

A terminal says which codes it supports in its hello on the link, with their names when it
knows them; ``name_of`` falls back to this table, so a terminal that sends bare codes is
still shown by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Where the codes and names come from (quoted in docs/api.md).
SOURCE = ("field 25 of FOMO Pay's cloud POS API (developers.fomopay.com, Mobile Payment "
          "Integration (POS) v1.3.3); the name from public integrators' code for that API")


@dataclass(frozen=True)
class PaymentMethod:
    code: str  # the two-digit condition_code
    name: str
    qr: bool  # the customer scans a QR code the terminal shows
    source: str = SOURCE


#: Every condition code posbridge knows, in the simulator's default order.
KNOWN: dict[str, PaymentMethod] = {
    m.code: m
    for m in (
        PaymentMethod("82", "PayNow", qr=True),
        PaymentMethod("30", "Alipay", qr=True),
        PaymentMethod("20", "WeChat Pay", qr=True),
        PaymentMethod("50", "GrabPay", qr=True),
    )
}

#: What ``posbridge simulator`` supports unless told otherwise.
DEFAULT_CODES: tuple[str, ...] = tuple(KNOWN)
DEFAULT_SPEC = ",".join(f"{m.code}={m.name}" for m in KNOWN.values())


def name_of(code: str, names: dict[str, str] | None = None) -> str:
    """The method's name: from ``names`` (what the terminal said), else the known table,
    else "" (a code nobody named)."""
    if names and names.get(code):
        return names[code]
    known = KNOWN.get(code)
    return known.name if known else ""


def is_qr(code: str) -> bool:
    known = KNOWN.get(code)
    return known.qr if known else False


def names_by_code(codes: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """The hello's two parallel lists as a map (a shorter or missing names list is fine:
    an old terminal sends codes only)."""
    return {code: name for code, name in zip(codes, names, strict=False) if name}


def listing(codes: Sequence[str], names: Sequence[str] = ()) -> list[dict[str, object]]:
    """The methods as JSON objects (``/health``, the unsupported-code error):
    ``{"condition_code": "82", "name": "PayNow", "qr": true}``."""
    by_code = names_by_code(codes, names)
    return [{"condition_code": c, "name": name_of(c, by_code), "qr": is_qr(c)} for c in codes]


def describe(codes: Iterable[str], names: dict[str, str] | None = None) -> str:
    """``82 PayNow, 30 Alipay``: codes with their names, for messages and logs."""
    parts = []
    for code in codes:
        name = name_of(code, names)
        parts.append(f"{code} {name}" if name else code)
    return ", ".join(parts) or "none"


def parse_spec(spec: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``82=PayNow,30,99=Visa QR`` -> (codes, names). A bare known code takes its known
    name; a bare unknown code has none. Raises ValueError saying what is wrong."""
    codes: list[str] = []
    names: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        code, sep, name = item.partition("=")
        code, name = code.strip(), name.strip()
        if not (len(code) == 2 and code.isascii() and code.isdigit()):
            raise ValueError(f"condition code {code!r} is not two digits (in {item!r})")
        if sep and not name:
            raise ValueError(f"condition code {code}: give a name after '=' or leave it out")
        if code in codes:
            raise ValueError(f"condition code {code} is given twice")
        codes.append(code)
        names.append(name or name_of(code))
    if not codes:
        raise ValueError("give at least one condition code, for example 82=PayNow")
    return tuple(codes), tuple(names)

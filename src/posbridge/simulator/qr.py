"""The QR code a simulated terminal shows the customer for a QR payment method.

PayNow gets an EMVCo merchant-presented payload as SGQR/PayNow codes carry it: a list of
TLV data objects (two-digit tag, two-digit length, value) ending in tag 63, a CRC-16/
CCITT-FALSE over the whole payload up to and including "6304", in four uppercase hex digits:

    00 "01"          payload format indicator
    01 "12"          point of initiation: 12 dynamic (one payment), 11 static
    26 ...           merchant account information, PayNow template:
       00 "SG.PAYNOW"  globally unique identifier
       01 "2"          proxy type: 0 mobile number, 2 UEN
       02 UEN          proxy value
       03 "0"          amount editable: 0 no
    52 "0000"        merchant category code
    53 "702"         transaction currency, ISO 4217 numeric: SGD
    54 "12.50"       transaction amount
    58 "SG"          country code
    59 name          merchant name
    60 "Singapore"   merchant city
    62 ...           additional data: 01 the bill number (the payment's reference)
    63 CRC

The simulator's merchant (its UEN, name) is made up: a banking app that scans the code
would find no such PayNow account. Alipay, WeChat Pay and GrabPay codes are wallet-specific;
the simulator shows a well-formed https URL under the reserved ``.invalid`` domain (RFC 2606)
that names the method, the amount and the reference, so no one mistakes it for a real code.
"""

from __future__ import annotations

import binascii
from urllib.parse import quote

from .. import methods
from ..protocol.messages import Progress

PAYNOW = "82"
#: The simulator's PayNow merchant: a UEN-shaped value that no company has (the T, the year
#: 00 and the entity type "SI" mark it as made up).
SIM_UEN = "T00SI0001X"
SIM_MERCHANT = "POSBRIDGE SIMULATOR"
SIM_CITY = "Singapore"
FAKE_HOST = "https://simulator.posbridge.invalid/pay"

#: EMVCo limits: a value is at most 99 characters; the bill number at most 25.
MAX_VALUE = 99
MAX_BILL = 25


def tlv(tag: str, value: str) -> str:
    """One EMVCo data object. Raises ValueError for a value that does not fit."""
    if len(tag) != 2 or not tag.isdigit():
        raise ValueError(f"EMVCo tag {tag!r} is not two digits")
    if not 0 < len(value) <= MAX_VALUE:
        raise ValueError(f"EMVCo tag {tag}: value of {len(value)} characters (1 to 99)")
    return f"{tag}{len(value):02d}{value}"


def crc16(text: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, initial 0xFFFF) as four uppercase hex digits:
    ``binascii.crc_hqx`` with 0xFFFF is exactly that CRC."""
    return f"{binascii.crc_hqx(text.encode(), 0xFFFF):04X}"


def paynow_payload(
    amount_minor: int,
    reference: str,
    *,
    uen: str = SIM_UEN,
    merchant: str = SIM_MERCHANT,
    city: str = SIM_CITY,
) -> str:
    """A dynamic SGQR/PayNow payload for ``amount_minor`` cents SGD, non-editable, with
    ``reference`` as the bill number (cut to the 25 characters EMVCo allows)."""
    account = tlv("00", "SG.PAYNOW") + tlv("01", "2") + tlv("02", uen) + tlv("03", "0")
    bill = _emv_text(reference)[:MAX_BILL] or "-"
    body = (
        tlv("00", "01")
        + tlv("01", "12")
        + tlv("26", account)
        + tlv("52", "0000")
        + tlv("53", "702")
        + tlv("54", f"{amount_minor // 100}.{amount_minor % 100:02d}")
        + tlv("58", "SG")
        + tlv("59", merchant[:25])
        + tlv("60", city[:15])
        + tlv("62", tlv("01", bill))
        + "6304"
    )
    return body + crc16(body)


def fake_payload(code: str, amount_minor: int, reference: str) -> str:
    """A well-formed, plainly not real payload for a QR method without a simulated format."""
    name = methods.name_of(code) or f"method-{code}"
    slug = "".join(c for c in name.lower() if c.isalnum())
    return (f"{FAKE_HOST}/{slug}?cc={code}&amount={amount_minor // 100}."
            f"{amount_minor % 100:02d}&currency=SGD&ref={quote(reference, safe='')}"
            "&note=posbridge-simulator-not-a-real-payment")


def progress_for(ref: str, amount_minor: int, condition_code: str) -> Progress:
    """What the terminal shows when a sale starts: the QR for a QR method, else the amount."""
    if condition_code == PAYNOW:
        return Progress(ref, "qr_shown", paynow_payload(amount_minor, ref))
    if methods.is_qr(condition_code):
        return Progress(ref, "qr_shown", fake_payload(condition_code, amount_minor, ref))
    return Progress(ref, "waiting_for_customer")


def _emv_text(text: str) -> str:
    # The bridge sends printable ASCII references only; this keeps the payload printable
    # ASCII whatever another host sends.
    return "".join(c if " " <= c <= "~" else "?" for c in text)

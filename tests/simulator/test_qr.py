"""The QR payloads the simulated terminal shows, read back by a decoder written here from
the EMVCo merchant-presented QR specification (not from posbridge's encoder)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posbridge.simulator.qr import fake_payload, paynow_payload, progress_for


def crc_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE bit by bit: poly 0x1021, init 0xFFFF, no reflection, no xorout."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_the_test_s_crc_is_the_standard_one() -> None:
    assert crc_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value


def decode_tlv(text: str) -> list[tuple[str, str]]:
    """EMVCo data objects: ID (2 digits), length (2 digits), value; nothing left over."""
    objects, i = [], 0
    while i < len(text):
        tag, length = text[i:i + 2], text[i + 2:i + 4]
        assert tag.isdigit() and length.isdigit(), f"bad header at {i}: {text[i:i + 4]!r}"
        value = text[i + 4:i + 4 + int(length)]
        assert len(value) == int(length), f"tag {tag}: value cut short"
        objects.append((tag, value))
        i += 4 + int(length)
    return objects


def read_emv(payload: str) -> dict[str, str]:
    """Decode and check a merchant-presented payload: tag 00 first, tag 63 last with the
    CRC over everything before its value; returns the top-level tags."""
    objects = decode_tlv(payload)
    tags = [tag for tag, _ in objects]
    assert tags[0] == "00" and tags[-1] == "63", tags
    assert len(set(tags)) == len(tags), "a tag is repeated"
    crc = objects[-1][1]
    assert len(crc) == 4 and crc == crc.upper()
    assert int(crc, 16) == crc_ccitt_false(payload[:-4].encode()), "CRC does not check"
    return dict(objects)


def test_a_paynow_payload_decodes_and_its_crc_checks() -> None:
    top = read_emv(paynow_payload(1250, "invoice-42"))
    assert top["00"] == "01"  # payload format indicator
    assert top["01"] == "12"  # dynamic: one payment
    account = dict(decode_tlv(top["26"]))
    assert account["00"] == "SG.PAYNOW"
    assert account["01"] == "2" and account["02"]  # proxy: a UEN
    assert account["03"] == "0"  # the amount cannot be edited
    assert top["52"] == "0000" and top["53"] == "702" and top["58"] == "SG"
    assert top["54"] == "12.50"
    assert top["59"] and top["60"]
    assert dict(decode_tlv(top["62"]))["01"] == "invoice-42"


def test_a_changed_character_breaks_the_crc() -> None:
    payload = paynow_payload(1250, "invoice-42")
    broken = payload.replace("12.50", "12.60")
    with pytest.raises(AssertionError, match="CRC"):
        read_emv(broken)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 99_999_999_99), st.text(st.characters(min_codepoint=32,
                                                            max_codepoint=126),
                                              min_size=1, max_size=64))
def test_any_amount_and_reference_make_a_payload_that_decodes(amount: int, ref: str) -> None:
    top = read_emv(paynow_payload(amount, ref))
    assert top["54"] == f"{amount // 100}.{amount % 100:02d}"
    assert dict(decode_tlv(top["62"]))["01"] == ref[:25]  # EMVCo's bill number limit


@pytest.mark.parametrize(("code", "slug"), [("30", "alipay"), ("20", "wechatpay"),
                                            ("50", "grabpay")])
def test_other_qr_methods_get_a_plainly_fake_but_well_formed_url(code: str, slug: str) -> None:
    url = urlsplit(fake_payload(code, 305, "inv 7/&x"))
    assert url.scheme == "https" and url.hostname is not None
    assert url.hostname.endswith(".invalid")  # RFC 2606: can never resolve
    assert url.path.endswith("/" + slug)
    query = parse_qs(url.query)
    assert query["amount"] == ["3.05"] and query["currency"] == ["SGD"]
    assert query["ref"] == ["inv 7/&x"] and query["cc"] == [code]


def test_progress_by_method() -> None:
    assert progress_for("r", 100, "82").stage == "qr_shown"
    read_emv(progress_for("r", 100, "82").qr_payload)
    assert progress_for("r", 100, "30").qr_payload.startswith("https://")
    unknown = progress_for("r", 100, "99")  # a method nobody says is QR
    assert (unknown.stage, unknown.qr_payload) == ("waiting_for_customer", "")

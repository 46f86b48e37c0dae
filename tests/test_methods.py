"""Condition codes are payment methods: the table, the simulator's flag, and how the bridge
shows them (/health, the unsupported-code error, posbridge status)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posbridge import methods
from posbridge.simulator import TerminalModel
from posbridge.tools import status_text
from rig import bridge, create_body, run


def test_the_default_set_is_fomo_s_four_qr_methods() -> None:
    assert methods.DEFAULT_CODES == ("82", "30", "20", "50")
    assert [methods.name_of(c) for c in methods.DEFAULT_CODES] == [
        "PayNow", "Alipay", "WeChat Pay", "GrabPay"]
    assert all(methods.is_qr(c) for c in methods.DEFAULT_CODES)
    assert all("field 25" in m.source for m in methods.KNOWN.values())
    assert methods.DEFAULT_SPEC == "82=PayNow,30=Alipay,20=WeChat Pay,50=GrabPay"


def test_a_spec_names_codes_and_bare_known_codes_take_their_names() -> None:
    assert methods.parse_spec("82, 30=Alipay HK,99=Visa QR,77") == (
        ("82", "30", "99", "77"), ("PayNow", "Alipay HK", "Visa QR", ""))
    assert methods.describe(("82", "77"), {"82": "PayNow"}) == "82 PayNow, 77"


@pytest.mark.parametrize(("spec", "says"), [
    ("8", "not two digits"), ("820", "not two digits"), ("82,82", "given twice"),
    ("82=", "give a name"), ("", "at least one"), ("x2=PayNow", "not two digits"),
])
def test_a_bad_spec_says_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        methods.parse_spec(spec)


def test_the_bridge_shows_the_terminal_s_methods_by_name(journal_path: Path) -> None:
    model = TerminalModel(customer_delay=0.2, condition_codes=("82", "30", "99"),
                          condition_code_names=("PayNow", "Alipay", "Visa QR"))

    async def main() -> None:
        async with bridge(journal_path, model=model) as b:
            await b.service.terminal.wait_connected(5)
            health = (await b.client.get(b.url + "/health")).json()
            assert health["terminal"]["condition_codes"] == ["82", "30", "99"]
            assert health["terminal"]["payment_methods"] == [
                {"condition_code": "82", "name": "PayNow", "qr": True},
                {"condition_code": "30", "name": "Alipay", "qr": True},
                {"condition_code": "99", "name": "Visa QR", "qr": False},
            ]
            text = status_text(health)
            assert "  82  PayNow  QR" in text and "  99  Visa QR" in text
            assert "payment in progress: none" in text

            r = await b.post("/CreatePayment", create_body("x", "1.00", "20"))
            assert r.status_code == 400
            body = r.json()
            assert body["error_code"] == "UNSUPPORTED_CONDITION_CODE"
            assert body["message"].endswith("supported: 82 PayNow, 30 Alipay, 99 Visa QR")
            assert body["supported_condition_codes"] == ["82", "30", "99"]
            assert [m["name"] for m in body["supported_payment_methods"]] == [
                "PayNow", "Alipay", "Visa QR"]
            assert b.journal.get("x") is None  # refused: nothing left behind

    run(main())

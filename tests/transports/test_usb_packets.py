"""How the USB transport cuts a write into bulk OUT transfers, without libusb (the same
thing through the real libusb is in tests/usb/test_usb.py)."""

from __future__ import annotations

import pytest

from posbridge.transports.usb import packets


@pytest.mark.parametrize(("length", "sizes"), [
    (0, []),
    (1, [1]),
    (511, [511]),
    (512, [512, 0]),  # a full last packet: a zero-length packet ends the write
    (513, [512, 1]),
    (1024, [512, 512, 0]),
    (1300, [512, 512, 276]),
])
def test_packets_are_at_most_one_wmaxpacketsize_and_a_full_last_one_gets_a_zlp(
        length: int, sizes: list[int]) -> None:
    data = bytes(i % 251 for i in range(length))
    out = packets(data, 512)
    assert [len(p) for p in out] == sizes
    assert b"".join(out) == data


def test_full_speed_packets() -> None:
    assert [len(p) for p in packets(bytes(128), 64)] == [64, 64, 0]
    assert [len(p) for p in packets(bytes(100), 64)] == [64, 36]


def test_with_several_accessories_the_terminal_is_not_guessed() -> None:
    # In accessory mode every Android device shows Google's ids: with two, taking the
    # first could drive another bridge's terminal.
    from types import SimpleNamespace

    from posbridge.transports import TransportError
    from posbridge.transports.usb import _the_only

    def accessory(address: int) -> SimpleNamespace:
        return SimpleNamespace(idVendor=0x18D1, idProduct=0x2D01, bus=1, address=address)

    one = accessory(5)
    assert _the_only([one]) is one
    with pytest.raises(TransportError, match="2 USB devices are in Android accessory mode"):
        _the_only([accessory(5), accessory(6)])

"""How USB failures become the errors users read, without libusb (a permission failure
through the real libusb, on Linux, is in tests/usb/test_usb.py)."""

from __future__ import annotations

import errno

import pytest
import usb.core

from posbridge.transports import TransportClosed, TransportError
from posbridge.transports.usb import _usb_errors


def failure(what: str, exc: BaseException, vid: int | None = 0x2A70) -> TransportError:
    with pytest.raises(TransportError) as info, _usb_errors(what, vid):
        raise exc
    return info.value


def test_access_denied_on_linux_says_which_udev_rule_and_group(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    error = failure("opening USB 2a70:9011", usb.core.USBError("Access denied", -3,
                                                               errno.EACCES))
    text = str(error)
    assert not isinstance(error, TransportClosed)  # not "unplugged": retrying will not help
    assert text.startswith("opening USB 2a70:9011: permission denied (")
    # Both the terminal's vendor and Google's (the accessory it becomes) get a rule.
    for vid in ("2a70", "18d1"):
        assert (f'SUBSYSTEM=="usb", ATTR{{idVendor}}=="{vid}", MODE="0660", GROUP="plugdev"'
                in text)
    assert "/etc/udev/rules.d/51-posbridge.rules" in text
    assert "sudo usermod -aG plugdev $USER" in text
    assert "Zadig" not in text


@pytest.mark.parametrize("exc", [
    NotImplementedError("Operation not supported or unimplemented on this platform"),
    usb.core.USBError("Operation not supported", -12, errno.ENOSYS),
])
def test_no_winusb_driver_on_windows_says_zadig(monkeypatch: pytest.MonkeyPatch,
                                                exc: BaseException) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    text = str(failure("asking USB 2a70:9011 for its accessory protocol", exc))
    assert text.startswith("asking USB 2a70:9011 for its accessory protocol: permission denied")
    assert "Zadig" in text and "WinUSB" in text and "udev" not in text


def test_not_supported_elsewhere_is_not_a_permission_problem(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    text = str(failure("opening USB 2a70:9011", NotImplementedError("not supported")))
    assert text == "opening USB 2a70:9011: not supported"


@pytest.mark.parametrize("code", [errno.ENODEV, errno.EIO, errno.ENOENT])
def test_a_vanished_device_is_a_closed_link(code: int) -> None:
    error = failure("reading from USB accessory", usb.core.USBError("No such device", -4,
                                                                    code))
    assert isinstance(error, TransportClosed)
    assert "the device is gone" in str(error)

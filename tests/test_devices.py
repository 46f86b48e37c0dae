"""posbridge.devices in one process: which libusb it lists devices with. The bundle's
choice is run in tests/e2e/test_frozen.py; the USB devices themselves in tests/usb."""

from __future__ import annotations

import ctypes.util

from posbridge.devices import list_devices


def test_the_system_libusb_first_else_libusb_packages() -> None:
    listed = list_devices()
    assert listed.usb_error == ""
    if ctypes.util.find_library("usb-1.0"):
        assert listed.libusb.endswith(" (the system's)"), listed.libusb
    else:
        assert listed.libusb.endswith("/libusb_package/libusb-1.0.so (libusb-package's)"), (
            listed.libusb)

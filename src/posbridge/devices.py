"""Which terminals could be plugged into this PC: USB devices and serial ports.

``list_devices()`` is what ``posbridge devices`` prints and what the desktop control panel
offers as the terminal list; each entry carries the ``--terminal`` spec that selects it.
Listing asks each USB device (hubs aside) for its Android Open Accessory version, as
``--terminal usb`` does when it looks for a terminal; it switches nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class UsbDevice:
    vid: int
    pid: int
    bus: int
    address: int
    manufacturer: str | None
    product: str | None
    serial: str | None
    #: "accessory" (already in Android accessory mode), "can switch" (answers the accessory
    #: protocol), "no" (does not), or "unknown" (could not be asked: see ``error``).
    accessory: str
    aoa_version: int | None
    spec: str
    error: str = ""

    @property
    def can_be_terminal(self) -> bool:
        return self.accessory in ("accessory", "can switch")


@dataclass(frozen=True)
class SerialPort:
    device: str
    description: str
    hwid: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None
    product: str | None
    spec: str


@dataclass(frozen=True)
class DeviceList:
    usb: list[UsbDevice] = field(default_factory=list)
    serial: list[SerialPort] = field(default_factory=list)
    #: Why USB devices could not be listed at all (no libusb), or "".
    usb_error: str = ""
    serial_error: str = ""
    #: The libusb that listed them: its file and whose it is ("libusb-1.0.so.0 (the
    #: system's)", or libusb-package's copy), or "" when there is none.
    libusb: str = ""


def list_usb(*, all_devices: bool = False) -> list[UsbDevice]:
    """USB devices that can be a terminal (every non-hub device with ``all_devices``).
    Raises TransportError when there is no libusb."""
    import errno

    import usb.core
    import usb.util

    from .transports.usb import (
        HUB_CLASS,
        aoa_protocol,
        get_backend,
        is_accessory,
        permission_advice,
    )

    found: list[UsbDevice] = []
    for device in usb.core.find(find_all=True, backend=get_backend()):
        if device.bDeviceClass == HUB_CLASS:
            continue
        error = ""
        version: int | None = None
        if is_accessory(device):
            state = "accessory"
        else:
            try:
                version = aoa_protocol(device)
                state = "can switch" if version >= 1 else "no"
            except (usb.core.USBError, NotImplementedError) as exc:
                state = "unknown"
                code = getattr(exc, "errno", None)
                denied = code in (errno.EACCES, errno.EPERM) or (sys.platform == "win32" and (
                    isinstance(exc, NotImplementedError) or code == errno.ENOSYS))
                # What to do, as the bridge says it: this is where users look first.
                error = (f"permission denied ({exc}). {permission_advice(device.idVendor)}"
                         if denied else str(exc) or repr(exc))
        strings: list[str | None] = []
        for index in (device.iManufacturer, device.iProduct, device.iSerialNumber):
            text = None
            if index:
                try:
                    text = usb.util.get_string(device, index)
                except (usb.core.USBError, ValueError, NotImplementedError):
                    text = None  # not readable without permission; not an error to list
            strings.append(text)
        usb.util.dispose_resources(device)
        manufacturer, product, serial = strings
        entry = UsbDevice(device.idVendor, device.idProduct, device.bus, device.address,
                          manufacturer, product, serial, accessory=state, aoa_version=version,
                          spec=f"usb:{device.idVendor:04x}:{device.idProduct:04x}",
                          error=error)
        if all_devices or entry.can_be_terminal or state == "unknown":
            found.append(entry)
    return found


def list_serial() -> list[SerialPort]:
    from serial.tools import list_ports

    return [
        SerialPort(p.device, p.description or "", p.hwid or "", p.vid, p.pid,
                   p.serial_number, p.manufacturer, p.product, f"serial:{p.device}")
        for p in sorted(list_ports.comports(), key=lambda p: p.device)
    ]


def list_devices(*, all_usb: bool = False) -> DeviceList:
    """Every USB device that can be a terminal, and every serial port; never raises for a
    missing libusb or an unreadable device (the reason is in the result)."""
    from .transports import TransportError
    from .transports.usb import libusb_in_use

    usb_devices: list[UsbDevice] = []
    usb_error = serial_error = libusb = ""
    try:
        usb_devices = list_usb(all_devices=all_usb)
        libusb = libusb_in_use()
    except TransportError as exc:
        usb_error = str(exc)
    except Exception as exc:  # a libusb that fails to start must not hide the serial ports
        usb_error = f"could not list USB devices: {exc!r}"
    ports: list[SerialPort] = []
    try:
        ports = list_serial()
    except Exception as exc:
        serial_error = f"could not list serial ports: {exc!r}"
    return DeviceList(usb_devices, ports, usb_error, serial_error, libusb)


# -- the command ---------------------------------------------------------------------------


def add_devices_command(sub: Any) -> None:
    parser = sub.add_parser(
        "devices",
        help="list the USB devices and serial ports a terminal could be on",
        description="List USB devices that can be a terminal (Android devices in or able "
        "to enter accessory mode) and serial ports, each with the --terminal value that "
        "selects it.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for programs")
    parser.add_argument("--all", action="store_true",
                        help="list every USB device, not only possible terminals")
    parser.set_defaults(func=_devices_command)


def _devices_command(args: argparse.Namespace) -> int:
    devices = list_devices(all_usb=args.all)
    if args.json:
        sys.stdout.write(json.dumps(asdict(devices), indent=2) + "\n")
        return 0
    out = sys.stdout
    out.write("USB:\n")
    if devices.usb_error:
        out.write(f"  {devices.usb_error}\n")
    elif not devices.usb:
        out.write("  no device that can be a terminal (is it plugged in and unlocked?)\n")
    for d in devices.usb:
        names = " ".join(x for x in (d.manufacturer, d.product) if x) or "(names unreadable)"
        state = {"accessory": "in accessory mode",
                 "can switch": f"can switch to accessory mode (AOA v{d.aoa_version})",
                 "no": "not an accessory-capable device",
                 "unknown": f"could not be asked: {d.error}"}[d.accessory]
        state = state.replace("\n", "\n        ")  # the advice's udev rules, indented
        serial = f" serial {d.serial}" if d.serial else ""
        out.write(f"  {d.vid:04x}:{d.pid:04x}  bus {d.bus} address {d.address}  {names}"
                  f"{serial}\n      {state}; --terminal {d.spec}\n")
    out.write("Serial ports:\n")
    if devices.serial_error:
        out.write(f"  {devices.serial_error}\n")
    elif not devices.serial:
        out.write("  none\n")
    for p in devices.serial:
        out.write(f"  {p.device}  {p.description}  {p.hwid}\n      --terminal {p.spec}\n")
    return 0

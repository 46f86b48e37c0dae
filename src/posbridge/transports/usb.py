"""USB transport: the link over an Android terminal's accessory bulk endpoints (pyusb).

The terminal is an Android device. The PC switches it into accessory mode with the Android
Open Accessory protocol:

1. find the device: the configured VID:PID, or one already in accessory mode
   (18D1:2D00, or 2D01 with ADB), or one that answers GET_PROTOCOL (request 51) with
   version 1 or more;
2. send the six identity strings (request 52: manufacturer, model, description, version,
   URI, serial) that tell Android which app to start, then START (53);
3. the device leaves the bus and comes back as 18D1:2D00/2D01: wait for it;
4. claim interface 0 and run the link over its bulk IN and OUT endpoints.

Reads take one packet (wMaxPacketSize) per transfer: a transfer that times out is
cancelled, and with pyusb the bytes of a cancelled multi-packet transfer would be lost.
Writes go out one packet per transfer, and a zero-length packet follows when the length is
a multiple of wMaxPacketSize, so the terminal's read of the accessory ends there.

pyusb blocks: everything here runs in worker threads (``threaded.py``). libusb comes from
the system (on Linux it has udev hotplug) or else from the ``libusb-package`` wheel.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl

from .base import Translation, TransportClosed, TransportError, map_errors, write_timed_out
from .threaded import ThreadedTransport

log = logging.getLogger("posbridge.transports")

GOOGLE_VID = 0x18D1
ACCESSORY_PIDS = (0x2D00, 0x2D01)  # accessory; accessory + ADB
AOA_GET_PROTOCOL, AOA_SEND_STRING, AOA_START = 51, 52, 53
HUB_CLASS = 9

CONTROL_TIMEOUT_MS = 1000
READ_POLL_MS = 200  # how long the reader thread waits per transfer; bounds close()
LOOK_INTERVAL = 0.1  # seconds between looks for the re-enumerated accessory


@dataclass(frozen=True)
class AccessoryIdentity:
    """What the PC tells the Android device (AOA request 52); its app matches on
    manufacturer, model and version in its accessory filter."""

    manufacturer: str = "posbridge"
    model: str = "posbridge"
    description: str = "posbridge payment link"
    version: str = "1"
    uri: str = ""
    serial: str = ""

    def strings(self) -> tuple[str, ...]:
        return (self.manufacturer, self.model, self.description, self.version, self.uri,
                self.serial)


@dataclass(frozen=True)
class UsbSpec:
    vid: int | None = None
    pid: int | None = None
    identity: AccessoryIdentity = field(default_factory=AccessoryIdentity)
    #: How long the device may take to come back in accessory mode.
    accessory_timeout: float = 10.0

    @property
    def text(self) -> str:
        return "usb" if self.vid is None else f"usb:{self.vid:04x}:{self.pid:04x}"


def parse_usb_spec(spec: str) -> UsbSpec:
    """``usb`` or ``usb:VID:PID`` (hex), each with optional ``?manufacturer=..&model=..
    &description=..&version=..&uri=..&serial=..&timeout=SECONDS``; ValueError otherwise."""
    base, _, query = spec.partition("?")
    parts = base.split(":")
    if parts[0] != "usb" or len(parts) not in (1, 3):
        raise ValueError(f"{spec!r} is not usb or usb:VID:PID (for example usb:18d1:4ee1)")
    vid = pid = None
    if len(parts) == 3:
        try:
            vid, pid = (_hex16(p) for p in parts[1:])
        except ValueError:
            raise ValueError(f"{spec!r}: VID and PID are 4 hex digits each, as "
                             "'posbridge devices' shows them (usb:18d1:4ee1)") from None
    names = {f.name for f in fields(AccessoryIdentity)}
    identity: dict[str, str] = {}
    timeout = 10.0
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key in names:
            identity[key] = value
        elif key == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 600:
                raise ValueError(f"{spec!r}: timeout is seconds, more than 0 and at most 600")
        else:
            raise ValueError(f"{spec!r}: unknown option {key!r}; options are "
                             f"{', '.join(sorted(names))} and timeout")
    return UsbSpec(vid, pid, AccessoryIdentity(**identity), timeout)


def _hex16(text: str) -> int:
    if not 1 <= len(text) <= 4 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(text)
    return int(text, 16)


# -- errors --------------------------------------------------------------------------------


def permission_advice(vid: int | None) -> str:
    """What to do when the system refuses access to a USB device."""
    if sys.platform == "win32":
        return ("On Windows, install the WinUSB driver for the terminal with Zadig "
                "(https://zadig.akeo.ie): Options > List All Devices, choose the terminal, "
                "choose WinUSB, Replace Driver; do it again once it shows as an accessory. "
                "See docs/operations.md, 'Connecting a terminal'.")
    vendors = sorted({f"{v:04x}" for v in (vid, GOOGLE_VID) if v is not None})
    rules = "\n".join(
        f'SUBSYSTEM=="usb", ATTR{{idVendor}}=="{v}", MODE="0660", GROUP="plugdev"'
        for v in vendors)
    if sys.platform == "darwin":
        return "See docs/operations.md, 'Connecting a terminal'."
    return ("On Linux, let your user open it: put these lines in "
            "/etc/udev/rules.d/51-posbridge.rules\n" + rules + "\nthen run 'sudo udevadm "
            "control --reload-rules && sudo udevadm trigger', add your user to the plugdev "
            "group ('sudo usermod -aG plugdev $USER', then log in again) and plug the "
            "terminal in again. See docs/operations.md, 'Connecting a terminal'.")


def _translate_usb(what: str, exc: BaseException, vid: int | None = None) -> TransportError:
    code = getattr(exc, "errno", None)
    if code in (errno.ENODEV, errno.EIO, errno.ENOENT):
        return TransportClosed(f"{what}: the device is gone ({exc})")
    # On Windows, a device without the WinUSB driver is "not supported" by libusb: pyusb
    # raises NotImplementedError (or a USBError with ENOSYS).
    if code in (errno.EACCES, errno.EPERM) or (sys.platform == "win32" and (
            code == errno.ENOSYS or isinstance(exc, NotImplementedError))):
        return TransportError(f"{what}: permission denied ({exc}). {permission_advice(vid)}")
    if code == errno.EBUSY:
        return TransportError(f"{what}: the device is in use by another program (adb, another "
                              f"posbridge?) ({exc})")
    return TransportError(f"{what}: {exc}")


def _usb_errors(what: str, vid: int | None = None) -> contextlib.AbstractContextManager[None]:
    import usb.core

    mapping: dict[type[BaseException], Translation] = {
        usb.core.USBError: lambda w, e: _translate_usb(w, e, vid),
        # The backend cannot do it on this system (on Windows: no WinUSB driver).
        NotImplementedError: lambda w, e: _translate_usb(w, e, vid),
    }
    return map_errors(mapping, what)


# -- libusb --------------------------------------------------------------------------------

_backend: Any = None
#: Whose libusb ``_backend`` runs on: "the system's" or "libusb-package's".
_backend_owner = ""


def get_backend() -> Any:
    """pyusb's libusb backend: the system's libusb first (on Linux it follows hotplug through
    udev), else the one shipped in the ``libusb-package`` wheel (Windows, macOS). The
    self-contained bundle does the same: it carries only libusb-package's."""
    global _backend, _backend_owner
    if _backend is None:
        import ctypes.util

        import usb.backend.libusb1

        # The system's lookup, named: it is pyusb's default, and the bundle counts on it
        # being named (packaging/pyinstaller/posbridge.spec: no lookup inside the bundle).
        backend = usb.backend.libusb1.get_backend(find_library=ctypes.util.find_library)
        owner = "the system's"
        if backend is None:
            with contextlib.suppress(ImportError):
                import libusb_package

                backend = libusb_package.get_libusb1_backend()
                owner = "libusb-package's"
        if backend is None:
            raise TransportError(
                "no libusb found: install it (Debian/Ubuntu: sudo apt install libusb-1.0-0; "
                "macOS: brew install libusb) or the Python package libusb-package")
        _backend, _backend_owner = backend, owner
    return _backend


def libusb_in_use() -> str:
    """Which libusb posbridge runs on, for ``posbridge devices --json`` and the support
    bundle: the file as it was loaded and whose it is, e.g. ``libusb-1.0.so.0 (the
    system's)``. Raises TransportError when there is none."""
    backend = get_backend()
    lib = getattr(backend, "lib", None)
    return f"{getattr(lib, '_name', None) or 'libusb'} ({_backend_owner})"


def describe(device: Any) -> str:
    return (f"USB {device.idVendor:04x}:{device.idProduct:04x} "
            f"(bus {device.bus} address {device.address})")


def is_accessory(device: Any) -> bool:
    return bool(device.idVendor == GOOGLE_VID and device.idProduct in ACCESSORY_PIDS)


def aoa_protocol(device: Any) -> int:
    """The device's Android Open Accessory version (0: it does not speak AOA). Raises
    usb.core.USBError when the device cannot be asked (no permission, gone)."""
    import usb.core

    try:
        answer = device.ctrl_transfer(0xC0, AOA_GET_PROTOCOL, 0, 0, 2,
                                      timeout=CONTROL_TIMEOUT_MS)
    except usb.core.USBError as exc:
        if exc.errno in (errno.EPIPE, errno.ETIMEDOUT, errno.EOVERFLOW):
            return 0  # a stall (or silence): it does not understand the request
        raise
    return int.from_bytes(bytes(answer), "little") if len(answer) == 2 else 0


def find_terminal(spec: UsbSpec) -> Any:
    """The terminal's USB device in accessory mode, switching it there if needed."""
    import usb.core

    backend = get_backend()
    with _usb_errors("looking for USB devices"):
        devices = list(usb.core.find(find_all=True, backend=backend))
    accessories = [d for d in devices if is_accessory(d)]
    if spec.vid is not None:
        matches = [d for d in devices if (d.idVendor, d.idProduct) == (spec.vid, spec.pid)]
        if matches and is_accessory(matches[0]):
            return matches[0]
        if not matches and accessories:
            # Already in accessory mode (a restart of posbridge), under Google's ids.
            return _the_only(accessories)
        if not matches:
            raise TransportClosed(f"no USB device {spec.vid:04x}:{spec.pid:04x} found; is the "
                                  "terminal plugged in? ('posbridge devices' lists devices)")
        device = matches[0]
        with _usb_errors(f"asking {describe(device)} for its accessory protocol", spec.vid):
            version = aoa_protocol(device)
        if version < 1:
            raise TransportError(f"{describe(device)} does not speak Android Open Accessory "
                                 "(GET_PROTOCOL answered no version); is it the terminal?")
        return start_accessory(device, spec)
    if accessories:
        return _the_only(accessories)
    denied: list[str] = []
    for device in devices:
        if device.bDeviceClass == HUB_CLASS:
            continue
        try:
            version = aoa_protocol(device)
        except (usb.core.USBError, NotImplementedError) as exc:
            code = getattr(exc, "errno", None)
            if code in (errno.EACCES, errno.EPERM) or (sys.platform == "win32" and (
                    isinstance(exc, NotImplementedError) or code == errno.ENOSYS)):
                denied.append(describe(device))
            continue
        if version >= 1:
            return start_accessory(device, spec)
    message = "no terminal found on USB (no Android device in or able to enter accessory mode)"
    if denied:
        message += (f"; {len(denied)} device(s) could not be asked for lack of permission "
                    f"({', '.join(denied)}). {permission_advice(None)}")
    raise TransportClosed(message)


def _the_only(accessories: list[Any]) -> Any:
    """The one device in accessory mode. With several, which one is this bridge's terminal
    cannot be told (they all show Google's ids): refused rather than guessed, since driving
    another bridge's terminal would break one-payment-at-a-time."""
    if len(accessories) == 1:
        return accessories[0]
    raise TransportError(
        f"{len(accessories)} USB devices are in Android accessory mode "
        f"({', '.join(describe(d) for d in accessories)}) and posbridge cannot tell which is "
        "this terminal: unplug and plug in this terminal's cable so that it is switched anew, "
        "or give each bridge its terminal with --terminal usb:VID:PID before it is switched")


def _place(device: Any) -> tuple[int, tuple[int, ...]] | None:
    """Where the device is plugged in (bus and hub ports), which re-enumeration keeps; None
    when the platform does not say."""
    try:
        ports = device.port_numbers
    except Exception:  # any backend failure means "not known"
        return None
    return (device.bus, tuple(ports)) if ports else None


def start_accessory(device: Any, spec: UsbSpec) -> Any:
    """Send the identity strings and START; return the device once it is back in accessory
    mode. Raises TransportError when it does not come back in time."""
    import usb.core
    import usb.util

    what = describe(device)
    place = _place(device)
    with _usb_errors("looking for USB devices"):
        before = {(d.bus, d.address) for d in usb.core.find(
            find_all=True, backend=get_backend(), custom_match=is_accessory)}
    with _usb_errors(f"switching {what} to accessory mode", device.idVendor):
        for index, text in enumerate(spec.identity.strings()):
            device.ctrl_transfer(0x40, AOA_SEND_STRING, 0, index, text.encode() + b"\0",
                                 timeout=CONTROL_TIMEOUT_MS)
        try:
            device.ctrl_transfer(0x40, AOA_START, 0, 0, None, timeout=CONTROL_TIMEOUT_MS)
        except usb.core.USBError as exc:
            # The device may leave the bus before it finishes answering START.
            if exc.errno not in (errno.ENODEV, errno.EIO, errno.EPIPE):
                raise
    usb.util.dispose_resources(device)
    log.info("usb: %s asked to switch to accessory mode; waiting for it", what)
    deadline = time.monotonic() + spec.accessory_timeout
    while time.monotonic() < deadline:
        time.sleep(LOOK_INTERVAL)
        with _usb_errors("looking for the accessory"):
            # This device, come back: an accessory that was not there before the switch,
            # in the same place when the platform says where devices are plugged in.
            new = [d for d in usb.core.find(find_all=True, backend=get_backend(),
                                            custom_match=is_accessory)
                   if (d.bus, d.address) not in before]
        if place is not None:
            new = [d for d in new if _place(d) in (place, None)]
        if len(new) == 1:
            return new[0]
    raise TransportError(
        f"{what} was asked to switch to Android accessory mode but did not come back as "
        f"18d1:2d00/2d01 within {spec.accessory_timeout:g} s: is the posbridge app installed "
        "on the terminal, and was the accessory prompt accepted?")


@dataclass
class Claimed:
    device: Any
    interface: int
    ep_in: Any
    ep_out: Any
    description: str


def claim(device: Any) -> Claimed:
    """Claim the accessory interface and find its bulk endpoints."""
    import usb.core
    import usb.util

    what = describe(device)
    with _usb_errors(f"opening {what}", device.idVendor):
        try:
            config = device.get_active_configuration()
        except usb.core.USBError:
            device.set_configuration()
            config = device.get_active_configuration()
        interface = config[(0, 0)]
        number = interface.bInterfaceNumber
        if sys.platform.startswith("linux"):
            with contextlib.suppress(NotImplementedError, usb.core.USBError):
                if device.is_kernel_driver_active(number):
                    device.detach_kernel_driver(number)
        usb.util.claim_interface(device, number)

        def bulk(direction: int) -> Any:
            return usb.util.find_descriptor(
                interface, custom_match=lambda e: (
                    usb.util.endpoint_direction(e.bEndpointAddress) == direction
                    and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK))

        ep_in, ep_out = bulk(usb.util.ENDPOINT_IN), bulk(usb.util.ENDPOINT_OUT)
        if ep_in is None or ep_out is None:
            with contextlib.suppress(usb.core.USBError):
                usb.util.dispose_resources(device)
            raise TransportError(f"{what}: its accessory interface has no bulk IN and OUT "
                                 "endpoints")
    return Claimed(device, number, ep_in, ep_out, f"USB accessory {what[4:]}")


def open_terminal(spec: UsbSpec) -> Claimed:
    return claim(find_terminal(spec))


def packets(data: bytes, size: int) -> list[bytes]:
    """The bulk OUT transfers for one write: ``data`` cut into packets of at most ``size``
    bytes (wMaxPacketSize), then a zero-length packet when the last one is full. Without
    it the terminal's read of the accessory would not end at a full packet and would wait
    for the next write's bytes."""
    out = [data[start : start + size] for start in range(0, len(data), size)]
    if data and len(data) % size == 0:
        out.append(b"")
    return out


class UsbTransport(ThreadedTransport):
    def __init__(self, claimed: Claimed) -> None:
        self.description = claimed.description
        self._claimed = claimed
        self._vid = claimed.device.idVendor
        super().__init__()

    def read_blocking(self) -> bytes:
        import usb.core

        ep = self._claimed.ep_in
        with _usb_errors(f"reading from {self.description}", self._vid):
            try:
                return bytes(ep.read(ep.wMaxPacketSize, timeout=READ_POLL_MS))
            except usb.core.USBTimeoutError:
                return b""

    def write_blocking(self, data: bytes, deadline: float) -> None:
        import usb.core

        ep = self._claimed.ep_out
        what = f"writing to {self.description}"
        with _usb_errors(what, self._vid):
            for packet in packets(data, ep.wMaxPacketSize):
                # Each transfer gets what is left of the write's deadline (at least 1 ms:
                # libusb reads 0 as "no timeout").
                left_ms = max(1, int((deadline - time.monotonic()) * 1000))
                try:
                    written = ep.write(packet, timeout=left_ms)
                except usb.core.USBTimeoutError:
                    raise write_timed_out(what, round(left_ms / 1000, 1)) from None
                if written != len(packet):
                    raise TransportError(f"writing to {self.description}: short write")

    def close_blocking(self) -> None:
        import usb.core
        import usb.util

        device = self._claimed.device
        with contextlib.suppress(usb.core.USBError, NotImplementedError):
            usb.util.release_interface(device, self._claimed.interface)
        with contextlib.suppress(usb.core.USBError, NotImplementedError):
            usb.util.dispose_resources(device)


def usb_connector(spec: UsbSpec) -> Callable[[], Awaitable[UsbTransport]]:
    """A Connector that looks for the terminal each time it is called (the terminal client
    calls it again about every second while none is found, and after an unplug)."""

    async def connect() -> UsbTransport:
        claimed = await asyncio.to_thread(open_terminal, spec)
        transport = UsbTransport(claimed)
        transport.start()
        return transport

    return connect

#!/usr/bin/python3
"""A fake Android payment terminal on a fake USB bus, for the USB tests.

Runs in Debian's /usr/bin/python3 (it needs ``gi`` and umockdev), as its own process. It
creates a umockdev testbed, prints ``ROOT <dir>`` on stdout (the tests run the bridge with
``LD_PRELOAD=libumockdev-preload.so.0 UMOCKDEV_DIR=<dir>``), and plugs in:

* an Android phone (``--vid:--pid``, default 18D1:4EE1) that answers the Android Open
  Accessory handshake: GET_PROTOCOL (51) with version 2, the six identity strings (52),
  START (53); on START it leaves the bus (uevent remove) and comes back as 18D1:2D01 with a
  new device number, as a real phone does;
* a keyboard (046D:C31C) that stalls vendor requests, so discovery has something to skip.

In accessory mode the bulk endpoints (0x81 IN, 0x01 OUT, 512-byte packets) carry the link:
behind them runs the simulator's terminal logic (``posbridge.simulator``, pure Python,
imported from ``src/``). A new session starts each time the host claims the interface.

The answers to libusb's usbfs ioctls (SUBMITURB, REAPURBNDELAY, DISCARDURB, ...) are given
by an ``UMockdev.IoctlBase`` subclass on umockdev's worker thread; bytes cross to the
asyncio thread under a lock.

Commands on stdin, one per line: ``unplug`` (the cable is pulled: pending transfers fail
with ENODEV, the device leaves the bus), ``plug`` (the phone comes back in normal mode, so
the host must do the accessory handshake again), ``stuck`` (from now on the phone takes the
handshake but, after START, comes back in normal mode instead of as an accessory: no app
for the accessory, or its prompt refused), ``deny`` (the phone's device node, now and when
it is plugged in again, is read-only: a process without CAP_DAC_OVERRIDE cannot open it,
and libusb says LIBUSB_ERROR_ACCESS), ``normal`` (undo ``stuck`` and ``deny``), ``sync``
(does nothing: its ``DONE`` comes after every event of what the host did before), ``quit``.
Events on stdout, one per line: ``ROOT``, ``ADDED vid:pid devnum``, ``REMOVED devnum``,
``IDENTITY <json>``, ``OUT <len>`` (each bulk OUT transfer's length, so the tests can see
zero-length packets), ``SESSION``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import struct
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
if os.environ.get("POSBRIDGE_DEPS"):  # msgspec, from the tests' venv (after the system's)
    sys.path.append(os.environ["POSBRIDGE_DEPS"])

from posbridge.protocol import LinkTimers  # noqa: E402
from posbridge.simulator import TerminalModel, TerminalServer  # noqa: E402
from posbridge.transports import TransportClosed  # noqa: E402

log = logging.getLogger("fake_android")

GOOGLE = 0x18D1
ACCESSORY_ADB = 0x2D01
MAX_PACKET = 512

# usbfs ioctl numbers (the 'U' type; the low byte is the request number).
NR_SETCONFIGURATION = 5
NR_GETDRIVER = 8
NR_SUBMITURB = 10
NR_DISCARDURB = 11
NR_REAPURB = 12
NR_REAPURBNDELAY = 13
NR_CLAIMINTERFACE = 15
NR_RELEASEINTERFACE = 16
NR_IOCTL = 18
NR_RESET = 20
NR_CLEAR_HALT = 21
NR_GET_CAPABILITIES = 26
NR_DISCONNECT_CLAIM = 27

URB_TYPE_CONTROL = 2
URB_TYPE_BULK = 3
# struct usbdevfs_urb on 64-bit Linux
URB_SIZE = 56
OFF_STATUS, OFF_BUFFER, OFF_BUFLEN, OFF_ACTUAL = 4, 16, 24, 28


def read(data: UMockdev.IoctlData) -> bytes:
    # The ``data`` field reads as a C string through gi (cut at the first NUL): retrieve().
    return bytes(data.retrieve())


def write(data: UMockdev.IoctlData, offset: int, value: bytes) -> None:
    data.update(offset, list(value))


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- descriptors -------------------------------------------------------------------------


def device_descriptor(vid: int, pid: int) -> bytes:
    return struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, vid, pid, 0x0100,
                       1, 2, 3, 1)


def config_descriptor(interfaces: list[tuple[int, int, int, list[int]]]) -> bytes:
    body = b""
    for number, (cls, sub, proto, endpoints) in enumerate(interfaces):
        body += struct.pack("<BBBBBBBBB", 9, 4, number, 0, len(endpoints), cls, sub, proto, 0)
        for address in endpoints:
            body += struct.pack("<BBBBHB", 7, 5, address, 2, MAX_PACKET, 0)
    return struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), len(interfaces), 1, 0, 0x80,
                       250) + body


def string_descriptor(text: str) -> bytes:
    encoded = text.encode("utf-16-le")
    return bytes([2 + len(encoded), 3]) + encoded


class Device:
    """One device on the fake bus: what the host sees, and its state."""

    def __init__(self, vid: int, pid: int, devnum: int, strings: list[str],
                 interfaces: list[tuple[int, int, int, list[int]]], android: bool) -> None:
        self.vid, self.pid, self.devnum = vid, pid, devnum
        self.strings = strings
        self.interfaces = interfaces
        self.android = android
        self.descriptors = device_descriptor(vid, pid) + config_descriptor(interfaces)
        self.gone = False
        self.syspath = ""

    @property
    def accessory(self) -> bool:
        return self.vid == GOOGLE and self.pid in (0x2D00, 0x2D01)

    @property
    def devnode(self) -> str:
        return f"/dev/bus/usb/001/{self.devnum:03d}"


# -- the terminal end of the link --------------------------------------------------------


class GadgetTransport:
    """The phone's end of the accessory: bytes from the host arrive from the ioctl thread,
    bytes to the host wait in ``to_host`` for the host's next bulk IN transfer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.description = "USB accessory (fake phone end)"
        self.rx = bytearray()
        self.ready = asyncio.Event()
        self.closed = False
        self.lock = threading.Lock()
        self.to_host = bytearray()

    def feed(self, data: bytes) -> None:  # on the loop thread
        self.rx += data
        self.ready.set()

    def shut(self) -> None:  # on the loop thread
        self.closed = True
        self.ready.set()

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if not self.rx and not self.closed:
            try:
                async with asyncio.timeout(timeout):
                    await self.ready.wait()
            except TimeoutError:
                return b""
        if self.rx:
            data = bytes(self.rx[:max_bytes])
            del self.rx[:max_bytes]
            if not self.rx and not self.closed:
                self.ready.clear()
            return data
        raise TransportClosed("the host went away")

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        if self.closed:
            raise TransportClosed("the host went away")
        with self.lock:
            self.to_host += data

    async def close(self) -> None:
        self.shut()


# -- usbfs -------------------------------------------------------------------------------


class Urb:
    def __init__(self, data: UMockdev.IoctlData, buffer: UMockdev.IoctlData | None, endpoint: int,
                 length: int) -> None:
        self.data, self.buffer, self.endpoint, self.length = data, buffer, endpoint, length


class UsbHandler(UMockdev.IoctlBase):
    """Answers libusb's ioctls on one device node (runs on umockdev's worker thread)."""

    def __init__(self, bus: Bus, device: Device) -> None:
        super().__init__()
        self.bus, self.device = bus, device
        self.lock = threading.Lock()
        self.done: list[tuple[Urb, int, int]] = []  # (urb, status, actual length)
        self.pending_in: list[Urb] = []

    def do_handle_ioctl(self, client: UMockdev.IoctlClient) -> bool:
        request = client.get_request()
        if (request >> 8) & 0xFF != ord("U"):
            return False
        nr = request & 0xFF
        arg = client.get_arg()
        try:
            return self.handle(client, nr, arg)
        except Exception:
            log.exception("fake_android: ioctl %d failed", nr)
            client.complete(-1, errno.EIO)
            return True

    def handle(self, client: UMockdev.IoctlClient, nr: int, arg: UMockdev.IoctlData) -> bool:
        device = self.device
        if nr == NR_GET_CAPABILITIES:
            # ZERO_PACKET | NO_PACKET_SIZE_LIM | BULK_CONTINUATION
            caps = arg.resolve(0, 4)
            write(caps, 0, struct.pack("<I", 0x01 | 0x02 | 0x04))
            client.complete(0, 0)
            return True
        if device.gone and nr in (NR_REAPURB, NR_REAPURBNDELAY):
            # As the kernel does on a disconnect: transfers in flight end with ESHUTDOWN
            # (libusb reports them as "no device"), then there is nothing left to reap.
            with self.lock:
                self.done += [(urb, -errno.ESHUTDOWN, 0) for urb in self.pending_in]
                self.pending_in.clear()
                if not self.done:
                    client.complete(-1, errno.ENODEV)
                    return True
            return self.reap(client, arg)
        if device.gone and nr != NR_RELEASEINTERFACE:
            client.complete(-1, errno.ENODEV)
            return True
        if nr == NR_GETDRIVER:
            client.complete(-1, errno.ENODATA)  # no kernel driver bound
            return True
        if nr in (NR_SETCONFIGURATION, NR_RESET, NR_CLEAR_HALT, NR_IOCTL, NR_DISCONNECT_CLAIM):
            client.complete(0, 0)
            return True
        if nr == NR_CLAIMINTERFACE:
            number = struct.unpack("<I", read(arg.resolve(0, 4)))[0]
            if number == 0 and device.accessory:
                self.bus.host_claimed(self)
            client.complete(0, 0)
            return True
        if nr == NR_RELEASEINTERFACE:
            client.complete(0, 0)
            return True
        if nr == NR_SUBMITURB:
            return self.submit(client, arg)
        if nr in (NR_REAPURB, NR_REAPURBNDELAY):
            return self.reap(client, arg)
        if nr == NR_DISCARDURB:
            address = struct.unpack("<Q", read(arg)[:8])[0]
            with self.lock:
                for urb in self.pending_in:
                    if urb.data.client_addr == address:
                        self.pending_in.remove(urb)
                        self.done.append((urb, -errno.ENOENT, 0))
                        client.complete(0, 0)
                        return True
            client.complete(-1, errno.EINVAL)
            return True
        return False

    def submit(self, client: UMockdev.IoctlClient, arg: UMockdev.IoctlData) -> bool:
        urb_data = arg.resolve(0, URB_SIZE)
        raw = read(urb_data)
        kind, endpoint = raw[0], raw[1]
        length = struct.unpack_from("<i", raw, OFF_BUFLEN)[0]
        # A zero-length packet has no buffer to resolve.
        buffer = urb_data.resolve(OFF_BUFFER, length) if length > 0 else None
        urb = Urb(urb_data, buffer, endpoint, length)
        if kind == URB_TYPE_CONTROL:
            if buffer is None:
                client.complete(-1, errno.EINVAL)
                return True
            status, answer = self.control(read(buffer))
            if answer:
                write(buffer, 8, answer)
            with self.lock:
                self.done.append((urb, status, len(answer)))
        elif kind == URB_TYPE_BULK and endpoint & 0x80:
            with self.lock:
                self.pending_in.append(urb)
        elif kind == URB_TYPE_BULK:
            data = read(buffer)[:length] if buffer is not None else b""
            emit(f"OUT {len(data)}")
            self.bus.from_host(data)
            with self.lock:
                self.done.append((urb, 0, len(data)))
        else:
            client.complete(-1, errno.EINVAL)
            return True
        client.complete(0, 0)
        return True

    def reap(self, client: UMockdev.IoctlClient, arg: UMockdev.IoctlData) -> bool:
        with self.lock:
            item = self.done.pop(0) if self.done else None
            if item is None and self.pending_in:
                data = self.bus.take_to_host(self.pending_in[0].length)
                if data is not None:
                    urb = self.pending_in.pop(0)
                    write(urb.buffer, 0, data)
                    item = (urb, 0, len(data))
        if item is None:
            time.sleep(0.002)  # libusb polls again at once; do not let it spin
            client.complete(-1, errno.EAGAIN)
            return True
        urb, status, actual = item
        write(urb.data, OFF_STATUS, struct.pack("<i", status))
        write(urb.data, OFF_ACTUAL, struct.pack("<i", actual))
        pointer = arg.resolve(0, 8)
        pointer.set_ptr(0, urb.data)
        client.complete(0, 0)
        return True

    def control(self, setup_and_data: bytes) -> tuple[int, bytes]:
        """(URB status, data for an IN request) for one control request."""
        request_type, request, value, index, length = struct.unpack_from("<BBHHH",
                                                                         setup_and_data)
        data = setup_and_data[8 : 8 + length]
        device = self.device
        if request_type == 0x80 and request == 6:  # GET_DESCRIPTOR
            kind, number = value >> 8, value & 0xFF
            if kind == 1:
                return 0, device.descriptors[:18][:length]
            if kind == 2:
                return 0, device.descriptors[18:][:length]
            if kind == 3:
                if number == 0:
                    return 0, bytes([4, 3, 0x09, 0x04])[:length]
                if number <= len(device.strings):
                    return 0, string_descriptor(device.strings[number - 1])[:length]
            return -errno.EPIPE, b""
        if not device.android or device.accessory:
            return -errno.EPIPE, b""  # a stall: "not supported"
        if request_type == 0xC0 and request == 51:  # ACCESSORY_GET_PROTOCOL
            return 0, struct.pack("<H", 2)[:length]
        if request_type == 0x40 and request == 52:  # ACCESSORY_SEND_STRING
            self.bus.identity[index] = data.rstrip(b"\0").decode("utf-8", "replace")
            return 0, b""
        if request_type == 0x40 and request == 53:  # ACCESSORY_START
            self.bus.start_accessory(device)
            return 0, b""
        return -errno.EPIPE, b""


# -- the bus -----------------------------------------------------------------------------


class Bus:
    def __init__(self, loop: asyncio.AbstractEventLoop, server: TerminalServer,
                 phone: tuple[int, int]) -> None:
        self.loop = loop
        self.server = server
        self.phone = phone
        self.testbed = UMockdev.Testbed.new()
        self.devnums = iter(range(2, 128))
        self.devices: dict[int, tuple[Device, UsbHandler]] = {}
        self.identity: dict[int, str] = {}
        self.gadget: GadgetTransport | None = None
        self.session: asyncio.Task[None] | None = None
        self.stuck = False  # START leaves the phone in normal mode
        self.denied = False  # the phone's device node cannot be opened for writing

    # on the loop thread ------------------------------------------------------------------

    def plug(self, vid: int, pid: int, *, android: bool, strings: list[str],
             interfaces: list[tuple[int, int, int, list[int]]]) -> Device:
        device = Device(vid, pid, next(self.devnums), strings, interfaces, android)
        handler = UsbHandler(self, device)
        # The handler first: libusb opens the node as soon as it hears of the device.
        self.testbed.attach_ioctl(device.devnode, handler)
        n = device.devnum
        device.syspath = self.testbed.add_from_string(
            f"P: /devices/usb{n}\n"
            f"N: bus/usb/001/{n:03d}\n"
            "E: SUBSYSTEM=usb\n"
            "E: DRIVER=usb\n"
            "E: BUSNUM=001\n"
            f"E: DEVNUM={n:03d}\n"
            f"E: DEVNAME=/dev/bus/usb/001/{n:03d}\n"
            "E: DEVTYPE=usb_device\n"
            f"E: PRODUCT={vid:x}/{pid:x}/100\n"
            "A: bConfigurationValue=1\\n\n"
            "A: busnum=1\\n\n"
            f"A: devnum={n}\\n\n"
            "A: speed=480\\n\n"
            f"A: idVendor={vid:04x}\\n\n"
            f"A: idProduct={pid:04x}\\n\n"
            f"A: manufacturer={strings[0]}\\n\n"
            f"A: product={strings[1]}\\n\n"
            f"A: serial={strings[2]}\\n\n"
            f"H: descriptors={device.descriptors.hex()}\n"
        ) and f"/sys/devices/usb{n}"
        self.devices[n] = (device, handler)
        if android:
            self.protect(device)
        emit(f"ADDED {vid:04x}:{pid:04x} {n}")
        return device

    def protect(self, device: Device) -> None:
        """The device node's mode: umockdev's preload library opens the testbed's file for
        the node, so a read-only file refuses libusb's O_RDWR open (EACCES) to a process
        without CAP_DAC_OVERRIDE, as /dev/bus/usb does to a user without a udev rule."""
        node = os.path.join(self.testbed.get_root_dir(), device.devnode.lstrip("/"))
        os.chmod(node, 0o444 if self.denied else 0o644)

    def unplug(self, device: Device) -> None:
        device.gone = True  # pending and new transfers now fail with ENODEV
        self.end_session()
        self.testbed.uevent(device.syspath, "remove")
        self.testbed.remove_device(device.syspath)
        self.devices.pop(device.devnum, None)
        emit(f"REMOVED {device.devnum}")

    def plug_phone(self) -> Device:
        return self.plug(*self.phone, android=True,
                         strings=["Fake Phones", "Payment Phone", "FAKE0001"],
                         interfaces=[(0xFF, 0xFF, 0, [0x81, 0x01])])

    def plug_accessory(self) -> Device:
        return self.plug(GOOGLE, ACCESSORY_ADB, android=True,
                         strings=["Fake Phones", "Payment Phone", "FAKE0001"],
                         interfaces=[(0xFF, 0xFF, 0, [0x81, 0x01]),
                                     (0xFF, 0x42, 1, [0x82, 0x02])])

    def plug_keyboard(self) -> Device:
        return self.plug(0x046D, 0xC31C, android=False,
                         strings=["Logitech", "USB Keyboard", ""],
                         interfaces=[(0x03, 0x01, 0x01, [0x81])])

    def phones(self) -> list[Device]:
        return [d for d, _ in self.devices.values() if d.android]

    def reenumerate(self, device: Device) -> None:
        if device.devnum not in self.devices:
            return
        emit("IDENTITY " + json.dumps([self.identity.get(i, "") for i in range(6)]))
        self.unplug(device)
        if self.stuck:
            self.plug_phone()  # the switch did not happen: back in normal mode
        else:
            self.plug_accessory()

    def start_session(self) -> None:
        self.end_session()
        self.gadget = GadgetTransport(self.loop)
        self.session = self.loop.create_task(self.server.serve(self.gadget))
        emit("SESSION")

    def end_session(self) -> None:
        if self.gadget is not None:
            self.gadget.shut()
            self.gadget = None

    def close(self) -> None:
        for device, _ in list(self.devices.values()):
            self.unplug(device)

    # on the ioctl thread -----------------------------------------------------------------

    def host_claimed(self, handler: UsbHandler) -> None:
        self.loop.call_soon_threadsafe(self.start_session)

    def start_accessory(self, device: Device) -> None:
        # Answer the request first; the phone leaves the bus a moment later.
        self.loop.call_soon_threadsafe(self.loop.call_later, 0.05, self.reenumerate, device)

    def from_host(self, data: bytes) -> None:
        gadget = self.gadget
        if gadget is not None and data:
            self.loop.call_soon_threadsafe(gadget.feed, data)

    def take_to_host(self, size: int) -> bytes | None:
        gadget = self.gadget
        if gadget is None:
            return None
        with gadget.lock:
            if not gadget.to_host:
                return None
            data = bytes(gadget.to_host[:size])
            del gadget.to_host[:size]
            return data


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phone", default="18d1:4ee1", help="VID:PID in normal mode")
    parser.add_argument("--customer-delay", type=float, default=0.3)
    parser.add_argument("--accessory", action="store_true",
                        help="start already in accessory mode")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s fake_android %(levelname)s %(name)s: %(message)s")
    vid, pid = (int(x, 16) for x in args.phone.split(":"))
    loop = asyncio.get_running_loop()
    server = TerminalServer(TerminalModel(customer_delay=args.customer_delay),
                            serial="FAKE0001", timers=LinkTimers())
    bus = Bus(loop, server, (vid, pid))
    emit(f"ROOT {bus.testbed.get_root_dir()}")
    bus.plug_keyboard()
    if args.accessory:
        bus.plug_accessory()
    else:
        bus.plug_phone()

    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        command = await commands.get()
        if command == "unplug":
            for device in bus.phones():
                bus.unplug(device)
        elif command == "plug":
            if not bus.phones():
                bus.plug_phone()
        elif command in ("stuck", "deny", "normal"):
            bus.stuck = command == "stuck" or (bus.stuck and command != "normal")
            bus.denied = command == "deny" or (bus.denied and command != "normal")
            for device in bus.phones():
                bus.protect(device)
        elif command == "sync":
            pass  # the OUT events of finished transfers are already on stdout
        elif command == "quit":
            break
        emit(f"DONE {command}")
    bus.close()
    await server.close()
    with contextlib.suppress(Exception):
        del bus.testbed  # finalise: removes the testbed's folder
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main()))

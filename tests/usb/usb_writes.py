"""Run by test_usb.py in the project's Python under umockdev's preload library: connect to
the fake terminal with the real USB connector (pyusb, the system libusb), print ``PACKET
<wMaxPacketSize of the OUT endpoint>``, write one message of each length given on the
command line through ``UsbTransport.write``, then close."""

from __future__ import annotations

import asyncio
import sys

from posbridge.transports.usb import UsbSpec, UsbTransport, usb_connector


async def main(lengths: list[int]) -> None:
    transport = await usb_connector(UsbSpec(accessory_timeout=10))()
    assert isinstance(transport, UsbTransport)
    try:
        print(f"PACKET {transport._claimed.ep_out.wMaxPacketSize}", flush=True)
        for length in lengths:
            # Zeros: the terminal's frame decoder skips them as garbage.
            await transport.write(bytes(length))
            print(f"WROTE {length}", flush=True)
    finally:
        await transport.close()


if __name__ == "__main__":
    asyncio.run(main([int(arg) for arg in sys.argv[1:]]))

"""Run by test_serial_processes.py as its own process: the simulated terminal on the master
end of a new pty, reached through a symlink that stands for the terminal's serial port.

The symlink is what udev makes under /dev/serial/by-id for a USB serial terminal: it points
at the port while the terminal is plugged in and goes away when it is unplugged. Stopping
this process (SIGTERM) unplugs the terminal: the master closes (the bridge's reads fail
with EIO) and the link is removed. Starting it again plugs the terminal back in on a new
pty under the same link. The terminal's own record of payments is kept in ``--state``, so
it survives the replug as a real terminal's does.

Prints ``READY <pty path>`` once the link points at the new pty.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from posbridge.simulator import TerminalModel, TerminalServer
from posbridge.simulator.stream import open_pty, serve_fd


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("link")
    parser.add_argument("--state", required=True)
    parser.add_argument("--customer-delay", type=float, default=0.3)
    args = parser.parse_args()
    master, path = open_pty()
    server = TerminalServer(TerminalModel(customer_delay=args.customer_delay,
                                          state_path=args.state), serial="PTY-0001")
    serving = asyncio.create_task(serve_fd(server, master, path))
    temporary = f"{args.link}.new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(path, temporary)
    os.replace(temporary, args.link)
    print(f"READY {path}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.link)  # unplugged: udev removes the link
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await server.close()
    os.close(master)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

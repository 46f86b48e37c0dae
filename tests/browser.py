"""Real headless Chromium for tests: serve a page from a chosen origin and read back its verdict.

A ``PageServer`` serves the page from a chosen port (and can stand in for a rebound name,
passing other requests through to the bridge). The page reports by setting
``document.title = "done:<result>"``. Chromium (Debian's ``chromium`` package) is driven
over the DevTools protocol on ``--remote-debugging-pipe``: stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--metrics-recording-only", "--mute-audio", "--no-proxy-server")
_TRAMPOLINE = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); "
               "os.dup2(w, 4); os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")


def chromium_path() -> str | None:
    """The Chromium binary to run (Debian's real binary, not its shell wrapper), or None."""
    return next(filter(None, map(shutil.which, CANDIDATES)), None)


class _Pipe:
    """DevTools messages over Chromium's fds 3 (commands in) and 4 (NUL-terminated replies out)."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd, self.buf, self.next_id = write_fd, read_fd, b"", 0

    def call(self, method: str, deadline: float, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        os.write(self.write_fd, msg + b"\0")
        while True:
            while b"\0" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                    raise TimeoutError(f"chromium did not answer {method}")
                chunk = os.read(self.read_fd, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))


def _above_4(fd: int) -> int:
    """Move ``fd`` to 10+ so the trampoline's dup2 onto fds 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def run_page(url: str, *, timeout: float = 20.0, host_rules: str | None = None,
             extra_args: Sequence[str] = (), prefix: str = "done:") -> str:
    """Load ``url`` in a fresh headless Chromium and wait for ``document.title`` "done:<result>"
    (or another ``prefix``).

    Returns ``<result>``; raises TimeoutError (with the last title) if it never comes.
    ``host_rules`` is passed as ``--host-resolver-rules``, e.g. ``"MAP evil.test 127.0.0.1"``;
    ``extra_args`` are more Chromium flags.
    """
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    deadline = time.monotonic() + timeout
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    cmd_r, out_w = _above_4(cmd_r), _above_4(out_w)
    with tempfile.TemporaryDirectory(prefix="pb-chromium-", ignore_cleanup_errors=True) as profile:
        args = [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                *([f"--host-resolver-rules={host_rules}"] if host_rules else []), *extra_args]
        # A tiny Python exec trampoline puts our pipe ends on the fds 3 and 4 that
        # --remote-debugging-pipe uses (no preexec_fn: that is unsafe with threads running).
        proc = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(cmd_r), str(out_w), *args, "about:blank"],
            pass_fds=(cmd_r, out_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # crash reports and caches go in the profile, not in ~:
            env={**os.environ, "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile})
        os.close(cmd_r)
        os.close(out_w)
        pipe, title = _Pipe(cmd_w, out_r), ""
        try:
            target = pipe.call("Target.createTarget", deadline, url=url)["targetId"]
            while time.monotonic() < deadline:
                infos = pipe.call("Target.getTargets", deadline)["targetInfos"]
                title = next((t["title"] for t in infos if t["targetId"] == target), "")
                if title.startswith(prefix):
                    return title[len(prefix):]
                time.sleep(0.05)
            raise TimeoutError(f"page never set title {prefix!r}... in {timeout}s; last {title!r}")
        finally:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                pipe.call("Browser.close", time.monotonic() + 5)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(cmd_w)
            os.close(out_r)


def _response(content_type: str, text: str) -> bytes:
    body = text.encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % (content_type.encode(),
                                                                    len(body)) + body)


class PageServer:
    """Serves ``GET /`` with a page on a given port, and ``GET /<name>`` with each of
    ``scripts`` (JavaScript modules the page imports); with ``forward_to``, passes every other
    request through to that port."""

    def __init__(self, port: int, html: str, forward_to: int | None = None,
                 scripts: Mapping[str, str] | None = None) -> None:
        self.port, self.forward_to = port, forward_to
        self.page = _response("text/html", html)
        self.scripts = {f"/{name}".encode(): _response("text/javascript", text)
                        for name, text in (scripts or {}).items()}
        self.sock = socket.create_server(("127.0.0.1", port))
        self.stop = False

    def __enter__(self) -> str:
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        self.stop = True
        # close() alone leaves the port listening while the accept thread is blocked in
        # accept() (it holds the socket): shutdown() wakes it, so the port is free at once
        # for the next PageServer on it.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _accept(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            first = conn.recv(65536)
            method, _, rest = first.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]  # "/?bridge=..." is the page
            if method == b"GET" and path in self.scripts:
                conn.sendall(self.scripts[path])
                return
            if (method == b"GET" and path == b"/") or self.forward_to is None:
                if method == b"GET" and path == b"/":
                    conn.sendall(self.page)
                else:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.forward_to)) as upstream:
                upstream.sendall(first)
                back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
                back.start()
                _pipe(conn, upstream)
                back.join(5)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass

"""GET /events against real `posbridge serve` and `posbridge simulator` processes: a
subscriber follows payments across a SIGKILL of the bridge and its restart, 50 subscribers
follow payments at once, `posbridge watch` and `pay --wait` use the stream, and a web page
in real headless Chromium subscribes only from an allowed origin."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser import PageServer, chromium_path, run_page
from posbridge.client import Client, Event
from procs import Stack
from rig import free_port, parse_sse

pytestmark = pytest.mark.e2e

KINDS = ("payment", "cancel", "void", "batch")


def journal_ids(journal: Path) -> list[int]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT id FROM events ORDER BY id")]


def pay(stack: Stack, ref: str, amount: str = "1.00") -> None:
    response = stack.post("/CreatePayment", {"amount": amount, "retrieval_reference_number":
                                             ref, "condition_code": "82"})
    assert response.status_code == 200, response.text


def test_a_subscriber_misses_nothing_across_a_sigkill_of_the_bridge(tmp_path: Path) -> None:
    """Client.events() follows every journal event while the bridge is killed with SIGKILL
    mid-payment and started again: every id once, strictly increasing, none missing."""
    stack = Stack(tmp_path, customer_delay=0.3)
    seen: list[Event] = []
    stop = threading.Event()

    def follow() -> None:
        with Client(stack.url) as pos:
            for event in pos.events(after=0):
                seen.append(event)
                if stop.is_set():
                    return

    with stack.running():
        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        pay(stack, "k1")
        stack.wait_status("k1", "approved")
        pay(stack, "k2")  # killed while the customer pays
        stack.bridge.stop(signal.SIGKILL)
        time.sleep(0.5)
        stack.bridge.start()
        stack.wait_connected()
        stack.wait_status("k2", "approved")
        pay(stack, "k3")
        stack.wait_status("k3", "approved")
        everything = journal_ids(stack.journal)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = [e.id for e in seen if e.event in KINDS]
            if got[-1:] == everything[-1:]:
                break
            time.sleep(0.05)
        stop.set()
        pay(stack, "k4")  # one more event lets the follower see ``stop``
        follower.join(10)
    ours = [e for e in seen if e.event in KINDS and e.data["ref"] != "k4"]
    got = [e.id for e in ours]
    assert got == everything, (got, everything)
    assert all(a < b for a, b in itertools.pairwise(got))
    assert {e.data["ref"] for e in ours} == {"k1", "k2", "k3"}


def test_fifty_subscribers_follow_payments_at_once(tmp_path: Path) -> None:
    with Stack(tmp_path, customer_delay=0.05).running() as stack:
        start = max(journal_ids(stack.journal), default=0)
        refs = [f"many-{i}" for i in range(8)]

        async def subscriber(client: httpx.AsyncClient, ready: asyncio.Event,
                             count: list[int]) -> list[dict[str, Any]]:
            events: list[dict[str, Any]] = []
            pending = ""
            async with client.stream("GET", f"{stack.url}/events?after={start}") as response:
                assert response.status_code == 200
                async for chunk in response.aiter_text():
                    if not count[0] or ready.is_set() is False:
                        count[0] += 1
                        if count[0] >= 50:
                            ready.set()
                    pending += chunk
                    done, _, pending = pending.rpartition("\n\n")
                    events += [e for e in parse_sse(done) if e.get("event") in KINDS]
                    if any(e["data"]["ref"] == refs[-1] and e["data"]["status"] == "approved"
                           and e["data"]["to_status"] == "approved" for e in events):
                        return events
            raise AssertionError("stream ended")

        async def main() -> list[list[dict[str, Any]]]:
            limits = httpx.Limits(max_connections=60)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                ready, count = asyncio.Event(), [0]
                tasks = [asyncio.create_task(subscriber(client, ready, count))
                         for _ in range(50)]
                await asyncio.wait_for(ready.wait(), 30)

                def payments() -> None:
                    for ref in refs:
                        pay(stack, ref)
                        stack.wait_status(ref, "approved")

                await asyncio.to_thread(payments)
                return await asyncio.wait_for(asyncio.gather(*tasks), 60)

        streams = asyncio.run(main())
        expected = [i for i in journal_ids(stack.journal) if i > start]
    for events in streams:
        got = [e["id"] for e in events]
        assert got == expected[:len(got)] and got[-1] == expected[-1]


def _cli(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "posbridge", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_watch_prints_a_payments_events_and_pay_wait_follows_the_stream(
        tmp_path: Path) -> None:
    """`pay --wait` learns the outcome from /events: one QueryPayment (for the answer it
    prints), not a poll every 0.3 s. The access log (debug) counts them."""
    with Stack(tmp_path, customer_delay=1.5, bridge_args=("--log-level", "debug")
               ).running() as stack:
        with _cli("watch", "--url", stack.url, "--ref", "cli-1", "--json") as watch:
            time.sleep(1.0)
            done = subprocess.run([sys.executable, "-m", "posbridge", "pay", "1.00", "--ref",
                                   "cli-1", "--wait", "--url", stack.url], text=True,
                                  capture_output=True, timeout=60)
            assert done.returncode == 0, done.stderr
            assert "status: approved" in done.stdout
            lines: list[dict[str, Any]] = []
            assert watch.stdout is not None
            while not any(e["data"].get("to_status") == "approved" for e in lines):
                lines.append(json.loads(watch.stdout.readline()))
            watch.send_signal(signal.SIGINT)
            assert watch.wait(10) == 0
        log = stack.bridge.text()
    statuses = [e["data"]["to_status"] for e in lines if e["event"] == "payment"]
    assert statuses == ["unknown", "pending", "approved"], lines
    # One QueryPayment as it starts (what the terminal shows now) and one for the final
    # answer: no polling.
    assert log.count("POST /QueryPayment") == 2, log.count("POST /QueryPayment")
    assert log.count("GET /events") >= 2


def test_pay_wait_polls_when_the_stream_cannot_be_opened(tmp_path: Path) -> None:
    with Stack(tmp_path, customer_delay=1.5, bridge_args=(
            "--log-level", "debug", "--events-max-subscribers", "0")).running() as stack:
        done = subprocess.run([sys.executable, "-m", "posbridge", "pay", "1.00", "--ref",
                               "cli-2", "--wait", "--url", stack.url], text=True,
                              capture_output=True, timeout=60)
        log = stack.bridge.text()
    assert done.returncode == 0, done.stderr
    assert "status: approved" in done.stdout
    assert "TOO_MANY_SUBSCRIBERS" in log
    assert log.count("POST /QueryPayment") >= 3  # polled


# -- a web page ------------------------------------------------------------------------

PAGE = """<!doctype html><title>working</title><script>
const seen = [];
const source = new EventSource(%(url)s);
source.addEventListener("stream", e => seen.push("stream:" + e.lastEventId));
source.addEventListener("payment", e => {
  const data = JSON.parse(e.data);
  seen.push(data.to_status + ":" + e.lastEventId);
  if (data.to_status === "approved") { source.close(); document.title = "done:" + seen; }
});
source.onerror = () => {
  if (source.readyState === EventSource.CLOSED) document.title = "done:error," + seen;
};
</script>"""


@pytest.mark.skipif(chromium_path() is None and not os.environ.get("POSBRIDGE_CI"),
                    reason="Chromium is not installed (apt-get install chromium)")
def test_a_web_page_subscribes_only_from_an_allowed_origin(tmp_path: Path) -> None:
    good_port, evil_port = free_port(), free_port()
    with Stack(tmp_path, customer_delay=0.2, bridge_args=(
            "--allow-origin", f"http://localhost:{good_port}")).running() as stack:
        pay(stack, "web-ev-1")
        stack.wait_status("web-ev-1", "approved")
        ids = journal_ids(stack.journal)
        html = PAGE % {"url": json.dumps(f"{stack.url}/events?after=0&ref=web-ev-1")}
        with PageServer(evil_port, html) as evil_url:
            evil = run_page(evil_url)
        with PageServer(good_port, html) as good_url:
            good = run_page(good_url.replace("127.0.0.1", "localhost"))
        log = stack.bridge.text()
    assert evil == "error,", evil
    assert good == f"stream:0,unknown:{ids[0]},pending:{ids[1]},approved:{ids[2]}", good
    assert "FORBIDDEN_ORIGIN" in log


# -- the webhook -------------------------------------------------------------------------

SECRET = "webhook-secret-0123456789"


class Receiver:
    """The POS's own local server: records every delivery (body and signature header)."""

    def __init__(self, port: int) -> None:
        import http.server

        got = self.got = []  # type: list[tuple[bytes, str]]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((body, self.headers.get("X-Posbridge-Signature", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_delivers_every_event_signed_and_in_order_after_being_down(
        tmp_path: Path) -> None:
    """The receiver is down while payments run and the bridge is killed and restarted;
    when it comes up, every journal event arrives, signed, in journal order."""
    import hashlib
    import hmac

    port = free_port()
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    stack = Stack(tmp_path, customer_delay=0.2, bridge_args=(
        "--webhook", f"http://127.0.0.1:{port}/hook", "--webhook-secret-file",
        str(secret_file)))
    with stack.running():
        pay(stack, "wh-1")
        stack.wait_status("wh-1", "approved")
        stack.bridge.stop(signal.SIGKILL)  # nothing delivered yet: the cursor is journaled
        stack.bridge.start()
        stack.wait_connected()
        pay(stack, "wh-2", "1.05")
        stack.wait_status("wh-2", "declined")
        time.sleep(1.0)  # a few failed attempts
        receiver = Receiver(port)
        try:
            everything = journal_ids(stack.journal)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if [json.loads(b)["id"] for b, _ in receiver.got][-1:] == everything[-1:]:
                    break
                time.sleep(0.1)
            got = list(receiver.got)
        finally:
            receiver.close()
        log = stack.bridge.text()
    ids = [json.loads(body)["id"] for body, _ in got]
    assert ids == everything, (ids, everything)  # every one, once, in journal order
    for body, header in got:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(header, want)
    first = json.loads(got[0][0])
    assert (first["event"], first["data"]["ref"], first["data"]["to_status"]) == (
        "payment", "wh-1", "unknown")
    assert "not delivered" in log


def test_a_webhook_beyond_this_pc_is_refused_at_start(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    done = subprocess.run([sys.executable, "-m", "posbridge", "serve", "--terminal",
                           "simulator", "--port", str(free_port()), "--journal",
                           str(tmp_path / "j.sqlite3"), "--webhook",
                           "http://pos.example:9000/hook", "--webhook-secret-file",
                           str(secret_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "only to this PC" in done.stderr

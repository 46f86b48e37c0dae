"""Web pages in a real headless Chromium against a real `posbridge serve`: a page from a
foreign origin cannot create a payment, a page from an allowed origin can, and a
DNS-rebinding page is refused by the Host check.

Skipped when Chromium is missing; `.ci/run` installs Debian's `chromium`."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import PageServer, chromium_path, run_page
from procs import Stack
from rig import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(chromium_path() is None and not os.environ.get("POSBRIDGE_CI"),
                       reason="Chromium is not installed (apt-get install chromium)"),
]

PAGE = """<!doctype html><title>working</title><script>
const api = %(api)s, ref = %(ref)s, headers = {"Content-Type": "application/json",
                                                "x-api-version": "v1"};
const sale = r => JSON.stringify({amount: "1.00", retrieval_reference_number: r,
                                  condition_code: "82"});
async function main() {
  const out = [];
  try {
    const r = await fetch(api + "/CreatePayment", {method: "POST", headers, body: sale(ref)});
    const body = await r.json();
    out.push("create:" + r.status + ":" + (body.status || body.error_code));
    for (let i = 0; r.ok && i < 100; i++) {
      const q = await fetch(api + "/QueryPayment", {method: "POST", headers,
        body: JSON.stringify({retrieval_reference_number: ref})});
      const state = (await q.json()).status;
      if (state !== "pending") { out.push("final:" + state); break; }
      await new Promise(ok => setTimeout(ok, 100));
    }
  } catch (e) { out.push("create:" + e.name); }
  if (%(simple)s) {
    // A "simple" request: no preflight, the browser sends it and hides only the answer.
    try {
      await fetch(api + "/CreatePayment", {method: "POST", mode: "no-cors",
        headers: {"Content-Type": "text/plain"}, body: sale(ref + "-simple")});
      out.push("simple:sent");
    } catch (e) { out.push("simple:" + e.name); }
  }
  document.title = "done:" + out.join(",");
}
main();
</script>"""


def page(api: str, ref: str, simple: bool = False) -> str:
    import json

    return PAGE % {"api": json.dumps(api), "ref": json.dumps(ref),
                   "simple": "true" if simple else "false"}


def refs(journal: Path) -> set[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT ref FROM payments")}


@contextlib.contextmanager
def running(tmp: Path, *allow: str) -> Iterator[Stack]:
    args: tuple[str, ...] = ()
    for origin in allow:
        args += ("--allow-origin", origin)
    with Stack(tmp, customer_delay=0.2, bridge_args=args).running() as stack:
        yield stack


def test_a_foreign_page_cannot_create_a_payment_and_an_allowed_one_can(tmp_path: Path) -> None:
    evil_port, good_port = free_port(), free_port()
    with running(tmp_path, f"http://localhost:{good_port}") as stack:
        with PageServer(evil_port, page(stack.url, "web-evil-1", simple=True)) as evil_url:
            evil = run_page(evil_url)
        with PageServer(good_port, page(stack.url, "web-good-1")) as good_url:
            good = run_page(good_url.replace("127.0.0.1", "localhost"))
        journal = stack.journal
        log = stack.bridge.text()
    assert evil == "create:TypeError,simple:sent", evil
    assert good == "create:200:pending,final:approved", good
    assert refs(journal) == {"web-good-1"}
    assert log.count("FORBIDDEN_ORIGIN") >= 2  # the preflight and the simple request


def test_a_dns_rebinding_page_is_refused_by_the_host_check(tmp_path: Path) -> None:
    with running(tmp_path) as stack, rebinding_port(stack.port, page("", "web-rebind-1")) as r:
        # The page and the API share the origin http://evil.test:R (evil.test "rebound" to
        # 127.0.0.1): no CORS applies, so only the Host check stands in the way.
        result = run_page(f"http://evil.test:{r}/", host_rules="MAP evil.test 127.0.0.1")
        journal = stack.journal
    assert result == "create:403:FORBIDDEN_HOST", result
    assert refs(journal) == set()


# -- rigs --------------------------------------------------------------------------------


@contextlib.contextmanager
def rebinding_port(bridge_port: int, html: str) -> Iterator[int]:
    """A port that answers ``GET /`` with ``html`` and forwards every other request to the
    bridge untouched, as a rebound name would: one origin, two servers behind it."""
    with PageServer(free_port(), html, bridge_port) as url:
        yield int(url.rsplit(":", 1)[1].rstrip("/"))

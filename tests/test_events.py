"""GET /events on an in-process bridge over a real socket and a real journal file: replay
from any id, the reference filter, heartbeats, link events, the bound per subscriber, the
subscriber limit and the access rules. The SSE text is parsed here by hand, not by the
product's client, so a fault in one cannot hide a fault in the other."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx

from posbridge.client import AsyncClient
from posbridge.events import EventsConfig
from posbridge.http.access import AccessPolicy
from rig import Bridge, Event, bridge, create_body, run
from rig import parse_sse as parse


async def read_events(b: Bridge, until: Any, *, query: str = "",
                      headers: dict[str, str] | None = None, timeout: float = 10.0
                      ) -> list[Event]:
    """Read /events until ``until(events)`` is true; the stream is then dropped."""
    pending, events = "", []
    async with asyncio.timeout(timeout):
        async with b.client.stream("GET", f"{b.url}/events{query}",
                                   headers=headers or {}) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for chunk in response.aiter_text():
                pending += chunk
                done, sep, pending = pending.rpartition("\n\n")
                if sep:
                    events += parse(done)
                    if until(events):
                        return events
    raise AssertionError(f"the stream ended early: {events[-3:]!r} {pending!r}")


def journal_events(events: list[Event]) -> list[Event]:
    return [e for e in events if e.get("event") in ("payment", "cancel", "void", "batch")]


def ids(events: list[Event]) -> list[int]:
    return [e["id"] for e in journal_events(events)]


async def pay(b: Bridge, ref: str, amount: str = "1.00") -> None:
    response = await b.post("/CreatePayment", create_body(ref, amount))
    assert response.status_code == 200, response.text
    await b.wait_status(ref, "approved" if amount == "1.00" else "declined")


def test_replay_from_any_id_then_live_with_no_gap_and_no_duplicate(tmp_path: Path) -> None:
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3") as b:
            await pay(b, "r1")
            await pay(b, "r2", "1.05")  # declined
            everything = [e.id for e in b.journal.events_after(0)]
            assert len(everything) >= 6

            # The whole history, in journal order, with the QueryPayment fields.
            got = await read_events(b, lambda ev: ids(ev) == everything, query="?after=0")
            assert got[0] == {"id": None, "event": "retry", "data": None, "retry": 1000}
            first = got[1]
            assert (first["event"], first["id"], first["data"]["after"]) == ("stream", 0, 0)
            assert got[2]["event"] == "link" and got[2]["id"] is None
            assert got[2]["data"]["connected"] is True
            last = journal_events(got)[-1]["data"]
            assert (last["retrieval_reference_number"], last["status"],
                    last["transaction_status"], last["to_status"]) == (
                        "r2", "declined", "05", "declined")
            assert last["event_id"] == everything[-1] and last["at"]

            # Resumed after the third: the rest, then a live payment, once each.
            cut = everything[2]
            reader = asyncio.create_task(read_events(
                b, lambda ev: any(e["data"].get("to_status") == "approved"
                                  and e["data"].get("ref") == "r3"
                                  for e in journal_events(ev)),
                headers={"Last-Event-ID": str(cut)}, query="?after=1"))
            await asyncio.sleep(0.3)
            await pay(b, "r3")
            resumed = await reader
            assert ids(resumed) == [e.id for e in b.journal.events_after(cut)][:len(
                ids(resumed))]
            assert ids(resumed)[0] == everything[3]  # Last-Event-ID wins over ?after=
            assert len(set(ids(resumed))) == len(ids(resumed))
            assert ids(resumed) == sorted(ids(resumed))

    run(main())


def test_without_an_id_only_what_happens_from_now_and_the_ref_filter(tmp_path: Path) -> None:
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3") as b:
            await pay(b, "old")
            now = b.journal.last_event_id()

            def r2_final(events: list[Event]) -> bool:
                return any(e["data"].get("status") == "approved"
                           and e["data"]["ref"] == "r2" for e in journal_events(events))

            everyone = asyncio.create_task(read_events(b, r2_final))
            only_r2 = asyncio.create_task(read_events(b, r2_final, query="?ref=r2&after=0"))
            await asyncio.sleep(0.3)
            await pay(b, "r1")
            await pay(b, "r2")
            seen, filtered = await everyone, await only_r2
            assert seen[1]["id"] == now  # where it starts, as an id EventSource keeps
            assert {e["data"]["ref"] for e in journal_events(seen)} == {"r1", "r2"}
            assert all(e["id"] > now for e in journal_events(seen))
            assert {e["data"]["ref"] for e in journal_events(filtered)} == {"r2"}
            assert ids(filtered) == [e.id for e in b.journal.events("r2")]

    run(main())


def test_bad_ids_and_references_get_a_json_400_and_post_gets_405(tmp_path: Path) -> None:
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3") as b:
            for query, headers in (("?after=-1", {}), ("?after=x", {}),
                                   ("", {"Last-Event-ID": "1e3"}), ("?ref=%0Abad", {}),
                                   ("?after=1&after=2", {}), ("?after=", {}),
                                   ("?ref=a&ref=b", {}),
                                   ("?after=-1", {"Last-Event-ID": "5"})):
                response = await b.client.get(f"{b.url}/events{query}", headers=headers)
                assert response.status_code == 400, (query, response.text)
                assert response.json()["error_code"] == "INVALID_REQUEST"
            response = await b.client.post(f"{b.url}/events")
            assert response.status_code == 405
            assert "takes GET only" in response.json()["message"]

    run(main())


def test_heartbeats_on_an_idle_stream_and_link_events_without_ids(tmp_path: Path) -> None:
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3", events=EventsConfig(heartbeat=0.2)) as b:
            got = await read_events(b, lambda ev: sum("comment" in e for e in ev) >= 2)
            assert [e["comment"] for e in got if "comment" in e][:2] == ["hb", "hb"]

            async def drop_link() -> None:
                await asyncio.sleep(0.3)
                assert b.simulator is not None
                b.simulator.drop_link()

            dropping = asyncio.create_task(drop_link())
            got = await read_events(b, lambda ev: [e["data"]["state"] for e in ev
                                                   if e.get("event") == "link"][-2:]
                                    == ["disconnected", "connected"])
            await dropping
            links = [e for e in got if e.get("event") == "link"]
            assert all(e["id"] is None for e in links)
            down = next(e for e in links if e["data"]["state"] == "disconnected")
            assert down["data"]["reason"]

    run(main())


def test_a_subscriber_that_stops_reading_gets_overflow_and_the_bridge_is_unaffected(
        tmp_path: Path) -> None:
    """A client that connects and never reads: its buffers fill, its buffer of events
    overflows, and its stream ends with an overflow event naming the last id it was given.
    Meanwhile a reading subscriber gets every event and QueryPayment answers at once."""
    config = EventsConfig(queue_size=64, stall_timeout=30.0)

    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3", events=config, send_buffer=4096) as b:
            broker = b.events
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            stuck.connect(("127.0.0.1", b.port))
            stuck.sendall(b"GET /events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stuck.setblocking(False)
            while broker.subscribers < 1:
                await asyncio.sleep(0.01)
            reader = asyncio.create_task(read_events(
                b, lambda ev: any(e["data"].get("ref") == "last" for e in journal_events(ev)),
                query="?after=0", timeout=120))
            while broker.subscribers < 2:
                await asyncio.sleep(0.01)
            made = 0
            while broker.subscribers == 2 and made < 20_000:
                with b.journal.atomic():  # many events per commit: fast to make
                    for _ in range(16):
                        b.journal.create(f"p{made}", "1.00", 100, "82")
                        made += 1
                # The bridge answers while the stuck subscriber is behind.
                answer = await b.post("/QueryPayment", {"retrieval_reference_number": "p0"})
                assert answer.status_code == 200
            assert broker.subscribers == 1, "the stuck subscriber was never let go"
            print(f"the stuck subscriber overflowed after {made} events")

            # The stuck client reads at last: events in order, then the overflow event.
            stuck.setblocking(True)
            stuck.settimeout(10)
            raw = b""
            while not raw.endswith(b"0\r\n\r\n"):
                chunk = await asyncio.to_thread(stuck.recv, 65536)
                if not chunk:
                    break
                raw += chunk
            stuck.close()
            events = parse(_unchunk(raw))
            assert events[-1]["event"] == "overflow", events[-3:]
            b.journal.create("last", "1.00", 100, "82")
            everything = [e.id for e in b.journal.events_after(0)]
            delivered = ids(events)
            assert delivered == everything[:len(delivered)]
            assert events[-1]["data"]["last_event_id"] == delivered[-1]
            assert len(delivered) < len(everything)

            # The subscriber that reads got every event, once, in order.
            assert ids(await reader) == everything

    run(main(), timeout=180)


def _unchunk(raw: bytes) -> str:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"200 OK" in head.split(b"\r\n")[0], head
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2:]
    return body.decode()


def test_the_subscriber_limit_answers_a_json_503_and_frees_slots(tmp_path: Path) -> None:
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3",
                          events=EventsConfig(max_subscribers=2)) as b:
            async with b.client.stream("GET", f"{b.url}/events") as one, \
                    b.client.stream("GET", f"{b.url}/events") as two:
                assert (one.status_code, two.status_code) == (200, 200)
                async with httpx.AsyncClient() as other:
                    third = await other.get(f"{b.url}/events")
                assert third.status_code == 503
                assert third.json()["error_code"] == "TOO_MANY_SUBSCRIBERS"
                assert third.json()["success"] is False
            # Both closed: their slots are free again.
            for _ in range(100):
                if b.events.subscribers == 0:
                    break
                await asyncio.sleep(0.02)
            got = await read_events(b, lambda ev: len(ev) > 1)
            assert got[1]["event"] == "stream"

    run(main())


def test_the_stream_is_behind_the_same_gate_as_the_api(tmp_path: Path) -> None:
    token = "s3cret-token-0123456789"
    policy = AccessPolicy.build(token=token, origins=["http://pos.shop.example:3000"])

    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3", policy=policy) as b:
            url = f"{b.url}/events"
            assert (await b.client.get(url)).json()["error_code"] == "UNAUTHORIZED"
            bad = await b.client.get(url, headers={"Origin": "http://evil.example",
                                                   "Authorization": f"Bearer {token}"})
            assert (bad.status_code, bad.json()["error_code"]) == (403, "FORBIDDEN_ORIGIN")
            rebound = await b.client.get(url, headers={"Host": "evil.example",
                                                       "Authorization": f"Bearer {token}"})
            assert rebound.json()["error_code"] == "FORBIDDEN_HOST"
            got = await read_events(b, lambda ev: len(ev) > 1,
                                    headers={"Authorization": f"Bearer {token}",
                                             "Origin": "http://pos.shop.example:3000"})
            assert got[1]["event"] == "stream"
            async with b.client.stream("GET", url, headers={
                    "Authorization": f"Bearer {token}",
                    "Origin": "http://pos.shop.example:3000"}) as response:
                assert response.headers["access-control-allow-origin"] == \
                    "http://pos.shop.example:3000"

    run(main())


def test_the_python_client_resumes_after_the_connection_drops(tmp_path: Path) -> None:
    """AsyncClient.events() across a stream the bridge ends (as at a restart): every
    event once, in order."""
    async def main() -> None:
        async with bridge(tmp_path / "j.sqlite3") as b:
            broker = b.events
            seen: list[int] = []
            async with AsyncClient(b.url) as pos:
                async def follow() -> None:
                    async for event in pos.events(after=0):
                        if event.id is not None:
                            seen.append(event.id)

                task = asyncio.create_task(follow())
                await pay(b, "r1")
                for subscriber in list(broker._all):  # the streams end, as at shutdown
                    subscriber.end("closing")
                await pay(b, "r2")
                for subscriber in list(broker._all):
                    subscriber.end("closing")
                await pay(b, "r3")
                everything = [e.id for e in b.journal.events_after(0)]
                for _ in range(200):
                    if seen[-1:] == everything[-1:]:
                        break
                    await asyncio.sleep(0.02)
                task.cancel()
            assert seen == everything

    run(main())

"""Frames and messages: any chunking, garbage, corruption; decoding never raises anything
but RemoteProtocolError."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posbridge.protocol import FrameDecoder, RemoteProtocolError, encode_frame
from posbridge.protocol.frames import MAX_PAYLOAD
from posbridge.protocol.messages import (
    Ack,
    Batch,
    BatchResult,
    Cancel,
    Data,
    Heartbeat,
    Hello,
    Message,
    PaymentResult,
    Progress,
    Query,
    QueryResult,
    Reply,
    Sale,
    Void,
    decode_message,
    encode_message,
)

payloads = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=8)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


@settings(max_examples=300, deadline=None)
@given(payloads, st.lists(st.integers(min_value=0), max_size=20))
def test_any_chunking_yields_the_same_frames(items: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in items)
    decoder = FrameDecoder()
    got = [f for chunk in chunked(stream, cuts) for f in decoder.feed(chunk)]
    assert got == items
    assert decoder.stats.bytes_skipped == 0


@settings(max_examples=300, deadline=None)
@given(payloads, st.binary(max_size=64), st.binary(max_size=64))
def test_garbage_between_frames_is_skipped(items: list[bytes], before: bytes,
                                           between: bytes) -> None:
    # Garbage that happens to hold a whole valid frame would be a frame: keep it out.
    garbage_before = before.replace(b"\xa5\x5a", b"")
    garbage_between = between.replace(b"\xa5\x5a", b"")
    stream = garbage_before + encode_frame(items[0]) + garbage_between + b"".join(
        encode_frame(p) for p in items[1:])
    decoder = FrameDecoder()
    assert decoder.feed(stream) == items


@settings(max_examples=300, deadline=None)
@given(payloads.filter(lambda x: len(x) >= 2), st.data())
def test_a_corrupted_frame_is_lost_alone(items: list[bytes], data: st.DataObject) -> None:
    victim = data.draw(st.integers(0, len(items) - 1))
    frames = [bytearray(encode_frame(p)) for p in items]
    pos = data.draw(st.integers(0, len(frames[victim]) - 1))
    flip = data.draw(st.integers(1, 255))
    frames[victim][pos] ^= flip
    decoder = FrameDecoder()
    got = decoder.feed(b"".join(bytes(f) for f in frames))
    expected = [p for i, p in enumerate(items) if i != victim]
    # Every intact frame after the damage is recovered, in order. (A flip can, rarely,
    # leave the victim's CRCs valid only if it misses the frame; it never does here.)
    assert got == expected


def test_lengths_are_bounded() -> None:
    with pytest.raises(ValueError):
        encode_frame(b"x" * (MAX_PAYLOAD + 1))
    assert FrameDecoder().feed(encode_frame(b"x" * MAX_PAYLOAD)) == [b"x" * MAX_PAYLOAD]
    # A header claiming more than the maximum is garbage, not a wait for 64 KiB.
    bogus = b"\xa5\x5a\xff\xff" + b"\x00" * 20
    decoder = FrameDecoder()
    assert decoder.feed(bogus + encode_frame(b"ok")) == [b"ok"]
    assert decoder.stats.bytes_skipped >= len(bogus)


text = st.text(max_size=20)
rid = st.integers(min_value=0, max_value=2**31)
application = st.one_of(
    st.builds(Sale, rid, text, st.integers(0, 10**12), text),
    st.builds(Cancel, rid, text),
    st.builds(Query, rid, text),
    st.builds(Void, rid, text),
    st.builds(Batch, rid),
    st.builds(Reply, rid, text, st.booleans(), text, text),
    st.builds(QueryResult, rid, text, st.booleans(), text, text, text, st.integers(0, 10**9),
              text, st.integers(0, 10**6)),
    st.builds(BatchResult, rid, st.integers(0, 10**6), st.integers(0, 10**6),
              st.integers(0, 10**12), st.lists(text, max_size=5).map(tuple)),
    st.builds(PaymentResult, text, text, text, text),
    st.builds(Progress, text, text, st.text(max_size=300)),
)
messages = st.one_of(
    application,
    st.builds(Hello, text, st.integers(0, 9), text, text, text, text,
              st.lists(text, max_size=4).map(tuple), st.lists(text, max_size=4).map(tuple)),
    st.builds(Ack, st.integers(0, 2**31)),
    st.just(Heartbeat()),
    st.builds(Data, st.integers(1, 2**31), application),
)


@settings(max_examples=500, deadline=None)
@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_decoding_bytes_raises_only_remote_protocol_error(payload: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_message(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["hello", "ack", "hb", "data", "sale", "cancel", "query", "void",
                        "batch", "reply", "query_result", "batch_result", "result", "progress",
                        "nope"]),
       st.dictionaries(st.sampled_from(["rid", "ref", "amount", "seq", "m", "accepted",
                                        "refs", "condition_codes", "condition_code_names",
                                        "role", "version", "stage", "qr_payload"]),
                       json_values, max_size=6))
def test_wrong_shapes_raise_only_remote_protocol_error(kind: str, fields: dict[str, object]
                                                       ) -> None:
    payload = json.dumps({"k": kind, **fields}).encode()
    with contextlib.suppress(RemoteProtocolError):
        decode_message(payload)


def test_a_hello_without_names_still_decodes() -> None:
    # A terminal that sends codes only (before condition_code_names existed).
    hello = decode_message(b'{"k":"hello","role":"terminal","version":2,"session":"s",'
                           b'"condition_codes":["82","30"]}')
    assert isinstance(hello, Hello)
    assert hello.condition_codes == ("82", "30") and hello.condition_code_names == ()


def test_progress_on_the_wire() -> None:
    payload = encode_message(Progress("inv-1", "qr_shown", "000201"))
    assert json.loads(payload) == {"k": "progress", "ref": "inv-1", "stage": "qr_shown",
                                   "qr_payload": "000201"}
    assert decode_message(b'{"k":"progress","ref":"r","stage":"waiting_for_customer"}') == (
        Progress("r", "waiting_for_customer"))


@pytest.mark.parametrize("payload", [
    b'{"k":"progress","ref":"r"}',
    b'{"k":"progress","ref":"r","stage":"qr_shown","qr_payload":7}',
    b'{"k":"sale","rid":true,"ref":"x","amount":1,"condition_code":"82"}',
    b'{"k":"sale","rid":1,"ref":"x","amount":1.5,"condition_code":"82"}',
    b'{"k":"sale","rid":1,"ref":"x","condition_code":"82"}',
    b'{"k":"data","seq":1,"m":{"k":"hello","role":"host","version":1,"session":"s"}}',
    b'{"k":"data","seq":1,"m":{"k":"data","seq":2,"m":{"k":"hb"}}}',
    b'[1,2]',
    b'{"k":7}',
])
def test_specific_wrong_shapes_are_refused(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_message(payload)


def test_deeply_nested_json_that_fits_a_frame_is_refused() -> None:
    payload = b"[" * (MAX_PAYLOAD - 1)
    with pytest.raises(RemoteProtocolError):
        decode_message(payload)

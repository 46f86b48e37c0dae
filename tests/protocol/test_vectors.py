"""The shared test vectors (spec/vectors/): regenerating them changes nothing, and the Python
implementation replays every one of them. terminal/core's *VectorsTest classes replay the
same files against the Java implementation.

The replays below read only the files, not the generator: a vector that the code no longer
satisfies fails here even before anyone regenerates."""

from __future__ import annotations

import binascii
import copy
import dataclasses
import importlib.util
import json
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from posbridge.protocol import (
    FrameDecoder,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    MessageReceived,
    RemoteProtocolError,
    Role,
    decode_message,
    encode_frame,
    encode_message,
)
from posbridge.protocol.frames import DecoderStats
from posbridge.protocol.messages import Ack, AppMessage, Data, Heartbeat, Hello, Message

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"
NAMES = ("frames.json", "messages.json", "link.json")


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spec_generate", ROOT / "spec" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(generator: ModuleType) -> dict[str, bytes]:
    return generator.build()  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", NAMES)
def test_regenerating_the_vectors_changes_nothing(built: dict[str, bytes], name: str) -> None:
    on_disk = (VECTORS / name).read_bytes()
    made = built[name]
    if made != on_disk:
        at = next((i for i, (a, b) in enumerate(zip(made, on_disk, strict=False)) if a != b),
                  min(len(made), len(on_disk)))
        pytest.fail(f"spec/vectors/{name} is not what spec/generate.py makes now (first "
                    f"difference at byte {at}): run `.venv/bin/python spec/generate.py`, "
                    "review the diff, and commit it with the change that caused it")


def test_the_generator_writes_exactly_the_checked_in_files(built: dict[str, bytes]) -> None:
    assert sorted(built) == sorted(p.name for p in VECTORS.glob("*.json"))


# -- replays ---------------------------------------------------------------------------


def replay_frames(vectors: dict[str, Any]) -> None:
    check = vectors["crc_check"]["input"].encode()
    assert binascii.crc_hqx(check, 0xFFFF) == vectors["crc_check"]["crc16_ccitt_false"]
    assert zlib.crc32(check) == vectors["crc_check"]["crc32"]
    for case in vectors["frames"]:
        payload = bytes.fromhex(case["payload"]["hex"])
        frame = encode_frame(payload)
        where = case["name"]
        assert frame.hex() == case["frame"], where
        assert len(payload) == case["length"], where
        assert int.from_bytes(frame[4:6], "big") == case["header_crc"], where
        assert int.from_bytes(frame[-4:], "big") == case["payload_crc"], where
    for length in vectors["oversize"]:
        with pytest.raises(ValueError):
            encode_frame(bytes(length))
    for case in vectors["decoder"]:
        chunks = [bytes.fromhex(c) for c in case["chunks"]]
        stream = b"".join(chunks)
        for split, parts in (("as given", chunks), ("all at once", [stream]),
                             ("byte by byte", [stream[i:i + 1] for i in range(len(stream))])):
            decoder = FrameDecoder()
            payloads = [p.hex() for part in parts for p in decoder.feed(part)]
            where = f"{case['name']} ({split})"
            assert payloads == case["payloads"], where
            assert stats_of(decoder.stats) == case["stats"], where
            assert decoder.buffered == case["buffered"], where


def stats_of(stats: DecoderStats) -> dict[str, int]:
    return dataclasses.asdict(stats)


def fields_of(message: Message) -> Any:
    """The message's fields as JSON has them (lists, not tuples)."""
    return json.loads(json.dumps(msgspec.to_builtins(message)))


def from_fields(fields: dict[str, Any]) -> Message:
    """A message made from its fields, without the payload decoder."""
    return msgspec.convert(fields, Hello | Ack | Heartbeat | Data | AppMessage)


def replay_messages(vectors: dict[str, Any]) -> None:
    for case in vectors["encode"]:
        message = from_fields(case["fields"])
        assert encode_message(message).hex() == case["hex"], case["name"]
        assert decode_message(bytes.fromhex(case["hex"])) == message, case["name"]
    for case in vectors["decode"]:
        message = decode_message(bytes.fromhex(case["payload"]["hex"]))
        assert fields_of(message) == case["fields"], case["name"]
        assert encode_message(message).decode() == case["canonical"], case["name"]
    for case in vectors["invalid"]:
        with pytest.raises(RemoteProtocolError):
            decode_message(bytes.fromhex(case["payload"]["hex"]))
    for case in vectors["may_refuse"]:
        message = decode_message(bytes.fromhex(case["payload"]["hex"]))
        assert fields_of(message) == case["host_fields"], case["name"]


def describe(event: object) -> dict[str, str]:
    if isinstance(event, LinkUp):
        return {"event": "link_up", "peer": encode_message(event.peer).decode()}
    if isinstance(event, MessageReceived):
        return {"event": "message_received", "message": encode_message(event.message).decode()}
    assert isinstance(event, LinkDown)
    return {"event": "link_down", "reason": event.reason}


def replay_link(vectors: dict[str, Any]) -> None:
    identity = decode_message(vectors["identity"].encode())
    assert isinstance(identity, Hello)
    for conversation in vectors["conversations"]:
        link = LinkConnection(Role.TERMINAL, identity, LinkTimers(**conversation["timers"]))
        for n, step in enumerate(conversation["steps"]):
            where = f"{conversation['name']}, step {n} at t={step['t']}"
            t = step["t"]
            if "in" in step:
                events = link.receive_data(bytes.fromhex(step["in"]), t)
            elif "timers" in step:
                events = link.handle_timers(t)
            elif "send" in step:
                message = decode_message(step["send"].encode())
                link.send(message, t)
                events = []
            else:
                events = link.close(step["close"])
            assert link.data_to_send().hex() == step["out"], where
            assert [describe(e) for e in events] == step["events"], where
            assert link.state.value == step["state"], where
            assert link.next_deadline() == step["next_deadline"], where
        assert dataclasses.asdict(link.stats) == conversation["stats"], conversation["name"]
        decoder_stats = link.decoder_stats
        assert isinstance(decoder_stats, DecoderStats)
        assert stats_of(decoder_stats) == conversation["decoder_stats"], conversation["name"]


REPLAYS = {"frames.json": replay_frames, "messages.json": replay_messages,
           "link.json": replay_link}


@pytest.mark.parametrize("name", NAMES)
def test_the_python_implementation_replays_every_vector(name: str) -> None:
    REPLAYS[name](load(name))


def flip_hex(value: str) -> str:
    """The same hex with its last digit changed."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")


@pytest.mark.parametrize(("name", "mutate"), [
    ("frames.json", lambda v: v["frames"][1].update(frame=flip_hex(v["frames"][1]["frame"]))),
    ("frames.json", lambda v: v["decoder"][0]["stats"].update(bytes_skipped=124)),
    ("messages.json", lambda v: v["encode"][0].update(hex=flip_hex(v["encode"][0]["hex"]))),
    ("messages.json", lambda v: v["decode"][0]["fields"].update(version=3)),
    ("messages.json", lambda v: v["invalid"].append(
        {"name": "valid", "payload": {"hex": b'{"k":"hb"}'.hex()}})),
    ("link.json", lambda v: v["conversations"][0]["steps"][1].update(
        out=flip_hex(v["conversations"][0]["steps"][1]["out"]))),
    ("link.json", lambda v: v["conversations"][0]["steps"][2].update(next_deadline=4.2)),
    ("link.json", lambda v: v["conversations"][0]["steps"][1]["events"].clear()),
])
def test_a_replay_notices_a_changed_vector(name: str, mutate: Any) -> None:
    vectors = copy.deepcopy(load(name))
    mutate(vectors)
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        REPLAYS[name](vectors)

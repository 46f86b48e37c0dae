"""Make the shared test vectors of the link protocol from the Python implementation.

The vectors (spec/vectors/*.json) are the contract between the two implementations of
docs/link-protocol.md: posbridge's (Python, ``posbridge.protocol``) and the terminal
library's (Java, ``terminal/``). Both test suites read them: tests/protocol/test_vectors.py
replays them against the Python code and fails when regenerating would change a byte;
terminal/core's VectorsTest replays them against the Java code.

    .venv/bin/python spec/generate.py           # write spec/vectors/
    .venv/bin/python spec/generate.py --check   # exit 1 if a file would change

Everything is fixed (sessions, times, identities), so the output is the same on every run.
Bytes are hex; a payload that is UTF-8 is also given as text, for a person to read.
"""

from __future__ import annotations

import argparse
import binascii
import json
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from posbridge.protocol import (
    PRODUCTION_TIMERS,
    Event,
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
from posbridge.protocol.frames import MAX_PAYLOAD, DecoderStats
from posbridge.protocol.messages import (
    Ack,
    AppMessage,
    Batch,
    BatchQuery,
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
    Refund,
    RefundQuery,
    RefundResult,
    Reply,
    Sale,
    Totals,
    TotalsResult,
    Void,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
COMMAND = ".venv/bin/python spec/generate.py"

HB = b'{"k":"hb"}'
SALE = Data(1, Sale(1, "invoice-123456789", 100, "82"))


def hexs(data: bytes) -> str:
    return data.hex()


def text(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def fields(message: Message) -> Any:
    return msgspec.to_builtins(message)


def payload_entry(payload: bytes) -> dict[str, Any]:
    """A payload as hex, and as text when it is UTF-8."""
    entry: dict[str, Any] = {"hex": hexs(payload)}
    if (as_text := text(payload)) is not None:
        entry["text"] = as_text
    return entry


# -- frames ----------------------------------------------------------------------------


def frame_cases() -> list[dict[str, Any]]:
    payloads = [
        ("empty payload", b""),
        ("heartbeat: the docs' first worked example", HB),
        ("sale: the docs' second worked example", encode_message(SALE)),
        ("every byte value", bytes(range(256))),
        ("the magic and a header inside the payload", b"\xa5\x5a\x00\x0a\xbc\x45\xa5"),
        ("non-ASCII UTF-8",
         '{"k":"progress","ref":"caf\u00e9 \U0001f600","stage":"x","qr_payload":""}'.encode()),
        ("the largest payload, 8192 bytes", bytes((i * 7 + 3) % 256 for i in range(MAX_PAYLOAD))),
    ]
    out = []
    for name, payload in payloads:
        frame = encode_frame(payload)
        out.append({
            "name": name,
            "payload": payload_entry(payload),
            "length": len(payload),
            "header_crc": binascii.crc_hqx(len(payload).to_bytes(2, "big"), 0xFFFF),
            "payload_crc": zlib.crc32(payload),
            "frame": hexs(frame),
        })
    return out


def splits(stream: bytes, chunks: list[bytes]) -> list[list[bytes]]:
    return [chunks, [stream], [stream[i:i + 1] for i in range(len(stream))]]


def decode_chunks(chunks: list[bytes]) -> tuple[list[bytes], FrameDecoder]:
    decoder = FrameDecoder()
    return [p for chunk in chunks for p in decoder.feed(chunk)], decoder


def decoder_case(name: str, why: str, chunks: list[bytes]) -> dict[str, Any]:
    stream = b"".join(chunks)
    payloads, decoder = decode_chunks(chunks)
    for other in splits(stream, chunks):
        # The vectors promise the same result for any split: check it before writing it.
        again, decoder2 = decode_chunks(other)
        assert again == payloads and decoder2.stats == decoder.stats, name
        assert decoder2.buffered == decoder.buffered, name
    return {
        "name": name,
        "why": why,
        "chunks": [hexs(c) for c in chunks],
        "payloads": [hexs(p) for p in payloads],
        "payload_texts": [text(p) for p in payloads],
        "stats": stats_entry(decoder.stats),
        "buffered": decoder.buffered,
    }


def stats_entry(stats: DecoderStats) -> dict[str, int]:
    return {"frames": stats.frames, "bytes_skipped": stats.bytes_skipped,
            "bad_header": stats.bad_header, "bad_crc": stats.bad_crc}


def header(length: int, crc: int | None = None) -> bytes:
    if crc is None:
        crc = binascii.crc_hqx(length.to_bytes(2, "big"), 0xFFFF)
    return b"\xa5\x5a" + length.to_bytes(2, "big") + crc.to_bytes(2, "big")


def decoder_cases() -> list[dict[str, Any]]:
    hb = encode_frame(HB)
    sale = encode_frame(encode_message(SALE))
    damaged_sale = bytearray(sale)
    damaged_sale[40] ^= 0x01  # a byte of the payload: the payload CRC fails
    big = encode_frame(bytes((i * 7 + 3) % 256 for i in range(MAX_PAYLOAD)))
    inner = encode_frame(b"xx" + hb + b"yy")
    damaged_outer = bytearray(inner)
    damaged_outer[-1] ^= 0x01
    bad_header_crc = bytearray(sale[:6])
    bad_header_crc[5] ^= 0x40
    cases = [
        decoder_case(
            "the docs' example: garbage, a corrupted sale, a heartbeat",
            "00 a5, 'garbage', the sale frame with one payload byte flipped, then the "
            "heartbeat frame: one payload, 125 bytes skipped, one bad CRC",
            [b"\x00\xa5" + b"garbage" + bytes(damaged_sale) + hb]),
        decoder_case("two frames in one read", "one read may hold many frames", [sale + hb]),
        decoder_case("two frames split inside each", "a frame may arrive in many reads",
                     [sale[:3], sale[3:50] + hb[:9], hb[9:]]),
        decoder_case("the same frame twice", "the frame layer does not deduplicate",
                     [hb + hb]),
        decoder_case("empty payload", "a zero-length payload is a frame",
                     [encode_frame(b"")]),
        decoder_case("the largest payload", "8192 bytes, then a heartbeat", [big + hb]),
        decoder_case("garbage only", "no magic: everything is discarded", [b"no frames here"]),
        decoder_case("garbage ending in a5", "the final a5 is kept: its 5a may come next",
                     [b"garbage\xa5"]),
        decoder_case("a frame whose magic is split after a5",
                     "the kept a5 and the next read make the magic",
                     [b"garbage" + hb[:1], hb[1:]]),
        decoder_case("a5 a5 5a", "the first a5 is skipped, the second starts the magic",
                     [b"\xa5" + hb]),
        decoder_case("a length above 8192", "a header with a valid CRC but a length of 8193: "
                     "one byte is skipped and the search resumes", [header(8193) + hb]),
        decoder_case("a bad header CRC", "the length is not trusted: one byte is skipped, "
                     "no waiting for 106 bytes", [bytes(bad_header_crc) + hb]),
        decoder_case("a truncated frame at the end", "the decoder waits for the rest",
                     [hb + sale[:40]]),
        decoder_case("a truncated frame then a whole one",
                     "the truncated frame's header is good, so its length swallows the next "
                     "frame; the payload CRC fails and the search resumes inside it",
                     [hb[:8], hb, hb]),
        decoder_case("a frame inside a damaged frame",
                     "after the outer frame's CRC fails, the inner frame is found",
                     [bytes(damaged_outer)]),
        decoder_case("a header only", "six bytes of a valid header: waiting for the payload",
                     [header(10)]),
        decoder_case("no input", "nothing in, nothing out", []),
    ]
    for i in range(1, len(hb)):
        cases.append(decoder_case(f"heartbeat split at byte {i}",
                                  "a frame split at every position decodes the same",
                                  [hb[:i], hb[i:]]))
    return cases


def frames_file() -> dict[str, Any]:
    check = b"123456789"
    return {
        "about": "Frames (docs/link-protocol.md section 2). 'frames': each payload's frame "
                 "and CRCs. 'oversize': payload lengths that encoding refuses. 'decoder': a "
                 "stream fed in 'chunks' gives 'payloads' and 'stats' (and leaves 'buffered' "
                 "bytes waiting); the same holds when the stream is fed all at once and one "
                 "byte at a time. Made by " + COMMAND + ".",
        "max_payload": MAX_PAYLOAD,
        "crc_check": {
            "input": check.decode(),
            "crc16_ccitt_false": binascii.crc_hqx(check, 0xFFFF),
            "crc32": zlib.crc32(check),
        },
        "frames": frame_cases(),
        "oversize": [MAX_PAYLOAD + 1, 65535, 65536],
        "decoder": decoder_cases(),
    }


# -- messages --------------------------------------------------------------------------

RECEIPT = (
    "kind=sale", "method=PayNow", "account=wallet ****ce-1",
    "transaction_id=100126120100000000000001", "terminal_id=SIM-000001",
    "merchant_id=SIM-MERCHANT-0001", "time=2026-12-01T22:30:21Z", "amount=1.00",
    "status=approved", "note=a=b",
)
ESCAPES = "".join(chr(i) for i in range(0x20)) + ' "quote" \\back\\ /slash/ \x7f \u2028\u2029'
UNICODE = "caf\u00e9 \u20ac \u4e2d \U0001f600 \ufeff \U0010ffff"
HOST_HELLO = Hello("host", 2, "fb0eca0bfa0e4f8d", app_version="0.1.0", idle_heartbeat_ms=2000)
TERMINAL_HELLO = Hello(
    "terminal", 2, "fb0eca0bfa0e4f8d", serial="SIM-000001",
    model="posbridge simulator (no real money)", app_version="0.1.0",
    condition_codes=("82", "30", "20", "50"),
    condition_code_names=("PayNow", "Alipay", "WeChat Pay", "GrabPay"), idle_heartbeat_ms=2000)


def encode_cases() -> list[tuple[str, Message]]:
    return [
        ("hello from the host (docs)", HOST_HELLO),
        ("hello from the terminal (docs)", TERMINAL_HELLO),
        ("hello with no session (docs section 7)",
         Hello("terminal", 2, "", serial="T-1", model="M", app_version="9",
               condition_codes=("00", "82"))),
        ("hello of version 1", Hello("host", 1, "25679aed1b3e4532")),
        ("ack", Ack(1)),
        ("ack of nothing yet", Ack(0)),
        ("heartbeat", Heartbeat()),
        ("data carrying a sale (docs worked example)", SALE),
        ("data carrying a result", Data(3, PaymentResult(
            "invoice-123456789", "approved", "00", "100126112449045170070988"))),
        ("sale", Sale(1, "invoice-123456789", 100, "82")),
        ("cancel", Cancel(2, "invoice-123456789")),
        ("query", Query(3, "invoice-123456789")),
        ("void", Void(4, "invoice-123456789")),
        ("batch", Batch(5, "3f9c2a7e51d04b88")),
        ("batch of a version 1 host", Batch(5)),
        ("batch_query", BatchQuery(6, "3f9c2a7e51d04b88")),
        ("refund", Refund(7, "invoice-123456789", "credit-note-881", 40)),
        ("refund_query", RefundQuery(8, "invoice-123456789", "credit-note-881")),
        ("totals", Totals(10)),
        ("reply accepting", Reply(1, "invoice-123456789", True)),
        ("reply refusing", Reply(2, "invoice-2", False, "busy",
                                 "payment invoice-123456789 is in progress")),
        ("reply accepting a void, with its receipt", Reply(
            4, "invoice-1", True, receipt=RECEIPT, merchant_copy=("MERCHANT COPY", "VOID"),
            customer_copy=("CUSTOMER COPY", "VOID"))),
        ("query_result found", QueryResult(
            3, "invoice-123456789", True, "approved", "00", "100126112492604969818907", 100,
            "82", 0)),
        ("query_result not found", QueryResult(4, "nope", False)),
        ("query_result settled, with a receipt", QueryResult(
            3, "invoice-1", True, "approved", "00", "100126120100000000000001", 100, "82", 7,
            receipt=RECEIPT, merchant_copy=("M",), customer_copy=("C",))),
        ("batch_result", BatchResult(5, 1, 1, 700, ("invoice-7",), "3f9c2a7e51d04b88")),
        ("batch_result not found", BatchResult(6, 0, 0, 0, (), "3f9c2a7e51d04b88", False)),
        ("refund_result", RefundResult(
            8, "invoice-123456789", "credit-note-881", True, 40, "approved",
            "100126120190817346210044")),
        ("refund_result not found", RefundResult(8, "invoice-1", "credit-note-9", False)),
        ("totals_result", TotalsResult(10, 3, (
            "payment:82:approved:2:1250", "payment:82:voided:1:100",
            "refund:82:approved:1:40"))),
        ("totals_result before any batch", TotalsResult(10)),
        ("result approved", PaymentResult(
            "invoice-123456789", "approved", "00", "100126112492604969818907")),
        ("result declined", PaymentResult(
            "invoice-4", "declined", "51", "100126112487801782296627")),
        ("result with its receipt (docs)", PaymentResult(
            "invoice-1", "approved", "00", "100126120100000000000001", receipt=RECEIPT,
            merchant_copy=("...",), customer_copy=("...",))),
        ("progress (docs)", Progress(
            "invoice-123456789", "qr_shown",
            "00020101021226370009SG.PAYNOW010120210T00SI0001X0301052040000530370254041.005802"
            "SG5919POSBRIDGE SIMULATOR6009Singapore62210117invoice-123456789630488EE")),
        ("progress without a QR", Progress("invoice-1", "waiting_for_customer")),
        ("every character JSON escapes, and some it does not", Progress(ESCAPES, "x")),
        ("non-ASCII as raw UTF-8", Progress(UNICODE, UNICODE, UNICODE)),
        ("empty strings and lists", Hello("", 0, "")),
        ("64-bit integers", Sale(9223372036854775807, "r", -9223372036854775808, "82")),
        ("negative integers", Ack(-1)),
    ]


def decode_cases() -> list[tuple[str, bytes]]:
    deep = b"[" * 40 + b"]" * 40
    return [
        ("keys in another order",
         b'{"idle_heartbeat_ms":2000,"condition_codes":[],"session":"fb0eca0bfa0e4f8d",'
         b'"role":"host","app_version":"0.1.0","version":2,"k":"hello"}'),
        ("\"k\" last, in data and in m",
         b'{"m":{"condition_code":"82","amount":100,"ref":"invoice-1","rid":1,"k":"sale"},'
         b'"seq":1,"k":"data"}'),
        ("whitespace everywhere",
         b' \t\r\n{ "k" : "data" ,\n "seq" : 1 ,\r\n "m" : { "k" : "query" , "rid" : 3 , '
         b'"ref" : "r" } } \n'),
        ("unknown keys of every JSON type",
         b'{"k":"sale","rid":1,"ref":"r","amount":100,"condition_code":"82","s":"x","f":1.5,'
         b'"e":-1E+400,"big":123456789012345678901234567890,"n":null,"t":true,"a":[1,"2",[3]],'
         b'"o":{"k":"hb","x":{"y":[]}},"":0,"deep":' + deep + b'}'),
        ("an unknown key repeated inside unknown objects",
         b'{"k":"hb","x":{"a":1},"y":{"a":2}}'),
        ("hello with only its required fields",
         b'{"k":"hello","role":"host","version":2,"session":"s"}'),
        ("batch without batch_id", b'{"k":"batch","rid":5}'),
        ("reply without its defaults", b'{"k":"reply","rid":1,"ref":"r","accepted":true}'),
        ("query_result without its defaults",
         b'{"k":"query_result","rid":4,"ref":"nope","found":false}'),
        ("batch_result without its defaults",
         b'{"k":"batch_result","rid":5,"batch_number":1,"count":0,"total":0}'),
        ("refund_result without its defaults",
         b'{"k":"refund_result","rid":8,"ref":"r","refund_ref":"c","found":false}'),
        ("totals_result without its defaults", b'{"k":"totals_result","rid":10}'),
        ("result without its defaults",
         b'{"k":"result","ref":"r","status":"timed_out","response_code":"68"}'),
        ("progress without its default", b'{"k":"progress","ref":"r","stage":"qr_shown"}'),
        ("escapes in strings",
         b'{"k":"progress","ref":"\\u0041\\u00e9\\u00E9\\/\\"\\\\\\b\\f\\n\\r\\t","stage":'
         b'"\\ud83d\\ude00\\uD83D\\uDE00","qr_payload":"\\u2028"}'),
        ("an escaped key", b'{"\\u006b":"ack","s\\u0065q":5}'),
        ("raw UTF-8", '{"k":"progress","ref":"caf\u00e9 \U0001f600","stage":""}'.encode()),
        ("minus zero is the integer 0", b'{"k":"ack","seq":-0}'),
        ("the 64-bit limits", b'{"k":"sale","rid":9223372036854775807,"ref":"r",'
                              b'"amount":-9223372036854775808,"condition_code":"82"}'),
        ("an application message outside data",
         b'{"k":"totals","rid":10}'),
        ("data carrying progress",
         b'{"k":"data","seq":2,"m":{"k":"progress","ref":"r","stage":"qr_shown",'
         b'"qr_payload":"x"}}'),
        ("a receipt", b'{"k":"result","ref":"r","status":"approved","response_code":"00",'
                      b'"receipt":["a=b=c"],"customer_copy":[""]}'),
    ]


def invalid_cases() -> list[tuple[str, bytes]]:
    deep = b"[" * 4000 + b"]" * 4000
    return [
        ("a string for an int", b'{"k":"ack","seq":"1"}'),
        ("true for an int", b'{"k":"ack","seq":true}'),
        ("false for an int", b'{"k":"query","rid":false,"ref":"r"}'),
        ("1.0 for an int", b'{"k":"ack","seq":1.0}'),
        ("1e2 for an int", b'{"k":"ack","seq":1e2}'),
        ("-0.0 for an int", b'{"k":"ack","seq":-0.0}'),
        ("1e400 for an int", b'{"k":"ack","seq":1e400}'),
        ("null for an int", b'{"k":"ack","seq":null}'),
        ("an int for a string", b'{"k":"query","rid":1,"ref":1}'),
        ("null for a string", b'{"k":"hello","role":"host","version":2,"session":null}'),
        ("an array for a string", b'{"k":"query","rid":1,"ref":["r"]}'),
        ("an int for a bool", b'{"k":"reply","rid":1,"ref":"a","accepted":1}'),
        ("a string for a bool", b'{"k":"reply","rid":1,"ref":"a","accepted":"true"}'),
        ("null for a bool with a default", b'{"k":"batch_result","rid":1,"batch_number":1,'
                                           b'"count":0,"total":0,"found":null}'),
        ("a string for a list", b'{"k":"hello","role":"host","version":2,"session":"s",'
                                b'"condition_codes":"82"}'),
        ("an int in a list of strings", b'{"k":"hello","role":"host","version":2,'
                                        b'"session":"s","condition_codes":["82",30]}'),
        ("null in a list of strings", b'{"k":"totals_result","rid":1,"rows":[null]}'),
        ("an object for a list", b'{"k":"batch_result","rid":1,"batch_number":1,"count":0,'
                                 b'"total":0,"refs":{}}'),
        ("a missing required field", b'{"k":"sale","rid":1,"ref":"r","amount":100}'),
        ("a missing seq", b'{"k":"ack"}'),
        ("data without m", b'{"k":"data","seq":1}'),
        ("data without seq", b'{"k":"data","m":{"k":"totals","rid":1}}'),
        ("hello without session", b'{"k":"hello","role":"host","version":2}'),
        ("an unknown kind", b'{"k":"refund_all","rid":1}'),
        ("an unknown kind inside data", b'{"k":"data","seq":1,"m":{"k":"nope"}}'),
        ("k is not a string", b'{"k":1}'),
        ("no k", b'{"seq":1}'),
        ("an empty object", b"{}"),
        ("hello inside data", b'{"k":"data","seq":1,"m":{"k":"hello","role":"host",'
                              b'"version":2,"session":"s"}}'),
        ("ack inside data", b'{"k":"data","seq":1,"m":{"k":"ack","seq":1}}'),
        ("hb inside data", b'{"k":"data","seq":1,"m":{"k":"hb"}}'),
        ("data inside data", b'{"k":"data","seq":1,"m":{"k":"data","seq":2,'
                             b'"m":{"k":"totals","rid":1}}}'),
        ("m is not an object", b'{"k":"data","seq":1,"m":"sale"}'),
        ("m is an array", b'{"k":"data","seq":1,"m":[]}'),
        ("k twice with different values", b'{"k":"ack","seq":1,"k":"hb"}'),
        ("not an object: an array", b"[]"),
        ("not an object: a number", b"1"),
        ("not an object: a string", b'"hb"'),
        ("not an object: null", b"null"),
        ("not an object: true", b"true"),
        ("empty payload", b""),
        ("whitespace only", b" \n"),
        ("invalid UTF-8: a stray byte in a string", b'{"k":"query","rid":1,"ref":"\xff"}'),
        ("invalid UTF-8: a truncated sequence", b'{"k":"query","rid":1,"ref":"\xe2\x82"}'),
        ("invalid UTF-8: an overlong encoding", b'{"k":"query","rid":1,"ref":"\xc0\xaf"}'),
        ("invalid UTF-8: an encoded surrogate", b'{"k":"query","rid":1,"ref":"\xed\xa0\x80"}'),
        ("invalid UTF-8: above U+10FFFF", b'{"k":"query","rid":1,"ref":"\xf4\x90\x80\x80"}'),
        ("invalid UTF-8 before the object", b'\xff{"k":"hb"}'),
        ("invalid JSON: a trailing comma in an object", b'{"k":"ack","seq":1,}'),
        ("invalid JSON: a trailing comma in an array",
         b'{"k":"totals_result","rid":1,"rows":["a",]}'),
        ("invalid JSON: single quotes", b"{'k':'hb'}"),
        ("invalid JSON: unquoted keys", b'{k:"hb"}'),
        ("invalid JSON: a comment", b'{"k":"hb"}//'),
        ("invalid JSON: a block comment", b'{"k":"hb"/**/}'),
        ("invalid JSON: => for a colon", b'{"k"=>"hb"}'),
        ("invalid JSON: ; for a comma", b'{"k":"ack";"seq":1}'),
        ("invalid JSON: a second value", b'{"k":"hb"} {}'),
        ("invalid JSON: trailing garbage", b'{"k":"hb"}x'),
        ("invalid JSON: a NUL after the object", b'{"k":"hb"}\x00'),
        ("invalid JSON: a byte-order mark", b'\xef\xbb\xbf{"k":"hb"}'),
        ("invalid JSON: a form feed as whitespace", b'{"k":"hb"\x0c}'),
        ("invalid JSON: a no-break space as whitespace", b'{"k":"hb"\xc2\xa0}'),
        ("invalid JSON: unclosed", b'{"k":"hb"'),
        ("invalid JSON: an unterminated string", b'{"k":"hb}'),
        ("invalid JSON: NaN", b'{"k":"hb","x":NaN}'),
        ("invalid JSON: Infinity", b'{"k":"hb","x":-Infinity}'),
        ("invalid JSON: a leading zero", b'{"k":"ack","seq":01}'),
        ("invalid JSON: a hexadecimal number", b'{"k":"ack","seq":0x1}'),
        ("invalid JSON: a plus sign", b'{"k":"ack","seq":+1}'),
        ("invalid JSON: .5", b'{"k":"hb","x":.5}'),
        ("invalid JSON: 1.", b'{"k":"hb","x":1.}'),
        ("invalid JSON: a bare minus", b'{"k":"hb","x":-}'),
        ("invalid JSON: TRUE", b'{"k":"reply","rid":1,"ref":"a","accepted":TRUE}'),
        ("invalid JSON: an unquoted string value", b'{"k":hb}'),
        ("invalid JSON: a raw control character in a string", b'{"k":"hb","x":"a\x01"}'),
        ("invalid JSON: a raw tab in a string", b'{"k":"hb","x":"a\tb"}'),
        ("invalid JSON: an unknown escape", b'{"k":"hb","x":"\\x41"}'),
        ("invalid JSON: an escaped quote as \\'", b'{"k":"hb","x":"\\\'"}'),
        ("invalid JSON: a short \\u escape", b'{"k":"hb","x":"\\u12"}'),
        ("invalid JSON: a non-hex \\u escape", b'{"k":"hb","x":"\\u004G"}'),
        ("invalid JSON: a lone high surrogate escape", b'{"k":"hb","x":"\\ud800"}'),
        ("invalid JSON: a high surrogate escape before a letter",
         b'{"k":"hb","x":"\\ud800\\u0041"}'),
        ("invalid JSON: a lone low surrogate escape", b'{"k":"hb","x":"\\udc00x"}'),
        ("nested too deep: 4000 arrays (fits in a frame)", b'{"k":"hb","x":' + deep + b"}"),
        ("nested too deep, not an object", b"[" * 8000),
    ]


def may_refuse_cases() -> list[tuple[str, str, bytes]]:
    wide = b"[" * 100 + b"]" * 100
    return [
        ("an integer above 64 bits", "int", b'{"k":"ack","seq":9223372036854775808}'),
        ("an integer below 64 bits", "int", b'{"k":"ack","seq":-9223372036854775809}'),
        ("an integer of 2**64", "int",
         b'{"k":"sale","rid":1,"ref":"r","amount":18446744073709551616,"condition_code":"82"}'),
        ("a key twice with the same value", "repeated key", b'{"k":"ack","seq":1,"k":"ack"}'),
        ("a key twice, the host takes the last", "repeated key",
         b'{"k":"ack","seq":1,"seq":2}'),
        ("a key twice inside m", "repeated key",
         b'{"k":"data","seq":1,"m":{"k":"totals","rid":1,"rid":2}}'),
        ("a key twice in an ignored object", "repeated key",
         b'{"k":"hb","x":{"a":1,"a":2}}'),
        ("invalid UTF-8 in an ignored value", "invalid UTF-8", b'{"k":"hb","x":"\xff"}'),
        ("invalid UTF-8 in an ignored key", "invalid UTF-8", b'{"k":"hb","\xed\xa0\x80":1}'),
        ("100 levels of nesting in an ignored value", "depth", b'{"k":"hb","x":' + wide + b"}"),
    ]


def messages_file() -> dict[str, Any]:
    encode = []
    for name, message in encode_cases():
        payload = encode_message(message)
        assert decode_message(payload) == message, name
        encode.append({"name": name, "fields": fields(message), **payload_entry(payload)})
    decode = []
    for name, payload in decode_cases():
        message = decode_message(payload)
        decode.append({"name": name, "payload": payload_entry(payload),
                       "fields": fields(message), "canonical": encode_message(message).decode()})
    invalid = []
    for name, payload in invalid_cases():
        try:
            decode_message(payload)
        except RemoteProtocolError as exc:
            invalid.append({"name": name, "payload": payload_entry(payload),
                            "host_error": str(exc)})
        else:
            raise AssertionError(f"the host accepts {name!r}")
    may_refuse = []
    for name, rule, payload in may_refuse_cases():
        message = decode_message(payload)
        may_refuse.append({"name": name, "rule": rule, "payload": payload_entry(payload),
                           "host_fields": fields(message)})
    return {
        "about": "Payloads (docs/link-protocol.md section 3). 'encode': a message's fields -> "
                 "the exact payload every implementation writes (hex, and text). 'decode': "
                 "payloads that are not written canonically -> the message's fields (all of "
                 "them, defaults included) and its canonical payload. 'invalid': payloads every "
                 "receiver refuses. 'may_refuse': payloads no sender writes, which the host "
                 "accepts (host_fields) and a receiver may refuse (section 3, 'What a "
                 "receiver may refuse'); the Java library refuses them. Made by "
                 + COMMAND + ".",
        "encode": encode,
        "decode": decode,
        "invalid": invalid,
        "may_refuse": may_refuse,
    }


# -- link conversations ----------------------------------------------------------------

IDENTITY = Hello("terminal", 2, "", serial="T-1", model="M", app_version="9",
                 condition_codes=("00", "82"))
DEFAULT_TIMERS = LinkTimers(rto=0.3, max_retries=6, heartbeat_interval=0.5, dead_after=2.0)
S1, S2 = "5e55101000000001", "5e55102000000002"


def host_hello(session: str = S1, version: int = 2, idle: int = 2000) -> Hello:
    return Hello("host", version, session, app_version="0.1.0", idle_heartbeat_ms=idle)


def frame(*messages: Message) -> bytes:
    return b"".join(encode_frame(encode_message(m)) for m in messages)


def timers_entry(timers: LinkTimers) -> dict[str, Any]:
    return {"rto": timers.rto, "max_retries": timers.max_retries,
            "heartbeat_interval": timers.heartbeat_interval, "dead_after": timers.dead_after,
            "idle_heartbeat": timers.idle_heartbeat}


def event_entry(event: Event) -> dict[str, Any]:
    if isinstance(event, LinkUp):
        return {"event": "link_up", "peer": encode_message(event.peer).decode()}
    if isinstance(event, MessageReceived):
        return {"event": "message_received", "message": encode_message(event.message).decode()}
    assert isinstance(event, LinkDown)
    return {"event": "link_down", "reason": event.reason}


def payload_texts(data: bytes) -> list[str]:
    return [text(p) or "hex:" + p.hex() for p in FrameDecoder().feed(data)]


class Conversation:
    """A timeline of one terminal LinkConnection: what goes in, what comes out."""

    def __init__(self, name: str, about: str, timers: LinkTimers = PRODUCTION_TIMERS) -> None:
        self.name, self.about, self.timers = name, about, timers
        self.link = LinkConnection(Role.TERMINAL, IDENTITY, timers)
        self.steps: list[dict[str, Any]] = []

    def _step(self, step: dict[str, Any], events: list[Event]) -> None:
        out = self.link.data_to_send()
        deadline = self.link.next_deadline()
        step.update({
            "out": hexs(out),
            "out_payloads": payload_texts(out),
            "events": [event_entry(e) for e in events],
            "state": self.link.state.value,
            "next_deadline": deadline,
        })
        self.steps.append(step)

    def feed(self, t: float, data: bytes, note: str = "") -> Conversation:
        step: dict[str, Any] = {"t": t, "in": hexs(data), "in_payloads": payload_texts(data)}
        if note:
            step["note"] = note
        self._step(step, self.link.receive_data(data, t))
        return self

    def host(self, t: float, *messages: Message, note: str = "") -> Conversation:
        return self.feed(t, frame(*messages), note)

    def timers_at(self, t: float | None = None, note: str = "") -> Conversation:
        """Fire the timers at ``t``, or at the next deadline."""
        if t is None:
            deadline = self.link.next_deadline()
            assert deadline is not None
            t = deadline
        step: dict[str, Any] = {"t": t, "timers": True}
        if note:
            step["note"] = note
        self._step(step, self.link.handle_timers(t))
        return self

    def send(self, t: float, message: AppMessage, note: str = "") -> Conversation:
        step: dict[str, Any] = {"t": t, "send": encode_message(message).decode()}
        if note:
            step["note"] = note
        self.link.send(message, t)
        self._step(step, [])
        return self

    def close(self, t: float, reason: str) -> Conversation:
        self._step({"t": t, "close": reason}, self.link.close(reason))
        return self

    def entry(self) -> dict[str, Any]:
        s, d = self.link.stats, self.link.decoder_stats
        assert isinstance(d, DecoderStats)
        return {
            "name": self.name,
            "about": self.about,
            "timers": timers_entry(self.timers),
            "steps": self.steps,
            "stats": {
                "frames_sent": s.frames_sent, "frames_received": s.frames_received,
                "retransmissions": s.retransmissions, "duplicates": s.duplicates,
                "out_of_order": s.out_of_order, "bad_messages": s.bad_messages,
            },
            "decoder_stats": stats_entry(d),
        }


def reply(rid: int) -> Reply:
    return Reply(rid, f"invoice-{rid}", True)


def conversations() -> list[Conversation]:
    out: list[Conversation] = []

    def new(name: str, about: str, timers: LinkTimers = PRODUCTION_TIMERS) -> Conversation:
        c = Conversation(name, about, timers)
        out.append(c)
        return c

    new("handshake", "the host's hello opens the session; heartbeats every 2 s once agreed")\
        .timers_at(0.0, note="no session: no timer runs")\
        .host(0.1, host_hello())\
        .timers_at()\
        .host(2.5, Heartbeat())\
        .timers_at()\
        .timers_at(4.2, note="early: nothing is due")

    new("repeated hello", "the host repeats its hello: answered again, nothing else changes")\
        .host(0.0, host_hello())\
        .host(0.3, host_hello())\
        .host(0.4, Data(1, Query(1, "r")))\
        .host(0.5, host_hello(idle=5000), note="a repeat does not agree afresh")\
        .host(0.6, Data(2, Query(2, "r")), note="sequence numbers go on")

    new("repeated hello in version 1", "a repeat in an older version the terminal speaks: "
        "answered in it, the session goes on", DEFAULT_TIMERS)\
        .host(0.0, host_hello(idle=0))\
        .host(0.1, Data(1, Query(1, "r")))\
        .host(0.2, host_hello(version=1, idle=0))\
        .host(0.3, Data(2, Query(2, "r")))

    new("bare application message", "an application message outside data while a session is "
        "up: not acted on, not acknowledged, but a sign of life", DEFAULT_TIMERS)\
        .host(0.0, host_hello(idle=0))\
        .timers_at(0.5)\
        .host(1.9, Sale(1, "invoice-1", 100, "82"))\
        .timers_at(2.0, note="alive: the bare sale was the last sign of life")\
        .timers_at(3.9)

    new("new session", "a hello with another session ends the current one and starts afresh")\
        .host(0.0, host_hello(S1))\
        .host(0.1, Data(1, Sale(1, "invoice-1", 100, "82")))\
        .send(0.1, reply(1))\
        .host(0.2, host_hello(S2, idle=0), note="the host restarted")\
        .timers_at(0.5, note="the old session's reply is forgotten: no retransmission")\
        .host(0.6, Data(1, Query(2, "invoice-1")), note="seq starts again at 1")\
        .send(0.6, QueryResult(2, "invoice-1", True, "pending", "09", "", 100, "82", 0),
              note="and so does the terminal's")\
        .host(0.7, Ack(1))

    new("version 1 host", "a host that offers version 1 gets a version 1 session")\
        .host(0.0, host_hello(version=1))\
        .host(0.1, Data(1, Batch(1)))\
        .host(0.2, host_hello(version=1), note="repeated")

    new("version 3 host", "a newer host gets this end's version and no session, then says "
        "hello again in version 2")\
        .host(0.0, host_hello(version=3))\
        .host(0.1, Data(1, Query(1, "r")), note="no session: an empty-session hello")\
        .host(0.3, host_hello(version=2))\
        .host(0.4, Data(1, Query(1, "r")))

    new("version 0 host", "a version this end does not speak opens no session")\
        .host(0.0, host_hello(version=0))\
        .timers_at(2.0)

    new("version 3 hello while up", "an unsupported hello is answered but the session stays")\
        .host(0.0, host_hello(S1))\
        .host(0.1, host_hello(S2, version=3))\
        .host(0.2, Data(1, Query(1, "r")), note="the first session goes on")

    new("idle heartbeat 2000", "the host proposes 2000 ms: heartbeat every 2 s, dead after 6 s")\
        .host(0.0, host_hello(idle=2000))\
        .timers_at()\
        .timers_at()\
        .timers_at()

    new("idle heartbeat 0", "the host proposes none: 0.5 s heartbeats, dead after 2 s")\
        .host(0.0, host_hello(idle=0))\
        .timers_at().timers_at().timers_at().timers_at()

    new("idle heartbeat 100", "a proposal quicker than the heartbeat interval is raised to it")\
        .host(0.0, host_hello(idle=100))\
        .timers_at().timers_at().timers_at().timers_at()

    new("idle heartbeat 5000", "a proposal slower than this end accepts is lowered to 2000")\
        .host(0.0, host_hello(idle=5000))\
        .timers_at().timers_at().timers_at()

    new("idle heartbeat 700", "an interval that is not a whole number of seconds")\
        .host(0.0, host_hello(idle=700))\
        .timers_at().timers_at().timers_at()

    new("no idle heartbeat here", "a terminal that accepts none answers 0 whatever the host "
        "proposes", DEFAULT_TIMERS)\
        .host(0.0, host_hello(idle=2000))\
        .timers_at().timers_at().timers_at().timers_at()

    new("data delivery", "in-order delivery and an ack for every data")\
        .host(0.0, host_hello())\
        .host(0.1, Data(1, Sale(1, "invoice-1", 100, "82")))\
        .host(0.2, Data(1, Sale(1, "invoice-1", 100, "82")), note="a duplicate")\
        .host(0.3, Data(3, Query(3, "invoice-1")), note="a gap: seq 2 is missing")\
        .host(0.4, Data(2, Cancel(2, "invoice-1")))\
        .host(0.5, Data(3, Query(3, "invoice-1")), note="the retransmission after the gap")\
        .host(0.6, Data(4, Totals(4)), Data(5, Void(5, "invoice-1")), Data(4, Totals(4)),
              note="three in one read")

    c = new("retransmission", "unacknowledged data is sent again, all of it, every rto")
    c.host(0.0, host_hello()).send(0.1, reply(1)).send(0.2, reply(2)).timers_at()
    c.host(0.45, Ack(0), note="an ack that forgets nothing changes nothing").timers_at()
    c.host(0.75, Ack(1), note="progress: the retry count starts again").timers_at()
    c.host(1.1, Ack(2), note="all acknowledged: the timer stops").timers_at()

    c = new("giving up", "after 6 retransmission rounds without progress the link is down")
    c.host(0.0, host_hello()).send(0.1, reply(1))
    for _ in range(7):
        c.timers_at()
    c.host(2.3, Heartbeat(), note="closed: ignored")

    new("dead peer", "nothing valid received for dead_after: the link is down",
        DEFAULT_TIMERS)\
        .host(0.0, host_hello(idle=0))\
        .host(1.5, Heartbeat())\
        .timers_at(2.0)\
        .timers_at(3.5)\
        .host(3.6, Data(1, Query(1, "r")), note="closed: nothing comes out")

    new("outside a session", "before any hello: data, ack, heartbeat and a bare application "
        "message are answered with an empty-session hello; a terminal hello is ignored")\
        .host(0.0, Heartbeat(), note="the docs' section 7 example")\
        .host(0.1, Data(1, Sale(1, "invoice-1", 100, "82")))\
        .host(0.2, Ack(1))\
        .host(0.3, Totals(1))\
        .host(0.4, Hello("terminal", 2, S1))\
        .timers_at(5.0)

    new("invalid payloads", "intact frames whose payload is invalid: dropped, no ack, no sign "
        "of life", DEFAULT_TIMERS)\
        .host(0.0, host_hello(idle=0))\
        .feed(0.5, encode_frame(b'{"k":"data","seq":1,"m":{"k":"sale"}}'))\
        .feed(0.6, encode_frame(b'{"k":"data","seq":1,"m":{"k":"hb"}}')
              + encode_frame(b'{"k":"ack","seq":true}') + encode_frame(b"\xff")
              + encode_frame(b"{'k':'hb'}"))\
        .host(0.7, Data(1, Query(1, "r")), note="the next valid data is delivered")\
        .feed(2.6, encode_frame(b'{"k":"hb","x":' + b"[" * 4000 + b"]" * 4000 + b"}"))\
        .timers_at(2.7, note="dead: the invalid frame was no sign of life")

    hello_frame = frame(host_hello())
    data_frame = frame(Data(1, Query(1, "r")))
    new("garbage and split frames", "frames arrive in pieces, with garbage around them")\
        .feed(0.0, b"garbage\xa5" + hello_frame[:5])\
        .feed(0.1, hello_frame[5:30])\
        .feed(0.2, hello_frame[30:] + b"\x00\xa5\x5a\xff" + data_frame[:1])\
        .feed(0.3, data_frame[1:] + b"\x00" + data_frame[:-1] + b"\x00")

    new("closed by the app", "close() reports the link down once; nothing happens after")\
        .host(0.0, host_hello())\
        .close(0.1, "the stream closed")\
        .close(0.2, "again")\
        .host(0.3, Data(1, Query(1, "r")))\
        .timers_at(9.0)

    return out


def link_file() -> dict[str, Any]:
    return {
        "about": "Conversations with the terminal's end of the link (docs/link-protocol.md "
                 "sections 4-7), as timelines. Make a terminal LinkConnection with 'identity' "
                 "and the conversation's 'timers', then for each step at time 't' (seconds): "
                 "feed 'in' (hex), or fire the timers ('timers': true), or send the "
                 "application message 'send' (its payload), or close with reason 'close'. "
                 "After each step the connection has written 'out' (hex; 'out_payloads' for "
                 "reading), emitted 'events', is in 'state', and its next deadline is "
                 "'next_deadline' (null: none). At the end its stats are 'stats' and "
                 "'decoder_stats'. Made by " + COMMAND + ".",
        "identity": encode_message(IDENTITY).decode(),
        "conversations": [c.entry() for c in conversations()],
    }


# -- terminal.json: what a terminal must make as the simulator makes it ------------------

def qr_cases() -> list[dict[str, Any]]:
    from posbridge.simulator.qr import progress_for

    cases = [("82", 100, "invoice-123456789"), ("82", 1250, "a-reference-longer-than-25-chars"),
             ("82", 5, "x"), ("82", 123456789, "caf\u00e9 \U0001F600 ref"),
             ("30", 1250, "a b/c&d=e?f~g_h.i-j"), ("20", 99, "inv-20"), ("50", 100000, "inv-50"),
             ("99", 100, "not-a-qr-method")]
    out = []
    for code, amount, ref in cases:
        shown = progress_for(ref, amount, code)
        out.append({"condition_code": code, "amount": amount, "ref": ref,
                    "stage": shown.stage, "qr_payload": shown.qr_payload})
    return out


def state_case() -> dict[str, Any]:
    """A state file as `posbridge simulator --state` writes it, and the totals it gives."""
    import tempfile

    from posbridge.simulator.model import SimPayment, SimRefund, TerminalModel, receipt_copies

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "terminal.json"
        model = TerminalModel(state_path=path)
        sale = ["kind=sale", "method=PayNow", "account=wallet ****ef-1", "transaction_id=t1",
                "terminal_id=SIM-000001", "merchant_id=SIM-MERCHANT-0001",
                "time=2026-12-01T22:30:21Z", "amount=10.00", "status=approved"]
        for p in (
            SimPayment("ref-1", 1000, "82", "approved", "00", "t1", 1, 1764628221.25, sale, [], 0),
            SimPayment("ref-2", 250, "82", "approved", "00", "t2", 0, 1764628300.5, [], [], 1),
            SimPayment("ref-3", 100, "30", "voided", "VD", "t3", 0, 1764628400.0, [], sale, 1),
            SimPayment("ref-4", 551, "82", "declined", "51", "t4", 0, 1764628500.125, [], [], 1),
            SimPayment("ref-5", 700, "20", "approved", "00", "t5", 0, 1764628600.0, [], [], 0),
            SimPayment("r\u00e9f-\"6\"\n", 1, "50", "pending", "09", "", 0, 1764628700.0, [],
                       [], 1),
        ):
            model.payments[p.ref] = p
        for r in (SimRefund("c-1", "ref-1", 40, "approved", "rt1", [], 1),
                  SimRefund("c-0", "ref-1", 10, "approved", "rt0", sale, 0)):
            model.refunds[r.refund_ref] = r
        model.batches = {"3f9c2a7e51d04b88": {"batch_number": 1, "count": 1, "total": 1000,
                                              "refs": ["ref-1"]}}
        model.batch_number = 1
        model._save()
        text = path.read_text()
        totals = model.totals(7)
        merchant, customer = receipt_copies(sale)
    return {"file": text, "totals_rid": 7, "since_batch": totals.since_batch,
            "totals_rows": list(totals.rows),
            "receipt": {"fields": sale, "merchant_copy": list(merchant),
                        "customer_copy": list(customer)}}


def terminal_file() -> dict[str, Any]:
    return {
        "about": "What a terminal makes that posbridge's simulator also makes, so that the Java "
                 "demo terminal is interchangeable with `posbridge simulator` "
                 "(src/posbridge/simulator): 'qr', the QR payload of a sale's progress "
                 "(qr.progress_for: EMVCo/SGQR for PayNow, an .invalid URL for the other QR "
                 "methods, none for a method posbridge does not know as QR); 'state', a --state "
                 "file as model.py writes it (byte for byte), the totals_result rows its records "
                 "give (TerminalModel.totals), and a receipt's printed copies "
                 "(receipt_copies). Made by " + COMMAND + ".",
        "qr": qr_cases(),
        "state": state_case(),
    }


# -- files -----------------------------------------------------------------------------

FILES: dict[str, Callable[[], dict[str, Any]]] = {
    "frames.json": frames_file,
    "messages.json": messages_file,
    "link.json": link_file,
    "terminal.json": terminal_file,
}


def render(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build() -> dict[str, bytes]:
    """Every vector file's name and content."""
    return {name: render(make()) for name, make in FILES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    stale = []
    for name, content in build().items():
        path = VECTORS / name
        if path.exists() and path.read_bytes() == content:
            continue
        stale.append(name)
        if not args.check:
            VECTORS.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    if args.check and stale:
        print(f"stale: {', '.join(stale)}; run {COMMAND}", file=sys.stderr)
        return 1
    for name in stale:
        print(f"wrote spec/vectors/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

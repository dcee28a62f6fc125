"""The hostile-input corpus: ``python -m tests.data.hostile_events`` writes ``hostile_events.jsonl``.

Each case is one line of raw bytes (invalid UTF-8, raw CR, BOMs, duplicate keys, non-finite and
over-long numbers, deep nesting, odd user ids, ...) with the verdict per record that the job must
give it: ``applied``, ``parse`` (dead letter, invalid) or ``late``. Lines follow JSON Lines: only
``\\n`` ends a record, so a raw CR is JSON whitespace inside its event. The rules are in
docs/events.md.
"""
from __future__ import annotations

import json
from pathlib import Path

T0 = 1767225820593
PATH = Path(__file__).with_name("hostile_events.jsonl")


def event(user: str = "h1", t: int | str = T0, n: int = 0, extra: str = "", item: str = '"i1"',
          raw: bool = False) -> str:
    """A view event as JSON text; ``user`` is JSON-encoded, or inserted as written when it starts
    with a quote or ``raw`` is set."""
    uid = user if raw or user.startswith('"') else json.dumps(user, ensure_ascii=False)
    return (f'{{"event_id":"e{n}","user_id":{uid},"item_id":{item},"event_type":"view",'
            f'"event_time":{t}{extra}}}')


def _cases() -> list[tuple[bytes, list[str]]]:
    ok, bad = ["applied"], ["parse"]
    u = lambda s: s.encode("utf-8")  # noqa: E731
    return [
        (u(event(n=1)), ok),
        (u(event(t=f"{T0 + 1}.0", n=2)), ok),                        # integer in value, float in form
        (u(event(t="1.767225820594e12", n=3)), ok),
        (u(event(n=4, extra=',"dwell_ms":1500.0')), ok),
        (u(event(t=f"{T0}.5", n=5)), bad),                           # not an integer
        (u(event(n=6, extra=',"event_type":"rating","rating":4.0')), bad),  # duplicate event_type
        (u(event(n=7)).replace(b'"h1"', b'"h\xff1"'), bad),          # invalid UTF-8 in the user id
        (u(event(n=8)).replace(b'"i1"', b'"i\xc0\xaf1"'), bad),      # overlong encoding in the item id
        (u(event(n=9)).replace(b'"h1"', b'"h\xed\xa0\x801"'), bad),  # an encoded surrogate
        (u(event('"h\ufffd1"', n=10)), bad),                           # U+FFFD is indistinguishable from a bad byte
        (u(event(n=11)).replace(b',"item_id"', b',\r"item_id"'), ok),     # a raw CR is JSON whitespace
        (u(event(n=49)).replace(b'"h1"', b'"h\r1"'), bad),          # a raw CR inside a string is not
        (u(event(n=50)) + b"\r\r", ok),                              # CR CR LF: one CR dropped, one whitespace
        (u(event(n=12)) + b"\r", ok),                                # CRLF line end
        (u(event(n=13, extra=',"rating":NaN')), bad),
        (u(event(n=14, extra=',"rating":Infinity')), bad),
        (u(event(n=15, extra=',"context":{"x":-Infinity}')), bad),
        (u(event(n=16, extra=',"context":{"x":1e400}')), bad),       # overflows a double
        (u(event("attacker", n=17, extra=',"user_id":"victim"')), bad),
        (u(event(n=18, extra=',"context":{"a":1,"a":2}')), bad),
        (u(event('"h\\ud800"', n=19)), bad),                         # lone surrogate escape
        (u(event('"h\\udc00x"', n=20)), bad),
        (u(event('"h\\ud83d\\ude00"', n=21)), ok),                   # a surrogate pair is one character
        (u(event("h\U0001F600", n=22)), ok),
        (u(event("\ufeffh2", n=23)), ok),                            # U+FEFF opening the user id
        (u(event('"\\ufeffh3"', n=24)), ok),
        (u(event("x\ufeffh4", n=25)), ok),
        (b"\xef\xbb\xbf" + u(event(n=26)), bad),                     # a byte-order mark before the JSON
        (u(event(n=27, extra=',"context":{"n":%s}' % ("7" * 5000))), bad),
        (u(event(n=28, extra=',"context":{"n":%s}' % ("7" * 101))), bad),
        (u(event(n=29, extra=',"context":{"n":%s}' % ("7" * 99))), ok),
        (u(event(n=30, extra=',"context":{"n":%s}' % ("[" * 40 + "]" * 40))), bad),
        (u(event(n=31, extra=',"context":{"n":%s}' % ("[" * 20 + "]" * 20))), ok),
        (u(event(n=32, extra=',"context":{"n":%s}' % ("[" * 3000 + "]" * 3000))), bad),
        (u(event(n=33, extra=',"context":{"s":"%s"}' % ("[" * 100))), ok),  # brackets inside a string
        (u(event('"tab\\there"', n=34)), ok),
        (u(event('"nl\\nhere"', n=35)), ok),
        (u(event('"back\\\\slash\\\\t"', n=36)), ok),
        (u(event('"quo\\"te"', n=37)), ok),
        (u(event("line\u2028sep", n=38)), ok),
        (u(event('"nul\\u0000x"', n=39)), ok),
        (u(event(" spaced ", n=40)), ok),
        (u(event(n=41)).replace(b'"user_id"', b'"user\\u005fid"'), ok),  # an escaped key name
        (b"", bad),
        (b"   \t ", bad),
        (b"null", bad), (b"[]", bad), (b"123", bad), (b'"str"', bad),
        (u(event(n=42)) + b" x", bad),                               # trailing garbage
        (b"{'user_id':'h1'}", bad),
        (u(event('"ctl\x01x"', n=43)), bad),                           # raw control character
        (u(event(n=44)).replace(b",", b",\x0c", 1), bad),            # form feed is not JSON whitespace
        (u(event(n=45)).replace(b",", "\u00a0,".encode(), 1), bad),
        (u(event(n=46)).replace(b",", b"/*c*/,", 1), bad),
        (u(event('123', n=47, raw=True)), bad), (u(event('null', n=48, raw=True)), bad),
        (u(event("u" * 129, n=49)), bad),
        (u(event(t="true", n=50)), bad), (u(event(t="-1", n=51)), bad), (u(event(t="1e300", n=52)), bad),
        (u(event(n=53).replace('"view"', '"rating"')), bad),
        (u(event(n=54, extra=',"tags":["a",1]')), bad),
        (u(event(n=55, extra=',"context":{"pad":"%s"}' % ("p" * 70000))), bad),  # too large
        (u(event(t=T0 - 3_600_000, n=56)), ["late"]),                # an hour behind h1's newest event
        (u(event(n=57, extra=',"event_type":"rating","rating":4.0')).replace(b'"event_type":"view",', b""), ok),
    ]


CASES = _cases()


def write(path: Path = PATH) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line, _ in CASES))
    return path


def expected_verdicts() -> list[str]:
    return [v for _, verdicts in CASES for v in verdicts]


if __name__ == "__main__":
    print(write())

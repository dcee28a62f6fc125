"""Property-based tests of parse/validate and of stream = backfill on generated hostile events
(bytes, unicode, numbers, nesting, duplicate keys): no input raises, an accepted event is clean,
and the stream's fold and the batch fold give every record the same verdict."""
import json
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recstream.backfill import read_lines
from recstream.replay import count_lines
from udfs.events import MAX_DEPTH, REPLACEMENT, try_parse_event
from udfs.features.batch import fold_with_items
from udfs.features.bucket_fold import escape_key, fold_bucket
from udfs.features.params import FeatureParams
from udfs.features.runtime import FoldOptions, FoldRuntime

P = FeatureParams(allowed_lateness_ms=60_000)
T0 = 1_767_225_820_593
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every code point, lone surrogates and U+FFFD / U+FEFF / U+2028 included
any_char = st.characters(codec=None, exclude_categories=())
tricky_text = st.one_of(
    st.text(any_char, max_size=12),
    st.sampled_from(["u1", "u2", "\ufeffu1", "u1\ufffd", "a\tb", "a\\tb", "a\nb", "\x00", " u1 ", "\u2028",
                     "\U0001F600", "\ud800", "x\udc00", "é", "u" * 129, ""]),
)
numbers = st.one_of(
    st.integers(min_value=-10, max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=2**53).map(float),  # integer in value, float in form
    st.sampled_from([T0, T0 + 1, float(T0), 1e400, -0.0, math.nan, math.inf, 2.5, True, False, None]),
)
json_values = st.recursive(
    st.one_of(numbers, tricky_text, st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(tricky_text, inner, max_size=3)),
    max_leaves=8,
)


def _encode(value, ascii_only: bool, dup: bool) -> str:
    """JSON text of ``value`` as a hostile writer might produce it: NaN/Infinity, either escaping
    style, and (``dup``) each object's first key repeated with another value."""
    if isinstance(value, dict):
        items = [f"{_encode(k, ascii_only, dup)}:{_encode(v, ascii_only, dup)}" for k, v in value.items()]
        if dup and value:
            items.append(f"{_encode(next(iter(value)), ascii_only, dup)}:0")
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v, ascii_only, dup) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


@st.composite
def hostile_events(draw) -> str:
    """A line of text: an event-shaped object with hostile fields, sometimes damaged further."""
    event = {"event_id": draw(st.sampled_from(["e1", "e2"])), "user_id": draw(tricky_text),
             "item_id": draw(st.sampled_from(["i1", "i2", "i\ufeff"])),
             "event_type": draw(st.sampled_from(["view", "click", "rating", "teleport"])),
             "event_time": draw(st.one_of(st.integers(T0, T0 + 10**7), numbers))}
    if draw(st.booleans()):
        event["rating"] = draw(numbers)
    if draw(st.booleans()):
        event["dwell_ms"] = draw(numbers)
    if draw(st.booleans()):
        event["context"] = draw(json_values)
    if draw(st.booleans()):
        event["user_id"] = draw(st.sampled_from(["u1", "u2", "u3"]))  # a valid id, so some events apply
    text = _encode(event, draw(st.booleans()), draw(st.integers(0, 4)) == 0)
    damage = draw(st.integers(0, 5))
    if damage == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(any_char, min_size=1, max_size=3)) + text[at:]
    elif damage == 1:
        depth = draw(st.integers(MAX_DEPTH - 2, MAX_DEPTH + 2))
        text = text[:-1] + ',"deep":' + "[" * depth + "]" * depth + "}"
    return text


@st.composite
def damaged_bytes(draw) -> bytes:
    """A valid event with bytes that are not UTF-8 inside one of its strings."""
    text = json.dumps({"event_id": "e1", "user_id": draw(st.sampled_from(["u1", "u2"])), "item_id": "i1",
                       "event_type": "view", "event_time": T0}).encode()
    bad = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80",
                                b"\xf4\x90\x80\x80"]))
    at = text.index(draw(st.sampled_from([b'"u', b'"i1', b'"e1', b'"view']))) + 2
    return text[:at] + bad + text[at:]


def _as_read(text: str) -> list[str]:
    """The records a file holding ``text`` yields (UTF-8 on disk, replaced when undecodable)."""
    data = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return [line[:-1] if line.endswith("\r") else line for line in data.split("\n")]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _numbers(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


@SETTINGS
@given(st.one_of(hostile_events(), st.text(any_char, max_size=40), st.binary(max_size=60)))
def test_parse_never_raises_and_an_accepted_event_is_clean(payload):
    event, reason = try_parse_event(payload)
    assert (event is None) != (reason is None)
    if event is None:
        assert isinstance(reason, str) and reason
        return
    assert type(event["event_time"]) is int and type(event.get("dwell_ms", 0)) is int
    for s in _strings(event):
        s.encode("utf-8")  # no lone surrogate anywhere
    raw = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    assert REPLACEMENT not in raw  # a bad byte as a file reader decodes it (an escaped \ufffd is text)
    assert all(math.isfinite(x) for x in _numbers(event))
    # stable: the stored form of an accepted event is itself accepted as the same event
    assert try_parse_event(json.dumps(event, allow_nan=False)) == (event, None)
    # no ambiguity left for a lenient reader (last duplicate wins, NaN allowed), as the stream's SQL is
    assert json.loads(raw)["user_id"] == event["user_id"]


@SETTINGS
@given(st.one_of(hostile_events().map(lambda t: t.encode("utf-8", "surrogatepass")), damaged_bytes(),
                 st.binary(max_size=60)))
def test_strict_and_replacing_decoders_give_the_same_verdict(data):
    """Bytes checked strictly (a producer's payload) and bytes as the file readers decode them
    (bad bytes become U+FFFD) are accepted or rejected alike."""
    strict, _ = try_parse_event(data)
    replaced, _ = try_parse_event(data.decode("utf-8", "replace"))
    assert (strict is None) == (replaced is None)
    assert strict == replaced


def _event_with(field: str, number: str) -> str:
    time = "" if field == "event_time" else f'"event_time":{T0},'
    return f'{{"event_id":"e","user_id":"u","item_id":"i","event_type":"view",{time}"{field}":{number}}}'


@SETTINGS
@given(st.sampled_from(["event_time", "dwell_ms"]), st.integers(min_value=0, max_value=2**53),
       st.sampled_from(["{}.0", "{}.000", "{}e0", "{}.0E+0"]))
def test_integer_valued_floats_are_integers(field, n, form):
    """One rule for both integer fields: an integer in value is an integer, whatever its form."""
    as_float, _ = try_parse_event(_event_with(field, form.format(n)))
    as_int, _ = try_parse_event(_event_with(field, str(n)))
    assert as_float == as_int
    if n <= 86_400_000:
        assert as_int is not None
    if as_int is not None:
        assert type(as_float[field]) is int and as_float[field] == n
    assert try_parse_event(_event_with(field, f"{n}.5"))[0] is None


@SETTINGS
@given(st.sampled_from(["event_id", "user_id", "item_id", "event_type", "event_time"]), json_values)
def test_a_duplicate_key_is_rejected_whatever_its_value(key, value):
    text = json.dumps({"event_id": "e", "user_id": "u", "item_id": "i", "event_type": "view", "event_time": T0})
    dup = text[:-1] + f", {json.dumps(key)}: {json.dumps(value, allow_nan=True)}}}"
    event, reason = try_parse_event(dup)
    assert event is None and reason.startswith(("duplicate key", "non-finite", "number", "nested"))


def _no_constant(name):
    raise ValueError(name)


def _routing_id(line: str) -> str:
    """``JSON_VALUE(payload, '$.user_id')`` of the job's SQL as measured on Flink 2.3: no value
    for NaN/Infinity or any invalid JSON, the last of duplicate keys, '?' for a lone surrogate."""
    try:
        doc = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return ""
    uid = doc.get("user_id") if isinstance(doc, dict) else None
    return re.sub("[\ud800-\udfff]", "?", uid) if isinstance(uid, str) else ""


def _stream_records(lines: list[str]) -> str:
    """The records string the job's SQL hands the fold, as the fold receives it: a string that
    opens with U+FEFF loses it between Java and Python."""
    records = "\n".join(escape_key(_routing_id(line)) + "\t" + line for line in lines)
    return records[1:] if records.startswith("\ufeff") else records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_events(), min_size=1, max_size=12))
def test_stream_fold_and_backfill_fold_agree_on_every_record(texts):
    lines = [rec for t in texts for rec in _as_read(t)]
    rt = FoldRuntime(FoldOptions(), P)
    batch = fold_with_items(lines, P, rt, items=False)
    states: dict = {}
    out = fold_bucket(_stream_records(lines), states, P, FoldRuntime(FoldOptions(), P), score_input=False)
    assert out.seen == len(lines) == out.applied + out.invalid + out.late
    assert sorted(r for _, r, _, _ in out.dead if not r.startswith("late")) == sorted(r for _, r in batch.dead)
    assert out.late == len(batch.late) and out.invalid == len(batch.dead)
    assert {k: (s.seq, s.last_ts) for k, s in states.items()} == {
        k: (s.seq, s.last_ts) for k, s in batch.states.items()}
    assert not any(r.startswith("ambiguous") for _, r, _, _ in out.dead)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80).map(lambda b: b.replace(b"a", b"\r").replace(b"b", b"\n")))
def test_the_line_count_matches_the_lines_read(tmp_path_factory, data):
    """``run`` counts events in with count_lines; backfill reads with read_lines: the same records."""
    path = tmp_path_factory.mktemp("lines") / "x.jsonl"
    path.write_bytes(data)
    assert count_lines(path) == len(list(read_lines(path)))


def _called_at_depth(frames: int, f):
    return f() if frames == 0 else _called_at_depth(frames - 1, f)


@SETTINGS
@given(st.integers(0, 3000), st.sampled_from(["[", '{"a":']), st.sampled_from(["close", "garbage", "open"]))
def test_a_nesting_verdict_does_not_depend_on_the_callers_stack(depth, opener, end):
    """Python's parser runs out of stack at a depth that depends on its caller (a Flink worker,
    a backfill): the verdict and its reason must not."""
    closer = "]" if opener == "[" else "}"
    inner = opener * depth + "1" + {"close": closer * depth, "garbage": "x", "open": ""}[end]
    text = ('{"event_id":"e","user_id":"u","item_id":"i","event_type":"view","event_time":%d,"c":%s}'
            % (T0, inner))
    assert _called_at_depth(400, lambda: try_parse_event(text)) == try_parse_event(text)

"""Encodings on the directory's hot paths: the fast JSON codec (which agrees with the standard
library, including where orjson refuses) and time-ordered object IDs."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overcast import jsoncodec


@pytest.mark.parametrize(
    "value",
    [
        {"name": "web", "n": 3, "ok": True, "none": None, "list": [1.5, "é"]},
        {"big": 2**70},  # beyond 64 bits: orjson refuses, the fallback encodes
        {1: "non-string key"},
        [],
    ],
)
def test_dumps_matches_the_standard_library(value: object) -> None:
    assert json.loads(jsoncodec.dumps(value)) == json.loads(json.dumps(value))
    assert jsoncodec.dumpb(value) == jsoncodec.dumps(value).encode()


def test_loads_reads_what_dumps_wrote_and_refuses_invalid_json() -> None:
    value = {"a": [1, 2], "long": 2**63 - 1, "text": "é", "none": None}
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
    assert jsoncodec.loads("NaN") != jsoncodec.loads("NaN")  # the standard library's extension
    with pytest.raises(ValueError):
        jsoncodec.loads(b"{not json")
    with pytest.raises((ValueError, UnicodeDecodeError)):
        jsoncodec.loads(b"\xff\xfe")


def _same(a: object, b: object) -> bool:
    """Equal, with types (1 is not 1.0 nor True) and NaN equal to itself."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


def _standard(raw: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False, None


def _fast(raw: bytes) -> tuple[bool, object]:
    try:
        return True, jsoncodec.loads_untrusted(raw)
    except (ValueError, UnicodeDecodeError):
        return False, None


_EDGE_CASES = [
    b"18446744073709551616",  # 2**64: orjson would read a float
    b"-9223372036854775809",
    b"9223372036854775807",
    b"123456789012345678",  # 18 digits: orjson exact
    b"[1e400, -1e400]",  # orjson refuses, the standard library reads infinities
    b"NaN",
    b"[Infinity]",
    '{"a": "é"}'.encode("utf-16"),  # the standard library detects UTF-16
    b'{"a": 1, "a": 2}',
    b"0.1000000000000000055511151231257827",
    b"-0",
    b"-0.0",
    b"1E2",
    b'{"x": [true, false, null]}',
    b"{not json",
    b"\xff\xfe",
    b"[1,]",
    b"",
    b" ",
]


@pytest.mark.parametrize("raw", _EDGE_CASES)
def test_request_bodies_parse_exactly_as_the_standard_library_does(raw: bytes) -> None:
    ok, expected = _standard(raw)
    fast_ok, found = _fast(raw)
    assert fast_ok == ok and (not ok or _same(found, expected))


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize(
    "raw",
    [
        b'"\\ud800"',
        b'{"name": "a\\udfffb"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
    ],
    ids=["lone surrogate", "lone low surrogate in a name", "100,000-deep array", "5,000-deep object"],
)
def test_request_bodies_no_store_can_keep_are_refused(raw: bytes) -> None:
    """Beyond the standard library: text with a lone surrogate (nothing can encode it) and
    nesting that would exhaust its stack (a RecursionError was a 500) are invalid JSON."""
    assert _fast(raw) == (False, None)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_request_bodies_of_any_shape_parse_exactly(value: object) -> None:
    for raw in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        assert _same(_fast(raw)[1], _standard(raw)[1])


def test_object_ids_are_version_7_uuids_in_time_order() -> None:
    import time
    import uuid

    from overcast.directory.objects import time_ordered_uuid

    first = time_ordered_uuid()
    time.sleep(0.002)
    later = [time_ordered_uuid() for _ in range(100)]
    assert len(set(later)) == 100
    for value in (first, *later):
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert all(first < value for value in later)  # a later millisecond sorts after
    assert abs((uuid.UUID(first).int >> 80) - time.time() * 1000) < 5000

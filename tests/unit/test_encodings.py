"""Encodings on the directory's hot paths: the fast JSON codec (which agrees with the standard
library, including where orjson refuses) and time-ordered object IDs."""

import json

import pytest

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


def test_object_ids_are_version_7_uuids_in_time_order() -> None:
    import time
    import uuid

    from overcast.directory.transaction import time_ordered_uuid

    first = time_ordered_uuid()
    time.sleep(0.002)
    later = [time_ordered_uuid() for _ in range(100)]
    assert len(set(later)) == 100
    for value in (first, *later):
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert all(first < value for value in later)  # a later millisecond sorts after
    assert abs((uuid.UUID(first).int >> 80) - time.time() * 1000) < 5000

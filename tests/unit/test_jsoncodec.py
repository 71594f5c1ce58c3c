"""The fast JSON codec agrees with the standard library, including where orjson refuses."""

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

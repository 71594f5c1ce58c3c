"""JSON encoding for the hot paths (directory rows, change log, API bodies).

orjson is several times faster than the standard library's encoder, which was the directory's
largest single cost in bulk creates. It refuses a few things the standard library accepts
(integers beyond 64 bits, non-string keys, NaN in input): those fall back to :mod:`json`, so
the two always agree on what is valid.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumpb(value: Any) -> bytes:
    """Compact JSON as bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: big integers, non-str keys, ...
        return json.dumps(value, separators=(",", ":")).encode()


def dumps(value: Any) -> str:
    """Compact JSON as text (what a database column stores)."""
    return dumpb(value).decode()


def loads(raw: str | bytes) -> Any:
    """Parse JSON this program wrote; raises ValueError (or UnicodeDecodeError) when invalid.

    Exact for integers within 64 bits (orjson reads larger ones as floats): parse untrusted
    request bodies with :func:`json.loads`; stored integers are 64-bit (``coerce`` refuses more).
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)

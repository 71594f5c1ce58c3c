"""A namespace lab per test, deleted even when the test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.lab import Lab, can_run

#: Marks for tests that need real namespaces (root, iproute2, nftables).
needs_root = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables"),
]


@pytest.fixture
def lab() -> Iterator[Lab]:
    if not can_run():
        pytest.skip("needs root, iproute2 and nftables")
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()

"""The system tier: a namespace lab per test, deleted even when the test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.lab import Lab, can_run


@pytest.fixture
def lab() -> Iterator[Lab]:
    if not can_run():
        pytest.skip("needs root, iproute2 and nftables")
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()

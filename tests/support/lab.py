"""Marks for the system tier's tests that need real namespaces (root, iproute2, nftables)."""

from __future__ import annotations

import pytest

from overcast.lab import can_run

needs_root = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables"),
]

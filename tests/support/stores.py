"""The store back ends tests run against (PostgreSQL ones marked: make test starts a cluster)."""

from __future__ import annotations

import pytest

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

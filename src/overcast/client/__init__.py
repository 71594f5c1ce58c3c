"""Clients of Overcast's own APIs (used by the CLI, benchmarks and tests)."""

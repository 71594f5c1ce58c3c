"""Benchmarks: each is a command that measures real processes and writes its figures to JSON."""

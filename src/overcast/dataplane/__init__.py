"""Dataplane drivers: what a host's desired state becomes (Linux kernel, or memory)."""

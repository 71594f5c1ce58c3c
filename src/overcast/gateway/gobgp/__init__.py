"""GoBGP 3.10 API, generated (scripts/gen_protocol.sh)."""

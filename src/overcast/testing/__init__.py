"""Test and benchmark fixtures that build real things: a PostgreSQL cluster, a served directory."""

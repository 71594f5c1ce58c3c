"""Policy: the pure compiler from directory state to per-host views, and the reachability oracle."""

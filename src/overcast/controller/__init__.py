"""The controller: turns the directory's state into per-host views (compiler in overcast.policy)."""

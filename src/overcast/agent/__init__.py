"""The per-host agent: a controller session, the desired state, a dataplane, a local API."""

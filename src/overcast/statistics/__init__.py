"""Statistics: what the datapaths counted, as VSD's ``statistics`` serve it.

* :mod:`.metrics` — the VSD metric names, which columns hold them, per kind of object (pure);
* :mod:`.counting` — an agent's counters as per-object deltas between two reads (pure);
* :mod:`.rollup` — the controller's buckets: hosts' deltas summed per object and rolled up to
  subnets, zones, domains and hosts (pure);
* :mod:`.series` — a stored range resampled to the data points a caller asks for (pure).

The store's side is :mod:`overcast.directory.statistics_store`.
"""

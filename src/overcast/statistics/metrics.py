"""VSD's statistics metric names and where Overcast keeps them (pure).

Every stored sample has six counters; which VSD metric each one is depends on the kind of
object. IN/OUT are the network's point of view, as VSD's ingress/egress ACLs: *in* is what an
endpoint sent into the network (judged by its ingress policy), *out* what the network delivered
to it (judged by its egress policy); the dropped counts are what those policies dropped.
"""

from __future__ import annotations

#: The stored counters, in column order.
COLUMNS = ("packets_in", "bytes_in", "packets_out", "bytes_out", "packets_in_dropped", "packets_out_dropped")

_TRAFFIC = {
    "PACKETS_IN": "packets_in",
    "BYTES_IN": "bytes_in",
    "PACKETS_OUT": "packets_out",
    "BYTES_OUT": "bytes_out",
    "PACKETS_IN_DROPPED": "packets_in_dropped",
    "PACKETS_OUT_DROPPED": "packets_out_dropped",
}

#: Per kind of object (REST name): VSD metric name -> the column that holds it.
METRICS: dict[str, dict[str, str]] = {
    "vport": _TRAFFIC,
    "subnet": _TRAFFIC,
    "zone": _TRAFFIC,
    "domain": _TRAFFIC,
    "vrs": _TRAFFIC,
    "ingressaclentrytemplate": {"INGRESS_PACKET_COUNT": "packets_in", "INGRESS_BYTE_COUNT": "bytes_in"},
    "egressaclentrytemplate": {"EGRESS_PACKET_COUNT": "packets_out", "EGRESS_BYTE_COUNT": "bytes_out"},
}

#: What a datapath endpoint counter is, in VSD metrics: (counting set, packets or bytes) -> name.
ENDPOINT_COUNTERS: dict[tuple[str, int], str] = {
    ("sent", 0): "PACKETS_IN",
    ("sent", 1): "BYTES_IN",
    ("received", 0): "PACKETS_OUT",
    ("received", 1): "BYTES_OUT",
    ("dropped_sent", 0): "PACKETS_IN_DROPPED",
    ("dropped_received", 0): "PACKETS_OUT_DROPPED",
}

#: An ACL entry's counters per direction: (packets metric, bytes metric) and its REST name.
ENTRY_COUNTERS: dict[str, tuple[str, tuple[str, str]]] = {
    "ingress": ("ingressaclentrytemplate", ("INGRESS_PACKET_COUNT", "INGRESS_BYTE_COUNT")),
    "egress": ("egressaclentrytemplate", ("EGRESS_PACKET_COUNT", "EGRESS_BYTE_COUNT")),
}


def columns_of(kind: str, metrics: dict[str, int]) -> dict[str, int]:
    """A report's metrics for an object of ``kind`` as stored columns (unknown names ignored:
    an older or newer agent may send some this directory does not keep)."""
    known = METRICS.get(kind, {})
    out: dict[str, int] = {}
    for name, value in metrics.items():
        column = known.get(name)
        if column is not None and value > 0:
            out[column] = out.get(column, 0) + value
    return out

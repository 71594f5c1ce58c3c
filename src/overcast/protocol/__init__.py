"""The controller <-> agent protocol: generated gRPC code, the codec, channel settings."""

#: Both ends of a session. Snapshots of big domains exceed gRPC's 4 MB default message size;
#: HTTP/2 keepalive pings find a dead peer within ~15 s.
CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", 512 * 1024 * 1024),
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
]

#: The controller's server: it sends snapshots (large) but receives only Hellos, acks, reports and
#: endpoint requests, each well under a kilobyte. A bound stops one peer from making the
#: controller hold arbitrary amounts (two 150 MB Ack errors once grew it to 1.6 GB).
MAX_AGENT_MESSAGE = 64 * 1024
SERVER_OPTIONS: list[tuple[str, int | str]] = [
    *(o for o in CHANNEL_OPTIONS if o[0] != "grpc.max_receive_message_length"),
    ("grpc.max_receive_message_length", MAX_AGENT_MESSAGE),
]

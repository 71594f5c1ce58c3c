"""Reading the kernel's NFLOG: the packets an nftables ``log group N`` statement copies to
user space, one socket per domain namespace (NFLOG instances are per network namespace).

pyroute2, which the rest of the datapath uses for netlink, has no NFLOG messages, and ulogd2
would be a daemon per namespace: the protocol is small (a bind, a mode, then packet messages
of a few attributes), so it is spoken here with ``socket`` and ``struct``. Linux's
``include/uapi/linux/netfilter/nfnetlink_log.h`` defines every number used.

:func:`parse_messages` is pure (bytes in, :class:`LoggedPacket` out) and unit-tested;
:class:`NflogSocket` does the I/O.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .netns import in_netns

log = logging.getLogger("overcast.dataplane.nflog")

NETLINK_NETFILTER = 12
_SUBSYS_ULOG = 4
_MSG_PACKET = (_SUBSYS_ULOG << 8) | 0
_MSG_CONFIG = (_SUBSYS_ULOG << 8) | 1
_NLM_F_REQUEST, _NLM_F_ACK = 0x1, 0x4
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
# config attributes and commands
_CFG_CMD, _CFG_MODE, _CFG_NLBUFSIZ, _CFG_TIMEOUT, _CFG_QTHRESH = 1, 2, 3, 4, 5
_CMD_BIND = 1
_COPY_PACKET = 2
# packet attributes
_ATTR_TIMESTAMP, _ATTR_PAYLOAD, _ATTR_PREFIX = 3, 9, 10
_ATTR_INDEV, _ATTR_OUTDEV = 4, 5

#: The group Overcast's rules log to (one per namespace, so any number does).
GROUP = 7
#: Bytes of each packet copied: the IPv4 header with options and the ports.
COPY_RANGE = 96
#: The socket's receive buffer: ~2,000 logged packets; past it the kernel drops and the next
#: read says how (ENOBUFS), which is counted.
RECEIVE_BUFFER = 1 << 20


@dataclass(frozen=True)
class LoggedPacket:
    prefix: str
    protocol: int
    source: str
    destination: str
    source_port: int | None
    destination_port: int | None
    length: int  # the IP packet's total length
    timestamp: float | None  # the kernel's, when it stamped the packet


def _attributes(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _packet(attributes: dict[int, bytes]) -> LoggedPacket | None:
    payload = attributes.get(_ATTR_PAYLOAD, b"")
    if len(payload) < 20 or payload[0] >> 4 != 4:
        return None  # not IPv4: the rules log IPv4 only
    header_length = (payload[0] & 0x0F) * 4
    total_length, protocol = struct.unpack_from("!H", payload, 2)[0], payload[9]
    source, destination = socket.inet_ntoa(payload[12:16]), socket.inet_ntoa(payload[16:20])
    ports: tuple[int | None, int | None] = (None, None)
    if protocol in (6, 17) and len(payload) >= header_length + 4:
        ports = struct.unpack_from("!HH", payload, header_length)
    elif protocol == 1 and len(payload) >= header_length + 2:
        ports = (payload[header_length], payload[header_length + 1])  # ICMP type and code
    prefix = attributes.get(_ATTR_PREFIX, b"").split(b"\0", 1)[0].decode(errors="replace")
    stamp = attributes.get(_ATTR_TIMESTAMP)
    timestamp = None
    if stamp is not None and len(stamp) >= 16:
        seconds, micros = struct.unpack_from("!QQ", stamp)
        timestamp = seconds + micros / 1e6
    return LoggedPacket(prefix, protocol, source, destination, ports[0], ports[1], total_length, timestamp)


def parse_messages(data: bytes) -> Iterator[LoggedPacket]:
    """The logged IPv4 packets in one read from an NFLOG socket (other messages skipped)."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == _MSG_PACKET:
            # nlmsghdr (16) + nfgenmsg (4), then the attributes
            found = _packet(_attributes(data, offset + 20, offset + length))
            if found is not None:
                yield found
        offset += (length + 3) & ~3


def _config(group: int, family: int, attributes: list[tuple[int, bytes]], sequence: int) -> bytes:
    body = struct.pack("!BBH", family, 0, group)  # nfgenmsg: family, version, res_id (big-endian)
    for kind, value in attributes:
        attribute = struct.pack("=HH", 4 + len(value), kind) + value
        body += attribute + b"\0" * (-len(attribute) % 4)
    header = struct.pack("=IHHII", 16 + len(body), _MSG_CONFIG, _NLM_F_REQUEST | _NLM_F_ACK, sequence, 0)
    return header + body


class NflogSocket:
    """One namespace's NFLOG group, bound: :meth:`read` returns what arrived (non-blocking)."""

    def __init__(self, netns: str | None, group: int = GROUP) -> None:
        with in_netns(netns):
            self.socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.socket.bind((0, 0))
            self._request(_config(group, socket.AF_UNSPEC, [(_CFG_CMD, bytes([_CMD_BIND]))], 1))
            self._request(
                _config(
                    group,
                    socket.AF_UNSPEC,
                    [
                        (_CFG_MODE, struct.pack("!IBB", COPY_RANGE, _COPY_PACKET, 0)),
                        (_CFG_QTHRESH, struct.pack("!I", 1)),  # deliver each packet at once
                        (_CFG_TIMEOUT, struct.pack("!I", 0)),
                    ],
                    2,
                )
            )
        except BaseException:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        #: Packets the kernel could not queue to this socket (its buffer was full).
        self.overflows = 0

    def _request(self, message: bytes) -> None:
        self.socket.send(message)
        answer = self.socket.recv(4096)
        length, kind = struct.unpack_from("=IH", answer, 0)
        if kind == _NLMSG_ERROR:
            code = -struct.unpack_from("=i", answer, 16)[0]
            if code:
                raise OSError(code, f"NFLOG configuration refused: {errno.errorcode.get(code, code)}")

    def fileno(self) -> int:
        return self.socket.fileno()

    def read(self) -> list[LoggedPacket]:
        out: list[LoggedPacket] = []
        while True:
            try:
                data = self.socket.recv(65536)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overflows += 1
                    continue
                raise
            out.extend(parse_messages(data))

    def close(self) -> None:
        self.socket.close()


class NflogReader:
    """One thread reading every namespace's NFLOG socket; ``deliver(domain_id, packets)`` is
    called on that thread (the caller hands them to its own loop). Sockets are added and
    removed from any thread: the reader applies the change itself (woken by a pipe), so its
    selector is only ever touched by one thread."""

    def __init__(self, deliver: Callable[[str, list[LoggedPacket]], None]) -> None:
        self.deliver = deliver
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, NflogSocket | None, str]] = []
        self._sockets: dict[str, tuple[NflogSocket, str]] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="nflog", daemon=True)
        self._thread.start()

    def add(self, name: str, nflog: NflogSocket, domain_id: str) -> None:
        self._change(name, nflog, domain_id)

    def remove(self, name: str) -> None:
        self._change(name, None, "")

    def overflows(self) -> int:
        return sum(s.overflows for s, _ in list(self._sockets.values()))

    def _change(self, name: str, nflog: NflogSocket | None, domain_id: str) -> None:
        with self._lock:
            self._pending.append((name, nflog, domain_id))
        os.write(self._wake_write, b"x")

    def close(self) -> None:
        self._stopping = True
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        for nflog, _ in self._sockets.values():
            nflog.close()
        self._sockets.clear()
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for name, nflog, domain_id in pending:
            old = self._sockets.pop(name, None)
            if old is not None:
                self._selector.unregister(old[0].fileno())
                old[0].close()
            if nflog is not None:
                self._sockets[name] = (nflog, domain_id)
                self._selector.register(nflog.fileno(), selectors.EVENT_READ, name)

    def _run(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_read, 4096)
                    self._apply_pending()
                    continue
                found = self._sockets.get(key.data)
                if found is None:
                    continue
                try:
                    packets = found[0].read()
                except OSError:
                    log.warning("reading NFLOG of %s failed", key.data, exc_info=True)
                    continue
                if packets:
                    try:
                        self.deliver(found[1], packets)
                    except Exception:
                        log.exception("delivering flow logs failed")

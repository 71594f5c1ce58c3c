"""A tiny traffic tool run inside test namespaces (``ip netns exec NS python probe.py ...``).

probe.py listen tcp|udp PORT              echo server on every address; prints "ready" once bound
probe.py connect tcp|udp ADDRESS PORT T   exit 0 when the exchange succeeds within T seconds
probe.py whoami ADDRESS PORT T            print the address a TCP listener saw us come from
"""

from __future__ import annotations

import socket
import sys
import threading


def listen(proto: str, port: int) -> None:
    if proto == "tcp":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(64)
        print("ready", flush=True)

        def serve(conn: socket.socket, peer: str) -> None:
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(peer.encode() if data == b"whoami" else data)

        while True:
            conn, (peer, _port) = server.accept()
            threading.Thread(target=serve, args=(conn, peer), daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        data, peer = udp.recvfrom(4096)
        udp.sendto(data, peer)


def connect(proto: str, address: str, port: int, timeout: float) -> int:
    try:
        if proto == "tcp":
            with socket.create_connection((address, port), timeout=timeout) as conn:
                conn.settimeout(timeout)
                conn.sendall(b"ping")
                return 0 if conn.recv(4) == b"ping" else 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(timeout)
            udp.sendto(b"ping", (address, port))
            data, _ = udp.recvfrom(4096)
            return 0 if data == b"ping" else 1
    except OSError:
        return 1


def whoami(address: str, port: int, timeout: float) -> int:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(b"whoami")
            print(conn.recv(64).decode())
            return 0
    except OSError:
        return 1


if __name__ == "__main__":
    if sys.argv[1] == "whoami":
        sys.exit(whoami(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    if sys.argv[1] == "listen":
        listen(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(connect(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))

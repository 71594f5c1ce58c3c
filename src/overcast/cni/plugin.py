"""``overcast-cni``: a CNI 1.0.0 plugin (0.4.0 configurations accepted) for podman, containerd and
Kubernetes. A thin executable: it validates what the runtime passed, asks the local agent over
its unix socket, and prints the result — the agent asks the controller, which creates the vport
and container in the directory (addresses come from the directory, not host-local).

The network configuration names where endpoints go::

    {"cniVersion": "1.0.0", "name": "acme-web", "type": "overcast-cni",
     "enterprise": "acme", "domain": "wordpress", "zone": "web", "subnet": "web",
     "policyGroups": ["web"], "agentSocket": "/run/overcast/agent.sock"}

``CNI_ARGS`` may add ``OVERCAST_POLICY_GROUPS=a,b`` (per container), ``K8S_POD_NAME`` (the
container's name), ``MAC`` and ``IP`` (podman's ``--mac-address`` and ``--ip``).

VERSION is answered here, without the agent: runtimes call it to validate every configuration
they load. Errors are CNI error JSON on stdout with exit status 1.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]
DEFAULT_SOCKET = "/run/overcast/agent.sock"

# CNI error codes (SPEC.md "Error"): well-known ones, then this plugin's (>= 100).
INCOMPATIBLE_VERSION, UNSUPPORTED_FIELD, UNKNOWN_CONTAINER = 1, 2, 3
INVALID_CONFIG, IO_FAILURE, DECODING_FAILURE, INVALID_ENVIRONMENT, TRY_AGAIN_LATER = 4, 5, 6, 7, 11
DIRECTORY_REFUSED, ENDPOINT_CONFLICT, AGENT_FAILED, NOT_RUNNING, INTERNAL = 100, 101, 102, 103, 199


class CniError(Exception):
    def __init__(self, code: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


@dataclass(frozen=True)
class Invocation:
    command: str
    container_id: str
    netns: str
    ifname: str
    args: dict[str, str]
    config: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.config.get("cniVersion") or "1.0.0")

    @property
    def uuid(self) -> str:
        """The interface's identity in the directory: one per container and interface."""
        return f"{self.container_id}/{self.ifname}"


def parse(environ: Mapping[str, str], stdin: str) -> Invocation:
    command = environ.get("CNI_COMMAND", "")
    if command not in ("ADD", "DEL", "CHECK", "VERSION"):
        raise CniError(INVALID_ENVIRONMENT, f"CNI_COMMAND {command!r} is not ADD, DEL, CHECK or VERSION")
    try:
        config = json.loads(stdin or "{}")
    except json.JSONDecodeError as exc:
        raise CniError(DECODING_FAILURE, "the network configuration is not JSON", str(exc)) from None
    except RecursionError:
        raise CniError(DECODING_FAILURE, "the network configuration is nested too deeply") from None
    if not isinstance(config, dict):
        raise CniError(DECODING_FAILURE, "the network configuration must be a JSON object")
    args: dict[str, str] = {}
    for pair in filter(None, environ.get("CNI_ARGS", "").split(";")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise CniError(INVALID_ENVIRONMENT, f"CNI_ARGS item {pair!r} is not KEY=VALUE")
        args[key] = value
    invocation = Invocation(
        command,
        environ.get("CNI_CONTAINERID", ""),
        environ.get("CNI_NETNS", ""),
        environ.get("CNI_IFNAME", ""),
        args,
        config,
    )
    if command == "VERSION":
        return invocation
    if invocation.version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"cniVersion {invocation.version} is not supported",
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
    missing = [
        v
        for v, value in (("CNI_CONTAINERID", invocation.container_id), ("CNI_IFNAME", invocation.ifname))
        if not value
    ]
    if command in ("ADD", "CHECK") and not invocation.netns:
        missing.append("CNI_NETNS")
    if missing:
        raise CniError(INVALID_ENVIRONMENT, f"missing {', '.join(missing)}")
    if command in ("ADD", "CHECK"):
        for key in ("enterprise", "domain", "zone", "subnet"):
            if not isinstance(config.get(key), str) or not config[key]:
                raise CniError(INVALID_CONFIG, f"the network configuration needs {key!r} (a name)")
        groups = config.get("policyGroups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise CniError(INVALID_CONFIG, "policyGroups must be a list of names")
    return invocation


class Agent:
    """The local agent's runtime API over its unix socket, as one HTTP/1.0 exchange written by
    hand: a runtime starts this plugin several times per container (VERSION, ADD, DEL), and
    importing an HTTP client (httpx 160 ms, http.client 60 ms) cost more than the call."""

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        self.socket_path, self.timeout = socket_path, timeout

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body).encode()
        request = (
            f"POST {path} HTTP/1.0\r\nHost: agent\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                sock.sendall(request)
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise CniError(
                TRY_AGAIN_LATER, f"cannot reach the Overcast agent at {self.socket_path}", str(exc)
            ) from None
        head, _, raw = b"".join(chunks).partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise CniError(
                AGENT_FAILED, "the agent's answer is not HTTP", head[:200].decode(errors="replace")
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"error": raw.decode(errors="replace")}
        if status >= 400:
            message = str(data.get("error") or data)
            code = {
                404: DIRECTORY_REFUSED,
                409: ENDPOINT_CONFLICT,
                503: TRY_AGAIN_LATER,
                504: TRY_AGAIN_LATER,
            }
            raise CniError(code.get(status, AGENT_FAILED), message)
        return dict(data)


def _policy_groups(invocation: Invocation) -> list[str]:
    groups = list(invocation.config.get("policyGroups", []))
    extra = invocation.args.get("OVERCAST_POLICY_GROUPS", "")
    groups += [g for g in extra.split(",") if g and g not in groups]
    return groups


def add(invocation: Invocation, agent: Agent) -> dict[str, Any]:
    config, args = invocation.config, invocation.args
    body: dict[str, Any] = {
        "uuid": invocation.uuid,
        "name": args.get("K8S_POD_NAME") or invocation.container_id[:12],
        "netns": invocation.netns,
        "ifname": invocation.ifname,
        "enterprise": config["enterprise"],
        "domain": config["domain"],
        "zone": config["zone"],
        "subnet": config["subnet"],
        "policy_groups": _policy_groups(invocation),
    }
    if args.get("MAC"):
        body["mac"] = args["MAC"]
    if args.get("IP"):
        body["ip"] = args["IP"].split("/")[0]
    created = agent.call("/runtime/add", body)
    return result(invocation, created)


def result(invocation: Invocation, created: Mapping[str, Any]) -> dict[str, Any]:
    """The CNI result for the runtime, in the configuration's version."""
    address = f"{created['ip']}/{created['prefix_length']}"
    ip: dict[str, Any] = {"address": address, "interface": 0}
    if created.get("gateway"):
        ip["gateway"] = created["gateway"]
    if invocation.version.startswith("0."):
        ip["version"] = "4"
    routes = (
        [{"dst": "0.0.0.0/0", "gw": created["gateway"]}]
        if created.get("gateway") and invocation.ifname == "eth0"
        else []
    )
    dns = invocation.config.get("dns") if isinstance(invocation.config.get("dns"), dict) else {}
    return {
        "cniVersion": invocation.version,
        "interfaces": [{"name": invocation.ifname, "mac": created["mac"], "sandbox": invocation.netns}],
        "ips": [ip],
        "routes": routes,
        "dns": dns,
    }


def check(invocation: Invocation, agent: Agent) -> None:
    """The container still has what ADD gave it: the interface in its namespace and the
    endpoint running here in the desired state."""
    previous = invocation.config.get("prevResult")
    if not isinstance(previous, dict):
        raise CniError(INVALID_CONFIG, "CHECK needs prevResult")
    interfaces, addresses = previous.get("interfaces", []), previous.get("ips", [])
    if not isinstance(interfaces, list) or not all(isinstance(i, dict) for i in interfaces):
        raise CniError(INVALID_CONFIG, "prevResult.interfaces must be a list of objects")
    if not isinstance(addresses, list) or not all(isinstance(i, dict) for i in addresses):
        raise CniError(INVALID_CONFIG, "prevResult.ips must be a list of objects")
    interface = next((i for i in interfaces if i.get("name") == invocation.ifname), None)
    if interface is None or not isinstance(interface.get("mac"), str) or not interface["mac"]:
        raise CniError(INVALID_CONFIG, f"prevResult has no interface {invocation.ifname}")
    try:
        ips = [str(ipaddress.ip_interface(i["address"]).ip) for i in addresses if "address" in i]
    except (TypeError, ValueError) as exc:
        raise CniError(INVALID_CONFIG, "prevResult.ips holds an address that is not one", str(exc)) from None
    try:
        from ..dataplane.linux.netns import in_netns

        with in_netns(invocation.netns):
            socket.if_nametoindex(invocation.ifname)
    except OSError as exc:
        raise CniError(
            NOT_RUNNING, f"{invocation.ifname} is missing in {invocation.netns}", str(exc)
        ) from None
    agent.call("/runtime/check", {"mac": interface["mac"], "ip": ips[0] if ips else None})


def delete(invocation: Invocation, agent: Agent) -> None:
    agent.call("/runtime/del", {"uuid": invocation.uuid})


def run(environ: Mapping[str, str], stdin: str) -> tuple[int, str]:
    """One invocation: (exit status, stdout)."""
    version = "1.0.0"
    try:
        invocation = parse(environ, stdin)
        version = invocation.version
        if invocation.command == "VERSION":
            return 0, json.dumps(
                {
                    "cniVersion": version if version in SUPPORTED_VERSIONS else "1.0.0",
                    "supportedVersions": SUPPORTED_VERSIONS,
                }
            )
        agent = Agent(str(invocation.config.get("agentSocket") or DEFAULT_SOCKET))
        if invocation.command == "ADD":
            return 0, json.dumps(add(invocation, agent))
        if invocation.command == "CHECK":
            check(invocation, agent)
        else:
            delete(invocation, agent)
        return 0, ""
    except CniError as exc:
        error = {"cniVersion": version, "code": exc.code, "msg": exc.message}
        if exc.details:
            error["details"] = exc.details
        return 1, json.dumps(error)
    except Exception as exc:  # a runtime reads stdout as CNI JSON: never a traceback
        error = {"cniVersion": version, "code": INTERNAL, "msg": "overcast-cni failed", "details": repr(exc)}
        return 1, json.dumps(error)


def main() -> NoReturn:
    status, output = run(os.environ, sys.stdin.read() if not sys.stdin.isatty() else "")
    if output:
        sys.stdout.write(output + "\n")
    sys.exit(status)


if __name__ == "__main__":
    main()

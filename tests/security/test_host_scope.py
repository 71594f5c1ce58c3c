"""A host acts only on endpoints it runs or created, with the rights of its runtime credentials
(issue 15, finding 3), and the operator RPCs answer only what the caller may see.

Under mutual TLS, as in production: each host's identity is its certificate. Host h1 serves
tenant acme (its agent holds acme's credentials); h2 serves globex, and later acme too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from overcast.agent.agent import AgentError, TlsFiles
from overcast.agent.credentials import RuntimeCredentials
from overcast.client.controller import ControllerClient, ControllerClientError
from overcast.client.vsd import VsdClient
from overcast.controller.server import ControllerConfig
from overcast.protocol import controller_pb2 as pb
from overcast.testing.builders import make_l3_subnet
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory
from overcast.testing.pki import TestAuthority

HOSTS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}
ACME = RuntimeCredentials("acme", "acme-cni", "acme-secret")
GLOBEX = RuntimeCredentials("globex", "globex-cni", "globex-secret")


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TestAuthority:
    return TestAuthority(tmp_path_factory.mktemp("pki"))


def tenant(admin: VsdClient, credentials: RuntimeCredentials, address: str) -> dict[str, Any]:
    made = make_l3_subnet(admin, credentials.organization, address=address)
    admin.create(
        f"enterprises/{made['ent']['ID']}/users",
        {"userName": credentials.user, "password": credentials.password, "email": "cni@x",
         "firstName": "c", "lastName": "n"},
    )  # fmt: skip
    return made


@pytest.fixture
def world(
    sqlite_server: ServedDirectory, tmp_path: Path, authority: TestAuthority
) -> Iterator[dict[str, Any]]:
    admin = VsdClient(sqlite_server.url)
    acme, globex = tenant(admin, ACME, "10.1.0.0"), tenant(admin, GLOBEX, "10.1.0.0")
    server = authority.issue("controller", server=True)
    config = ControllerConfig(listen="127.0.0.1:0", tls_cert=server.cert, tls_key=server.key,
                              tls_client_ca=authority.cert, host_grace=2.0)  # fmt: skip
    certs = {}
    for host in HOSTS:
        issued = authority.issue(host)
        certs[host] = TlsFiles(authority.cert, issued.cert, issued.key)
    held = {"h1": ACME, "h2": GLOBEX, "h3": None}
    with Cluster(sqlite_server.directory, tmp_path, HOSTS, controller_config=config, agent_tls=certs.get,
                 credentials=held.get) as cluster:  # fmt: skip
        yield {"cluster": cluster, "admin": admin, "acme": acme, "globex": globex, "server": sqlite_server,
               "held": held}  # fmt: skip


def create(cluster: Cluster, host: str, **fields: Any) -> pb.EndpointResult:
    spec = {"domain": "d", "zone": "z", "subnet": "s", "name": "c", **fields}
    return cluster.run(cluster.agents[host].create_endpoint(pb.EndpointCreate(**spec)))


def refused(cluster: Cluster, host: str, call: Any) -> AgentError:
    with pytest.raises(AgentError) as info:
        cluster.run(call(cluster.agents[host]))
    return info.value


def test_a_host_creates_only_in_tenants_its_credentials_reach(world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    made = create(cluster, "h1", enterprise="acme", uuid="acme-1")
    assert made.ok and made.ip.startswith("10.1.0.")
    # globex's host asks for acme's domain: acme does not exist for globex's user.
    error = refused(cluster, "h2", lambda a: a.create_endpoint(pb.EndpointCreate(
        enterprise="acme", domain="d", zone="z", subnet="s", name="x", uuid="globex-1")))  # fmt: skip
    assert error.status == 404 and "no enterprise named 'acme'" in str(error)
    # ... nor can it add zones and subnets there.
    evil = pb.SubnetEnsure(enterprise="acme", domain="d", zone="evil", subnet="evil", address="10.9.0.0",
                           netmask="255.255.255.0")  # fmt: skip
    error = refused(cluster, "h2", lambda a: a.ensure_subnet(evil))
    assert error.status == 404
    assert not [z for z in world["admin"].list_all(f"domains/{world['acme']['domain']['ID']}/zones")
                if z["name"] == "evil"]  # fmt: skip
    # A host with no runtime credentials creates nothing at all.
    error = refused(cluster, "h3", lambda a: a.create_endpoint(pb.EndpointCreate(
        enterprise="acme", domain="d", zone="z", subnet="s", name="x", uuid="h3-1")))  # fmt: skip
    assert error.status == 403 and "no runtime credentials" in str(error)


def test_an_existing_identity_is_answered_only_to_its_host_and_tenant(world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    mine = create(cluster, "h1", enterprise="acme", uuid="acme-1")
    again = create(cluster, "h1", enterprise="acme", uuid="acme-1")  # idempotent for its host
    assert (again.vport_id, again.ip, again.mac) == (mine.vport_id, mine.ip, mine.mac)
    # globex's host names acme's container identity in its own enterprise: not acme's vport.
    error = refused(cluster, "h2", lambda a: a.create_endpoint(pb.EndpointCreate(
        enterprise="globex", domain="d", zone="z", subnet="s", name="x", uuid="acme-1")))  # fmt: skip
    assert error.status == 409 and mine.vport_id not in str(error) and mine.ip not in str(error)


def test_a_host_removes_only_endpoints_it_created_or_runs(world: dict[str, Any]) -> None:
    cluster, admin = world["cluster"], world["admin"]
    made = create(cluster, "h1", enterprise="acme", uuid="acme-1")
    # Another tenant's host: answered as an unknown identity, nothing removed.
    result = cluster.run(cluster.agents["h2"].remove_endpoint("acme-1"))
    assert result.ok and result.vport_id == ""
    assert admin.get(f"vports/{made.vport_id}")["ID"] == made.vport_id
    # The same tenant's other host (h2 given acme's credentials too): still not its endpoint.
    world["held"]["h2"] = ACME
    cluster.stop_agent("h2")
    cluster.start_agent("h2")
    cluster.wait_for(lambda: cluster.agents["h2"].controller is not None, "h2's session")
    result = cluster.run(cluster.agents["h2"].remove_endpoint("acme-1"))
    assert result.ok and result.vport_id == ""
    assert admin.get(f"vports/{made.vport_id}")["ID"] == made.vport_id
    # Its own host removes it.
    result = cluster.run(cluster.agents["h1"].remove_endpoint("acme-1"))
    assert result.ok and result.vport_id == made.vport_id
    assert admin.list_all("containers", filter='UUID == "acme-1"') == []


def test_a_host_binds_only_vports_its_credentials_reach(world: dict[str, Any]) -> None:
    cluster, admin, acme = world["cluster"], world["admin"], world["acme"]
    vport = admin.create(f"subnets/{acme['subnet']['ID']}/vports",
                         {"name": "p", "type": "CONTAINER", "addressSpoofing": "INHERITED"})  # fmt: skip
    mac = "02:00:00:00:aa:01"
    admin.create("containers", {"name": "p", "UUID": "api-made",
                                "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}]})  # fmt: skip
    with cluster.client("h2") as globex_host:  # the local API, as a runtime would call it
        with pytest.raises(Exception, match="does not exist"):
            globex_host.attach(vport["ID"], mac)
    assert admin.get(f"vports/{vport['ID']}")["operationalState"] != "UP"
    with cluster.client("h1") as acme_host:
        acme_host.attach(vport["ID"], mac)
    assert admin.get(f"vports/{vport['ID']}")["operationalState"] == "UP"


def test_operator_rpcs_answer_what_the_caller_may_see(world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    made = create(cluster, "h1", enterprise="acme", uuid="acme-1")
    other = create(cluster, "h1", enterprise="acme", uuid="acme-2")
    with cluster.client("h1") as host:  # running on h1: the oracle knows them from here on
        for endpoint in (made, other):
            host.attach(endpoint.vport_id, endpoint.mac)
    engine = cluster.controller.engine  # type: ignore[union-attr]
    cluster.wait_for(lambda: engine.endpoint(other.vport_id) is not None, "the controller to learn them")
    tls: TlsFiles = cluster.agents["h1"].tls  # type: ignore[assignment]

    def ask(credentials: tuple[str, str, str], call: str, *args: Any, **kwargs: Any) -> Any:
        address = cluster.addresses()[0]
        with ControllerClient(address, credentials=credentials, tls=tls, server_name="controller") as client:
            return getattr(client, call)(*args, **kwargs)

    def refusal(credentials: tuple[str, str, str], call: str, *args: Any, **kwargs: Any) -> str:
        with pytest.raises(ControllerClientError) as info:
            ask(credentials, call, *args, **kwargs)
        return str(info.value)

    operator, acme = ("csp", "csproot", "csproot"), ("acme", ACME.user, ACME.password)
    globex = ("globex", GLOBEX.user, GLOBEX.password)
    flow = (made.vport_id, other.vport_id, 6, 80)
    assert {h.host_id for h in ask(operator, "status").hosts} >= {"h1", "h2", "h3"}
    assert ask(operator, "explain", *flow).domain_id == world["acme"]["domain"]["ID"]
    assert ask(acme, "explain", *flow).source_ip == made.ip
    assert "PERMISSION_DENIED" in refusal(acme, "status")
    answer = refusal(globex, "explain", *flow)
    assert "NOT_FOUND" in answer and "does not exist" in answer
    # North-south: an outside address on one side; the vport side is checked all the same.
    outside = ask(acme, "explain", made.vport_id, "", 6, 80, -1, destination_address="198.51.100.10")
    assert not outside.allowed and outside.reason.startswith("no way out")  # no floating IP, no PAT
    answer = refusal(globex, "explain", made.vport_id, "", 6, 80, -1, destination_address="198.51.100.10")
    assert "NOT_FOUND" in answer
    answer = refusal(
        acme, "explain", "", "", 6, 80, -1, source_address="1.2.3.4", destination_address="5.6.7.8"
    )
    assert "INVALID_ARGUMENT" in answer
    assert "UNAUTHENTICATED" in refusal(("acme", ACME.user, "wrong"), "status")


def test_a_hello_with_a_bad_host_id_or_address_is_refused(
    world: dict[str, Any], authority: TestAuthority
) -> None:
    cluster = world["cluster"]
    issued = authority.issue("h1")
    credentials = grpc.ssl_channel_credentials(authority.cert.read_bytes(), issued.key.read_bytes(),
                                               issued.cert.read_bytes())  # fmt: skip

    def hello(**fields: Any) -> grpc.RpcError:
        channel = grpc.secure_channel(cluster.addresses()[0], credentials,
                                      options=[("grpc.ssl_target_name_override", "controller")])  # fmt: skip
        try:
            stream = channel.stream_stream("/overcast.v1.Controller/Session",
                                           request_serializer=pb.AgentMessage.SerializeToString,
                                           response_deserializer=pb.ControllerMessage.FromString)  # fmt: skip
            hello = pb.Hello(**{"host_id": "h1", "underlay_ip": "192.0.2.1", **fields})
            messages = [pb.AgentMessage(hello=hello)]
            with pytest.raises(grpc.RpcError) as info:
                for _ in stream(iter(messages), timeout=10):
                    pass
            return info.value
        finally:
            channel.close()

    assert hello(underlay_ip="not-an-ip").code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert hello(underlay_ip="0.0.0.0").code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert hello(host_id="h1" * 3000).code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    # A message far larger than any agent sends is refused before it is held.
    error = hello(agent_version="x" * (1 << 20))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    vrss = {v["name"]: v["address"] for v in world["admin"].list_all("vrss")}
    assert vrss["h1"] == "192.0.2.1"

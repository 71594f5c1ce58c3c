"""Mutual TLS (the host identity is the certificate's) and several controllers with failover."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from overcast.agent.agent import TlsFiles
from overcast.controller.server import ControllerConfig
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory
from overcast.testing.pki import TestAuthority

from ...support.control import HOSTS, attach, reach, session_outcome
from ...support.vspk_topology import Shop


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TestAuthority:
    return TestAuthority(tmp_path_factory.mktemp("pki"))


def _mtls_config(authority: TestAuthority) -> ControllerConfig:
    server = authority.issue("controller", server=True)
    return ControllerConfig(
        listen="127.0.0.1:0",
        tls_cert=server.cert,
        tls_key=server.key,
        tls_client_ca=authority.cert,
        host_grace=2.0,
    )


def _tls_for(authority: TestAuthority, name: str) -> TlsFiles:
    issued = authority.issue(name)
    return TlsFiles(authority.cert, issued.cert, issued.key)


def test_mutual_tls_sessions_and_identity(
    sqlite_server: ServedDirectory, tmp_path: Path, authority: TestAuthority
) -> None:
    certs = {host: _tls_for(authority, host) for host in HOSTS}
    with Cluster(
        sqlite_server.directory,
        tmp_path,
        HOSTS,
        controller_config=_mtls_config(authority),
        agent_tls=certs.get,
    ) as cluster:
        shop = Shop(sqlite_server)
        for host, name in (("h1", "web1"), ("h2", "web2"), ("h3", "db1")):
            attach(cluster, host, shop, name)
        cluster.assert_matches_directory()
        assert reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 3306)

        # h1's certificate cannot speak for h2 (so it can never report h2's endpoints).
        error = cluster.run(session_outcome(cluster, "h2", tls=certs["h1"]))
        assert "PERMISSION_DENIED" in error and "certificate is for host 'h1'" in error
        # No client certificate: the TLS handshake itself fails.
        error = cluster.run(session_outcome(cluster, "h4", tls=TlsFiles(authority.cert)))
        assert "UNAVAILABLE" in error
        cluster.assert_matches_directory()  # nothing changed for anyone


def test_agents_fail_over_between_controllers(sqlite_server: ServedDirectory, tmp_path: Path) -> None:
    with Cluster(sqlite_server.directory, tmp_path, HOSTS, controllers=2) as cluster:
        shop = Shop(sqlite_server)
        for host, name in (("h1", "web1"), ("h2", "web2"), ("h3", "db1")):
            attach(cluster, host, shop, name)
        cluster.assert_matches_directory()
        first = cluster.controllers[0].service
        assert first is not None and set(first.sessions) == set(HOSTS)  # everyone on the first

        cluster.stop_controller(0)
        cluster.wait_for(
            lambda: all(a.controller == cluster.addresses()[1] for a in cluster.agents.values()), "failover"
        )
        # Changes keep flowing through the second controller, which serves the same directory.
        shop.endpoint("web3", shop.web_net, shop.web)
        attach(cluster, "h2", shop, "web3")
        cluster.assert_matches_directory()
        assert reach(cluster, "h2", shop.ips["web3"], shop.ips["db1"], 3306)

        # The first controller comes back; agents stay where they are, both stay correct.
        cluster.start_controller(0)
        shop.endpoint("web4", shop.web_net, shop.web)
        attach(cluster, "h1", shop, "web4")
        cluster.assert_matches_directory()


def test_a_bad_hello_is_refused(sqlite_server: ServedDirectory, tmp_path: Path) -> None:
    from overcast.protocol import controller_pb2 as pb
    from overcast.protocol import controller_pb2_grpc as pb_grpc

    with Cluster(sqlite_server.directory, tmp_path, {}) as cluster:

        async def first_message_error(message: pb.AgentMessage) -> grpc.StatusCode:
            async with grpc.aio.insecure_channel(cluster.addresses()[0]) as channel:
                call = pb_grpc.ControllerStub(channel).Session()
                await call.write(message)
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await call.read()
                return failure.value.code()

        assert cluster.run(first_message_error(pb.AgentMessage(ack=pb.Ack(revision=1)))) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )
        assert cluster.run(first_message_error(pb.AgentMessage(hello=pb.Hello()))) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )

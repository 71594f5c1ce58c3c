"""Concurrent writers never share an address, a VNI or a name, and never lose a write."""

from __future__ import annotations

import ipaddress
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from overcast.client.vsd import VsdClient, VsdClientError
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory

CLIENTS = 20


@pytest.mark.slow
def test_twenty_clients_fill_a_slash_24(directory_server: ServedDirectory) -> None:
    admin = VsdClient(directory_server.url)
    subnet = make_l3_subnet(admin, "race", address="10.20.30.0")["subnet"]

    def worker(index: int) -> tuple[list[str], list[VsdClientError]]:
        client = VsdClient(directory_server.url)
        addresses: list[str] = []
        refused: list[VsdClientError] = []
        n = 0
        while True:
            n += 1
            vport = client.create(
                f"subnets/{subnet['ID']}/vports",
                {"name": f"w{index}-{n}", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
            )
            try:
                container = client.create(
                    "containers",
                    {
                        "name": f"c{index}-{n}",
                        "UUID": str(uuid.uuid4()),
                        "interfaces": [
                            {
                                "MAC": f"02:00:00:{index:02x}:{n // 256:02x}:{n % 256:02x}",
                                "VPortID": vport["ID"],
                            }
                        ],
                    },
                )
            except VsdClientError as exc:
                refused.append(exc)
                client.delete(f"vports/{vport['ID']}")
                return addresses, refused
            addresses.append(container["interfaces"][0]["IPAddress"])

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(worker, range(CLIENTS)))

    addresses = [a for got, _ in results for a in got]
    refusals = [r for _, got in results for r in got]
    assert len(addresses) == 253
    assert len(set(addresses)) == 253
    network = ipaddress.IPv4Network("10.20.30.0/24")
    assert all(ipaddress.IPv4Address(a) in network for a in addresses)
    assert "10.20.30.1" not in addresses and "10.20.30.0" not in addresses
    assert "10.20.30.255" not in addresses
    assert len(refusals) == CLIENTS
    assert all(r.status == 409 and "No free IP address" in r.describe() for r in refusals)
    # Nothing lost or duplicated in the store either.
    interfaces = admin.list_all(f"subnets/{subnet['ID']}/containerinterfaces")
    assert sorted(i["IPAddress"] for i in interfaces) == sorted(addresses)
    assert admin.count(f"subnets/{subnet['ID']}/vports") == 253
    assert admin.count(f"subnets/{subnet['ID']}/containers") == 253


@pytest.mark.slow
def test_concurrent_domains_get_distinct_vnis_and_names_stay_unique(
    directory_server: ServedDirectory,
) -> None:
    admin = VsdClient(directory_server.url)
    ent = admin.create("enterprises", {"name": "vni"})
    template = admin.create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "t"})

    def worker(index: int) -> list[int]:
        client = VsdClient(directory_server.url)
        domain = client.create(
            f"enterprises/{ent['ID']}/domains", {"name": f"d{index}", "templateID": template["ID"]}
        )
        zone = client.create(f"domains/{domain['ID']}/zones", {"name": "z"})
        vnis = [domain["backHaulVNID"]]
        for i in range(5):
            vnis.append(
                client.create(
                    f"zones/{zone['ID']}/subnets",
                    {"name": f"s{i}", "address": f"10.{i}.0.0", "netmask": "255.255.0.0"},
                )["vnId"]
            )
        try:
            client.create(f"enterprises/{ent['ID']}/domains", {"name": "same", "templateID": template["ID"]})
        except VsdClientError as exc:
            assert exc.status == 409
        return vnis

    with ThreadPoolExecutor(10) as pool:
        vnis = [v for got in pool.map(worker, range(10)) for v in got]
    assert len(vnis) == len(set(vnis)) == 60
    assert admin.count(f"enterprises/{ent['ID']}/domains", filter="name == 'same'") == 1

"""The Nuage metadata read into a VM's profile: as libvirt stores it (prefixed) and as
``dom.metadata`` returns it (unprefixed), NICs matched to the domain's interfaces by MAC; and
every malformed or incomplete block refused with a message that says why."""

from __future__ import annotations

import pytest

from overcast.vms.metadata import MetadataError, profile, taps

DOMAIN = """<domain type='qemu'>
  <name>db-vm</name><uuid>7c9e6679-7425-40de-944b-e07fc1f90ae7</uuid>
  <metadata><nuage:nuage xmlns:nuage="http://www.nuagenetworks.net/2013/Vm/Metadata"/></metadata>
  <devices>
    <interface type='ethernet'><mac address='52:54:00:AA:00:01'/><target dev='525400aa0001'/></interface>
    <interface type='ethernet'><mac address='52:54:00:aa:00:02'/></interface>
  </devices>
</domain>"""

METADATA = """<nuage:nuage xmlns:nuage="http://www.nuagenetworks.net/2013/Vm/Metadata">
  <nuage:user name="vmadmin"/><nuage:enterprise name="acme"/><nuage:application name="shop"/>
  <nuage:nuage_network type="ipv4" domain="shop" zone="db" name="db-net">
    <nuage:interface mac="52:54:00:aa:00:01" address="10.0.3.5"/>
    <nuage:policy_group name="db"/><nuage:policy_group name="backup"/>
  </nuage:nuage_network>
  <nuage:nuage_network domain="shop" zone="web" subnet="web-net">
    <nuage:interface mac="52:54:00:AA:00:02"/>
  </nuage:nuage_network>
</nuage:nuage>"""


def test_a_profile_from_prefixed_and_plain_metadata() -> None:
    plain = METADATA.replace("nuage:", "").replace("xmlns:nuage", "xmlns")
    for text in (METADATA, plain):
        vm = profile(DOMAIN, text)
        assert (vm.uuid, vm.name, vm.enterprise, vm.user, vm.application) == (
            "7c9e6679-7425-40de-944b-e07fc1f90ae7", "db-vm", "acme", "vmadmin", "shop")  # fmt: skip
        first, second = vm.nics
        assert (first.mac, first.tap, first.domain, first.zone, first.subnet) == (
            "52:54:00:aa:00:01", "525400aa0001", "shop", "db", "db-net")  # fmt: skip
        assert first.address == "10.0.3.5" and first.policy_groups == ("db", "backup")
        assert (second.tap, second.subnet, second.address, second.policy_groups) == (
            None,
            "web-net",
            None,
            (),
        )
    assert taps(DOMAIN) == {"52:54:00:aa:00:01": "525400aa0001", "52:54:00:aa:00:02": None}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.replace('<nuage:enterprise name="acme"/>', ""), "no enterprise"),
        (lambda m: m.replace('zone="db" ', ""), "needs a domain, a zone"),
        (lambda m: m.replace("52:54:00:AA:00:02", "52:54:00:aa:00:09"), "no interface with MAC"),
        (lambda m: m.replace("52:54:00:AA:00:02", "52:54:00:aa:00:01"), "same MAC"),
        (lambda m: m.replace('address="10.0.3.5"', 'address="10.0.3"'), "not an IPv4 address"),
        (lambda m: m.replace('mac="52:54:00:aa:00:01"', 'mac="nope"'), "not a MAC"),
        (lambda m: m.replace('<nuage:policy_group name="db"/>', "<nuage:policy_group/>"), "without a name"),
        (lambda m: m[:-20], "not well-formed"),
        (lambda m: '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "not well-formed"),
    ],
)
def test_bad_metadata_is_refused_with_a_reason(change, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MetadataError, match=reason):
        profile(DOMAIN, change(METADATA))

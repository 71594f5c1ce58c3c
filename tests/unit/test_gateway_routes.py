"""What gateways announce, from the compiled domains (pure)."""

from __future__ import annotations

from overcast.gateway.routes import north_south_routes, route_changes
from overcast.policy.compiler import compile_domains

from ..support.north_south import FIP, two_tenants


def test_floating_ips_and_advertised_subnets_become_routes_with_their_hosts() -> None:
    world, other, n = two_tenants()
    routes = north_south_routes(compile_domains(world.state))
    assert routes == {f"{FIP}/32": "192.0.2.1"}  # web1 runs on h1
    # A public subnet of the other tenant, advertised, with endpoints on h3 and h2.
    public = other.subnet("198.51.200.0")
    world.state.objects["subnet"][public]["advertise"] = True
    other.endpoint(public, "198.51.200.10", "h3")
    other.endpoint(public, "198.51.200.11", "h2")
    routes = north_south_routes(compile_domains(world.state))
    assert routes == {f"{FIP}/32": "192.0.2.1", "198.51.200.0/24": "192.0.2.2"}  # the lowest host
    del world.state.objects["vport"][n["web1"]]["associatedFloatingIPID"]
    assert north_south_routes(compile_domains(world.state)) == {"198.51.200.0/24": "192.0.2.2"}


def test_route_changes_withdraw_gone_and_moved_paths() -> None:
    announced = {"a/32": "h1", "b/32": "h1", "c/24": "h2"}
    wanted = {"a/32": "h1", "b/32": "h3", "d/32": "h2"}
    assert route_changes(announced, wanted) == ({"b/32": "h1", "c/24": "h2"}, {"b/32": "h3", "d/32": "h2"})

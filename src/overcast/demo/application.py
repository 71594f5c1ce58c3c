"""The application the demo deploys — the original Nuage demo's WordPress site — as plain data.

The WordPress site is designed with the application designer: its tiers, and a flow per
allowed connection (the outside is a network macro tier); the directory deploys it as a zone,
a subnet per tier and ACL entries, everything else dropped. A second enterprise, built the
low-level way (a domain template with a zone, subnet and policy group per tier and one rule
per flow, everything else denied by the ACL defaults), reuses the same addresses to show that
tenants never meet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    address: str  # the tier's subnet (/24)
    port: int | None  # the TCP service its containers listen on


@dataclass(frozen=True)
class Flow:
    source: str  # tier
    destination: str  # tier
    port: int


@dataclass(frozen=True)
class OutsideFlow:
    """Traffic with the world outside the overlay: into a tier (by its floating IPs) or out of
    it (as its floating IP, or translated by PAT)."""

    tier: str
    port: int
    inbound: bool


@dataclass(frozen=True)
class Container:
    name: str
    tier: str
    host: str  # simulated host, "h1".."h3"


@dataclass(frozen=True)
class Tenant:
    enterprise: str
    tiers: tuple[Tier, ...]
    containers: tuple[Container, ...]
    flows: tuple[Flow, ...]
    #: North-south: containers with a floating IP, PAT for the rest, flows with the outside.
    floating: tuple[str, ...] = ()
    pat: bool = False
    outside: tuple[OutsideFlow, ...] = ()
    #: Deployed through the application designer (else: a domain template with the policy).
    designed: bool = False

    def tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)

    def allows(self, source: Container, destination: Container, port: int) -> bool:
        """The intent: is a new TCP connection source -> destination:port allowed? Both ends'
        policies must agree: the source's (a flow to that tier, or to anywhere on that port) and
        the destination's (a flow from that tier, or from anywhere on that port)."""
        if Flow(source.tier, destination.tier, port) in self.flows:
            return True
        sends = OutsideFlow(source.tier, port, inbound=False) in self.outside
        accepts = OutsideFlow(destination.tier, port, inbound=True) in self.outside
        return sends and accepts

    def allows_outside(self, container: Container, port: int, *, inbound: bool) -> bool:
        """The intent with the outside: a rule for the tier and a way across (a floating IP in;
        a floating IP or PAT out)."""
        crosses = container.name in self.floating or (self.pat and not inbound)
        return crosses and OutsideFlow(container.tier, port, inbound) in self.outside


HOSTS = ("h1", "h2", "h3")

WORDPRESS = Tenant(
    enterprise="acme",
    tiers=(
        Tier("clients", "10.10.0.0", None),
        Tier("web", "10.10.1.0", 80),
        Tier("app", "10.10.2.0", 8080),
        Tier("db", "10.10.3.0", 3306),
    ),
    containers=(
        Container("client1", "clients", "h3"),
        Container("web1", "web", "h1"),
        Container("web2", "web", "h2"),
        Container("app1", "app", "h3"),
        Container("db1", "db", "h2"),
    ),
    flows=(Flow("clients", "web", 80), Flow("web", "app", 8080), Flow("app", "db", 3306)),
    # The site is public: web1 and db1 get floating IPs, the rest of the domain PAT; the outside
    # may reach web on tcp/80 (never db), and web may fetch from outside HTTP servers.
    floating=("web1", "db1"),
    pat=True,
    outside=(OutsideFlow("web", 80, inbound=True), OutsideFlow("web", 80, inbound=False)),
    designed=True,
)

#: The same addresses in another enterprise: its containers get the IPs acme's have.
NEIGHBOUR = Tenant(
    enterprise="globex",
    tiers=(Tier("web", "10.10.1.0", 80), Tier("db", "10.10.3.0", 3306)),
    containers=(Container("web1", "web", "h2"), Container("db1", "db", "h1")),
    flows=(Flow("web", "db", 3306),),
)

TENANTS = (WORDPRESS, NEIGHBOUR)

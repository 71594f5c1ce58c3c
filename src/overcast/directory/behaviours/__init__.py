"""What the server does for each entity beyond storing it: validation that needs other objects,
allocations (VNIs, service IDs, policy-group tags, addresses), template instantiation, and the
bookkeeping between vports, interfaces, containers, VMs and floating IPs — grouped by area.

Each :class:`Behaviour` works through an :class:`Operations` (``operations.py``) inside the
caller's transaction, so a multi-object operation commits whole or not at all.
"""

from __future__ import annotations

from .appd import (
    ApplicationBehaviour,
    ApplicationTemplateBehaviour,
    FlowBehaviour,
    FlowPolicyBehaviour,
    ServiceBehaviour,
    TierBehaviour,
)
from .base import DISRUPTIVE_DOMAIN_ATTRS, ROUTE_ASN, Behaviour, gateway_mac
from .endpoints import (
    EndpointBehaviour,
    EnterprisePermissionBehaviour,
    FloatingIPBehaviour,
    InterfaceBehaviour,
    SharedResourceBehaviour,
    VMBehaviour,
    VMInterfaceBehaviour,
    VPortBehaviour,
)
from .jobs import JobBehaviour
from .network import (
    DomainBehaviour,
    L2DomainBehaviour,
    L2DomainTemplateBehaviour,
    SubnetBehaviour,
    SubnetTemplateBehaviour,
    TemplateBehaviour,
    ZoneBehaviour,
)
from .policy import (
    AclEntryBehaviour,
    AclTemplateBehaviour,
    CompliancePolicyBehaviour,
    MacroGroupBehaviour,
    NetworkMacroBehaviour,
    PolicyGroupBehaviour,
)
from .statistics import StatisticsPolicyBehaviour
from .tenancy import EnterpriseBehaviour, UserBehaviour

__all__ = ["DISRUPTIVE_DOMAIN_ATTRS", "ROUTE_ASN", "Behaviour", "behaviour", "gateway_mac"]

_TEMPLATE = TemplateBehaviour()
_ACL_TEMPLATE = AclTemplateBehaviour()
_ACL_ENTRY = AclEntryBehaviour()

BEHAVIOURS: dict[str, Behaviour] = {
    "enterprise": EnterpriseBehaviour(),
    "user": UserBehaviour(),
    "domaintemplate": _TEMPLATE,
    "l2domaintemplate": L2DomainTemplateBehaviour(),
    "subnettemplate": SubnetTemplateBehaviour(),
    "domain": DomainBehaviour(),
    "l2domain": L2DomainBehaviour(),
    "zone": ZoneBehaviour(),
    "subnet": SubnetBehaviour(),
    "policygroup": PolicyGroupBehaviour(),
    "enterprisenetwork": NetworkMacroBehaviour(),
    "networkmacrogroup": MacroGroupBehaviour(),
    "vport": VPortBehaviour(),
    "ingressacltemplate": _ACL_TEMPLATE,
    "egressacltemplate": _ACL_TEMPLATE,
    "ingressaclentrytemplate": _ACL_ENTRY,
    "egressaclentrytemplate": _ACL_ENTRY,
    "containerinterface": InterfaceBehaviour(),
    "vminterface": VMInterfaceBehaviour(),
    "container": EndpointBehaviour(),
    "vm": VMBehaviour(),
    "sharednetworkresource": SharedResourceBehaviour(),
    "floatingip": FloatingIPBehaviour(),
    "enterprisepermission": EnterprisePermissionBehaviour(),
    "statisticspolicy": StatisticsPolicyBehaviour(),
    "appdservice": ServiceBehaviour(),
    "appdapplication": ApplicationBehaviour(),
    "appdapplicationtemplate": ApplicationTemplateBehaviour(),
    "appdtier": TierBehaviour(),
    "appdflow": FlowBehaviour(),
    "appdflowsecuritypolicy": FlowPolicyBehaviour(),
    "compliancepolicy": CompliancePolicyBehaviour(),
    "job": JobBehaviour(),
}

DEFAULT_BEHAVIOUR = Behaviour()


def behaviour(kind: str) -> Behaviour:
    return BEHAVIOURS.get(kind, DEFAULT_BEHAVIOUR)

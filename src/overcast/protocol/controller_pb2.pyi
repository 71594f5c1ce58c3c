from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowsRequest(_message.Message):
    __slots__ = ("follow", "verdict", "endpoint", "domain", "since_ms", "limit")
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    follow: bool
    verdict: str
    endpoint: str
    domain: str
    since_ms: int
    limit: int
    def __init__(self, follow: _Optional[bool] = ..., verdict: _Optional[str] = ..., endpoint: _Optional[str] = ..., domain: _Optional[str] = ..., since_ms: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class FlowRecord(_message.Message):
    __slots__ = ("time_ms", "host_id", "domain_id", "direction", "verdict", "entry_id", "protocol", "source", "source_port", "destination", "destination_port", "source_vport", "destination_vport", "length", "enterprise", "domain", "source_name", "destination_name", "entry_description")
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PORT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PORT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VPORT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_VPORT_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRY_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    host_id: str
    domain_id: str
    direction: str
    verdict: str
    entry_id: str
    protocol: int
    source: str
    source_port: int
    destination: str
    destination_port: int
    source_vport: str
    destination_vport: str
    length: int
    enterprise: str
    domain: str
    source_name: str
    destination_name: str
    entry_description: str
    def __init__(self, time_ms: _Optional[int] = ..., host_id: _Optional[str] = ..., domain_id: _Optional[str] = ..., direction: _Optional[str] = ..., verdict: _Optional[str] = ..., entry_id: _Optional[str] = ..., protocol: _Optional[int] = ..., source: _Optional[str] = ..., source_port: _Optional[int] = ..., destination: _Optional[str] = ..., destination_port: _Optional[int] = ..., source_vport: _Optional[str] = ..., destination_vport: _Optional[str] = ..., length: _Optional[int] = ..., enterprise: _Optional[str] = ..., domain: _Optional[str] = ..., source_name: _Optional[str] = ..., destination_name: _Optional[str] = ..., entry_description: _Optional[str] = ...) -> None: ...

class FlowBatch(_message.Message):
    __slots__ = ("records", "dropped")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[FlowRecord]
    dropped: int
    def __init__(self, records: _Optional[_Iterable[_Union[FlowRecord, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("source_vport", "destination_vport", "protocol", "destination_port", "icmp_type", "source_address", "destination_address")
    SOURCE_VPORT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_VPORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PORT_FIELD_NUMBER: _ClassVar[int]
    ICMP_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    source_vport: str
    destination_vport: str
    protocol: int
    destination_port: int
    icmp_type: int
    source_address: str
    destination_address: str
    def __init__(self, source_vport: _Optional[str] = ..., destination_vport: _Optional[str] = ..., protocol: _Optional[int] = ..., destination_port: _Optional[int] = ..., icmp_type: _Optional[int] = ..., source_address: _Optional[str] = ..., destination_address: _Optional[str] = ...) -> None: ...

class Judgement(_message.Message):
    __slots__ = ("allowed", "decided_by", "host_id")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    decided_by: str
    host_id: str
    def __init__(self, allowed: _Optional[bool] = ..., decided_by: _Optional[str] = ..., host_id: _Optional[str] = ...) -> None: ...

class ExplainReply(_message.Message):
    __slots__ = ("allowed", "reason", "domain_id", "source_ip", "destination_ip", "ingress", "egress")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IP_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_IP_FIELD_NUMBER: _ClassVar[int]
    INGRESS_FIELD_NUMBER: _ClassVar[int]
    EGRESS_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    reason: str
    domain_id: str
    source_ip: str
    destination_ip: str
    ingress: Judgement
    egress: Judgement
    def __init__(self, allowed: _Optional[bool] = ..., reason: _Optional[str] = ..., domain_id: _Optional[str] = ..., source_ip: _Optional[str] = ..., destination_ip: _Optional[str] = ..., ingress: _Optional[_Union[Judgement, _Mapping]] = ..., egress: _Optional[_Union[Judgement, _Mapping]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("controller_id", "revision", "hosts")
    CONTROLLER_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    controller_id: str
    revision: int
    hosts: _containers.RepeatedCompositeFieldContainer[HostStatus]
    def __init__(self, controller_id: _Optional[str] = ..., revision: _Optional[int] = ..., hosts: _Optional[_Iterable[_Union[HostStatus, _Mapping]]] = ...) -> None: ...

class HostStatus(_message.Message):
    __slots__ = ("host_id", "connected", "sent_revision", "applied_revision", "in_sync", "domains", "endpoints", "digest", "refusals", "last_refusal")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    SENT_REVISION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    LAST_REFUSAL_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    connected: bool
    sent_revision: int
    applied_revision: int
    in_sync: bool
    domains: int
    endpoints: int
    digest: int
    refusals: int
    last_refusal: str
    def __init__(self, host_id: _Optional[str] = ..., connected: _Optional[bool] = ..., sent_revision: _Optional[int] = ..., applied_revision: _Optional[int] = ..., in_sync: _Optional[bool] = ..., domains: _Optional[int] = ..., endpoints: _Optional[int] = ..., digest: _Optional[int] = ..., refusals: _Optional[int] = ..., last_refusal: _Optional[str] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("hello", "ack", "endpoint", "create", "remove", "ensure_subnet", "counters", "flows")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    ENSURE_SUBNET_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    ack: Ack
    endpoint: EndpointReport
    create: EndpointCreate
    remove: EndpointRemove
    ensure_subnet: SubnetEnsure
    counters: CounterReport
    flows: FlowBatch
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., endpoint: _Optional[_Union[EndpointReport, _Mapping]] = ..., create: _Optional[_Union[EndpointCreate, _Mapping]] = ..., remove: _Optional[_Union[EndpointRemove, _Mapping]] = ..., ensure_subnet: _Optional[_Union[SubnetEnsure, _Mapping]] = ..., counters: _Optional[_Union[CounterReport, _Mapping]] = ..., flows: _Optional[_Union[FlowBatch, _Mapping]] = ...) -> None: ...

class CounterReport(_message.Message):
    __slots__ = ("end_ms", "interval_ms", "objects")
    END_MS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    end_ms: int
    interval_ms: int
    objects: _containers.RepeatedCompositeFieldContainer[ObjectCounts]
    def __init__(self, end_ms: _Optional[int] = ..., interval_ms: _Optional[int] = ..., objects: _Optional[_Iterable[_Union[ObjectCounts, _Mapping]]] = ...) -> None: ...

class ObjectCounts(_message.Message):
    __slots__ = ("kind", "id", "domain_id", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    domain_id: str
    metrics: _containers.ScalarMap[str, int]
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ..., domain_id: _Optional[str] = ..., metrics: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("host_id", "underlay_ip", "applied_revision", "digest", "agent_version", "runtime_credentials")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    UNDERLAY_IP_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    host_id: str
    underlay_ip: str
    applied_revision: int
    digest: int
    agent_version: str
    runtime_credentials: Credentials
    def __init__(self, host_id: _Optional[str] = ..., underlay_ip: _Optional[str] = ..., applied_revision: _Optional[int] = ..., digest: _Optional[int] = ..., agent_version: _Optional[str] = ..., runtime_credentials: _Optional[_Union[Credentials, _Mapping]] = ...) -> None: ...

class Credentials(_message.Message):
    __slots__ = ("organization", "user", "password")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    organization: str
    user: str
    password: str
    def __init__(self, organization: _Optional[str] = ..., user: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("revision", "ok", "error")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    revision: int
    ok: bool
    error: str
    def __init__(self, revision: _Optional[int] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class EndpointReport(_message.Message):
    __slots__ = ("request_id", "state", "vport_id", "mac")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[EndpointReport.State]
        UP: _ClassVar[EndpointReport.State]
        DOWN: _ClassVar[EndpointReport.State]
    STATE_UNSPECIFIED: EndpointReport.State
    UP: EndpointReport.State
    DOWN: EndpointReport.State
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VPORT_ID_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    state: EndpointReport.State
    vport_id: str
    mac: str
    def __init__(self, request_id: _Optional[str] = ..., state: _Optional[_Union[EndpointReport.State, str]] = ..., vport_id: _Optional[str] = ..., mac: _Optional[str] = ...) -> None: ...

class EndpointCreate(_message.Message):
    __slots__ = ("request_id", "enterprise", "domain", "zone", "subnet", "policy_groups", "name", "uuid", "mac", "ip")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    POLICY_GROUPS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    enterprise: str
    domain: str
    zone: str
    subnet: str
    policy_groups: _containers.RepeatedScalarFieldContainer[str]
    name: str
    uuid: str
    mac: str
    ip: str
    def __init__(self, request_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., domain: _Optional[str] = ..., zone: _Optional[str] = ..., subnet: _Optional[str] = ..., policy_groups: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., uuid: _Optional[str] = ..., mac: _Optional[str] = ..., ip: _Optional[str] = ...) -> None: ...

class EndpointRemove(_message.Message):
    __slots__ = ("request_id", "uuid")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    uuid: str
    def __init__(self, request_id: _Optional[str] = ..., uuid: _Optional[str] = ...) -> None: ...

class SubnetEnsure(_message.Message):
    __slots__ = ("request_id", "enterprise", "domain", "zone", "subnet", "address", "netmask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERPRISE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NETMASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    enterprise: str
    domain: str
    zone: str
    subnet: str
    address: str
    netmask: str
    def __init__(self, request_id: _Optional[str] = ..., enterprise: _Optional[str] = ..., domain: _Optional[str] = ..., zone: _Optional[str] = ..., subnet: _Optional[str] = ..., address: _Optional[str] = ..., netmask: _Optional[str] = ...) -> None: ...

class ControllerMessage(_message.Message):
    __slots__ = ("welcome", "update", "endpoint_result")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_RESULT_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    update: Update
    endpoint_result: EndpointResult
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., update: _Optional[_Union[Update, _Mapping]] = ..., endpoint_result: _Optional[_Union[EndpointResult, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("controller_id", "host_id", "revision")
    CONTROLLER_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    controller_id: str
    host_id: str
    revision: int
    def __init__(self, controller_id: _Optional[str] = ..., host_id: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class Update(_message.Message):
    __slots__ = ("revision", "snapshot", "upserts", "removals", "digest")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    revision: int
    snapshot: bool
    upserts: _containers.RepeatedCompositeFieldContainer[Entry]
    removals: _containers.RepeatedCompositeFieldContainer[EntryKey]
    digest: int
    def __init__(self, revision: _Optional[int] = ..., snapshot: _Optional[bool] = ..., upserts: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., removals: _Optional[_Iterable[_Union[EntryKey, _Mapping]]] = ..., digest: _Optional[int] = ...) -> None: ...

class EndpointResult(_message.Message):
    __slots__ = ("request_id", "ok", "error", "vport_id", "mac", "ip", "prefix_length", "gateway", "code")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    VPORT_ID_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    PREFIX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ok: bool
    error: str
    vport_id: str
    mac: str
    ip: str
    prefix_length: int
    gateway: str
    code: int
    def __init__(self, request_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., vport_id: _Optional[str] = ..., mac: _Optional[str] = ..., ip: _Optional[str] = ..., prefix_length: _Optional[int] = ..., gateway: _Optional[str] = ..., code: _Optional[int] = ...) -> None: ...

class EntryKey(_message.Message):
    __slots__ = ("family", "domain_id", "identity")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    family: str
    domain_id: str
    identity: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, family: _Optional[str] = ..., domain_id: _Optional[str] = ..., identity: _Optional[_Iterable[str]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("domain_id", "domain", "subnet", "endpoint", "member", "rules")
    DOMAIN_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    domain_id: str
    domain: DomainInfo
    subnet: Subnet
    endpoint: Endpoint
    member: SetBucket
    rules: RuleSet
    def __init__(self, domain_id: _Optional[str] = ..., domain: _Optional[_Union[DomainInfo, _Mapping]] = ..., subnet: _Optional[_Union[Subnet, _Mapping]] = ..., endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., member: _Optional[_Union[SetBucket, _Mapping]] = ..., rules: _Optional[_Union[RuleSet, _Mapping]] = ...) -> None: ...

class DomainInfo(_message.Message):
    __slots__ = ("enterprise_id", "l2")
    ENTERPRISE_ID_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    enterprise_id: str
    l2: bool
    def __init__(self, enterprise_id: _Optional[str] = ..., l2: _Optional[bool] = ...) -> None: ...

class Subnet(_message.Message):
    __slots__ = ("id", "zone_id", "prefix", "gateway", "gateway_mac", "vni", "pat", "advertise")
    ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_MAC_FIELD_NUMBER: _ClassVar[int]
    VNI_FIELD_NUMBER: _ClassVar[int]
    PAT_FIELD_NUMBER: _ClassVar[int]
    ADVERTISE_FIELD_NUMBER: _ClassVar[int]
    id: str
    zone_id: str
    prefix: str
    gateway: str
    gateway_mac: str
    vni: int
    pat: bool
    advertise: bool
    def __init__(self, id: _Optional[str] = ..., zone_id: _Optional[str] = ..., prefix: _Optional[str] = ..., gateway: _Optional[str] = ..., gateway_mac: _Optional[str] = ..., vni: _Optional[int] = ..., pat: _Optional[bool] = ..., advertise: _Optional[bool] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("vport_id", "mac", "ip", "subnet_id", "zone_id", "host_id", "vtep", "floating_ip")
    VPORT_ID_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    VTEP_FIELD_NUMBER: _ClassVar[int]
    FLOATING_IP_FIELD_NUMBER: _ClassVar[int]
    vport_id: str
    mac: str
    ip: str
    subnet_id: str
    zone_id: str
    host_id: str
    vtep: str
    floating_ip: str
    def __init__(self, vport_id: _Optional[str] = ..., mac: _Optional[str] = ..., ip: _Optional[str] = ..., subnet_id: _Optional[str] = ..., zone_id: _Optional[str] = ..., host_id: _Optional[str] = ..., vtep: _Optional[str] = ..., floating_ip: _Optional[str] = ...) -> None: ...

class SetBucket(_message.Message):
    __slots__ = ("set", "bucket", "cidrs")
    SET_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    CIDRS_FIELD_NUMBER: _ClassVar[int]
    set: str
    bucket: str
    cidrs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, set: _Optional[str] = ..., bucket: _Optional[str] = ..., cidrs: _Optional[_Iterable[str]] = ...) -> None: ...

class PortRange(_message.Message):
    __slots__ = ("low", "high")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    low: int
    high: int
    def __init__(self, low: _Optional[int] = ..., high: _Optional[int] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("entry_id", "action", "local", "remote", "protocol", "source_ports", "destination_ports", "icmp_type", "icmp_code", "ether_type", "stateful", "logged")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PORTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PORTS_FIELD_NUMBER: _ClassVar[int]
    ICMP_TYPE_FIELD_NUMBER: _ClassVar[int]
    ICMP_CODE_FIELD_NUMBER: _ClassVar[int]
    ETHER_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATEFUL_FIELD_NUMBER: _ClassVar[int]
    LOGGED_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    action: str
    local: str
    remote: str
    protocol: int
    source_ports: PortRange
    destination_ports: PortRange
    icmp_type: int
    icmp_code: int
    ether_type: int
    stateful: bool
    logged: bool
    def __init__(self, entry_id: _Optional[str] = ..., action: _Optional[str] = ..., local: _Optional[str] = ..., remote: _Optional[str] = ..., protocol: _Optional[int] = ..., source_ports: _Optional[_Union[PortRange, _Mapping]] = ..., destination_ports: _Optional[_Union[PortRange, _Mapping]] = ..., icmp_type: _Optional[int] = ..., icmp_code: _Optional[int] = ..., ether_type: _Optional[int] = ..., stateful: _Optional[bool] = ..., logged: _Optional[bool] = ...) -> None: ...

class RuleSet(_message.Message):
    __slots__ = ("direction", "rules", "default_allow_ip", "default_allow_non_ip", "log_default_denies")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALLOW_IP_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALLOW_NON_IP_FIELD_NUMBER: _ClassVar[int]
    LOG_DEFAULT_DENIES_FIELD_NUMBER: _ClassVar[int]
    direction: str
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    default_allow_ip: bool
    default_allow_non_ip: bool
    log_default_denies: bool
    def __init__(self, direction: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., default_allow_ip: _Optional[bool] = ..., default_allow_non_ip: _Optional[bool] = ..., log_default_denies: _Optional[bool] = ...) -> None: ...

"""vspk (bambou) classes for the application designer's resources, so a vspk v6 session drives
them like any VSD object (needs ``vspk``: ``pip install overcast[sdk]``)::

    from vspk import v6 as vsdk
    from overcast.sdk import appd

    app = appd.NUAppdApplication(name="wordpress", associated_domain_id=domain.id)
    enterprise.create_child(app)
    web = appd.NUAppdTier(name="web", type="STANDARD", address="10.10.1.0", netmask="255.255.255.0")
    app.create_child(web)
    enterprise.appd_applications.get()       # the enterprise's applications
    app.appd_tiers.get()                     # an application's tiers

Importing this module gives vspk v6's ``NUEnterprise`` two more fetchers, ``appd_applications``
and ``appd_services`` (bambou finds a parent's fetcher by the child's REST name when it
creates a child, so the parent must know them).

The classes are built from the directory's own model of these entities
(``overcast/directory/overcast_model.json``), so the SDK and the server cannot disagree on an
attribute. Local names follow vspk's (``associatedDomainID`` → ``associated_domain_id``).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from bambou import NURESTFetcher, NURESTObject

_TYPES = {"str": str, "int": int, "bool": bool, "float": float, "list": list, "dict": dict}
#: Each class's children (resource name -> the child's REST name), as fetchers named like vspk's.
_CHILDREN = {
    "appdapplication": ("appdtier", "appdflow"),
    "appdflow": ("appdflowsecuritypolicy",),
}
_CLASS_NAMES = {
    "appdservice": "NUAppdService",
    "appdapplication": "NUAppdApplication",
    "appdtier": "NUAppdTier",
    "appdflow": "NUAppdFlow",
    "appdflowsecuritypolicy": "NUAppdFlowSecurityPolicy",
}


def local_name(remote: str) -> str:
    """vspk's Python name of an attribute: ``associatedDomainID`` → ``associated_domain_id``,
    ``DSCP`` → ``dscp``, ``assocIngressACLTemplateId`` → ``assoc_ingress_acl_template_id``."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|$)|[A-Z]?[a-z]+|[A-Z]+|\d+", remote.replace("IDs", "Ids"))
    return "_".join(w.lower() for w in words)


def fetcher_name(rest_name: str) -> str:
    """vspk's name of a parent's fetcher: ``NUAppdFlowSecurityPolicy`` → ``appd_flow_security_policies``."""
    singular = local_name(_CLASS_NAMES[rest_name].removeprefix("NU"))
    return singular[:-1] + "ies" if singular.endswith("y") else singular + "s"


def _model() -> dict[str, Any]:
    text = resources.files("overcast.directory").joinpath("overcast_model.json").read_text()
    return dict(json.loads(text))


def _fetcher(rest_name: str) -> type[NURESTFetcher]:
    def managed_class(cls: type[NURESTFetcher]) -> type[NURESTObject]:
        return CLASSES[rest_name]

    return type(
        f"{_CLASS_NAMES[rest_name]}sFetcher", (NURESTFetcher,), {"managed_class": classmethod(managed_class)}
    )


def _attribute(local: str) -> property:
    """A vspk-style property over ``_<local>`` (what bambou's expose_attribute reads)."""

    def get(self: NURESTObject) -> Any:
        return getattr(self, f"_{local}")

    def set_(self: NURESTObject, value: Any) -> None:
        setattr(self, f"_{local}", value)

    return property(get, set_)


def _build(rest_name: str, spec: dict[str, Any]) -> type[NURESTObject]:
    attrs = {name: a for name, a in spec["attrs"].items() if name not in ("ID", "parentID", "parentType")}

    def __init__(self: NURESTObject, **kwargs: Any) -> None:
        NURESTObject.__init__(self)
        for remote, attr in attrs.items():
            local = local_name(remote)
            setattr(self, f"_{local}", None)
            self.expose_attribute(
                local_name=local,
                remote_name=remote,
                attribute_type=_TYPES[attr["type"]],
                is_required=False,
                is_unique=False,
                choices=attr["choices"],
            )
        for child in _CHILDREN.get(rest_name, ()):
            setattr(
                self,
                fetcher_name(child),
                FETCHERS[child].fetcher_with_object(parent_object=self, relationship="child"),
            )
        self._compute_args(**kwargs)

    namespace: dict[str, Any] = {
        "__rest_name__": rest_name,
        "__resource_name__": spec["resource_name"],
        "__init__": __init__,
    }
    for remote in attrs:
        namespace[local_name(remote)] = _attribute(local_name(remote))
    return type(_CLASS_NAMES[rest_name], (NURESTObject,), namespace)


CLASSES: dict[str, type[NURESTObject]] = {}
FETCHERS: dict[str, type[NURESTFetcher]] = {}
MODEL = _model()
for _rest_name, _spec in MODEL.items():
    if _rest_name in _CLASS_NAMES:
        FETCHERS[_rest_name] = _fetcher(_rest_name)
        CLASSES[_rest_name] = _build(_rest_name, _spec)

NUAppdService = CLASSES["appdservice"]
NUAppdApplication = CLASSES["appdapplication"]
NUAppdTier = CLASSES["appdtier"]
NUAppdFlow = CLASSES["appdflow"]
NUAppdFlowSecurityPolicy = CLASSES["appdflowsecuritypolicy"]


def _extend_enterprise() -> None:
    from vspk.v6 import NUEnterprise

    original = NUEnterprise.__init__
    if getattr(original, "overcast_appd", False):
        return

    def __init__(self: NURESTObject, **kwargs: Any) -> None:
        original(self, **kwargs)
        self.appd_applications = FETCHERS["appdapplication"].fetcher_with_object(
            parent_object=self, relationship="child"
        )
        self.appd_services = FETCHERS["appdservice"].fetcher_with_object(
            parent_object=self, relationship="child"
        )

    __init__.overcast_appd = True  # type: ignore[attr-defined]
    NUEnterprise.__init__ = __init__


_extend_enterprise()

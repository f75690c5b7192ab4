"""Microsoft's contract for every request billdb sends, checked offline.

The contract is the field metadata of the pinned SDKs, generated from Microsoft's REST API
specifications (Azure/azure-rest-api-specs):
- the typespec-generated packages (postgresqlflexibleservers 3.0.0 = 2026-10-01, network,
  privatedns, storage) declare each field's REST name, type and visibility
  (`rest_field(visibility=["read", "create", "update", ...])`, the spec's x-ms-mutability and
  readOnly); a non-Optional annotation is a required property;
- msrest-generated azure-mgmt-monitor declares `_attribute_map` (names, types) and
  `_validation` (required, readonly).
ENGINE-NOTES: the 3.0.0 metadata matched the 2025-08-01 stable flexibleServers spec on all 94
fields compared. The request's schema is chosen by resource type and method (`SCHEMAS`), never
by the class the body was built with, so a body built from the wrong model is caught too.

A problem is an error (unknown property, read-only or not settable on this operation, wrong
type, missing required, bad name) or a warning (a value outside an open enum: Azure's enums
are open strings, new values appear without a new api-version).
"""

from __future__ import annotations

import enum
import re
import sys
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from billdb.azure import sdk
from billdb.azure.operation import Operation

PG = "Microsoft.DBforPostgreSQL/flexibleServers"
# (resource type, method) -> (SDK kind, schema class, operation kind: create | update | action)
SCHEMAS: dict[tuple[str, str], tuple[str, str, str]] = {
    (PG, "PUT"): ("pg", "Server", "create"),
    (PG, "PATCH"): ("pg", "ServerForPatch", "update"),
    (f"{PG}/restart", "POST"): ("pg", "RestartParameter", "action"),
    (f"{PG}/configurations", "PUT"): ("pg", "ConfigurationForUpdate", "update"),
    (f"{PG}/databases", "PUT"): ("pg", "Database", "create"),
    (f"{PG}/administrators", "PUT"): ("pg", "AdministratorMicrosoftEntraAdd", "create"),
    ("Microsoft.Network/virtualNetworks/subnets", "PUT"): ("network", "Subnet", "create"),
    ("Microsoft.Network/virtualNetworks/virtualNetworkPeerings", "PUT"):
        ("network", "VirtualNetworkPeering", "create"),
    ("Microsoft.Network/networkSecurityGroups", "PUT"):
        ("network", "NetworkSecurityGroup", "create"),
    ("Microsoft.Network/privateEndpoints", "PUT"): ("network", "PrivateEndpoint", "create"),
    ("Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "PUT"):
        ("network", "PrivateDnsZoneGroup", "create"),
    ("Microsoft.Network/privateDnsZones", "PUT"): ("dns", "PrivateZone", "create"),
    ("Microsoft.Network/privateDnsZones/virtualNetworkLinks", "PUT"):
        ("dns", "VirtualNetworkLink", "create"),
    ("Microsoft.Storage/storageAccounts", "PUT"):
        ("storage", "StorageAccountCreateParameters", "create"),
    ("Microsoft.Storage/storageAccounts/blobServices/containers", "PUT"):
        ("storage", "BlobContainer", "create"),
    ("Microsoft.Storage/storageAccounts/managementPolicies", "PUT"):
        ("storage", "ManagementPolicy", "create"),
    ("Microsoft.Insights/actionGroups", "PUT"): ("monitor", "ActionGroupResource", "create"),
    ("Microsoft.Insights/metricAlerts", "PUT"): ("monitor", "MetricAlertResource", "create"),
}
# Resource names, as the specs' path parameters and Microsoft's naming rules give them.
NAMES: dict[str, str] = {
    PG: r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$",
    f"{PG}/databases": r"^[-\w._]+$",
    f"{PG}/configurations": r"^[-\w._]+$",
    "Microsoft.Storage/storageAccounts": r"^[a-z0-9]{3,24}$",
    "Microsoft.Storage/storageAccounts/blobServices/containers":
        r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$",
    "Microsoft.Network/privateDnsZones": r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}$",
}
_MODULES = {"pg": sdk.pg, "network": sdk.network, "dns": sdk.dns, "storage": sdk.storage,
            "monitor": sdk.monitor}


@dataclass(frozen=True)
class Problem:
    path: str
    severity: str  # error | warning
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def resource_type(resource_id: str, method: str) -> str:
    """Microsoft.X/a/b for .../providers/Microsoft.X/a/NAME/b/NAME (an extension resource,
    .../providers/Microsoft.Insights/diagnosticSettings/NAME on a server, by its own type)."""
    parts = resource_id.rsplit("/providers/", 1)[1].split("/")
    return "/".join([parts[0], *parts[1:][0::2]])


def schema(resource_id: str, method: str) -> tuple[type, str]:
    kind, name, verb = SCHEMAS[(resource_type(resource_id, method), method)]
    return getattr(_MODULES[kind](), name), verb


# --- the typespec-generated packages (rest_field metadata) ---------------------------------

@dataclass(frozen=True)
class Field:
    visibility: tuple[str, ...] | None
    annotation: Any
    required: bool


@cache
def fields(cls: type) -> dict[str, Field]:
    """REST name -> Field for a typespec model class."""
    mod = sys.modules[cls.__module__]
    ns = {**vars(mod), "_models": sys.modules[cls.__module__.rsplit(".", 1)[0]]}
    hints = typing.get_type_hints(cls, ns)
    out: dict[str, Field] = {}
    for klass in reversed(cls.__mro__):
        for attr, rf in vars(klass).items():
            if attr.startswith("_") or not hasattr(rf, "_rest_name_input"):
                continue
            ann = hints.get(attr)
            vis = tuple(rf._visibility) if rf._visibility else None
            out[rf._rest_name_input or attr] = Field(vis, ann, not _optional(ann))
    return out


def _optional(ann: Any) -> bool:
    return type(None) in typing.get_args(ann) if ann is not None else True


def _members(ann: Any) -> list[Any]:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(ann) if a is not type(None)]
    return [ann]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and any("_calculated" in vars(c) for c in t.__mro__)


def _check_value(value: Any, ann: Any, path: str, verb: str) -> list[Problem]:
    members = _members(ann)
    for t in members:
        if _is_model(t) and isinstance(value, dict):
            return check_model(value, t, verb, path)
        origin = typing.get_origin(t)
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(t)
            return [p for i, v in enumerate(value) for p in
                    _check_value(v, item, f"{path}[{i}]", verb)]
        if origin is dict and isinstance(value, dict):
            item = typing.get_args(t)[1]
            return [p for k, v in value.items() for p in
                    _check_value(v, item, f"{path}.{k}", verb)]
    enums = [t for t in members if isinstance(t, type) and issubclass(t, enum.Enum)]
    if enums and isinstance(value, str):
        allowed = [e.value for e in enums[0]]
        if value not in allowed:
            return [Problem(path, "warning", f"{value!r} is not one of {allowed} (open enum)")]
        return []
    if any(_scalar_ok(value, t) for t in members):
        return []
    return [Problem(path, "error", f"{type(value).__name__} {value!r} where the spec has "
                                   f"{ann}")]


def _scalar_ok(value: Any, t: Any) -> bool:
    if t is Any:
        return True
    if t is bool:
        return isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t in (str, datetime):
        return isinstance(value, str)
    return False


def check_model(body: dict[str, Any], cls: type, verb: str, path: str = "") -> list[Problem]:
    """Problems of `body` against the typespec model `cls` for a create or update."""
    known, out = fields(cls), []
    for name, value in body.items():
        where = f"{path}.{name}" if path else name
        f = known.get(name)
        if f is None:
            out.append(Problem(where, "error", f"unknown property of {cls.__name__}"))
            continue
        if f.visibility is not None and verb not in f.visibility:
            what = ("read-only" if f.visibility == ("read",) else
                    f"not settable on {verb} (the spec allows {', '.join(f.visibility)})")
            out.append(Problem(where, "error", what))
            continue
        out += _check_value(value, f.annotation, where, verb)
    if verb == "create":
        for name, f in known.items():
            if f.required and name not in body and (f.visibility is None
                                                    or "create" in f.visibility):
                out.append(Problem(f"{path}.{name}" if path else name, "error",
                                   f"required by {cls.__name__} and missing"))
    return out


# --- msrest-generated azure-mgmt-monitor (_attribute_map, _validation) -------------------

def _tree(cls: type) -> dict[str, Any]:
    """The JSON shape of an msrest model: nested dict of leaf (attr, type, validation)."""
    tree: dict[str, Any] = {}
    for attr, spec in cls._attribute_map.items():
        keys = [k.replace("\\.", ".") for k in re.split(r"(?<!\\)\.", spec["key"])]
        node = tree
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = (attr, spec["type"], cls._validation.get(attr, {}))
    return tree


def check_msrest(body: Any, cls: type, path: str = "") -> list[Problem]:
    sub = getattr(cls, "_subtype_map", None) or {}
    for attr, mapping in sub.items():
        key = cls._attribute_map[attr]["key"].replace("\\.", ".")
        if isinstance(body, dict) and body.get(key) in mapping:
            cls = getattr(sys.modules[cls.__module__], mapping[body[key]])
    return _walk_tree(body, _tree(cls), cls, path)


def _walk_tree(body: dict[str, Any], tree: dict[str, Any], cls: type,
               path: str) -> list[Problem]:
    out: list[Problem] = []
    for name, value in body.items():
        where = f"{path}.{name}" if path else name
        node = tree.get(name)
        if node is None:
            out.append(Problem(where, "error", f"unknown property of {cls.__name__}"))
        elif isinstance(node, dict):
            out += _walk_tree(value, node, cls, where) if isinstance(value, dict) else [
                Problem(where, "error", "an object in the spec")]
        elif node[2].get("readonly"):
            out.append(Problem(where, "error", "read-only"))
        else:
            out += _msrest_value(value, node[1], where, cls)
    for name, node in tree.items():
        if isinstance(node, tuple) and node[2].get("required") and name not in body:
            out.append(Problem(f"{path}.{name}" if path else name, "error",
                               f"required by {cls.__name__} and missing"))
    return out


_MSREST_SCALARS = {"str": str, "int": int, "bool": bool, "float": float, "duration": str,
                   "iso-8601": str, "object": object}


def _msrest_value(value: Any, t: str, where: str, cls: type) -> list[Problem]:
    if t.startswith("[") and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in
                _msrest_value(v, t[1:-1], f"{where}[{i}]", cls)]
    if t.startswith("{") and isinstance(value, dict):
        return [p for k, v in value.items() for p in
                _msrest_value(v, t[1:-1], f"{where}.{k}", cls)]
    if t in _MSREST_SCALARS:
        ok = _scalar_ok(value, _MSREST_SCALARS[t]) if t != "object" else True
        return [] if ok else [Problem(where, "error", f"{value!r} is not {t}")]
    model = getattr(sys.modules[cls.__module__], t, None)
    if model is not None and isinstance(value, dict):
        return check_msrest(value, model, where)
    return [Problem(where, "error", f"{value!r} where the spec has {t}")]


# --- one request ---------------------------------------------------------------------------

def check_request(resource_id: str, method: str, body: dict[str, Any] | None) -> list[Problem]:
    """Every problem of one request against the contract of its resource type and method."""
    rtype = resource_type(resource_id, method)
    extra = extra_schemas()
    if method == "PUT" and rtype in extra["sources"]:
        return check_json(body or {}, extra["sources"][rtype]["schema"])
    if (rtype, method) not in SCHEMAS:
        return [Problem(rtype, "error", f"no contract known for {method} {rtype}")]
    cls, verb = schema(resource_id, method)
    out = _name_problems(resource_id, rtype) if method == "PUT" else []
    if body is None:
        return out
    out += _rules(rtype, body)
    if hasattr(cls, "_attribute_map"):
        return out + check_msrest(body, cls)
    return out + check_model(body, cls, "update" if verb == "action" else verb)


def _rules(rtype: str, body: dict[str, Any]) -> list[Problem]:
    """Rules the spec states in prose, not in the schema."""
    net = (body.get("properties") or {}).get("network") or {}
    if rtype == PG and net.get("delegatedSubnetResourceId") and "publicNetworkAccess" in net:
        return [Problem("properties.network.publicNetworkAccess", "error", "supported only "
                        "for servers that are not VNet-integrated (the server has "
                        "delegatedSubnetResourceId)")]
    return []


def _name_problems(resource_id: str, rtype: str) -> list[Problem]:
    rx, name = NAMES.get(rtype), resource_id.rsplit("/", 1)[1]
    if rx and not re.match(rx, name):
        return [Problem("name", "error", f"{name!r} does not match {rx}")]
    return []


def check_operation(op: Operation) -> list[Problem]:
    body = op.body()
    return check_request(op.resource_id, op.method, body)


def settable(resource_id: str, path: str, method: str = "PATCH") -> bool:
    """Whether the request `method` on this resource may set the field at dotted `path`."""
    cls, verb = schema(resource_id, method)
    for name in path.split("."):
        f = fields(cls).get(name) if not hasattr(cls, "_attribute_map") else None
        if f is None or (f.visibility is not None and verb not in f.visibility):
            return False
        cls = next((t for t in _members(f.annotation) if _is_model(t)), None)
        if cls is None:
            return True
    return True


# --- a trimmed extract of the spec where the SDKs have no models (data/azure_contract_extra) -

@cache
def extra_schemas() -> dict[str, Any]:
    import json
    from importlib import resources

    return json.loads(resources.files("billdb.data").joinpath(
        "azure_contract_extra.json").read_text("utf-8"))


_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}


def check_json(body: Any, name: str, path: str = "") -> list[Problem]:
    """Problems of `body` against schema `name` of the extract (a create: PUT)."""
    schema, out = extra_schemas()["schemas"][name], []
    props = schema["properties"]
    for key, value in body.items():
        where = f"{path}.{key}" if path else key
        spec = props.get(key)
        if spec is None:
            out.append(Problem(where, "error", f"unknown property of {name}"))
        elif spec.get("readOnly"):
            out.append(Problem(where, "error", "read-only"))
        else:
            out += _json_value(value, spec, where)
    out += [Problem(f"{path}.{k}" if path else k, "error", f"required by {name} and missing")
            for k in schema.get("required", []) if k not in body]
    return out


def _json_value(value: Any, spec: dict[str, Any], where: str) -> list[Problem]:
    if "$ref" in spec:
        return check_json(value, spec["$ref"], where) if isinstance(value, dict) else [
            Problem(where, "error", f"an object ({spec['$ref']}) in the spec")]
    want = _JSON_TYPES[spec["type"]]
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        return [Problem(where, "error", f"{value!r} is not {spec['type']}")]
    if spec["type"] == "array" and "items" in spec:
        return [p for i, v in enumerate(value) for p in
                _json_value(v, spec["items"], f"{where}[{i}]")]
    if "enum" in spec and value not in spec["enum"]:
        return [Problem(where, "warning", f"{value!r} is not one of {spec['enum']} (open enum)")]
    if "minimum" in spec and value < spec["minimum"]:
        return [Problem(where, "error", f"{value} is below the minimum {spec['minimum']}")]
    return []

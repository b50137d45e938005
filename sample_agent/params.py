"""A2A v1.0 §9.5 at the agent's edge: params the a2a-sdk would parse leniently are refused as -32602.

The SDK parses a v1.0 call's params with ``ParseDict(..., ignore_unknown_fields=True)``: unknown fields are ignored
(forward compatibility, kept), but an unknown enum value silently becomes 0 too, so ``ListTasks`` with
``"status": "INVALID_STATUS"`` listed every task, unfiltered. This walks the params against the request's own
protobuf descriptor first (every enum and oneof the SDK's models hold, however deep) and names the first
parameter the agent cannot honour; the SDK's own checks (types, page size, history length) then run as before.
"""

from __future__ import annotations

from typing import Any

from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import ValidationError

__all__ = ["invalid_params"]

_MODELS: dict[str, Any] = JsonRpcDispatcher.METHOD_TO_MODEL  # the SDK's own tables: a new method is covered
_V03_MODELS: dict[str, Any] = JSONRPC03Adapter.METHOD_TO_MODEL
_SHOWN = 40  # characters of a client's value quoted in a message


def invalid_params(method: str, params: Any, *, present: bool | None = None) -> str | None:
    """Why ``params`` of an A2A v1.0 ``method`` cannot be honoured (a message for -32602), or None.

    ``present``: whether the call had a ``params`` member (default: no); absent params are the
    SDK's defaults, an explicit ``null`` is refused. The v0.3 names are checked by the SDK's own (strict) v0.3
    models, whose failure it answers -32600: the same check answers -32602 here. Methods in neither table (the
    seed's) are left to their own parsers.
    """
    model = _MODELS.get(method)
    if model is None and method not in _V03_MODELS:
        return None
    if params is None:
        # JSON-RPC 2.0 §4.2: params, when present, is structured; the SDK's answer to null quoted Python's words
        return "params must be an object of named parameters (or left out), not null" if present else None
    if isinstance(params, list):  # JSON-RPC by-position params: A2A names every parameter
        return "params must be an object of named parameters"
    if not isinstance(params, dict):
        return None  # not structured at all: the SDK answers -32600 (JSON-RPC 2.0 §4.2)
    if model is None:
        return _check_v03(method, params)
    return _check_message(model.DESCRIPTOR, params, "params")


def _check_v03(method: str, params: dict[str, Any]) -> str | None:
    try:
        _V03_MODELS[method].model_validate({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"[:200]
    return None


def _check_message(descriptor: Descriptor, value: dict[str, Any], path: str) -> str | None:
    fields: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        fields[field.name] = fields[field.json_name] = field
    for key, item in value.items():
        field_ = fields.get(key)
        if field_ is None or item is None:  # unknown fields are ignored; null is the default (ProtoJSON)
            continue
        for where, element, kind in _elements(field_, item, f"{path}.{key}"):
            problem = _check_value(kind, element, where)
            if problem is not None:
                return problem
    for oneof in descriptor.oneofs:
        members = oneof.fields
        if len(members) == 1 and oneof.name == f"_{members[0].name}":
            continue  # proto3 ``optional``: a synthetic oneof, nothing to choose
        # A2A v1.0 §4.1.6: a Part holds exactly one kind of content (text, raw, url or data)
        if not any(value.get(m.name) is not None or value.get(m.json_name) is not None for m in members):
            names = ", ".join(m.json_name for m in members)
            return f"{path}: needs one of {names} (a {descriptor.name.lower()} with none is empty)"
    return None


def _elements(field: FieldDescriptor, item: Any, where: str) -> list[tuple[str, Any, FieldDescriptor]]:
    """The values ``item`` holds for ``field``: itself, each list item, or each map value."""
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        value_field = message.fields_by_name["value"]
        return [(f"{where}.{k}", v, value_field) for k, v in item.items()] if isinstance(item, dict) else []
    if field.is_repeated:  # protobuf 6+: the label is gone
        return [(f"{where}[{i}]", v, field) for i, v in enumerate(item)] if isinstance(item, list) else []
    return [(where, item, field)]


def _check_value(field: FieldDescriptor, value: Any, where: str) -> str | None:
    enum = field.enum_type
    if enum is not None:
        known = (isinstance(value, str) and value in enum.values_by_name) or (
            isinstance(value, int) and not isinstance(value, bool) and value in enum.values_by_number)
        if not known:
            shown = ascii(value)  # a client's value: escaped, bounded
            shown = shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "..."
            return f"{where}: {shown} is not a {enum.name}; use one of {', '.join(enum.values_by_name)}"
        return None
    message = field.message_type
    if message is not None and not message.full_name.startswith("google.protobuf.") and isinstance(value, dict):
        return _check_message(message, value, where)
    return None

"""Pydantic's validation errors in the user's words: the dotted config path, a plain message, "did you mean"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .problems import Place, did_you_mean, join, type_name

__all__ = ["validate_model"]

_M = TypeVar("_M", bound=BaseModel)

# pydantic's labels of union branches: not part of a config path
_UNION_LABELS = ("str", "list[str]", "int", "float", "bool", "dict[str,any]", "function-after[...]")
_EXPECTED = {
    "string_type": "a string", "int_type": "a whole number", "float_type": "a number",
    "bool_type": "true or false", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping",
}


def validate_model(model: type[_M], raw: Any, place: Place) -> _M | None:
    """``raw`` as a ``model``, or None with every problem recorded at its path under ``place``."""
    if not isinstance(raw, Mapping):
        place.add(f"expected a mapping, got {type_name(raw)}")
        return None
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            place.problems.add(_loc_to_path(place.path, error["loc"]), _message(error, model))
        return None


def _loc_to_path(path: str, loc: tuple[str | int, ...]) -> str:
    out = path
    for part in loc:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        elif part not in _UNION_LABELS:
            out = join(out, str(part))
    return out


def _message(error: Any, model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return f"unknown key {name!r}" + did_you_mean(name, _known_fields(model, loc[:-1]))
    if kind == "missing":
        return "missing: this setting is required"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}"
    if kind == "literal_error":
        return f"{error['msg'].replace('Input should be', 'use')}"
    return str(error["msg"])


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    return list(getattr(current, "model_fields", {}) or [])


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None

"""Strict YAML loading for files from anywhere: safe types only, duplicate keys refused, bounded.

A configuration file is hostile until read. Before anything is built, one linear pass over the parser's
events refuses what would cost more than the file's size suggests: nesting deeper than ``MAX_DEPTH``
(PyYAML's composer recurses), and aliases that would expand beyond ``MAX_NODES`` values (a 1 KB
"billion laughs" file). ``check_shape`` applies the same limits to a mapping built elsewhere.
Every refusal is a (where, message) pair, never an exception from the parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "check_shape", "parse_yaml"]

MAX_BYTES = 1 << 20  # an agentup.yml is a few KB; 1 MiB leaves room and bounds every later pass
MAX_DEPTH = 64  # AgentUp's deepest section is 6 levels
MAX_NODES = 200_000  # values after alias expansion

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_Base):  # type: ignore[misc]
    """A SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _where(source: str, mark: Any) -> str:
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source


def _scan(text: str, source: str) -> list[tuple[str, str]]:
    """One pass over the events: depth and expanded size, each bounded; linear in the text."""
    depth = 0
    total = 0  # values in the document once every alias is expanded
    sizes: dict[str, int] = {}  # anchor -> expanded size of its node
    open_anchors: list[tuple[str | None, int]] = []  # per open collection: (anchor, total at its start)
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return [(_where(source, event.start_mark), f"nested deeper than {MAX_DEPTH} levels; "
                         "a configuration file never needs that")]
            open_anchors.append((event.anchor, total))
            total += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = total - start
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            total += sizes.get(event.anchor or "", 1)
        if total > MAX_NODES:
            return [(_where(source, event.start_mark), f"more than {MAX_NODES:,} values once aliases are "
                     "expanded (a YAML alias bomb?); refused")]
    return []


def parse_yaml(text: str | bytes, source: str = "<string>") -> tuple[Any, list[tuple[str, str]]]:
    """Parse YAML text; returns (document, errors) where errors carry ``source:line:column``.

    Text over ``MAX_BYTES``, nesting over ``MAX_DEPTH`` and alias expansion over ``MAX_NODES`` are refused
    before the document is built.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_BYTES:
        return None, [(source, f"the file is {size:,} bytes; configuration files are limited to {MAX_BYTES:,}")]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [(source, f"not UTF-8 text (byte {exc.start})")]
    try:
        refused = _scan(text, source)
        if refused:
            return None, refused
        return yaml.load(text, Loader=_StrictLoader), []  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [(_where(source, mark), f"malformed YAML: {problem}")]
    except yaml.YAMLError as exc:
        return None, [(source, f"malformed YAML: {exc}")]
    except (RecursionError, MemoryError):  # belt and braces: the scan bounds both
        return None, [(source, "the document is too large or too deeply nested")]


def check_shape(value: Any, source: str = "") -> list[tuple[str, str]]:
    """Refuse a mapping nested deeper than ``MAX_DEPTH`` or holding more than ``MAX_NODES`` values.

    Iterative, stops at the first limit crossed (shared sub-objects count each time they appear).
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    count = 0
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            return [(source, f"more than {MAX_NODES:,} values; refused")]
        if isinstance(current, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                return [(source, f"nested deeper than {MAX_DEPTH} levels; a configuration never needs that")]
            children = current.values() if isinstance(current, Mapping) else current
            stack.extend((child, depth + 1) for child in children)
    return []

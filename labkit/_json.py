"""Strict, bounded JSON for untrusted input, the one parser every edge uses (guard, provider, webhook, audit).

What passes parses the same way in any conforming JSON parser, so what is checked is what runs: UTF-8 only
(no BOM, no UTF-16/32 sniffing), no duplicate member names, finite numbers only (no ``NaN``, ``Infinity``,
``1e400``), no unpaired surrogate escapes (RFC 7493 §2.1), bounded nesting.

``loads_bounded`` raises ``ValueError`` for anything it refuses (never ``RecursionError``);
``read_bounded`` raises ``BodyTooLargeError`` (a ``ValueError``) once a stream passes its cap, or before reading
when the declared ``Content-Length`` is over the cap, malformed or repeated.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

__all__ = ["MAX_DEPTH", "BodyTooLargeError", "loads_bounded", "nesting_depth", "read_bounded"]

MAX_DEPTH = 32
# a whole string (atomic: no backtracking), a bracket, or a quote that opens a string never closed
_TOKEN = re.compile(r'"(?>(?:[^"\\]++|\\.)*+)"|[\[\]{}]|"', re.DOTALL)


class BodyTooLargeError(ValueError):
    """A body was longer than the reader's cap."""


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The deepest array/object nesting of valid JSON ``text``, counted up to ``limit`` + 1 (linear, no recursion)."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme == '"':
            break  # an unterminated string: invalid JSON, the parser will say so
        if lexeme in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif lexeme in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member name (RFC 8259 §4)")  # parsers differ on which one wins
        result[key] = value
    return result


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range (RFC 8259 §6)")
    return value


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:  # "\ud800" parses, but no encoder can send it back
                raise ValueError("a string holds an unpaired surrogate (RFC 7493 §2.1)") from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_unique, parse_float=_finite)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # how a surrogate can enter parsed text from UTF-8 input


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON that nests at most ``max_depth`` levels; raises ``ValueError`` (bad UTF-8, syntax, depth, NaN)."""
    if isinstance(data, bytes):
        text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError; strict UTF-8 holds no surrogate
    else:
        text = data
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds an unpaired surrogate (RFC 7493 §2.1)") from None
    if text.startswith("\ufeff"):
        raise ValueError("a byte order mark is not JSON (RFC 8259 §8.1)")
    openers = text.count("[") + text.count("{")
    if openers > max_depth and nesting_depth(text, max_depth) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        parsed = _DECODER.decode(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("JSON nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):  # only a \uD8xx-\uDFxx escape can make one; pairs are checked here
        _check_strings(parsed)
    return parsed


async def read_bounded(chunks: AsyncIterator[bytes], cap: int, *, declared: Sequence[str | bytes] = ()) -> bytes:
    """Join a body's chunks, stopping as soon as it passes ``cap`` bytes (raises ``BodyTooLargeError``).

    ``declared``: the request's ``Content-Length`` values; one over ``cap``, malformed or repeated is refused
    before a byte is read (an unauthenticated request then costs O(1)).
    """
    # RFC 9110 §8.6: Content-Length = 1*DIGIT; several values are a framing error, not a choice to make
    if declared:
        value = declared[0] if isinstance(declared[0], str) else declared[0].decode("latin-1")
        if len(declared) > 1 or not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > cap:
            raise BodyTooLargeError(f"Content-Length over {cap} bytes, malformed or repeated")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise BodyTooLargeError(f"body larger than {cap} bytes")
        parts.append(chunk)
    return b"".join(parts)

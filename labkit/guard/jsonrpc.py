"""JSON-RPC 2.0 bodies at the guard: one bounded read, one strict parse shared with the app, replay.

The guard decides on the call it parsed, so the parse must leave nothing for a second parser to read
differently: UTF-8 only (no BOM, no UTF-16/32 sniffing), no duplicate member names, finite numbers only
(``NaN``, ``Infinity``, ``1e400`` are refused), strings of Unicode scalar values only (an unpaired
surrogate escape such as ``"\\ud800"`` is refused), bounded nesting. A body that passes parses the same way in
any conforming JSON parser, which is what the SDKs behind the guard use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive

from .. import rpc
from .._json import loads_bounded

__all__ = [
    "CODES",
    "MAX_BODY",
    "MAX_DEPTH",
    "BodyError",
    "RpcCall",
    "content_length",
    "error_envelope",
    "parse_call",
    "parse_json",
    "read_body",
    "replay",
]

MAX_BODY = 1 << 20
MAX_DEPTH = 64

# JSON-RPC error codes the guard answers with. -32000..-32099 are implementation-defined; A2A uses
# -32001..-32009 (e.g. -32001 TaskNotFound) and MCP -32000..-32002 and -32042, so ours sit at -32090..-32099.
CODES: Mapping[int, tuple[int, str]] = {
    400: (-32600, "Invalid Request"),
    401: (-32091, "Unauthorized"),
    403: (-32093, "Forbidden"),
    404: (-32094, "Not Found"),
    413: (-32092, "Payload Too Large"),
    429: (-32099, "Too Many Requests"),
}


class BodyError(ValueError):
    """A body the guard will not pass on; ``code`` is the JSON-RPC error code (-32700 or -32600), ``rpc_id`` the
    request's ``id`` when it could be read (JSON-RPC 2.0 §5: echoed in the error; null when it could not)."""

    def __init__(self, code: int, message: str, rpc_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.rpc_id = rpc_id


@dataclass(frozen=True)
class RpcCall:
    """One parsed JSON-RPC message: ``method`` is None for a response (MCP clients answer server requests)."""

    id: str | int | None
    method: str | None
    params: Any
    body: Any  # the whole parsed document, handed to the app


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared ``Content-Length`` (None when absent; -1 when malformed or repeated)."""
    values = [v for k, v in headers if k == b"content-length"]
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit() or len(values[0]) > 19:
        return -1
    return int(values[0])


async def read_body(receive: Receive, cap: int = MAX_BODY) -> bytes:
    """The request body, read message by message and never more than ``cap`` bytes; raises ``BodyError`` beyond it.

    ``labkit._json.read_bounded``'s rule on the ASGI messages themselves (no async generator per request): the
    size is checked before a chunk is kept. A disconnect before the last chunk raises ``BodyError`` (-32600).
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        # RFC 9112 §8: a request whose body never ended is incomplete: never judged or acted on as a whole one
        if message["type"] == "http.disconnect":
            raise BodyError(-32600, "the client disconnected before the body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise BodyError(-32092, f"body over {cap} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict JSON (``labkit._json.loads_bounded``: see the module docstring); raises ``BodyError`` (-32700)."""
    try:
        return loads_bounded(body, max_depth=max_depth)
    except ValueError as error:
        raise BodyError(-32700, str(error)) from None


def parse_call(body: bytes) -> RpcCall:
    """The one JSON-RPC message of ``body``; raises ``BodyError`` for bad JSON, batches or a bad envelope."""
    data = parse_json(body)
    if isinstance(data, list):
        # A2A and MCP 2025-11-25 have no batches; judging only the first element would pass the others.
        raise BodyError(-32600, "batches are not supported")
    if not isinstance(data, dict):
        raise BodyError(-32600, "a JSON-RPC message is an object")
    rpc_id = data.get("id")
    if isinstance(rpc_id, bool) or not isinstance(rpc_id, (str, int, type(None))):
        raise BodyError(-32600, "id must be a string, an integer or null")
    method = data.get("method")
    # JSON-RPC 2.0 §5: past this point the id was read, so an error about the envelope echoes it
    if "method" in data and not isinstance(method, str):
        raise BodyError(-32600, "method must be a string", rpc_id)
    if method is None and not ("result" in data or "error" in data):
        raise BodyError(-32600, "neither a request nor a response", rpc_id)
    return RpcCall(rpc_id, method, data.get("params"), data)


def error_envelope(rpc_id: str | int | None, status: int) -> dict[str, Any]:
    """The JSON-RPC error body for an HTTP status the guard answers with."""
    code, message = CODES.get(status, (-32600, "Invalid Request"))
    return rpc.error(rpc_id, code, message)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the real one (disconnects reach streams)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

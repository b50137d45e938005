"""JSON-RPC 2.0 envelopes, in one place: the request a client sends, the result and the error an agent answers.

    rpc.request("execute", {"capability": "echo"})   # {"jsonrpc": "2.0", "id": "lab-1", "method": ..., "params": ...}
    rpc.result(call_id, {...}); rpc.error(call_id, -32600, "Invalid Request")
"""

from __future__ import annotations

from typing import Any

__all__ = ["VERSION", "RpcId", "error", "request", "result"]

VERSION = "2.0"
RpcId = str | int | None


def request(method: str, params: Any = None, *, rpc_id: RpcId = "lab-1") -> dict[str, Any]:
    """A request object; ``params`` left out when None (JSON-RPC 2.0 §4: "MAY be omitted")."""
    body: dict[str, Any] = {"jsonrpc": VERSION, "id": rpc_id, "method": method}
    if params is not None:
        body["params"] = params
    return body


def result(rpc_id: RpcId, value: Any) -> dict[str, Any]:
    """A success response to the call ``rpc_id``."""
    return {"jsonrpc": VERSION, "id": rpc_id, "result": value}


def error(rpc_id: RpcId, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """An error response (JSON-RPC 2.0 §5.1); ``data`` left out when None."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": VERSION, "id": rpc_id, "error": body}

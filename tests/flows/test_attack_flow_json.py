"""The flow recorder reads the JSON bodies of whatever servers a lesson calls: a response that nests deeply is
recorded without its members, never a ``RecursionError`` raised out of the HTTP client's hook."""

from __future__ import annotations

import httpx

from labkit.flows.recorder import FlowRecorder


def test_a_deeply_nested_json_response_is_recorded_without_members() -> None:
    recorder = FlowRecorder({"http://127.0.0.1:9": "Agent"})
    deep = b"[" * 100_000 + b"]" * 100_000
    request = httpx.Request("POST", "http://127.0.0.1:9/", content=b'{"jsonrpc": "2.0", "method": "' + b"x" * 3
                            + b'", "params": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                            headers={"content-type": "application/json"})
    response = httpx.Response(200, headers={"content-type": "application/json"}, content=deep, request=request)
    exchange = recorder.record(request, response, deep)
    assert exchange.status == 200

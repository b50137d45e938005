"""Malformed JSON-RPC bodies: the guard answers as the SDK behind it would (JSON-RPC 2.0 §5, A2A conformance).

For every body of the table, the guarded agent (a valid token) and the bare a2a-sdk dispatcher (no guard) give the
same HTTP status, the same error code and the same ``id``: the request's own when it can be read, else null. The
guard judges the body itself (the SDK never sees it); the answer must not tell a client which of the two refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from labkit.config import validate_security_config
from sample_agent import create_app

from ..helpers import NOW, Keys, mint
from .guard_app import guard_config

MALFORMED = [
    '{"jsonrpc": "2.0", "id": 7}',  # no method: the conformance kit's case
    '{"jsonrpc": "2.0", "id": "req-1"}',
    '{"jsonrpc": "2.0", "id": 7, "method": 5}',
    '{"jsonrpc": "2.0", "id": "m", "method": null}',
    '{"jsonrpc": "2.0", "id": 7, "method": ["tasks/get"]}',
    '{"jsonrpc": "2.0", "id": 7, "method": {"a": 1}}',
    '{"jsonrpc": "2.0", "id": null}',
    '{"jsonrpc": "2.0", "id": true, "method": "tasks/get"}',
    '{"jsonrpc": "2.0", "id": 1.5, "method": "tasks/get"}',
    '{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tasks/get"}',
    '{"jsonrpc": "2.0", "id": [1], "method": "tasks/get"}',
    "[]",
    '[{"jsonrpc": "2.0", "id": 1, "method": "tasks/get"}]',
    '"a string"',
    "1",
    "null",
    "{",
    '{"jsonrpc": "2.0", "id": 7, "method": "tasks/get"',
    # the guard passes these to the SDK: held alike too
    '{"jsonrpc": "2.0", "id": 7, "method": ""}',
    '{"jsonrpc": "1.0", "id": 7, "method": "tasks/get"}',
    '{"id": 7, "method": "tasks/get"}',
    '{"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}',
]


def _view(response: httpx.Response) -> tuple[int, Any, Any]:
    body = response.json()
    return response.status_code, body.get("id", "<absent>"), (body.get("error") or {}).get("code")


@pytest.fixture(scope="module")
def answers(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Any, Any]]:
    app = create_app(validate_security_config(guard_config(keys)), clock=lambda: NOW,
                     sandbox=Path(tmp_path_factory.mktemp("sandbox")))
    sdk = Starlette(routes=[Route("/", app.agent.dispatcher.handle_requests, methods=["POST"])])
    headers = {"authorization": f"Bearer {mint(keys.rsa, scope='admin')}", "content-type": "application/json"}

    async def run() -> list[tuple[str, Any, Any]]:
        async with (app.starlette.router.lifespan_context(app.starlette),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1:8000") as guarded,
                    httpx.AsyncClient(transport=httpx.ASGITransport(sdk), base_url="http://127.0.0.1:8000") as bare):
            return [(body, _view(await guarded.post("/", content=body, headers=headers)),
                     _view(await bare.post("/", content=body, headers=headers))) for body in MALFORMED]

    return asyncio.run(run())


@pytest.mark.parametrize("index", range(len(MALFORMED)), ids=MALFORMED)
def test_the_guard_answers_a_malformed_request_as_the_sdk_does(answers: list[tuple[str, Any, Any]],
                                                               index: int) -> None:
    body, guarded, sdk = answers[index]
    assert guarded == sdk, f"{body}: guard {guarded} != sdk {sdk}"


def test_a_readable_id_is_echoed(answers: list[tuple[str, Any, Any]]) -> None:
    by_body = {body: guarded for body, guarded, _ in answers}
    assert by_body['{"jsonrpc": "2.0", "id": 7}'] == (200, 7, -32600)
    assert by_body['{"jsonrpc": "2.0", "id": "req-1"}'] == (200, "req-1", -32600)
    assert by_body['{"jsonrpc": "2.0", "id": 1.5, "method": "tasks/get"}'] == (200, None, -32600)
    assert by_body["{"] == (200, None, -32700)

"""A scriptable loopback identity provider for validator tests: JWKS and introspection with faults."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..helpers import NOW


@dataclass
class IdpState:
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    jwks_status: int = 200
    jwks_body: bytes | None = None
    jwks_delay: float = 0.0
    cache_control: str | None = None
    jwks_hits: int = 0
    # introspection: token -> response body; unknown tokens are inactive
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    introspection_hits: int = 0
    introspection_delay: float = 0.0
    client: tuple[str, str] = ("rs-client", "rs-secret")
    forms: list[dict[str, str]] = field(default_factory=list)


def fake_idp(state: IdpState) -> Starlette:
    async def jwks(request: Request) -> Response:
        state.jwks_hits += 1
        if state.jwks_delay:
            await asyncio.sleep(state.jwks_delay)
        headers = {"Cache-Control": state.cache_control} if state.cache_control else {}
        body = state.jwks_body if state.jwks_body is not None else json.dumps(state.jwks).encode()
        return Response(body, state.jwks_status, headers, media_type="application/json")

    async def introspect(request: Request) -> Response:
        state.introspection_hits += 1
        form = {k: str(v) for k, v in (await request.form()).items()}
        state.forms.append(form)
        if state.introspection_delay:
            await asyncio.sleep(state.introspection_delay)
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(":".join(state.client).encode()).decode()
        posted = (form.get("client_id"), form.get("client_secret")) == state.client
        if auth != expected and not posted:
            return Response('{"error":"invalid_client"}', 401, media_type="application/json")
        body = state.active.get(form.get("token", ""), {"active": False})
        return Response(json.dumps(body), media_type="application/json")

    async def github(request: Request) -> Response:
        state.introspection_hits += 1
        token = (await request.json()).get("access_token", "")
        if token not in state.active:
            return Response('{"message":"Not Found"}', 404, media_type="application/json")
        return Response(json.dumps(state.active[token]), media_type="application/json")

    return Starlette(
        routes=[
            Route("/jwks", jwks),
            Route("/introspect", introspect, methods=["POST"]),
            Route("/applications/{client_id}/token", github, methods=["POST"]),
        ]
    )


class Clock:
    """A test clock at the fixed lab time; tests move ``now``."""

    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def run_and_close(validator: Any, coro: Any) -> Any:
    """Run ``coro`` and close the validator's HTTP clients in the same event loop."""

    async def main() -> Any:
        try:
            return await coro
        finally:
            await validator.aclose()

    return asyncio.run(main())

"""The independent RFC 7662 corpus (tests/data/vectors, and ../shared/vectors when present), served over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from labkit import validate_security_config
from labkit.auth import build_validator
from labkit.errors import AuthError
from labkit.servers import ServerThread

from ..helpers import free_port
from .corpus import load, params, sources

pytestmark = [pytest.mark.vectors, pytest.mark.integration]

CORPORA = load("introspection_cases.json")


def fake_endpoint(case: dict[str, Any], seen: list[dict[str, Any]]) -> Starlette:
    server = case["server"]
    cfg = case["config"]

    async def introspect(request: Request) -> Response:
        body = await request.body()
        seen.append(
            {
                "method": request.method,
                "content_type": request.headers.get("content-type", ""),
                "form": dict((await request.form()).items()),
                "authorization": request.headers.get("authorization", ""),
                "query": dict(request.query_params),
                "raw": body,
            }
        )
        if server.get("reject_token_in_query") and "token" in request.query_params:
            return Response(status_code=400)
        if server.get("require_basic_auth"):
            expected = "Basic " + base64.b64encode(f"{cfg['client_id']}:rs-secret-0123456789abcdef".encode()).decode()
            if request.headers.get("authorization") != expected:
                return Response('{"error":"invalid_client"}', 401, {"WWW-Authenticate": "Basic realm=introspect"})
        if server.get("delay_s"):
            await asyncio.sleep(server["delay_s"])
        headers = dict(server.get("headers", {}))
        if "body_repeat" in server:
            spec = server["body_repeat"]

            async def chunks() -> AsyncIterator[bytes]:
                yield spec["prefix"].encode()
                block = spec["chunk"].encode()
                for _ in range(spec["times"]):
                    yield block
                    await asyncio.sleep(0)
                yield spec["suffix"].encode()

            return StreamingResponse(chunks(), server["status"], headers)
        if "body_json" in server:
            return Response(json.dumps(server["body_json"]), server["status"], headers)
        return Response(server.get("body", ""), server["status"], headers)

    return Starlette(routes=[Route("/introspect", introspect, methods=["POST", "GET"])])


def oauth2_config(case: dict[str, Any], port: int) -> dict[str, Any]:
    cfg = case["config"]
    return {
        "validation_strategy": "introspection",
        "introspection_endpoint": cfg["introspection_endpoint"].replace("{port}", str(port)),
        "client_id": cfg["client_id"],
        "client_secret": cfg["client_secret"],
        "required_scopes": cfg["required_scopes"],
        "introspection_timeout": cfg["timeout_s"],
        "jwt_issuer": cfg["issuer"],
        "jwt_audience": cfg["audience"],
        "leeway": cfg["leeway"],
        "max_response_bytes": cfg["max_response_bytes"],
    }


async def verdict(case: dict[str, Any], port: int) -> tuple[str, str | None]:
    cfg = validate_security_config({"oauth2": oauth2_config(case, port)}, env={})
    validator = build_validator(cfg.oauth2, clock=lambda: case["now"])
    try:
        await validator.validate(case["token"])
    except AuthError as exc:
        return "reject", exc.reason.reason_class
    finally:
        await validator.aclose()  # type: ignore[union-attr]
    return "accept", None


@pytest.mark.parametrize("label", list(CORPORA))
def test_corpus_present(label: str) -> None:
    assert len(CORPORA[label]) >= 20, f"corpus missing at {sources()[label] / 'introspection_cases.json'}"


@pytest.mark.parametrize("case", params(CORPORA))
def test_introspection_case(case: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []
    if case["server"].get("closed"):
        result, reason = asyncio.run(verdict(case, free_port()))
    else:
        with ServerThread(fake_endpoint(case, seen), name="introspection") as server:
            result, reason = asyncio.run(verdict(case, server.port))
        expected = case["expected_request"]
        assert len(seen) == 1
        request = seen[0]
        assert request["method"] == expected["method"]
        assert request["content_type"].startswith(expected["content_type"])
        for key, value in expected["form"].items():
            assert request["form"][key] == value
        assert request["form"].get("token_type_hint") == "access_token"
        assert "token" not in request["query"]
        assert request["authorization"].startswith("Basic ")
    if case.get("strictness") == "library-defined":
        return
    assert result == case["expect"], f"{case['id']}: {case['description']} -> {result} ({reason})"
    if result == "reject":
        acceptable = case.get("acceptable_reason_classes") or [case["expect_reason_class"]]
        assert reason in acceptable, f"{case['id']}: reason {reason} not in {acceptable}"

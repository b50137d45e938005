"""DPoP (RFC 9449) through every front door, in process (``httpx.ASGITransport``): the README's four apps.

The ASGI guard, FastAPI's ``BearerGuard``, Starlette's ``BearerBackend`` and the mcp SDK with
``GateTokenVerifier`` + ``DPoPMiddleware`` hold a DPoP-bound token to its proof with the one ``DPoPPolicy``
and answer with the same RFC 9449 §7.1 challenge and audit reason. ``test_integrations_dpop_http.py`` runs
the same table over real HTTP with tokens the lab provider binds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from labkit.audit import AuditLog
from labkit.auth.dpop import make_proof
from labkit.config import load_config
from labkit.guard import GuardUser, gate_for
from labkit.integrations.fastapi import BearerGuard
from labkit.integrations.starlette import BearerBackend, requires

from ..helpers import AUDIENCE, ISSUER, Keys, mint
from .test_integrations import KINDS, build_apps, served, write_config

pytestmark = pytest.mark.anyio

KEY = ECKey.generate_key("P-256")
THIEF = ECKey.generate_key("P-256")
BASE = "http://127.0.0.1:8000"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def target(kind: str) -> tuple[str, str]:
    """The protected call of each README app: ``GET /items``, or MCP ``tools/list`` (``POST /mcp``)."""
    return ("POST", "/mcp") if kind == "mcp" else ("GET", "/items")


async def send(client: httpx.AsyncClient, kind: str, headers: dict[str, str]) -> httpx.Response:
    method, path = target(kind)
    if kind == "mcp":
        return await client.request(method, path, json=LIST, headers={**MCP_HEADERS, **headers})
    return await client.request(method, path, headers=headers)


def proof(base: str, kind: str, token: str, key: Any = KEY, *, method: str | None = None, path: str | None = None,
          **kwargs: Any) -> str:
    """A proof for the app's own call (or ``method``/``path`` instead), iat now (the SDK checks the wall clock)."""
    own_method, own_path = target(kind)
    return make_proof(key, method=method or own_method, url=base + (path or own_path), iat=time.time(),
                      access_token=token, **kwargs)


@dataclass(frozen=True)
class Misuse:
    """A way to present a stolen or misused DPoP-bound token, and the audit reason it must be refused for."""

    name: str
    headers: Callable[[str, str, str], dict[str, str]]  # (base, kind, token) -> request headers
    reason: str


MISUSES = [
    Misuse("stolen token as Bearer", lambda b, k, t: {"Authorization": f"Bearer {t}"}, "dpop_required"),
    Misuse("stolen token, no proof", lambda b, k, t: {"Authorization": f"DPoP {t}"}, "dpop_proof"),
    Misuse("stolen token, the thief's key", lambda b, k, t: {"Authorization": f"DPoP {t}",
                                                             "DPoP": proof(b, k, t, THIEF)}, "dpop_proof"),
    Misuse("proof for another URL", lambda b, k, t: {"Authorization": f"DPoP {t}",
                                                     "DPoP": proof(b, k, t, path="/other")}, "dpop_proof"),
    Misuse("proof for another method", lambda b, k, t: {"Authorization": f"DPoP {t}",
                                                        "DPoP": proof(b, k, t, method="PUT")}, "dpop_proof"),
    Misuse("proof for the Host header's URL", lambda b, k, t: {
        "Authorization": f"DPoP {t}", "Host": "evil.example",
        "DPoP": make_proof(KEY, method=target(k)[0], url="http://evil.example" + target(k)[1], iat=time.time(),
                           access_token=t)}, "dpop_proof"),
    Misuse("proof for another token", lambda b, k, t: {"Authorization": f"DPoP {t}",
                                                       "DPoP": proof(b, k, t + "x")}, "dpop_proof"),
]


def assert_dpop_refusal(response: httpx.Response, audit: AuditLog, before: int, reason: str, case: str) -> None:
    """401 with the RFC 9449 §7.1 challenge (scheme DPoP, ``algs``, the table's error), audited with ``reason``."""
    challenge = response.headers.get("www-authenticate", "")
    assert response.status_code == 401, (case, response.status_code, challenge)
    assert challenge.startswith("DPoP ") and 'algs="' in challenge and "realm" not in challenge, (case, challenge)
    error = "invalid_token" if reason == "dpop_required" else "invalid_dpop_proof"
    assert f'error="{error}"' in challenge, (case, challenge)
    events = audit.events()[before - audit.total:] if audit.total > before else []
    assert [e.reason for e in events] == [reason], (case, events)


def bound_token(keys: Keys, key: Any = KEY) -> str:
    now = int(time.time())
    return mint(keys.rsa, iat=now - 60, nbf=now - 60, exp=now + 3600, scope="api:write", cnf={"jkt": key.thumbprint()})


def readme_apps(directory: Path, keys: Keys, **dpop: Any) -> dict[str, dict[str, Any]]:
    write_config(directory, {"validation_strategy": "jwt", "jwks": keys.jwks(keys.rsa), "jwt_algorithms": ["RS256"],
                             "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **dpop})
    return build_apps(directory, {})


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> dict[str, dict[str, Any]]:
    return readme_apps(tmp_path_factory.mktemp("dpop"), keys)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_valid_proof_passes_once_and_every_misuse_is_refused(apps: dict[str, dict[str, Any]], keys: Keys,
                                                                     kind: str) -> None:
    namespace = apps[kind]
    audit: AuditLog = namespace["audit"]
    token = bound_token(keys)
    async with served(kind, namespace) as client:
        valid = {"Authorization": f"DPoP {token}", "DPoP": proof(BASE, kind, token)}
        passed = await send(client, kind, valid)
        assert passed.status_code == 200, (passed.status_code, passed.headers, audit.events()[-1:])
        before = audit.total
        assert_dpop_refusal(await send(client, kind, valid), audit, before, "dpop_proof", "replayed proof")
        assert "jti" in audit.events()[-1].detail
        for misuse in MISUSES:
            before = audit.total
            response = await send(client, kind, misuse.headers(BASE, kind, token))
            assert_dpop_refusal(response, audit, before, misuse.reason, misuse.name)


@pytest.mark.parametrize("kind", KINDS)
async def test_require_dpop_and_nonces_answer_like_the_guard(tmp_path: Path, keys: Keys, kind: str) -> None:
    namespace = readme_apps(tmp_path, keys, require_dpop=True, dpop_nonce=True)[kind]
    audit: AuditLog = namespace["audit"]
    token = bound_token(keys)
    now = int(time.time())
    plain = mint(keys.rsa, iat=now - 60, nbf=now - 60, exp=now + 3600, scope="api:read")
    async with served(kind, namespace) as client:
        bearer = await send(client, kind, {"Authorization": f"Bearer {plain}"})
        assert bearer.status_code == 401 and bearer.headers["www-authenticate"].startswith("DPoP "), bearer.headers
        anonymous = await send(client, kind, {})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("DPoP ")
        first = await send(client, kind, {"Authorization": f"DPoP {token}", "DPoP": proof(BASE, kind, token)})
        assert first.status_code == 401 and 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
        assert audit.events()[-1].reason == "dpop_nonce"
        nonce = first.headers["dpop-nonce"]
        second = await send(client, kind, {"Authorization": f"DPoP {token}",
                                           "DPoP": proof(BASE, kind, token, nonce=nonce)})
        assert second.status_code == 200, audit.events()[-1:]


async def test_mcp_without_the_middleware_refuses_bound_tokens(apps: dict[str, dict[str, Any]], keys: Keys) -> None:
    verifier = apps["mcp"]["verifier"]
    token = bound_token(keys)
    assert await verifier.verify_token(token) is None  # presented as Bearer: RFC 9449 §7.2
    assert verifier.last.reason.value == "dpop_required"


# -- which URL the app sees: behind a proxy, under root_path, inside a Mount -------------------------------------

def fastapi_app(keys: Keys, tmp_path: Path, public_url: str | None) -> tuple[FastAPI, AuditLog]:
    write_config(tmp_path, {"validation_strategy": "jwt", "jwks": keys.jwks(keys.rsa), "jwt_algorithms": ["RS256"],
                            "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE})
    audit = AuditLog()
    guard = BearerGuard(gate_for(load_config(tmp_path / "agentup.yml")), audit=audit, public_url=public_url)
    app = FastAPI()

    @app.get("/items")
    async def items(user: GuardUser = Security(guard, scopes=["api:read"]),  # noqa: B008 - FastAPI's idiom
                    again: GuardUser = Security(guard, scopes=["api:write"])) -> dict[str, str]:  # noqa: B008
        return {"hello": user.identity}  # two Security(...) on one route: one authentication, one jti spent

    return app, audit


def starlette_app(keys: Keys, tmp_path: Path, public_url: str | None) -> Starlette:
    write_config(tmp_path, {"validation_strategy": "jwt", "jwks": keys.jwks(keys.rsa), "jwt_algorithms": ["RS256"],
                            "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE})
    backend = BearerBackend(gate_for(load_config(tmp_path / "agentup.yml")), audit=AuditLog(), public_url=public_url)

    @requires("api:read")
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.user.identity})

    return Starlette(routes=[Route("/items", items)],
                     middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])


async def status(app: Any, path: str, token: str, htu: str, *, root_path: str = "") -> int:
    transport = httpx.ASGITransport(app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        proof_value = make_proof(KEY, method="GET", url=htu, iat=time.time(), access_token=token)
        response = await client.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof_value})
        return response.status_code


@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
async def test_behind_a_proxy_the_proof_names_the_public_url(tmp_path: Path, keys: Keys, framework: str) -> None:
    # The proxy serves https://agents.example/api/items and strips /api before the app (uvicorn not told).
    public = "https://agents.example/api"
    app = fastapi_app(keys, tmp_path, public)[0] if framework == "fastapi" else starlette_app(keys, tmp_path, public)
    token = bound_token(keys)
    assert await status(app, "/items", token, f"{public}/items") == 200
    assert await status(app, "/items", token, f"{BASE}/items") == 401  # what the app alone sees: not the client's
    assert await status(app, "/items", token, "https://agents.example/items") == 401


async def test_root_path_and_mounts_keep_the_prefix_in_the_url(tmp_path: Path, keys: Keys) -> None:
    app, audit = fastapi_app(keys, tmp_path, None)
    token = bound_token(keys)
    # uvicorn --root-path /api: the server puts the prefix in path and raw_path (as ASGITransport does here)
    assert await status(app, "/api/items", token, f"{BASE}/api/items", root_path="/api") == 200
    assert await status(app, "/api/items", token, f"{BASE}/items", root_path="/api") == 401
    # a FastAPI app mounted inside a Starlette app: the URL the client called, prefix included
    outer = Starlette(routes=[Mount("/v1", app=app)])
    assert await status(outer, "/v1/items", token, f"{BASE}/v1/items") == 200
    assert await status(outer, "/v1/items", token, f"{BASE}/items") == 401
    # each Security(...) records its decision; the refusals name the proof
    assert [e.reason for e in audit.events() if e.decision == "deny"] == ["dpop_proof", "dpop_proof"]

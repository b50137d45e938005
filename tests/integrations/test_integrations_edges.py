"""The integrations' translation layer, in process: every ``Reason``, admission (429), tenants, misuse.

A small stand-in validator makes each ``Reason`` on demand (token ``r.<reason>``); the point here is that
the ASGI guard, the FastAPI dependency and the Starlette backend answer every one from the same table.
Real validation is covered by ``test_integrations.py`` and ``test_integrations_http.py``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labkit.audit import AuditLog
from labkit.auth import Principal
from labkit.errors import AuthError, Reason
from labkit.guard import Endpoint, Gate, GuardUser, OAuth2Guard, Requirement
from labkit.guard.gate import TenantAuth
from labkit.guard.rfc6750 import OUTCOMES
from labkit.integrations.fastapi import BearerGuard, client_credentials_scheme
from labkit.integrations.mcp import GateTokenVerifier
from labkit.integrations.starlette import BearerBackend, requires
from labkit.scopes import ScopeHierarchy

from ..helpers import examples

pytestmark = pytest.mark.anyio


class StandIn:
    """Accepts one token; ``r.<reason>`` raises that reason."""

    strategy = "stand-in"

    def __init__(self, accepted: str, scopes: str = "api:read") -> None:
        self.accepted, self.scopes = accepted, frozenset(scopes.split())

    def cached(self, token: str) -> Principal | None:
        return None  # remembers nothing: every request asks validate()

    async def aclose(self) -> None:
        return None

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        if token.startswith("r."):
            # As labkit's validators do: an insufficient_scope refusal names the scopes (oauth2.required_scopes).
            raise AuthError(Reason(token[2:]), "made on demand", scopes=("files:read",))
        if token != self.accepted:
            raise AuthError(Reason.SIGNATURE, "not the accepted token")
        return Principal("alice", self.scopes, client_id="lab-client", issuer="https://issuer.test",
                         fingerprint="0123456789ab")


def gate(admit: Any = None) -> Gate:
    hierarchy = ScopeHierarchy({"api:write": ["api:read"]})
    return Gate({None: TenantAuth(None, StandIn("good"), hierarchy),
                 "acme": TenantAuth("acme", StandIn("acme-good"), hierarchy)}, admit=admit)


async def item(request: Request) -> Response:
    return JSONResponse({"tenant": request.path_params.get("tenant"), "who": request.user.identity})


def apps(shared: Gate, audit: AuditLog) -> dict[str, Any]:
    """The guard, FastAPI and Starlette over one gate; each serves /items and /t/{tenant}/items (api:read)."""
    inner = Starlette(routes=[Route("/items", item, name="items"), Route("/t/{tenant}/items", item, name="items_t")])
    needs = Endpoint("items", requirement=Requirement(("api:read",), "items"))
    guard = OAuth2Guard(inner, gate=shared, routes=inner.routes, audit=audit,
                        endpoints={"items": needs, "items_t": needs})
    fastapi = FastAPI()
    dependency = BearerGuard(shared, audit=audit)

    @fastapi.get("/items")
    @fastapi.get("/t/{tenant}/items")
    async def fastapi_item(tenant: str | None = None,  # local dependencies: string annotations cannot name them
                           user: GuardUser = Security(dependency, scopes=["api:read"])) -> dict[str, Any]:  # noqa: B008
        return {"tenant": tenant, "who": user.identity}

    routes = [Route("/items", requires("api:read")(item)), Route("/t/{tenant}/items", requires("api:read")(item))]
    backend = BearerBackend(shared, audit=audit, routes=routes)
    starlette = Starlette(
        routes=routes,
        middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])
    return {"guard": guard, "fastapi": fastapi, "starlette": starlette}


async def answers(shared: Gate, path: str, authorization: str | None) -> dict[str, tuple[int, str | None, str | None]]:
    """Status, challenge and Retry-After of each app for one request."""
    found = {}
    for kind, app in apps(shared, AuditLog()).items():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as client:
            headers = {"Authorization": authorization} if authorization else {}
            response = await client.get(path, headers=headers)
        found[kind] = (response.status_code, response.headers.get("www-authenticate"),
                       response.headers.get("retry-after"))
    return found


@pytest.mark.parametrize("reason", list(Reason))
async def test_every_reason_gets_the_tables_answer_everywhere(reason: Reason) -> None:
    found = await answers(gate(), "/items", f"Bearer r.{reason.value}")
    outcome = OUTCOMES[reason]
    assert {status for status, _, _ in found.values()} == {outcome.status}, found
    assert len({challenge for _, challenge, _ in found.values()}) == 1, found
    challenge = found["guard"][1]
    assert (challenge is not None) == outcome.challenge
    if challenge and outcome.error:
        assert f'error="{outcome.error}"' in challenge
    # The MCP verifier refuses every one of them (the SDK then answers 401).
    assert await GateTokenVerifier(gate()).verify_token(f"r.{reason.value}") is None


async def test_admission_answers_429_with_retry_after_everywhere() -> None:
    found = await answers(gate(admit=lambda principal, requirement: 2.5), "/items", "Bearer good")
    assert set(found.values()) == {(429, None, "3")}, found


@pytest.mark.parametrize(("path", "token", "status"), [
    ("/t/acme/items", "acme-good", 200),
    ("/t/acme/items", "good", 401),  # the default tenant's token at acme
    ("/items", "acme-good", 401),  # acme's token at the root
    ("/t/nobody/items", "good", 401),  # no such tenant
])
async def test_tenants_are_judged_by_their_own_validator(path: str, token: str, status: int) -> None:
    found = await answers(gate(), path, f"Bearer {token}")
    assert {answer[0] for answer in found.values()} == {status}, found


async def test_fastapi_can_declare_an_oauth2_scheme() -> None:
    app = FastAPI()
    dependency = BearerGuard(gate(), scheme=client_credentials_scheme("https://as.test/token", {"api:read": "read"}))

    @app.get("/items")
    async def items(user: GuardUser = Security(dependency, scopes=["api:read"])) -> str:  # noqa: B008
        return user.identity

    document = app.openapi()
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow == {"tokenUrl": "https://as.test/token", "scopes": {"api:read": "read"}}
    assert document["paths"]["/items"]["get"]["security"] == [{"oauth2": ["api:read"]}]


async def test_starlette_requires_runs_sync_endpoints_and_refuses_misuse() -> None:
    @requires(["api:read"])
    def sync_item(request: Request) -> Response:
        return JSONResponse({"who": request.user.identity})

    backend = BearerBackend(gate())
    app = Starlette(routes=[Route("/sync", sync_item)],
                    middleware=[Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1") as client:
        assert (await client.get("/sync", headers={"Authorization": "Bearer good"})).json() == {"who": "alice"}
    with pytest.raises(TypeError, match="request"):
        requires("api:read")(lambda conn: None)
    bare = Starlette(routes=[Route("/sync", sync_item)])  # no AuthenticationMiddleware
    with pytest.raises(RuntimeError, match="AuthenticationMiddleware"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(bare), base_url="http://127.0.0.1") as client:
            await client.get("/sync")


async def raw_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:
    """One GET with raw header bytes, straight through ASGI: the status and headers of the answer."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start.get("headers", []))


AUTHORIZATION = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda scheme, body: scheme + body,
              st.sampled_from([b"Bearer ", b"bearer  ", b"BEARER ", b"Basic ", b"Bearer", b"Bearer\t", b""]),
              st.one_of(st.binary(max_size=200), st.sampled_from([b"good", b"good ", b"r.expired", b"r.scope"]))),
)
GOOD = re.compile(rb"(?i:bearer) +good *")


@settings(max_examples=examples(150), deadline=None)
@given(values=st.lists(AUTHORIZATION, max_size=3))
async def test_any_authorization_bytes_get_a_table_answer_never_5xx(values: list[bytes]) -> None:
    # Property: the guard, FastAPI and Starlette give the same answer: 200 for the one good token alone in
    # RFC 6750's grammar, else a refusal from the table with its challenge; nothing raises, nothing is 5xx.
    found = {}
    for kind, app in apps(gate(), AuditLog()).items():
        status, headers = await raw_get(app, "/items", [(b"authorization", v) for v in values])
        found[kind] = (status, headers.get(b"www-authenticate"))
    assert len(set(found.values())) == 1, (values, found)
    status, challenge = found["guard"]
    assert (status == 200) == (len(values) == 1 and GOOD.fullmatch(values[0]) is not None), (values, found)
    assert status in (200, 401, 403), (values, found)
    assert status == 200 or (challenge is not None and challenge.startswith(b'Bearer'))


@settings(max_examples=examples(150), deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.sampled_from([" good", "good  ", "good\t", "go od", "good\x00"])))
async def test_the_mcp_verifier_holds_what_the_sdk_hands_over_to_the_grammar(text: str) -> None:
    # The SDK passes whatever follows "Bearer " (latin-1 decoded); only the good token in the grammar passes.
    accepted = await GateTokenVerifier(gate()).verify_token(text)
    assert (accepted is not None) == (re.fullmatch(r" *good *", text) is not None), text

"""An in-process copy of the sample agent's surface for guard tests: real routes, real guard, recording handlers.

Every route of the agent (root, ``Mount("/t/{tenant}")``, public and protected) is kept with its name, path
and methods, but its handler only records that it ran. Tokens are signed with the test keys and validated
against an inline JWKS, so nothing touches the network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from labkit.audit import AuditLog
from labkit.config import validate_security_config
from labkit.guard import OAuth2Guard
from sample_agent.app import Agent, Handlers
from sample_agent.policy import LabUser

from ..helpers import AUDIENCE, ISSUER, NOW, Keys

TENANTS = ("acme", "globex")


def guard_config(keys: Keys) -> dict[str, Any]:
    """The default agent's shape with inline JWKS: a root tenant and two more, each with its own key."""
    def oauth2(issuer: str, key: Any) -> dict[str, Any]:
        return {"validation_strategy": "jwt", "jwks": keys.jwks(key), "jwt_algorithms": ["RS256", "ES256", "EdDSA"],
                "jwt_issuer": issuer, "jwt_audience": AUDIENCE}

    hierarchy = {"admin": ["*"], "api:write": ["api:read"], "files:write": ["files:read"], "push:write": ["push:read"]}
    return {
        "security": {"enabled": True, "type": "oauth2", "oauth2": oauth2(ISSUER, keys.rsa),
                     "scope_hierarchy": hierarchy},
        "tenants": {
            "acme": {"oauth2": oauth2(ISSUER + "acme", keys.ec), "scope_hierarchy": hierarchy},
            "globex": {"oauth2": oauth2(ISSUER + "globex", keys.ed), "scope_hierarchy": {"api:read": []}},
        },
    }


class Recorder:
    """Handlers that record the route they stand for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def handler(self, name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            self.calls.append((name, request.path_params.get("tenant")))
            return JSONResponse({"route": name})

        return endpoint

    def routes(self, routes: list[BaseRoute]) -> list[BaseRoute]:
        """``routes`` with every handler replaced by a recorder (paths, methods, names and mounts kept)."""
        copied: list[BaseRoute] = []
        for route in routes:
            if isinstance(route, Mount):
                copied.append(Mount(route.path, routes=self.routes(list(route.routes)), name=route.name))
            elif isinstance(route, Route):
                copied.append(Route(route.path, self.handler(route.name), methods=sorted(route.methods or ()),
                                    name=route.name))
        return copied


def recording_guard(keys: Keys, root_path: str = "") -> tuple[OAuth2Guard, Recorder, Agent, AuditLog]:
    """The agent's guard in front of recording handlers."""
    audit = AuditLog(1000)
    agent = Agent(validate_security_config(guard_config(keys)), clock=lambda: NOW, audit=audit,
                  sandbox=Path(tempfile.gettempdir()))  # no capability runs here
    recorder = Recorder()
    handlers = Handlers(agent)
    app = Starlette(routes=recorder.routes(handlers.routes()))
    guard = OAuth2Guard(app, gate=agent.gate, routes=app.routes, endpoints=handlers.endpoints(), audit=audit,
                        user_factory=LabUser, realm="oauth2-lab")  # as the sample agent's
    return guard, recorder, agent, audit


PUBLIC = {"agent_card", "agent_card_v03", "resource_metadata", "resource_metadata_mcp", "jwks", "stub"}


class Answer:
    """What an ASGI app answered."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self) -> Any:
        import json

        return json.loads(self.content)


async def asgi_request(app: Any, method: str, target: str, *, headers: dict[str, str] | None = None,
                       body: bytes = b"", root_path: str = "") -> Answer:
    """One HTTP request straight into ``app`` as a server would send it: ``path`` percent-decoded from the raw target."""
    raw_path = target.encode("latin-1")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": unquote(target), "raw_path": raw_path, "root_path": root_path, "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "server": ("agent.test", 80), "client": ("127.0.0.1", 5000),
    }
    chunks = [body]
    status = 0
    answer_headers: dict[str, str] = {}
    out: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(), "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers.update({k.decode(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, answer_headers, b"".join(out))

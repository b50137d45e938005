"""Benchmark MCP server: one official-SDK ``MCPServer`` (one tool), protected by labkit or by a PyJWT verifier.

Run by benchmarks/peers.py in its own process: ``--auth labkit`` is the README's MCP example (``gate_for``,
``GateTokenVerifier``, ``DPoPMiddleware`` around the SDK's app), ``labkit-bare`` the same verifier without the
middleware, ``pyjwt`` the SDK's own auth with the ``TokenVerifier`` a user would write with PyJWT (no cache),
``none`` no auth at all (the SDK alone, for scale).
All three validate RS256 against the same inline JWK Set, with the same issuer, audience and required scope (the
SDK's ``required_scopes``), and serve the same stateless JSON app with uvicorn on 127.0.0.1. Prints
``url: URL`` once it listens, then serves until stdin closes. Only ``labkit*`` imports labkit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
from typing import Any

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

RESOURCE = "https://mcp.bench/mcp"  # the tokens' audience and the server's RFC 9728 resource
ISSUER = "https://issuer.bench/"
SCOPE = "api:read"


class PyJWTVerifier:
    """The peer: ``verify_token`` with PyJWT (RS256 only; issuer, audience, ``exp``, ``sub`` required; a
    ``scope`` string), keys from the JWK Set by ``kid``. What the SDK's docs leave to the user, written plainly."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        import jwt

        self.jwt = jwt
        self.keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's ``AccessToken``, or None when PyJWT refuses it."""
        jwt = self.jwt
        try:
            key = self.keys[jwt.get_unverified_header(token).get("kid")]
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=RESOURCE, issuer=ISSUER,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except (jwt.PyJWTError, KeyError):
            return None
        scope = claims.get("scope")
        if not isinstance(scope, str):
            return None
        return AccessToken(token=token, client_id=str(claims.get("client_id") or claims["sub"]),
                           scopes=scope.split(), expires_at=int(claims["exp"]), resource=RESOURCE,
                           subject=str(claims["sub"]), claims={"iss": claims["iss"]})


def labkit_verifier(jwks: dict[str, Any]) -> Any:
    """labkit's ``GateTokenVerifier`` as the README builds it, for the JWK Set ``jwks`` (RS256 only)."""
    from labkit import validate_security_config
    from labkit.integrations import gate_for
    from labkit.integrations.mcp import GateTokenVerifier

    cfg = validate_security_config({"oauth2": {"jwt_issuer": ISSUER, "jwt_audience": RESOURCE, "jwks": jwks,
                                               "jwt_algorithm": "RS256"}}, env={})
    return GateTokenVerifier(gate_for(cfg, resources=[RESOURCE]), resource_server_url=RESOURCE,
                             required_scopes=[SCOPE])


def auth_stack(auth: str, jwks: dict[str, Any], app: Any) -> Any:
    """``app`` behind the SDK's auth as ``MCPServer`` wires it around ``/mcp`` (``AuthenticationMiddleware`` with
    ``BearerAuthBackend``, ``AuthContextMiddleware``, ``RequireAuthMiddleware``), for in-process measures."""
    from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
    from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
    from starlette.middleware.authentication import AuthenticationMiddleware

    verifier = PyJWTVerifier(jwks) if auth == "pyjwt" else labkit_verifier(jwks)
    inner = AuthContextMiddleware(RequireAuthMiddleware(app, [SCOPE]))
    stack: Any = AuthenticationMiddleware(inner, backend=BearerAuthBackend(verifier))
    if auth == "labkit":
        from labkit.integrations.mcp import DPoPMiddleware

        stack = DPoPMiddleware(stack, verifier, public_url="http://127.0.0.1:8000")
    return stack


def build(auth: str, jwks: dict[str, Any]) -> Any:
    """The ASGI app of ``auth``: the same server and tool, only the verifier (and labkit's middleware) differ."""
    settings = AuthSettings(issuer_url=ISSUER, resource_server_url=RESOURCE, required_scopes=[SCOPE],  # type: ignore[arg-type]
                            validate_token_resource=False)
    if auth == "none":
        server: MCPServer[Any] = MCPServer("bench", log_level="WARNING")
    elif auth == "pyjwt":
        server = MCPServer("bench", log_level="WARNING", token_verifier=PyJWTVerifier(jwks), auth=settings)
    else:
        from labkit.integrations import closing
        from labkit.integrations.mcp import DPoPMiddleware

        verifier = labkit_verifier(jwks)
        server = MCPServer("bench", log_level="WARNING", lifespan=closing(verifier.gate), token_verifier=verifier,
                           auth=settings)

    @server.tool()
    def hello(name: str) -> str:
        return f"hello {name}"

    app = server.streamable_http_app(stateless_http=True, json_response=True)
    if auth == "labkit":
        app = DPoPMiddleware(app, verifier, public_url="http://127.0.0.1:8000")
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth", choices=["labkit", "labkit-bare", "pyjwt", "none"], required=True)
    parser.add_argument("--jwks", required=True, help="a file holding the public JWK Set")
    args = parser.parse_args()
    with open(args.jwks, encoding="utf-8") as file:
        jwks = json.load(file)
    app = build(args.auth, jwks)
    # IPPROTO_TCP explicit: asyncio then sets TCP_NODELAY on accepted sockets (else ~40 ms of delayed ACK each)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)

    def stop_on_eof() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_on_eof, daemon=True).start()
    host, port = sock.getsockname()

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        print(f"url: http://{host}:{port}/mcp", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()

"""The lab-only admin API (``X-Lab-Admin`` header): key rotation, direct minting, clients, fault injection."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .client_endpoints import client_listing
from .responses import NO_STORE
from .server import LabAuthorizationServer
from .wire import read_json, safe_description

if TYPE_CHECKING:
    from .app import MockProvider

__all__ = ["admin_clients", "admin_faults", "admin_mint", "admin_rotate"]

_UNAUTHORIZED = {"error": "unauthorized"}


def _admin_ok(provider: MockProvider, request: Request) -> bool:
    given = request.headers.get("x-lab-admin", "")
    return hmac.compare_digest(given.encode(), provider.admin_token.encode())


async def admin_rotate(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``POST /admin/rotate``: new signing keys (the old stay published for their grace period)."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    return JSONResponse({"rotated": server.keys.rotate()})


async def admin_mint(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``POST /admin/mint``: direct minting over HTTP for ``labkit mint --lifetime``."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    try:
        spec = await read_json(request)
        audience = spec.get("audience")
        if audience is not None and not isinstance(audience, str):
            raise ValueError("audience must be a string")
        token = provider.mint(
            spec.get("scopes", []), subject=spec.get("subject"), client_id=spec.get("client_id", "lab-client"),
            lifetime=int(spec.get("lifetime", 3600)), alg=spec.get("alg", "RS256"), persona=spec.get("persona"),
            tenant=server.tenant, audience=audience,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
    return JSONResponse({"access_token": token, "token_type": "Bearer"}, headers=NO_STORE)


async def admin_clients(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``GET /admin/clients``: the tenant's clients, registered ones last (metadata only, never a secret)."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    return JSONResponse({"clients": client_listing(server)})


async def admin_faults(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``GET/POST/DELETE /admin/faults``: list, set (``{"endpoint": ..., ...}``) or clear injected faults."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    if request.method == "DELETE":
        provider.faults.reset()
    elif request.method == "POST":
        try:
            spec = await read_json(request)
            endpoint = spec.pop("endpoint")
            provider.faults.set(endpoint, tenant=server.tenant, **spec)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
    return JSONResponse({"faults": provider.faults.active()})

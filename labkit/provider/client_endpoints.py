"""HTTP handlers for the client-side flows: RFC 7591 registration, the registered-clients admin list, and the
simulated enterprise IdP's endpoints (its keys and its ID-JAG issuance, SEP-990 leg 1).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .idp import ID_JAG_TOKEN_TYPE, EnterpriseIdP
from .responses import NO_STORE
from .rfc8693 import TOKEN_EXCHANGE
from .server import LabAuthorizationServer
from .wire import lab_json_request, lab_request

__all__ = ["client_listing", "idp_metadata", "issue_id_jag", "register_client"]

async def register_client(request: Request, server: LabAuthorizationServer) -> tuple[int, Any, list[Any]]:
    """``POST /register`` (RFC 7591 §3.1); raises ``OAuth2Error`` for a malformed request."""
    registration = await lab_json_request(request)
    status, body, headers = server.create_endpoint_response("client_registration", registration)
    return int(status), body, list(headers)


def client_listing(server: LabAuthorizationServer) -> list[dict[str, Any]]:
    """Every client of ``server`` as the admin API shows it (built-in first, then in registration order): metadata
    only, never a secret."""
    with server.store.lock:
        clients = list(server.store.clients.values())
    return [
        {
            "client_id": c.client_id,
            "name": c.name,
            "dynamic": c.registered_at is not None,
            "registered_at": int(c.registered_at) if c.registered_at is not None else None,
            "confidential": c.client_secret is not None or c.auth_method == "private_key_jwt",
            "auth_method": c.auth_method or ("none" if c.client_secret is None else "client_secret_basic"),
            "grant_types": list(c.grant_types),
            "scopes": list(c.scopes),
            "redirect_uris": list(c.redirect_uris),
        }
        for c in sorted(clients, key=lambda c: c.registered_at is not None)  # stable: registration order
    ]


def idp_metadata(idp: EnterpriseIdP) -> dict[str, Any]:
    """The IdP's discovery document (the few members the lab's flows use)."""
    issuer = idp.issuer()
    return {"issuer": issuer, "jwks_uri": f"{issuer}/jwks", "token_endpoint": f"{issuer}/token",
            "grant_types_supported": [TOKEN_EXCHANGE]}


async def issue_id_jag(request: Request, idp: EnterpriseIdP, servers: dict[str | None, LabAuthorizationServer]
                       ) -> Response:
    """``POST /idp/token``: an ID-JAG for a lab user (SIMULATED single sign-on: ``login_hint`` names the user).

    The form follows SEP-990 leg 1 (RFC 8693 shape): ``requested_token_type`` = ID-JAG, ``audience`` = the
    issuer of a lab authorization server, ``client_id`` registered there, optional ``resource`` and ``scope``.
    Raises ``OAuth2Error`` (``invalid_request``) for anything else.
    """
    form = await lab_request(request)
    data = form.payload.data
    if data.get("requested_token_type") != ID_JAG_TOKEN_TYPE:
        raise InvalidRequestError("requested_token_type must be urn:ietf:params:oauth:token-type:id-jag")
    server = next((s for s in servers.values() if s.issuer() == data.get("audience")), None)
    if server is None:
        raise InvalidRequestError("audience must be the issuer of a lab authorization server")
    user = server.store.users.get(data.get("login_hint", ""))
    client_id = data.get("client_id", "")
    if user is None or client_id not in server.store.clients:
        raise InvalidRequestError("unknown login_hint or client_id")
    scope = data.get("scope") or None
    token = idp.issue_id_jag(subject=user.subject, audience=server.issuer(), client_id=client_id,
                             resource=data.get("resource") or None, scope=scope)
    body = {"access_token": token, "issued_token_type": ID_JAG_TOKEN_TYPE, "token_type": "N_A",
            "expires_in": 300}
    if scope:
        body["scope"] = scope
    return JSONResponse(body, headers=NO_STORE)

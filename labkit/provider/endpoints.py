"""The provider's OAuth 2.0 endpoints as Starlette handlers over one tenant's ``LabAuthorizationServer``.

RFC 8414 metadata, the authorization endpoint (headless approval, or the consent page and its form), the token
endpoint (every grant, DPoP), RFC 7662 introspection, RFC 7009 revocation, RFC 7591 registration and GitHub's
token check. A URL ``client_id`` (a client ID metadata document) is resolved before authlib runs. Each raises
``OAuth2Error``; the app answers it.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .client_endpoints import register_client
from .consent import ConsentView, consent_headers, render_consent
from .keys import SIGNING_ALGORITHMS
from .models import Client, User
from .oidc import ID_TOKEN_ALG
from .request import LabRequest
from .responses import oauth_response
from .rfc7523 import JWT_BEARER
from .rfc8693 import TOKEN_EXCHANGE
from .server import LabAuthorizationServer
from .wire import basic_credentials, lab_request, read_json, safe_description

__all__ = ["authorize", "decide", "github", "introspect", "metadata", "register", "revoke", "token"]


async def metadata(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 8414 §3 authorization server metadata (also served as OpenID configuration)."""
    issuer = server.issuer()
    auth_methods = ["client_secret_basic", "client_secret_post"]
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "response_types_supported": ["code"],
        "registration_endpoint": f"{issuer}/register",  # RFC 7591
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", JWT_BEARER,
                                  TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": [*auth_methods, "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        "scopes_supported": sorted({s for c in server.store.clients.values() for s in c.scopes}),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "dpop_signing_alg_values_supported": list(server.dpop.algorithms),  # RFC 9449 §5.1
        "client_id_metadata_document_supported": True,  # MCP 2025-11-25: URL client_ids (cimd)
    }
    return JSONResponse(document)


async def authorize(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 6749 §4.1.1: the consent page for ``prompt=consent``, else a headless login (``login_hint``) that
    approves; RFC 9207 ``iss`` on the redirect.

    Raises ``OAuth2Error`` for a request that cannot be answered with a redirect (unknown client, bad redirect URI).
    """
    authorization = await lab_request(request, form=False)
    await server.resolve_client(authorization)  # a URL client_id: its metadata document, before authlib runs
    hint = authorization.payload.data.get("login_hint") or "alice"
    user = server.store.users.get(hint)
    if user is None:
        raise InvalidRequestError("unknown login_hint (lab users: alice, bob)")
    try:
        grant = server.run(authorization, lambda r: server.get_consent_grant(request=r, end_user=user))
    except OAuth2Error as error:
        return _redirect(server, *_error(error))
    # OIDC Core §3.1.2.1: prompt=consent asks the user; the lab's headless login approves any other request
    if "consent" in (authorization.payload.data.get("prompt") or "").split():
        return _consent_page(request, server, authorization, grant, user.subject)
    return _answer(server, authorization, grant, user)


async def decide(request: Request, server: LabAuthorizationServer) -> Response:
    """``POST /authorize``: the consent page's Approve or Deny, for the pending authorization its token names.

    Deny: RFC 6749 §4.1.2.1 ``access_denied`` on the redirect. Raises ``OAuth2Error`` (400) for a form that is not
    a live consent page's, or a request that no longer validates.
    """
    form = await lab_request(request)
    data = form.payload.data
    # CSRF: one-time token bound to this pending authorization (consent.ConsentBook.take)
    pending = server.consents.take(data.get("pending"), data.get("csrf"))
    decision = data.get("decision")
    if decision not in ("approve", "deny"):
        raise InvalidRequestError("decision must be approve or deny")
    uri = f"{server.issuer()}/authorize?{urlencode(pending.query)}"
    authorization = LabRequest("GET", uri, form.headers, list(pending.query), [])
    await server.resolve_client(authorization)
    user = server.store.users[pending.user]
    try:
        grant = server.run(authorization, lambda r: server.get_consent_grant(request=r, end_user=user))
    except OAuth2Error as error:
        return _redirect(server, *_error(error))
    return _answer(server, authorization, grant, user if decision == "approve" else None)


def _consent_page(request: Request, server: LabAuthorizationServer, authorization: LabRequest, grant: Any,
                  user: str) -> Response:
    """The consent page for a validated request, with a new pending authorization behind its form."""
    client: Client = authorization.client
    pending_id, csrf = server.consents.open(list(parse_qsl(request.url.query, keep_blank_values=True)), user)
    scope = client.get_allowed_scope(authorization.payload.scope)
    view = ConsentView(client=client, redirect_uri=grant.redirect_uri, scopes=tuple(scope.split()),
                       resources=tuple(getattr(authorization, "lab_resources", ())), user=user,
                       pending_id=pending_id, csrf=csrf, action=f"{server.issuer()}/authorize")
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(render_consent(view, nonce), headers=consent_headers(view, server.frame_ancestors, nonce))


def _answer(server: LabAuthorizationServer, authorization: LabRequest, grant: Any, user: User | None) -> Response:
    """The authorization response: a code for ``user``, or ``access_denied`` when ``user`` is None."""
    try:
        answer = server.run(
            authorization, lambda r: server.create_authorization_response(r, grant_user=user, grant=grant)
        )
    except OAuth2Error as error:
        answer = _error(error)
    return _redirect(server, *answer)


def _error(error: OAuth2Error) -> tuple[int, Any, list[tuple[str, str]]]:
    error.description = safe_description(error.description)
    status, body, headers = error()
    return status, body, headers


def _redirect(server: LabAuthorizationServer, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    if status == 302:
        # RFC 9207 §2: every authorization response, success or error, names its issuer
        headers = [(k, add_params_to_uri(v, [("iss", server.issuer())]) if k == "Location" else v)
                   for k, v in headers]
    return oauth_response(status, body, headers)


async def token(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 6749 §3.2 token endpoint (every grant), with RFC 9449 DPoP proofs; raises ``OAuth2Error``."""
    form = await lab_request(request)
    await server.resolve_client(form)
    # RFC 9449 §5: a DPoP proof binds the token to the client's key; checked before the grant runs
    form.lab_dpop = server.dpop.check(request.headers, request.headers.getlist("dpop"), f"{server.issuer()}/token")
    status, body, headers = server.run(form, server.create_token_response)  # the proof is spent on authentication
    return oauth_response(status, body, headers)


async def introspect(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 7662 token introspection; raises ``OAuth2Error``."""
    form = await lab_request(request)
    status, body, headers = server.run(form, lambda r: server.create_endpoint_response("introspection", r))
    return oauth_response(status, body, headers)


async def revoke(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 7009 token revocation; raises ``OAuth2Error``."""
    form = await lab_request(request)
    status, body, headers = server.run(form, lambda r: server.create_endpoint_response("revocation", r))
    return oauth_response(status, body, headers)


async def github(request: Request, server: LabAuthorizationServer) -> Response:
    """GitHub's ``POST /applications/{client_id}/token`` check, simulated (Basic auth, GitHub's error bodies)."""
    client = server.store.clients.get(request.path_params["client_id"])
    try:
        client_id, secret = basic_credentials(request.headers)
    except OAuth2Error:
        client_id = secret = None
    authenticated = (client is not None and secret is not None and client_id == client.client_id
                     and client.check_client_secret(secret))
    if client is None or not authenticated:
        challenge = {"WWW-Authenticate": 'Basic realm="GitHub"'}
        return JSONResponse({"message": "Bad credentials"}, 401, headers=challenge)
    try:
        token = (await read_json(request)).get("access_token")
    except (ValueError, AttributeError):
        return JSONResponse({"message": "Problems parsing JSON"}, 400)
    record = server.store.find_token(token) if isinstance(token, str) else None
    if record is None or record.client_id != client.client_id or record.is_revoked() or record.is_expired():
        return JSONResponse({"message": "Not Found"}, 404)
    user = record.subject or client.client_id
    return JSONResponse(
        {
            "id": abs(hash(record.jti)) % 10**8,
            "scopes": record.scope.split(),
            "expires_at": int(record.expires_at),
            "user": {"login": user, "id": abs(hash(user)) % 10**8},
            "app": {"client_id": client.client_id, "name": "oauth2-lab GitHub app (simulated)"},
        }
    )


async def register(request: Request, server: LabAuthorizationServer) -> Response:
    """RFC 7591 §3.1 dynamic client registration; raises ``OAuth2Error``."""
    status, body, headers = await register_client(request, server)
    return oauth_response(status, body, headers)

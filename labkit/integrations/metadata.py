"""RFC 9728 protected-resource metadata, from the config the guard uses: the document, its URL and its routes.

    resource = "https://api.example/items"
    app = FastAPI(routes=metadata_routes(cfg, resource))          # or Starlette(routes=[*metadata_routes(...), ...])
    guard = BearerGuard(gate_for(cfg, resources=[resource]), resource_metadata=metadata_url(resource))

``protected_resource_metadata`` is the one builder of the document (the sample agent serves it too);
``metadata_document`` fills it from a ``SecurityConfig`` (the authorization servers are the tenant's
``jwt_issuer`` values, the scopes its hierarchy's, ``require_dpop`` its DPoP flag); ``metadata_url`` is where
RFC 9728 §3.1 puts it (the well-known path between the host and the resource's path), the value challenges carry
as ``resource_metadata=``; ``metadata_routes`` serves it there (GET, public: under ``OAuth2Guard`` declare the
route named ``METADATA_ROUTE`` public). The MCP SDK serves its own metadata (``AuthSettings``). Routes are
Starlette's, so FastAPI takes them as they are; nothing here imports FastAPI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..config import SecurityConfig

__all__ = ["METADATA_ROUTE", "WELL_KNOWN", "metadata_document", "metadata_routes", "metadata_url",
           "protected_resource_metadata"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"  # RFC 9728 §3
METADATA_ROUTE = "oauth_protected_resource"  # the name of the routes metadata_routes() returns


def protected_resource_metadata(*, resource: str, issuers: Iterable[str], scopes: Iterable[str],
                                resource_name: str | None = None, dpop_required: bool = False) -> dict[str, Any]:
    """RFC 9728 §2 metadata for ``resource``: its authorization servers, scopes, the header as the one bearer method
    (RFC 6750 §2.1, all the guard reads) and, when DPoP is required, ``dpop_bound_access_tokens_required``."""
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(issuers),
        "scopes_supported": sorted(set(scopes)),
        "bearer_methods_supported": ["header"],
    }
    if resource_name is not None:
        document["resource_name"] = resource_name
    if dpop_required:
        document["dpop_bound_access_tokens_required"] = True  # RFC 9728 §2
    return document


def metadata_url(resource: str) -> str:
    """Where RFC 9728 §3.1 puts the metadata of ``resource``: ``https://h/.well-known/oauth-protected-resource/p``
    for ``https://h/p`` (a terminating slash dropped). Raises ``ValueError`` for a resource that is not an
    absolute http(s) URL without a fragment (RFC 9728 §1.2)."""
    parts = urlsplit(resource)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"resource {resource!r}: not an absolute http(s) URL without a fragment (RFC 9728 §1.2)")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + parts.path.rstrip("/"), parts.query, ""))


def metadata_document(cfg: SecurityConfig, resource: str, *, tenant: str | None = None,
                      scopes: Sequence[str] | None = None, resource_name: str | None = None) -> dict[str, Any]:
    """The metadata of ``resource`` from ``cfg`` (the ``tenant``'s block, None: the default one). ``scopes``:
    those to advertise (default: every scope of the tenant's hierarchy). Raises ``KeyError`` for an unknown tenant."""
    oauth2 = cfg.oauth2 if tenant is None else cfg.tenants[tenant].oauth2
    hierarchy = cfg.scope_hierarchy if tenant is None else cfg.tenants[tenant].scope_hierarchy
    return protected_resource_metadata(
        resource=resource, issuers=[i.rstrip("/") for i in oauth2.issuers],
        scopes=hierarchy.scopes() if scopes is None else scopes, resource_name=resource_name,
        dpop_required=oauth2.require_dpop)


def metadata_routes(cfg: SecurityConfig, resource: str, *, tenant: str | None = None,
                    scopes: Sequence[str] | None = None, resource_name: str | None = None) -> list[BaseRoute]:
    """GET routes serving ``metadata_document(cfg, resource, ...)`` at the path of ``metadata_url(resource)``
    (named ``METADATA_ROUTE``, out of the OpenAPI schema). Raises ``ValueError`` as ``metadata_url`` does."""
    path = urlsplit(metadata_url(resource)).path
    document = metadata_document(cfg, resource, tenant=tenant, scopes=scopes, resource_name=resource_name)

    async def endpoint(request: Request) -> Response:
        return JSONResponse(document, headers={"Cache-Control": "max-age=3600"})

    return [Route(path, endpoint, methods=["GET"], name=METADATA_ROUTE, include_in_schema=False)]

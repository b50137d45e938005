"""RFC 8707 resource indicators: which audiences a grant may carry, and narrowing at the token endpoint.

A client may ask only for resources it is allowed (``Client.allows_resource``); a code or refresh token
remembers the resources it was granted; a token request may name only some of those (``invalid_target``
otherwise) and, naming none, gets all of them. ``audience`` (the Auth0-style parameter) counts as a resource.
"""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error

__all__ = [
    "InvalidTargetError",
    "audience_claim",
    "bind_resources",
    "check_allowed",
    "default_resources",
    "narrow",
    "requested_resources",
]

# RFC 3986 §4.3: absolute-URI = scheme ":" hier-part [ "?" query ] (no fragment)
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^#\s]+")


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested resource is invalid, unknown, or not granted."""

    error = "invalid_target"
    status_code = 400


def requested_resources(request: Any) -> tuple[str, ...]:
    """The ``resource`` (repeatable) and ``audience`` values of ``request``, in order, without duplicates.

    Raises ``InvalidTargetError`` for a resource that is not an absolute URI without a fragment.
    """
    datalist: dict[str, list[str]] = request.payload.datalist
    resources = [r for r in datalist.get("resource", []) if r]
    for resource in resources:
        # RFC 8707 §2: an absolute URI, no fragment
        if not _ABSOLUTE_URI.fullmatch(resource):
            raise InvalidTargetError("resource must be an absolute URI without a fragment")
    audiences = [a for a in datalist.get("audience", []) if a]
    return tuple(dict.fromkeys([*resources, *audiences]))


def check_allowed(client: Any, resources: tuple[str, ...], default_audience: str) -> None:
    """Raise ``InvalidTargetError`` unless ``client`` may obtain tokens for every one of ``resources``."""
    # RFC 8707 §2: the client may only ask for resources the server lets it use
    if any(not client.allows_resource(resource, default_audience) for resource in resources):
        raise InvalidTargetError("a requested resource is not allowed for this client")


def narrow(requested: tuple[str, ...], granted: tuple[str, ...]) -> tuple[str, ...]:
    """The resources a token request gets: ``requested`` if all were granted, else ``invalid_target``."""
    if not requested:
        return granted
    # RFC 8707 §2.2: a token request may only narrow the grant's resources
    if any(resource not in granted for resource in requested):
        raise InvalidTargetError("a requested resource was not granted")
    return requested


def audience_claim(resources: tuple[str, ...]) -> str | list[str]:
    """The ``aud`` claim for ``resources``: a string for one, a list for several (RFC 7519 §4.1.3)."""
    return resources[0] if len(resources) == 1 else list(resources)


def default_resources(server: Any, client: Any, requested: tuple[str, ...]) -> tuple[str, ...]:
    """What a new grant is for: the requested resources if the client may have them, else its default audience.

    Raises ``InvalidTargetError``.
    """
    check_allowed(client, requested, server.default_audience)
    return requested or (client.audience or server.default_audience,)


def bind_resources(grant: Any, granted: tuple[str, ...]) -> None:
    """Set the token request's audience: the requested resources narrowed from ``granted`` (RFC 8707 §2.2).

    Raises ``InvalidTargetError``.
    """
    if not granted:
        granted = (grant.request.client.audience or grant.server.default_audience,)
    resources = narrow(requested_resources(grant.request), granted)
    grant.request.lab_resources = granted
    grant.request.lab_audience = audience_claim(resources)

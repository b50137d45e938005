"""The ``both`` strategy: JWT first (fast, offline); when that fails, introspection decides."""

from __future__ import annotations

from dataclasses import replace

from ..errors import AuthError
from .introspection import IntrospectionValidator
from .jwt import JWTValidator
from .principal import Principal

__all__ = ["HybridValidator"]


class HybridValidator:
    """Tries JWT validation, then introspection; the result records both attempts. Raises ``AuthError``."""

    strategy = "both"

    def __init__(self, jwt: JWTValidator, introspection: IntrospectionValidator) -> None:
        self.jwt = jwt
        self.introspection = introspection

    def cached(self, token: str) -> Principal | None:
        """What ``validate(token)`` answers from the JWT validator's remembered verdict, or None; never raises.

        A token the JWT path refused is left to ``validate``: its answer names that refusal.
        """
        hit = self.jwt.cached(token)
        return None if hit is None else replace(hit, strategy="both:jwt")

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """A principal from the JWT path, or else from introspection."""
        if not fresh:
            try:
                principal = await self.jwt.validate(token)
            except AuthError as first:
                jwt_failure = first
            else:
                return replace(principal, strategy="both:jwt")
        else:
            jwt_failure = None
        try:
            principal = await self.introspection.validate(token, fresh=fresh)
        except AuthError as second:
            attempts = (("jwt", jwt_failure.reason),) if jwt_failure else ()
            detail = f"jwt: {jwt_failure.reason.value} ({jwt_failure.detail}); " if jwt_failure else ""
            raise AuthError(
                second.reason, f"{detail}introspection: {second.detail}",
                attempts=(*attempts, ("introspection", second.reason)),
            ) from None
        note = (f"jwt: {jwt_failure.reason.value} ({jwt_failure.detail})",) if jwt_failure else ()
        return replace(principal, strategy="both:introspection", notes=(*principal.notes, *note))

    async def aclose(self) -> None:
        """Close both validators' HTTP clients."""
        await self.jwt.aclose()
        await self.introspection.aclose()

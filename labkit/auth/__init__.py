"""Token validation: JWT (secret or JWKS), RFC 7662 introspection and the hybrid strategy.

``build_validator(cfg.oauth2, clock=..., http=...)`` returns an object whose
``await validate(token)`` yields a ``Principal`` or raises ``AuthError(reason)``. ``build`` is the one
module here that reads the configuration; the validators themselves take small values.
"""

from __future__ import annotations

from .build import Validator, build_validator
from .hybrid import HybridValidator
from .introspection import IntrospectionValidator
from .jwks import JWKSClient
from .jwt import JWTValidator, verify_signature
from .keys import KeySet
from .principal import Principal, fingerprint

__all__ = [
    "HybridValidator",
    "IntrospectionValidator",
    "JWKSClient",
    "JWTValidator",
    "KeySet",
    "Principal",
    "Validator",
    "build_validator",
    "fingerprint",
    "verify_signature",
]

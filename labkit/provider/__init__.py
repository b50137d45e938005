"""The lab's mock OAuth 2.0 provider: strict where a real server is strict. Lab-only keys and secrets."""

from __future__ import annotations

try:  # a partial install names the extra to add (labkit/_extras.py)
    import authlib  # noqa: F401
except ModuleNotFoundError as missing:
    from .._extras import missing_extra

    raise (missing_extra(missing, "labkit.provider") or missing) from None
from .app import LAB_SCOPES, USERS, MockProvider
from .cimd import CimdPolicy
from .faults import ENDPOINTS, Fault, Faults
from .models import Client, User
from .personas import PERSONA_CLIENTS, PERSONAS, persona_client, persona_issuer, persona_oauth2
from .trust import TrustPolicy

__all__ = [
    "ENDPOINTS",
    "LAB_SCOPES",
    "PERSONAS",
    "PERSONA_CLIENTS",
    "USERS",
    "CimdPolicy",
    "Client",
    "Fault",
    "Faults",
    "MockProvider",
    "TrustPolicy",
    "User",
    "persona_client",
    "persona_issuer",
    "persona_oauth2",
]

"""Introspection checks (RFC 7662): the endpoint and the resource server's own client credentials."""

from __future__ import annotations

from .models import OAuth2Config
from .problems import Place

__all__ = ["check_introspection"]


def check_introspection(oauth2: OAuth2Config, place: Place, strategy: str) -> None:
    """RFC 7662 §2.1: the protected resource authenticates to the introspection endpoint."""
    if not oauth2.introspection_endpoint:
        place.at("introspection_endpoint").add(
            f"strategy {strategy} needs the provider's introspection endpoint URL")
    if not oauth2.client_id:
        place.at("client_id").add(f"strategy {strategy} needs client_id (the resource server's own client)")
    if oauth2.client_secret is None or not oauth2.client_secret.get_secret_value():
        place.at("client_secret").add(f"strategy {strategy} needs client_secret")

"""A persona's token says what kind it is: Google's simulated token is an OIDC ID token (``typ: JWT``, audience the
client, no scope), never an RFC 9068 access token (``at+jwt``); the access-token personas' are ``at+jwt``."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from labkit.provider import MockProvider

from ..helpers import NOW

BASE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())


def decoded(provider: MockProvider, persona: str) -> jwt.Token:
    token = provider.mint(["api:read"], subject="alice", persona=persona, client_id=f"{persona}-client")
    return jwt.decode(token, KeySet.import_key_set(provider.jwks()), algorithms=["RS256"])


def test_googles_token_is_an_id_token_not_an_access_token(provider: MockProvider) -> None:
    token = decoded(provider, "google")
    # OIDC Core §2: an ID token's audience is the client; RFC 9068 §2.1: "at+jwt" marks an access token
    assert token.header["typ"] == "JWT"
    assert token.claims["aud"] == "google-client" == token.claims["azp"]
    assert "scope" not in token.claims


@pytest.mark.parametrize("persona", ["auth0", "azure", "okta", "keycloak"])
def test_access_token_personas_are_at_jwt(provider: MockProvider, persona: str) -> None:
    assert decoded(provider, persona).header["typ"] == "at+jwt"

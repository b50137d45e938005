"""An ID token is not an access token (OIDC Core §2; RFC 9068 §4): presented as a bearer token to a resource server
whose audience is the client's id (Entra-style: the API's app registration is also the client), it is refused.

The lab provider's ID tokens carry ``typ: JWT`` (accepted: Keycloak and Auth0 access tokens say so), ``aud`` the
client and no ``token_use``: nothing the guard's token-kind rule (``labkit.auth.claims.require_access_token``)
read. The claims only an ID token carries (OIDC Core §3.1.3.6 ``at_hash``, §3.3.2.11 ``c_hash``, §2 ``nonce``) now
say "ID token". Real provider (in process), real tokens, the real validator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from labkit.auth import build_validator
from labkit.config import OAuth2Config
from labkit.errors import AuthError, Reason
from labkit.provider import MockProvider

from ..helpers import AsgiClient
from ..provider.test_provider_oidc import BASE, WEB, Clock, authorize, redeem


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def http(clock: Clock) -> Iterator[AsgiClient]:
    with AsgiClient(MockProvider(base_url=BASE, clock=clock).app, BASE) as client:
        yield client


def validate(http: AsgiClient, clock: Clock, token: str) -> Any:
    cfg = OAuth2Config.model_validate({"validation_strategy": "jwt", "jwks": http.get("/jwks").json(),
                                       "jwt_algorithms": ["RS256"], "jwt_issuer": BASE, "jwt_audience": WEB[0]})
    return asyncio.run(build_validator(cfg, clock=clock).validate(token))


@pytest.mark.parametrize("nonce", [None, "n-0S6_WzA2Mj"])
def test_an_id_token_is_refused_where_the_audience_is_the_client(http: AsgiClient, clock: Clock,
                                                                 nonce: str | None) -> None:
    code, verifier = authorize(http, **({"nonce": nonce} if nonce else {}))
    tokens = redeem(http, code, verifier)
    with pytest.raises(AuthError) as refused:
        validate(http, clock, tokens["id_token"])
    assert refused.value.reason is Reason.TOKEN_TYPE and "id token" in refused.value.detail.lower()


def test_a_refreshed_id_token_is_refused_too(http: AsgiClient, clock: Clock) -> None:
    code, verifier = authorize(http)
    tokens = redeem(http, code, verifier)
    refreshed = http.post("/token", auth=WEB, data={"grant_type": "refresh_token",
                                                    "refresh_token": tokens["refresh_token"]}).json()
    with pytest.raises(AuthError) as refused:
        validate(http, clock, refreshed["id_token"])
    assert refused.value.reason is Reason.TOKEN_TYPE

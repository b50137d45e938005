"""Only access tokens pass: a refresh token is refused by every strategy, by every signal the token gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from labkit.auth.claims import require_access_token
from labkit.errors import AuthError, Reason
from labkit.provider import MockProvider
from labkit.servers import ServerThread

from ..provider.test_provider import REDIRECT, authorize, pkce, token_request, validate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tokens() -> Iterator[tuple[str, dict[str, Any]]]:
    provider = MockProvider()
    server = ServerThread(provider.app, name="provider")
    provider.base_url = server.url
    with server, httpx.Client(timeout=10) as http:
        verifier, challenge = pkce()
        location = authorize(http, server.url, "lab-web", challenge).headers["location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        answer = token_request(http, server.url, {"grant_type": "authorization_code", "code": code,
                                                  "redirect_uri": REDIRECT, "code_verifier": verifier},
                               auth=("lab-web", "lab-web-secret")).json()
        yield server.url, answer


@pytest.mark.parametrize("strategy", ["introspection", "both"])
def test_a_refresh_token_is_not_an_access_token(tokens: tuple[str, dict[str, Any]], strategy: str) -> None:
    url, answer = tokens
    settings = {"validation_strategy": strategy, "introspection_endpoint": f"{url}/introspect",
                "client_id": "lab-agent", "client_secret": "lab-agent-secret"}
    assert validate(url, answer["access_token"], **settings).subject == "alice"
    with pytest.raises(AuthError) as refused:
        validate(url, answer["refresh_token"], **settings)
    assert refused.value.reason in (Reason.TOKEN_TYPE, Reason.MALFORMED)
    if strategy == "introspection":
        assert refused.value.reason is Reason.TOKEN_TYPE


def test_the_provider_says_what_a_refresh_token_is(tokens: tuple[str, dict[str, Any]]) -> None:
    url, answer = tokens
    with httpx.Client(timeout=10) as http:
        body = http.post(f"{url}/introspect", data={"token": answer["refresh_token"]},
                         auth=("lab-agent", "lab-agent-secret")).json()
    assert body["active"] is True and body["token_type"] == "refresh_token" and body["token_use"] == "refresh"


@pytest.mark.parametrize("claims", [
    {"token_type": "refresh_token"}, {"token_type": "N_A"}, {"token_type": "id_token"}, {"token_type": 3},
    {"token_use": "id"}, {"token_use": "refresh"}, {"typ": "Refresh"}, {"typ": "ID"}, {"typ": "Offline"},
])
def test_every_kind_signal_is_read(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as refused:
        require_access_token(claims)
    assert refused.value.reason is Reason.TOKEN_TYPE


@pytest.mark.parametrize("claims", [{}, {"token_type": "Bearer"}, {"token_type": "DPoP"}, {"token_use": "access"},
                                    {"typ": "Bearer"}, {"typ": "at+jwt"}])
def test_access_token_signals_pass(claims: dict[str, Any]) -> None:
    require_access_token(claims)

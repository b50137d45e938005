"""Registered redirect URIs are RFC 3986 URIs and display fields are safe text, at registration (RFC 7591) and in
client metadata documents; whatever string a client registers, no endpoint answers 5xx or writes raw bytes into
``Location``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.provider import MockProvider
from labkit.provider.cimd import CimdError, CimdResolver
from labkit.provider.models import Client
from labkit.provider.uris import is_uri

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
_LOCATION = re.compile(r"[\x21-\x7e]+")


@pytest.fixture()
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


NOT_URIS = [
    "http://127.0.0.1/cb\u2028", "http://127.0.0.1/c b", "http://127.0.0.1/cb\x7f", "http://127.0.0.1/caf\u00e9",
    "http://127.0.0.1/cb#", "http://127.0.0.1/cb#frag", "/cb", "127.0.0.1/cb", "http://127.0.0.1/%zz",
    "http://127.0.0.1/cb\t", "http://127.0.0.1/\u202ecb", "http://127.0.0.1/cb\"", "http://127.0.0.1:99999/cb",
    "http://[::1/cb", "http://127.0.0.1/<cb>",
]


@pytest.mark.parametrize("uri", NOT_URIS)
def test_registration_refuses_redirect_uris_that_are_not_uris(provider: MockProvider, http: AsgiClient,
                                                               uri: str) -> None:
    before = sorted(provider.server().store.clients)
    answer = http.post("/register", json={"redirect_uris": [uri], "token_endpoint_auth_method": "none"})
    assert answer.status_code == 400 and answer.json()["error"] in {"invalid_redirect_uri", "invalid_client_metadata"}
    assert sorted(provider.server().store.clients) == before
    assert not is_uri(uri, fragment=False)


@pytest.mark.parametrize("name", ["evil\u202eexe.txt", "a\x1b[31mred", "line\u2028break", "zero\u200bwidth",
                                  "x" * 129, "A\U000e0041B", "soft\u00adhyphen", "mongol\u180e", "cgj\u034f",
                                  "vs\ufe0f", "music\U0001d173", "hangul\u3164", "half\uffa0", "private\ue000"])
def test_display_fields_are_bounded_and_free_of_controls_and_bidi(http: AsgiClient, name: str) -> None:
    answer = http.post("/register", json={"redirect_uris": ["http://127.0.0.1/cb"], "client_name": name})
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_client_metadata")


def test_a_metadata_document_is_held_to_the_same_syntax() -> None:
    resolver = CimdResolver(clock=lambda: NOW)
    url = "https://client.example/meta"
    good = {"client_id": url, "client_name": "tool", "redirect_uris": ["http://localhost:3000/cb"]}
    assert resolver._client_from(url, good).redirect_uris == ("http://localhost:3000/cb",)
    for bad in ({"redirect_uris": ["http://localhost/cb\x7f"]}, {"redirect_uris": ["http://127.0.0.1/cb#"]},
                {"redirect_uris": ["http://localhost/caf\u00e9"]}, {"client_name": "tool\u202e"}):
        with pytest.raises(CimdError):
            resolver._client_from(url, {**good, **bad})


def _authorize(http: AsgiClient, client_id: str, redirect_uri: str | None) -> Any:
    params = {"response_type": "code", "client_id": client_id, "code_challenge": CHALLENGE,
              "code_challenge_method": "S256", "scope": "api:read"}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    return http.get("/authorize", params=params, follow_redirects=False)


def _check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    location = answer.headers.get("location")
    assert location is None or _LOCATION.fullmatch(location), location


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uri=st.one_of(st.text(max_size=40), st.text(max_size=20).map(lambda t: "http://127.0.0.1/" + t),
                     st.text(max_size=20).map(lambda t: "http://127.0.0.1:8080/cb" + t)))
def test_no_registered_string_reaches_a_5xx_or_a_raw_location(http: AsgiClient, uri: str) -> None:
    answer = http.post("/register", json={"redirect_uris": [uri], "token_endpoint_auth_method": "none"})
    assert answer.status_code in (201, 400), answer.text
    if answer.status_code == 201:
        assert is_uri(uri, fragment=False)
        client_id = answer.json()["client_id"]
        _check(_authorize(http, client_id, None))
        _check(_authorize(http, client_id, uri))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uri=st.text(max_size=30).map(lambda t: "http://127.0.0.1/" + t))
def test_a_client_stored_without_registration_still_never_yields_a_5xx(provider: MockProvider, http: AsgiClient,
                                                                        uri: str) -> None:
    # belt and braces: a client added through the Python API (no RFC 7591 checks) cannot break /authorize either
    provider.register_client(Client("raw", None, grant_types=("authorization_code",), scopes=("api:read",),
                                    redirect_uris=(uri,)))
    _check(_authorize(http, "raw", None))

"""The consent page (``prompt=consent``): what it shows, that client text is inert, its one-time form token bound to
its pending authorization, Deny's ``access_denied``, framing, and the headless path left as it was."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.provider import MockProvider
from labkit.provider.consent import CONSENT_TTL, MAX_PENDING, ConsentBook, check_origin
from labkit.provider.models import Client

from ..helpers import AsgiClient, ManualClock, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600.0
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
REDIRECT = "http://127.0.0.1:8765/callback"


Clock = ManualClock


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def provider(clock: Clock) -> MockProvider:
    return MockProvider(base_url=BASE, clock=clock, tenants=())


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


def params(client_id: str = "lab-app", **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "api:read files:write",
            "state": "s-123", "code_challenge": CHALLENGE, "code_challenge_method": "S256", "prompt": "consent",
            **extra}


def form_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(pending|csrf)" value="([^"]*)"', page))


def test_the_page_shows_the_client_the_redirect_host_the_scopes_and_the_resource(http: AsgiClient) -> None:
    page = http.get("/authorize", params=params(resource="http://127.0.0.1:9000/mcp"), follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "lab-app" in text and "verified" in text
    assert '<b>http://127.0.0.1:8765</b>' in text  # the redirect host, highlighted
    assert "Create, change and delete your files" in text and "<code>api:read</code>" in text
    assert "http://127.0.0.1:9000/mcp" in text
    assert set(form_of(text)) == {"pending", "csrf"}
    assert page.headers["cache-control"] == "no-store"


def test_approve_redirects_with_a_code_that_redeems(http: AsgiClient) -> None:
    page = http.get("/authorize", params=params(), follow_redirects=False)
    answer = http.post("/authorize", data={**form_of(page.text), "decision": "approve"}, follow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-123"] and query["iss"] == [BASE]
    token = http.post("/token", data={"grant_type": "authorization_code", "code": query["code"][0],
                                      "redirect_uri": REDIRECT, "client_id": "lab-app", "code_verifier": VERIFIER})
    assert token.status_code == 200 and token.json()["scope"] == "api:read files:write"


def test_deny_is_access_denied_on_the_redirect_with_state_and_iss(provider: MockProvider, http: AsgiClient) -> None:
    page = http.get("/authorize", params=params(), follow_redirects=False)
    answer = http.post("/authorize", data={**form_of(page.text), "decision": "deny"}, follow_redirects=False)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    # RFC 6749 §4.1.2.1 and RFC 9207 §2
    assert query["error"] == ["access_denied"] and query["state"] == ["s-123"] and query["iss"] == [BASE]
    assert "code" not in query and not provider.server().store.codes


def test_the_form_token_works_once(http: AsgiClient) -> None:
    form = form_of(http.get("/authorize", params=params(), follow_redirects=False).text)
    assert http.post("/authorize", data={**form, "decision": "approve"}, follow_redirects=False).status_code == 302
    again = http.post("/authorize", data={**form, "decision": "approve"}, follow_redirects=False)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_the_form_token_is_bound_to_its_own_pending_authorization(provider: MockProvider, http: AsgiClient) -> None:
    first = form_of(http.get("/authorize", params=params(), follow_redirects=False).text)
    second = form_of(http.get("/authorize", params=params(state="other"), follow_redirects=False).text)
    crossed = http.post("/authorize", data={"pending": first["pending"], "csrf": second["csrf"], "decision": "approve"},
                        follow_redirects=False)
    assert crossed.status_code == 400 and not provider.server().store.codes
    # a wrong token spends the pending authorization: it cannot be guessed at
    retry = http.post("/authorize", data={**first, "decision": "approve"}, follow_redirects=False)
    assert retry.status_code == 400


@pytest.mark.parametrize("form", [{}, {"decision": "approve"}, {"pending": "x", "csrf": "y", "decision": "approve"}])
def test_a_form_without_a_live_token_is_refused(http: AsgiClient, form: dict[str, str]) -> None:
    answer = http.post("/authorize", data=form, follow_redirects=False)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_the_form_expires(clock: Clock, http: AsgiClient) -> None:
    form = form_of(http.get("/authorize", params=params(), follow_redirects=False).text)
    clock.now += CONSENT_TTL
    assert http.post("/authorize", data={**form, "decision": "approve"}, follow_redirects=False).status_code == 400


def test_an_unknown_decision_is_refused_and_spends_the_form(http: AsgiClient) -> None:
    form = form_of(http.get("/authorize", params=params(), follow_redirects=False).text)
    assert http.post("/authorize", data={**form, "decision": "maybe"}, follow_redirects=False).status_code == 400
    assert http.post("/authorize", data={**form, "decision": "approve"}, follow_redirects=False).status_code == 400


def test_a_cross_site_post_is_refused_before_the_form_is_read(http: AsgiClient) -> None:
    form = form_of(http.get("/authorize", params=params(), follow_redirects=False).text)
    forged = http.post("/authorize", data={**form, "decision": "approve"}, headers={"Origin": "http://evil.example"},
                       follow_redirects=False)
    assert forged.status_code == 403


def test_a_bad_request_gets_no_page(http: AsgiClient) -> None:
    # the request is validated first: an unregistered redirect URI is never shown, nor a page for it
    bad = http.get("/authorize", params=params(redirect_uri="http://evil.example/cb"), follow_redirects=False)
    assert bad.status_code == 400 and "html" not in bad.headers.get("content-type", "")
    no_pkce = {k: v for k, v in params().items() if not k.startswith("code_")}
    assert http.get("/authorize", params=no_pkce, follow_redirects=False).status_code == 302  # error redirect


def test_without_prompt_consent_the_headless_approval_is_unchanged(provider: MockProvider, http: AsgiClient) -> None:
    query = {k: v for k, v in params().items() if k != "prompt"}
    answer = http.get("/authorize", params={**query, "login_hint": "bob"}, follow_redirects=False)
    assert answer.status_code == 302 and "code=" in answer.headers["location"]
    (record,) = provider.server().store.codes.values()
    assert record.user.subject == "bob" and not len(provider.server().consents)


NAMES = st.text(alphabet=st.sampled_from(list("<>\"'&/ =;:scriptimgonerrAB")), min_size=1, max_size=60)


@settings(max_examples=examples(60), deadline=None)
@given(name=NAMES)
def test_client_chosen_text_is_inert(name: str) -> None:
    provider = MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())
    provider.register_client(Client("evil", None, grant_types=("authorization_code",), scopes=("api:read",),
                                    redirect_uris=(REDIRECT,), name=name, registered_at=NOW))
    with AsgiClient(provider.app, BASE) as http:
        page = http.get("/authorize", params=params("evil", scope="api:read"), follow_redirects=False).text
    body = page.split("<body>", 1)[1]
    # the only tags in the body are the page's own: a client's name never opens one
    assert set(re.findall(r"<([a-z0-9]+)", body)) <= {"main", "header", "div", "h1", "span", "p", "b", "i", "ul",
                                                      "li", "code", "form", "input", "button", "br"}
    assert "<script" not in page.lower() and " onerror=" not in body.lower()


def test_a_script_in_a_registered_name_is_text(http: AsgiClient) -> None:
    registered = http.post("/register", json={"client_name": "<script>alert(1)</script>", "redirect_uris": [REDIRECT],
                                              "token_endpoint_auth_method": "none"}).json()
    page = http.get("/authorize", params=params(registered["client_id"], scope="api:read"), follow_redirects=False)
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "unverified" in page.text  # a self-registered client's name is its own claim
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all


def test_a_self_registered_logo_is_never_loaded(http: AsgiClient) -> None:
    registered = http.post("/register", json={"client_name": "Logo", "redirect_uris": [REDIRECT],
                                              "logo_uri": "https://tracker.example/l.png",
                                              "token_endpoint_auth_method": "none"}).json()
    page = http.get("/authorize", params=params(registered["client_id"], scope="api:read"), follow_redirects=False)
    assert "<img" not in page.text and "tracker.example" not in page.text
    assert "img-src 'none'" in page.headers["content-security-policy"]


def test_framing_is_refused_unless_an_origin_was_allowed(provider: MockProvider, http: AsgiClient) -> None:
    page = http.get("/authorize", params=params(), follow_redirects=False)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    provider.allow_framing(("http://127.0.0.1:8888",))
    page = http.get("/authorize", params=params(), follow_redirects=False)
    assert "frame-ancestors http://127.0.0.1:8888;" in page.headers["content-security-policy"]
    assert "x-frame-options" not in page.headers
    # the form may post here and follow the redirect to the client, nowhere else
    assert "form-action 'self' http://127.0.0.1:8765;" in page.headers["content-security-policy"]


@pytest.mark.parametrize("origin", ["*", "http://127.0.0.1:*", "http://127.0.0.1:8888/lab", "'self'",
                                    "http://a.example http://b.example", "HTTP://127.0.0.1:8888", "javascript:x"])
def test_framing_origins_are_exact(provider: MockProvider, origin: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        provider.allow_framing((origin,))
    assert check_origin("http://localhost:8888") == "http://localhost:8888"


def test_pending_authorizations_are_bounded() -> None:
    book = ConsentBook(lambda: NOW)
    first = book.open([("client_id", "x")], "alice")
    for _ in range(MAX_PENDING):
        book.open([("client_id", "x")], "alice")
    assert len(book) == MAX_PENDING
    with pytest.raises(Exception, match="unknown, expired or already answered"):
        book.take(*first)


def test_a_metadata_document_logo_is_shown_only_from_the_document_s_own_origin() -> None:
    from labkit.provider.consent import ConsentView, consent_headers, render_consent

    def view(logo: str) -> ConsentView:
        client = Client("https://tool.example/meta.json", None, name="Tool", logo_uri=logo)
        return ConsentView(client, REDIRECT, ("api:read",), (), "alice", "p", "c", f"{BASE}/authorize")

    same = view("https://tool.example/logo.png")
    assert same.logo == "https://tool.example/logo.png" and '<img class="logo"' in render_consent(same, "n")
    assert "img-src https://tool.example;" in consent_headers(same, (), "n")["Content-Security-Policy"]
    for elsewhere in ("https://cdn.example/logo.png", "https://tool.example:8443/logo.png", "http://tool.example/l"):
        other = view(elsewhere)
        assert other.logo is None and "<img" not in render_consent(other, "n"), elsewhere
    assert "Unverified name" in render_consent(same, "n")  # the document's host vouches, not the provider


def test_the_page_s_form_sends_its_origin(http: AsgiClient) -> None:
    # "no-referrer" would make a browser send "Origin: null" with the form (refused by HostCheck): same-origin
    page = http.get("/authorize", params=params(), follow_redirects=False)
    assert page.headers["referrer-policy"] == "same-origin"


def test_an_openid_request_with_a_nonce_is_approved_through_the_page(http: AsgiClient) -> None:
    # the request is validated twice (page, then answer): a nonce is recorded only with the code, once
    page = http.get("/authorize", params=params(scope="openid api:read", nonce="n-1"), follow_redirects=False)
    answer = http.post("/authorize", data={**form_of(page.text), "decision": "approve"}, follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "client_id": "lab-app", "code_verifier": VERIFIER})
    assert token.status_code == 200 and "id_token" in token.json()

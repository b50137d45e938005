"""Client ID Metadata Documents at the provider, attacked: SSRF fences, hostile documents, the cache, no 5xx.

The provider runs in process (AsgiClient); the documents come from a real loopback HTTPS server under a lab CA,
fetched by the provider's real httpx client that trusts that CA only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from labkit.provider import MockProvider
from labkit.provider.cimd import CimdError, CimdPolicy, CimdResolver
from labkit.servers import ServerThread
from labkit.tls import LabCA

from ..helpers import AsgiClient

pytestmark = pytest.mark.integration

BASE = "http://127.0.0.1"
NOW = 1_700_000_000.0
REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
_stop = threading.Event()


def _document(request: Request, **changes: Any) -> dict[str, Any]:
    document = {"client_id": str(request.url), "client_name": "hostile lab client", "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


async def _ok(request: Request) -> Response:
    return JSONResponse(_document(request), headers={"Cache-Control": "max-age=60"})


async def _no_store(request: Request) -> Response:
    return JSONResponse(_document(request), headers={"Cache-Control": "no-store"})


async def _drip() -> AsyncIterator[bytes]:
    yield b'{"client_id": '
    while not _stop.is_set():  # the server side of a slow response: never finishes until the module ends
        await asyncio.sleep(0.05)


async def _huge() -> AsyncIterator[bytes]:
    yield b'{"client_name": "'
    for _ in range(64):
        yield b"A" * 16384
    yield b'"}'


ROUTES = {
    "redirect": lambda r: RedirectResponse("/ok.json", 302),
    "huge": lambda r: StreamingResponse(_huge(), media_type="application/json"),
    "declared": lambda r: Response(b"{}", media_type="application/json", headers={"Content-Length": "999999"}),
    "slow": lambda r: StreamingResponse(_drip(), media_type="application/json"),
    "text": lambda r: Response(JSONResponse(_document(r)).body, media_type="text/plain"),
    "notjson": lambda r: Response(b"<html>client</html>", media_type="application/json"),
    "mismatch": lambda r: JSONResponse(_document(r, client_id="https://127.0.0.1/other.json")),
    "array": lambda r: JSONResponse([_document(r)]),
    "secret": lambda r: JSONResponse(_document(r, client_secret="s3cret")),
    "evilredirect": lambda r: JSONResponse(_document(r, redirect_uris=["http://evil.example/cb"])),
    "noname": lambda r: JSONResponse(_document(r, client_name=None)),
    "ccgrant": lambda r: JSONResponse(_document(r, grant_types=["client_credentials"])),
    "basicauth": lambda r: JSONResponse(_document(r, token_endpoint_auth_method="client_secret_basic")),
    "deep": lambda r: Response(b"[" * 5000 + b"]" * 5000, media_type="application/json"),
    "status": lambda r: JSONResponse({"error": "nope"}, 500),
}


def _route(name: str) -> Route:
    async def endpoint(request: Request) -> Response:
        return ROUTES[name](request)

    return Route(f"/{name}.json", endpoint)


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA(seed=b"test-cimd")


@pytest.fixture(scope="module")
def host(ca: LabCA) -> Iterator[ServerThread]:
    files = tempfile.TemporaryDirectory()
    app = Starlette(routes=[Route("/ok.json", _ok), Route("/any/{name}.json", _ok), Route("/nostore.json", _no_store),
                            *(_route(n) for n in ROUTES)])
    server = ServerThread(app, name="cimd-host", ssl_files=ca.write_server_files(files.name)).start()
    yield server
    _stop.set()
    server.stop()
    files.cleanup()


@pytest.fixture(scope="module")
def provider(host: ServerThread, ca: LabCA) -> MockProvider:
    policy = CimdPolicy(allowed_hosts=(f"127.0.0.1:{host.port}",), allow_loopback=True, ssl_context=ca.ssl_context(),
                        timeout=0.5, cache_size=4)
    return MockProvider(base_url=BASE, clock=lambda: NOW, cimd=policy)


@pytest.fixture(scope="module")
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


def authorize(http: AsgiClient, client_id: str, redirect_uri: str = REDIRECT) -> Any:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": "s",
              "code_challenge": CHALLENGE, "code_challenge_method": "S256", "scope": "api:read"}
    return http.get("/authorize", params=params, follow_redirects=False)


def refused(response: Any, words: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client" and words in body["error_description"], body
    assert "location" not in response.headers  # RFC 6749 §4.1.2.1: never redirect for a bad client


def test_the_metadata_advertises_cimd(http: AsgiClient) -> None:
    document = http.get("/.well-known/oauth-authorization-server").json()
    assert document["client_id_metadata_document_supported"] is True


def test_a_good_document_gets_a_code_and_a_token_and_is_cached(http: AsgiClient, provider: MockProvider,
                                                               host: ServerThread) -> None:
    client_id = f"{host.url}/ok.json"
    before = provider.cimd.fetches
    answer = authorize(http, client_id)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    token = http.post("/token", data={"grant_type": "authorization_code", "code": query["code"][0],
                                      "redirect_uri": REDIRECT, "client_id": client_id, "code_verifier": VERIFIER})
    assert token.status_code == 200, token.text
    record = provider.server().store.find_token(token.json()["access_token"])
    assert record is not None and record.client_id == client_id and record.scope == "api:read"
    assert provider.cimd.fetches == before + 1  # the token request used the cached document
    # RFC 8252 §7.3: a loopback redirect on another port matches; another path or host does not
    assert authorize(http, client_id, "http://127.0.0.1:4242/callback").status_code == 302
    wrong = authorize(http, client_id, "http://127.0.0.1:9/elsewhere")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request" and "location" not in wrong.headers
    assert client_id not in provider.server().store.clients  # nothing registered


def test_no_store_is_not_cached_and_the_cache_is_bounded(http: AsgiClient, provider: MockProvider,
                                                         host: ServerThread) -> None:
    before = provider.cimd.fetches
    for _ in range(2):
        assert authorize(http, f"{host.url}/nostore.json").status_code == 302
    assert provider.cimd.fetches == before + 2  # RFC 9111 §5.2.2.5: no-store is fetched every time
    resolver = CimdResolver(CimdPolicy(allowed_hosts=(f"127.0.0.1:{host.port}",), allow_loopback=True,
                                       ssl_context=provider.cimd.policy.ssl_context, cache_size=2), clock=lambda: NOW)
    for name in ("a", "b", "c", "a"):
        asyncio.run(resolver.resolve(f"{host.url}/any/{name}.json"))
    assert [c.client_id.rsplit("/", 1)[1] for c in resolver.cached()] == ["c.json", "a.json"]  # LRU, at most 2
    assert resolver.fetches == 4


@pytest.mark.parametrize(("route", "words"), [
    ("redirect", "redirects are not followed"),
    ("huge", "larger than 5120 bytes"),
    ("declared", "larger than 5120 bytes"),
    ("slow", "took longer than 0.5 s"),
    ("text", "not application/json"),
    ("notjson", "not valid JSON"),
    ("deep", "larger than"),
    ("mismatch", "client_id differs from its URL"),
    ("array", "must be a JSON object"),
    ("secret", "must not hold a client_secret"),
    ("evilredirect", "redirect_uris must be https, or http on a loopback host"),
    ("noname", "needs client_name and redirect_uris"),
    ("ccgrant", "grant_types"),
    ("basicauth", "token_endpoint_auth_method"),
    ("status", "answered HTTP 500"),
    ("missing", "answered HTTP 404"),
])
def test_hostile_documents_are_refused(http: AsgiClient, host: ServerThread, route: str, words: str) -> None:
    refused(authorize(http, f"{host.url}/{route}.json"), words)


def _urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/ok.json",  # not https
        f"https://127.0.0.1:{port}/",  # no path
        f"https://user@127.0.0.1:{port}/ok.json",
        f"https://127.0.0.1:{port}@evil.example/ok.json",
        f"https://evil.example#@127.0.0.1:{port}/ok.json",
        f"https://127.0.0.1:{port}\\@evil.example/ok.json",
        f"https://0x7f.1:{port}/ok.json",
        f"https://2130706433:{port}/ok.json",
        f"https://017700000001:{port}/ok.json",
        f"https://127.1:{port}/ok.json",
        f"https://[::ffff:127.0.0.1]:{port}/ok.json",
        f"https://[::1]:{port}/ok.json",
        f"https://localhost:{port}/ok.json",
        f"https://127.0.0.1.:{port}/ok.json",
        f"https://127.0.0.1:0{port}/ok.json",
        f"https://127.0.0.1:{port + 1}/ok.json",
        f"HTTPS://127.0.0.1:{port}/ok.json",
        f"https://127.0.0.1:{port}/ok.json#x",
        f"https://127.0.0.1:{port}/a/../ok.json",
        f"https://127.0.0.1:{port}/%2e%2e/ok.json",
        f"https://127.0.0.1:{port}/ok.json?x=1",
        "https://169.254.169.254/latest/meta-data",
        "https://evil.example/client.json",
        "https://" + "a" * 3000 + ".example/x",
    ]


def test_odd_urls_are_refused_before_any_fetch(http: AsgiClient, provider: MockProvider, host: ServerThread) -> None:
    before = provider.cimd.fetches
    for url in _urls(host.port):
        answer = authorize(http, url)
        assert answer.status_code in (400, 401) and "location" not in answer.headers, (url, answer.text)
        assert answer.json()["error"] in ("invalid_client", "invalid_request"), url
    assert provider.cimd.fetches == before


def test_allow_listed_hosts_are_still_judged_by_address_and_ca(host: ServerThread, ca: LabCA) -> None:
    metadata = CimdResolver(CimdPolicy(allowed_hosts=("169.254.169.254:443",)), clock=lambda: NOW)
    with pytest.raises(CimdError, match="link-local"):
        asyncio.run(metadata.resolve("https://169.254.169.254/client.json"))
    loopback = CimdResolver(CimdPolicy(allowed_hosts=(f"127.0.0.1:{host.port}",), ssl_context=ca.ssl_context()),
                            clock=lambda: NOW)
    with pytest.raises(CimdError, match="loopback address"):
        asyncio.run(loopback.resolve(f"{host.url}/ok.json"))
    untrusted = CimdResolver(CimdPolicy(allowed_hosts=(f"127.0.0.1:{host.port}",), allow_loopback=True),
                             clock=lambda: NOW)  # the system's CAs: the lab CA is not among them
    with pytest.raises(CimdError, match="could not be fetched"):
        asyncio.run(untrusted.resolve(f"{host.url}/ok.json"))
    other_ca = CimdResolver(CimdPolicy(allowed_hosts=(f"127.0.0.1:{host.port}",), allow_loopback=True,
                                       ssl_context=LabCA(seed=b"another lab").ssl_context()), clock=lambda: NOW)
    with pytest.raises(CimdError, match="could not be fetched"):
        asyncio.run(other_ca.resolve(f"{host.url}/ok.json"))


def test_the_token_endpoint_refuses_a_bad_url_client(http: AsgiClient, host: ServerThread) -> None:
    answer = http.post("/token", data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT,
                                       "client_id": f"{host.url}/mismatch.json", "code_verifier": VERIFIER})
    refused(answer, "client_id differs")


@given(tail=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80))
def test_any_https_client_id_is_never_a_5xx_and_never_fetched_off_the_list(http: AsgiClient, provider: MockProvider,
                                                                         host: ServerThread, tail: str) -> None:
    client_id = "https://" + tail
    before = provider.cimd.fetches
    answer = authorize(http, client_id)
    assert answer.status_code < 500
    if not client_id.startswith(f"https://127.0.0.1:{host.port}/"):
        assert provider.cimd.fetches == before


@pytest.mark.parametrize(("changes", "path"), [
    ({"allowed_hosts": ("127.0.0.1",)}, "cimd.allowed_hosts[0]"),
    ({"allowed_hosts": ("Evil.Example:443",)}, "cimd.allowed_hosts[0]"),
    ({"allowed_hosts": "a:1"}, "cimd.allowed_hosts"),
    ({"allowed_hosts": ("a:99999",)}, "cimd.allowed_hosts[0]"),
    ({"max_bytes": 10**9}, "cimd.max_bytes"),
    ({"timeout": 0}, "cimd.timeout"),
    ({"timeout": float("nan")}, "cimd.timeout"),
    ({"cache_size": -1}, "cimd.cache_size"),
    ({"cache_ttl": True}, "cimd.cache_ttl"),
])
def test_policy_errors_name_the_key(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValueError, match=path.replace("[", r"\[").replace("]", r"\]")):
        CimdPolicy(**changes)

"""The provider refuses DNS rebinding (Host, Origin) before any route, and its admin API takes a per-provider secret.

A page whose name resolves to 127.0.0.1 reaches the provider with its own name in ``Host``; before this, the
provider answered it 200, and ``/admin/mint`` (a documented constant header) minted any token for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from labkit.provider import MockProvider
from labkit.servers import ServerThread

from ..helpers import AsgiClient

BASE = "http://127.0.0.1"
ROUTES = [("GET", "/.well-known/oauth-authorization-server"), ("GET", "/jwks"), ("POST", "/token"),
          ("POST", "/admin/mint"), ("GET", "/acme/.well-known/openid-configuration"), ("GET", "/idp/jwks"),
          ("POST", "/register"), ("GET", "/authorize"), ("GET", "/nowhere")]
MINT = {"scopes": ["admin"], "lifetime": 3600}


@pytest.fixture(scope="module")
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: 1_700_000_000)


@pytest.fixture(scope="module")
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.attacker.example", "127.0.0.1:8080", "localhost.",
                                  "user@127.0.0.1", "127.0.0.1 ", ""])
def test_a_foreign_host_gets_421_on_every_route(http: AsgiClient, provider: MockProvider, method: str, path: str,
                                                host: str) -> None:
    answer = http.request(method, path, headers={"Host": host, "X-Lab-Admin": provider.admin_token}, json=MINT)
    assert answer.status_code == 421 and "access_token" not in answer.text and len(answer.content) < 100


def test_a_foreign_origin_gets_403_and_none_or_its_own_passes(http: AsgiClient, provider: MockProvider) -> None:
    admin = {"X-Lab-Admin": provider.admin_token}
    assert http.post("/admin/mint", json=MINT, headers={**admin, "Origin": "http://attacker.example"}).status_code \
        == 403
    assert http.get("/jwks", headers={"Origin": "null"}).status_code == 403
    assert http.post("/admin/mint", json=MINT, headers=admin).status_code == 200
    assert http.post("/admin/mint", json=MINT, headers={**admin, "Origin": BASE}).status_code == 200
    assert http.get("/jwks", headers={"Host": "LOCALHOST"}).status_code == 200  # a host name is case-insensitive


def test_the_admin_secret_is_random_per_provider_and_the_old_constant_is_refused(http: AsgiClient,
                                                                                  provider: MockProvider) -> None:
    other = MockProvider(base_url=BASE)
    assert len({provider.admin_token, other.admin_token, "lab-admin-token"}) == 3
    assert len(provider.admin_token) >= 43  # secrets.token_urlsafe(32)
    for header in ("lab-admin-token", other.admin_token, "", provider.admin_token + "x", provider.admin_token[:-1]):
        for method, path in (("POST", "/admin/mint"), ("POST", "/admin/rotate"), ("GET", "/admin/clients"),
                             ("GET", "/admin/faults"), ("POST", "/acme/admin/mint")):
            answer = http.request(method, path, json=MINT, headers={"X-Lab-Admin": header})
            assert answer.status_code == 401 and "access_token" not in answer.text, (header, path)
    # the header twice (one right): refused, whichever a parser would pick
    twice = http.post("/admin/mint", json=MINT, headers=[("X-Lab-Admin", "x"), ("X-Lab-Admin", provider.admin_token)])
    assert twice.status_code == 401
    assert http.post("/acme/admin/mint", json=MINT, headers={"X-Lab-Admin": provider.admin_token}).status_code == 200
    assert MockProvider(admin_token="chosen").admin_token == "chosen"


@pytest.mark.integration
def test_a_served_provider_knows_its_port() -> None:
    provider = MockProvider()
    with ServerThread(provider.app, name="provider") as server, httpx.Client(timeout=10) as http:
        provider.base_url = server.url
        port = server.port
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert http.get(server.url + "/jwks", headers={"Host": host}).status_code == 200, host
        for host in ("127.0.0.1", f"127.0.0.1:{port + 1}", f"attacker.example:{port}", f"localhost.:{port}",
                     f"127.0.0.1:0{port}"):
            assert http.get(server.url + "/jwks", headers={"Host": host}).status_code == 421, host
        rebound = http.post(server.url + "/admin/mint", json=MINT,
                            headers={"Host": f"attacker.example:{port}", "X-Lab-Admin": "lab-admin-token",
                                     "Origin": f"http://attacker.example:{port}"})
        assert rebound.status_code == 421 and "access_token" not in rebound.text

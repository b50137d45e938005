"""Discovery per tenant: RFC 8414 §3.1 inserts the well-known suffix between the host and the issuer's path; OIDC
Discovery §4 appends it. Both forms are served, each naming the tenant's issuer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit.provider import MockProvider

from ..helpers import AsgiClient

BASE = "http://127.0.0.1:9400"


@pytest.fixture(scope="module")
def client() -> Iterator[AsgiClient]:
    with AsgiClient(MockProvider(base_url=BASE).app, BASE) as client:
        yield client


@pytest.mark.parametrize("suffix", ["oauth-authorization-server", "openid-configuration"])
@pytest.mark.parametrize("tenant", [None, "acme", "globex"])
def test_metadata_at_the_rfc8414_path_and_the_oidc_path(client: AsgiClient, suffix: str, tenant: str | None) -> None:
    issuer = f"{BASE}/{tenant}" if tenant else BASE
    paths = [f"/.well-known/{suffix}/{tenant}", f"/{tenant}/.well-known/{suffix}"] if tenant else [
        f"/.well-known/{suffix}"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        meta = response.json()
        assert meta["issuer"] == issuer, path  # RFC 8414 §3.3: identical to the issuer the URL was built from
        assert meta["token_endpoint"] == f"{issuer}/token"
        assert meta["jwks_uri"] == f"{issuer}/jwks"


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server/nobody",
                                  "/.well-known/openid-configuration/nobody",
                                  "/.well-known/oauth-authorization-server/acme/extra",
                                  "/.well-known/oauth-authorization-server/idp"])
def test_an_unknown_tenant_has_no_metadata(client: AsgiClient, path: str) -> None:
    assert client.get(path).status_code == 404

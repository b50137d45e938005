"""No token or secret reaches any log at any level: every grant and endpoint runs with the root logger at DEBUG
(authlib logs each token it issues and the client it issued it to), and every record is searched for every token,
code, assertion, proof and secret that crossed the wire."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import secrets
import string
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof
from labkit.provider import MockProvider
from labkit.provider.logs import RedactSecrets
from labkit.provider.models import Client
from labkit.provider.personas import PERSONA_CLIENTS
from labkit.servers import ServerThread

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
REDIRECT = "http://127.0.0.1:8765/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
_SECRET_FIELDS = {"client_secret", "code", "code_verifier", "refresh_token", "subject_token", "actor_token",
                  "assertion", "client_assertion", "token", "access_token"}


class Wire:
    """An in-process client that remembers every secret value it sends or receives."""

    def __init__(self, http: AsgiClient) -> None:
        self.http = http
        self.seen: set[str] = {secret for _, secret in PERSONA_CLIENTS.values()}
        self.seen |= {"lab-agent-secret", "lab-enterprise-secret", "lab-web-secret"}

    def keep(self, *values: Any) -> None:
        self.seen.update(v for v in values if isinstance(v, str) and len(v) >= 8)

    def post(self, path: str, *, data: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None, json: Any = None) -> dict[str, Any]:
        self.keep(*(v for k, v in (data or {}).items() if k in _SECRET_FIELDS), *(auth or ())[1:],
                  *(headers or {}).values(), *(v for k, v in (json or {}).items() if k in _SECRET_FIELDS))
        response = self.http.post(path, data=data, auth=auth, headers=headers, json=json)
        assert response.status_code in (200, 201), (path, response.text)
        body: dict[str, Any] = response.json()
        for name in ("access_token", "refresh_token", "id_token", "client_secret", "registration_access_token"):
            self.keep(body.get(name))
        return body

    def code(self, client_id: str, scope: str, **extra: str) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
                 "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256",
                 "login_hint": "alice", **extra}
        response = self.http.get("/authorize?" + urlencode(query), follow_redirects=False)
        assert response.status_code == 302, response.text
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        self.keep(code, verifier)
        return code, verifier


def _assertion(key: ECKey, client_id: str, base: str) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": base, "iat": NOW, "exp": NOW + 60,
              "jti": secrets.token_hex(8)}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def _every_grant(provider: MockProvider, wire: Wire, base: str) -> None:
    """Client credentials (Basic, post, private_key_jwt, DPoP), code + PKCE (confidential and public, OIDC),
    refresh, token exchange, ID-JAG, registration, introspection, revocation, GitHub's check, admin mint."""
    cc = {"grant_type": "client_credentials", "scope": "api:read"}
    basic = wire.post("/token", data=cc, auth=PERSONA_CLIENTS["default"])
    wire.post("/token", data={**cc, "client_id": "lab-limited", "client_secret": "lab-limited-secret"})
    # DPoP-bound
    key = ECKey.generate_key("P-256", auto_kid=True)
    proof = make_proof(key, method="POST", url=f"{base}/token", iat=NOW)
    wire.post("/token", data=cc, auth=PERSONA_CLIENTS["default"], headers={"DPoP": proof})
    # authorization code + PKCE, confidential client with OIDC, then refresh
    code, verifier = wire.code("lab-web", "openid api:read", nonce=secrets.token_urlsafe(12))
    web = wire.post("/token", data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                    "redirect_uri": REDIRECT}, auth=("lab-web", "lab-web-secret"))
    refreshed = wire.post("/token", data={"grant_type": "refresh_token", "refresh_token": web["refresh_token"]},
                          auth=("lab-web", "lab-web-secret"))
    # public client
    code, verifier = wire.code("lab-app", "api:read")
    wire.post("/token", data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                              "redirect_uri": REDIRECT, "client_id": "lab-app"})
    # token exchange: the agent acts for alice
    subject = provider.mint(["api:read"], subject="alice", client_id="lab-web",
                            claims={"may_act": {"sub": "lab-agent"}})
    wire.keep(subject)
    wire.post("/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                              "subject_token": subject, "subject_token_type": ACCESS,
                              "resource": "api://oauth2-lab-downstream"}, auth=("lab-agent", "lab-agent-secret"))
    # ID-JAG (RFC 7523 §2.1)
    jag = provider.idp.issue_id_jag(subject="alice", audience=base, client_id="lab-enterprise", scope="api:read")
    wire.keep(jag)
    wire.post("/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": jag},
              auth=("lab-enterprise", "lab-enterprise-secret"))
    # registration: a secret client, then a private_key_jwt client
    registered = wire.post("/register", json={"grant_types": ["client_credentials"], "scope": "api:read"})
    wire.post("/token", data=cc, auth=(registered["client_id"], registered["client_secret"]))
    signer = ECKey.generate_key("P-256", auto_kid=True)
    signed = wire.post("/register", json={"grant_types": ["client_credentials"], "scope": "api:read",
                                          "token_endpoint_auth_method": "private_key_jwt",
                                          "jwks": {"keys": [signer.as_dict(private=False)]}})
    assertion = {"client_assertion_type": ASSERTION_TYPE, "client_id": signed["client_id"]}
    mine = wire.post("/token", data={**cc, **assertion, "client_assertion": _assertion(signer, signed["client_id"], base)})
    wire.post("/introspect", data={"token": mine["access_token"], **assertion,
                                   "client_assertion": _assertion(signer, signed["client_id"], base)})
    # introspection and revocation
    wire.post("/introspect", data={"token": basic["access_token"]}, auth=("lab-agent", "lab-agent-secret"))
    wire.post("/introspect", data={"token": refreshed["refresh_token"]}, auth=("lab-web", "lab-web-secret"))
    wire.post("/revoke", data={"token": refreshed["refresh_token"]}, auth=("lab-web", "lab-web-secret"))
    # GitHub's token check and the admin mint
    github = wire.post("/token", data={"grant_type": "client_credentials", "scope": "repo"},
                       auth=PERSONA_CLIENTS["github"])
    wire.post(f"/applications/{PERSONA_CLIENTS['github'][0]}/token", json={"access_token": github["access_token"]},
              auth=PERSONA_CLIENTS["github"])
    wire.post("/admin/mint", json={"scopes": ["api:read"]}, headers={"X-Lab-Admin": provider.admin_token})


@pytest.mark.parametrize("served", [False, pytest.param(True, marks=pytest.mark.integration)],
                         ids=["in-process", "served"])
def test_no_token_or_secret_in_any_log_record(caplog: pytest.LogCaptureFixture, served: bool) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records (uvicorn's and httpx's too)
    provider = MockProvider(base_url=BASE, clock=lambda: NOW, tenants=())
    with contextlib.ExitStack() as stack:
        if served:  # over real HTTP: the server's own records (access log, errors) are searched too
            server = stack.enter_context(ServerThread(provider.app, name="provider"))
            provider.base_url = server.url
            http: Any = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        else:
            http = stack.enter_context(AsgiClient(provider.app, BASE))
        wire = Wire(http)
        _every_grant(provider, wire, provider.base_url)
    # served: httpcore's DEBUG trace of this test's own client shows the redirect it received (the client's log)
    client_side = ("httpcore", "httpx") if served else ()
    records = [r for r in caplog.records if not r.name.startswith(client_side)]
    assert any(r.name.startswith("authlib") for r in records)  # authlib did log (the search is not vacuous)
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in records)
    leaked = sorted(s for s in wire.seen if s in text)
    assert not leaked, f"{len(leaked)} secrets in the logs, e.g. {leaked[0][:12]}..."


def test_a_client_never_shows_its_secret() -> None:
    provider = MockProvider(base_url=BASE, tenants=())
    client = provider.server().store.clients["lab-client"]
    assert "lab-client-secret" not in repr(client) and "lab-client" in repr(client)


def test_every_authlib_logger_is_filtered() -> None:
    MockProvider(base_url=BASE, tenants=())
    names = [name for name, logger in logging.Logger.manager.loggerDict.items()
             if name.startswith("authlib") and isinstance(logger, logging.Logger)]
    assert names and all(any(isinstance(f, RedactSecrets) for f in logging.getLogger(n).filters) for n in names)


def test_a_record_keeps_its_shape_not_its_values() -> None:
    client = MockProvider(base_url=BASE, tenants=()).server().store.clients["lab-client"]
    record = logging.LogRecord("authlib.x", logging.DEBUG, __file__, 1, "Issue token %r to %r",
                               ({"access_token": "eyJ.secret", "token_type": "Bearer"}, client), None)
    RedactSecrets().filter(record)
    assert record.getMessage() == "Issue token <dict with access_token, token_type> to <Client 'lab-client'>"


_SHAPES = {
    "str": lambda v: (v,), "bytes": lambda v: (v.encode(),), "dict value": lambda v: ({"access_token": v},),
    "dict key": lambda v: ({v: 1},), "list": lambda v: ([v, 1],), "tuple": lambda v: ((1, v),),
    "client": lambda v: (Client("c", v),), "exception": lambda v: (ValueError(v),), "object": lambda v: (_Holder(v),),
}


class _Holder:
    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"_Holder({self.value!r})"


@settings(max_examples=examples(200))
@given(secret=st.text(alphabet=string.ascii_letters + string.digits + "-_.~+/=", min_size=12, max_size=80),
       shape=st.sampled_from(sorted(_SHAPES)), level=st.sampled_from([logging.DEBUG, logging.INFO, logging.ERROR]))
def test_no_argument_shape_carries_a_value_out(secret: str, shape: str, level: int) -> None:
    args = _SHAPES[shape](secret)
    record = logging.LogRecord("authlib.oauth2", level, __file__, 1, "x" + " %r" * len(args), args, None)
    record.exc_info = (ValueError, ValueError(secret), None)
    RedactSecrets().filter(record)
    formatted = logging.Formatter().format(record)
    assert secret not in formatted

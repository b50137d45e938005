"""Lesson 20's sub-challenges (step-up, refresh reuse, headless): wrong answers, insecure ones first, each refused
with its reason; each reference solution solves its challenge; the lesson's own runs before ``start()`` never count."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from labkit.flows.client import ClientError, McpClient
from labkit.flows.sdk import LoopbackCallback, code_flow_auth, mcp_session, recorder_for
from labkit.lab import Lab

from .run_reference import attempt_row, run_solution

pytestmark = pytest.mark.integration

NOTE = {"path": "notes.txt", "content": "x"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:  # the wall clock: assertions and the SDK read it
        yield running


# -- 20.step_up ---------------------------------------------------------------------------------------
def step_up(first: str, second: str | None, *, retry: bool = True) -> Callable[[Lab], Any]:
    """A client authorized for ``first`` calls write_file; re-authorizes for ``second`` (None: not) and retries."""
    def act(lab: Lab) -> None:
        client = McpClient(lab)
        client.authorize(first)
        client.call_tool("write_file", NOTE)
        if second is not None:
            client.authorize(second)
            if retry:
                client.call_tool("write_file", NOTE)
    return act


def another_client_steps_up(lab: Lab) -> None:
    reader, writer = McpClient(lab), McpClient(lab)
    reader.authorize("api:read")
    reader.call_tool("write_file", NOTE)
    writer.authorize("api:read files:write")
    writer.call_tool("write_file", NOTE)


def the_sdk_default(lab: Lab) -> None:
    """The official SDK's client: with no scope= on the 401 it asks for every scope the resource lists."""
    callback = LoopbackCallback().start()
    try:
        recorder = recorder_for(lab, callback=callback)

        async def run() -> None:
            async with mcp_session(lab, code_flow_auth(lab, recorder, callback), recorder) as mcp:
                await mcp.call_tool("write_file", NOTE)

        lab.run(run())
    finally:
        callback.stop()


STEP_UP: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("asks for * with the step-up", step_up("api:read", "api:read files:write *"), "asked for *"),
    ("asks for admin up front", step_up("admin api:read files:write", None), "asked for admin"),
    ("the SDK's default: every scope the resource lists", the_sdk_default, "asked for admin"),
    ("asks for all it could write up front", step_up("api:read api:write files:read files:write", None),
     "asked for everything up front"),
    ("steps up to more than the challenge named", step_up("api:read", "api:read api:write files:write"),
     "more than it asked for"),
    ("another client, born wide, does the write", another_client_steps_up, "has not retried successfully"),
    ("re-authorized but never retried", step_up("api:read", "api:read files:write", retry=False),
     "has not retried successfully"),
    ("never re-authorized", step_up("api:read", None), "has not retried successfully"),
    ("nothing done", lambda lab: None, "no 403 insufficient_scope"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in STEP_UP], ids=[row[0] for row in STEP_UP])
def test_step_up_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                         reason: str) -> None:
    result = attempt_row("20.step_up", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_step_up_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    step_up("api:read", "api:read files:write")(lab)
    result = attempt_row("20.step_up", lab, tmp_path / "p.json", lambda lab: None)
    assert not result.solved and "no 403" in result.message


def test_step_up_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("20.step_up", lab, tmp_path / "p.json", McpClient=McpClient).solved


# -- 20.refresh_reuse ---------------------------------------------------------------------------------
def steal(*, reuse: bool = True, recover: bool = True, stale_call: bool = False) -> Callable[[Lab], Any]:
    def act(lab: Lab) -> None:
        client = McpClient(lab)
        client.authorize("api:read")
        stolen = client.refresh_token
        client.refresh()
        if reuse:
            httpx.post(lab.provider_url + "/token", data={"grant_type": "refresh_token", "refresh_token": stolen,
                                                           "client_id": client.client_id})
        if stale_call:
            client.list_tools()  # the revoked family's access token: a JWT, still valid at the agent
        if recover:
            try:
                client.refresh()
            except ClientError:
                client.authorize("api:read")
            client.list_tools()
    return act


def code_twice(lab: Lab) -> None:
    """Redeem one code twice (by hand: McpClient redeems once), which revokes its family as code reuse."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    client = McpClient(lab)
    client.register()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    location = httpx.get(lab.provider_url + "/authorize", params={
        "response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
        "scope": "api:read", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
        "resource": client.resource}).headers["location"]
    form = {"grant_type": "authorization_code", "code": parse_qs(urlsplit(location).query)["code"][0],
            "redirect_uri": client.redirect_uri, "code_verifier": verifier, "client_id": str(client.client_id),
            "resource": client.resource}
    httpx.post(lab.provider_url + "/token", data=form)
    httpx.post(lab.provider_url + "/token", data=form)


def logout_instead(lab: Lab) -> None:
    """A confidential web app (lab-web) logs out at /revoke (RFC 7009): its family dies, but not of reuse."""
    from authlib.integrations.httpx_client import OAuth2Client

    from labkit.flows.delegation import REDIRECT_URI, USER_CLIENT

    with OAuth2Client(*USER_CLIENT, scope="api:read", redirect_uri=REDIRECT_URI, code_challenge_method="S256",
                      trust_env=False) as oauth:
        verifier = secrets.token_urlsafe(48)
        url, _ = oauth.create_authorization_url(lab.provider_url + "/authorize", code_verifier=verifier,
                                                login_hint="alice", resource=lab.agent_url + "/mcp")
        location = oauth.request("GET", url, withhold_token=True, follow_redirects=False).headers["location"]
        tokens = oauth.fetch_token(lab.provider_url + "/token", authorization_response=location,
                                   code_verifier=verifier, resource=lab.agent_url + "/mcp")
    httpx.post(lab.provider_url + "/revoke", data={"token": tokens["refresh_token"]}, auth=USER_CLIENT)


REUSE: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("keeps calling with the revoked family's token", steal(recover=False, stale_call=True),
     "still calls with the revoked family's access token"),
    ("never re-authorizes", steal(recover=False), "has not re-authorized"),
    ("a logout at /revoke instead of reuse", logout_instead, "logging out"),
    ("a code redeemed twice", code_twice, "code was redeemed twice"),
    ("rotates but nobody reuses", steal(reuse=False, recover=False), "nobody presented the old one"),
    ("nothing done", lambda lab: None, "no refresh token was rotated"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in REUSE], ids=[row[0] for row in REUSE])
def test_refresh_reuse_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                               reason: str) -> None:
    result = attempt_row("20.refresh_reuse", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_refresh_reuse_before_start_does_not_count(lab: Lab, tmp_path: Path) -> None:
    steal()(lab)
    result = attempt_row("20.refresh_reuse", lab, tmp_path / "p.json", lambda lab: None)
    assert not result.solved and "no refresh token" in result.message


def test_refresh_reuse_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("20.refresh_reuse", lab, tmp_path / "p.json", McpClient=McpClient, ClientError=ClientError,
                        httpx=httpx).solved


# -- 20.headless --------------------------------------------------------------------------------------
def register_keyed(lab: Lab, key: ECKey) -> str:
    body = httpx.post(lab.provider_url + "/register", json={
        "grant_types": ["client_credentials"], "scope": "api:read", "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False) | {"alg": "ES256"}]}}).json()
    return str(body["client_id"])


def assertion(key: ECKey, client_id: str, aud: str, jti: str | None = None) -> str:
    now = int(time.time())
    return jwt.encode({"alg": "ES256", "kid": key.kid}, {"iss": client_id, "sub": client_id, "aud": aud,
                                                         "jti": jti or secrets.token_urlsafe(12), "iat": now,
                                                         "exp": now + 60}, key)


def token_with(lab: Lab, client_id: str, signed: str) -> httpx.Response:
    return httpx.post(lab.provider_url + "/token", data={
        "grant_type": "client_credentials", "scope": "api:read", "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed})


def with_secret(lab: Lab) -> None:
    body = httpx.post(lab.provider_url + "/register", json={
        "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "client_secret_basic"}).json()
    token = httpx.post(lab.provider_url + "/token", auth=(body["client_id"], body["client_secret"]),
                       data={"grant_type": "client_credentials", "scope": "api:read"}).json()["access_token"]
    lab.call("tools/list", {}, token=token, path="/mcp")


def keyed(aud: str | None = None, *, replay: bool = False, call: bool = True) -> Callable[[Lab], Any]:
    def act(lab: Lab) -> None:
        key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
        client_id = register_keyed(lab, key)
        signed = assertion(key, client_id, aud.format(issuer=lab.provider_url) if aud else lab.provider_url)
        answer = token_with(lab, client_id, signed)
        if replay:
            answer = token_with(lab, client_id, signed)  # the same assertion again: refused
            assert answer.status_code == 401 and "used before" in answer.json()["error_description"]
        if call and answer.status_code == 200:
            lab.call("tools/list", {}, token=answer.json()["access_token"], path="/mcp")
    return act


HEADLESS: list[tuple[str, Callable[[Lab], Any], str]] = [
    ("a client_secret in the agent's environment", with_secret, "authenticates with a client_secret"),
    ("one assertion sent twice (same jti)", keyed(replay=True), "already seen (same jti)"),
    ("aud is the token endpoint", keyed("{issuer}/token"), "aud is not its issuer identifier"),
    ("aud is another server", keyed("https://as.elsewhere.example"), "aud is not its issuer identifier"),
    ("a token, never used", keyed(call=False), "call tools/list"),
    ("nothing done", lambda lab: None, "no client registered"),
]


@pytest.mark.parametrize(("act", "reason"), [row[1:] for row in HEADLESS], ids=[row[0] for row in HEADLESS])
def test_headless_wrong_answer_is_refused_with_its_reason(lab: Lab, tmp_path: Path, act: Callable[[Lab], Any],
                                                          reason: str) -> None:
    result = attempt_row("20.headless", lab, tmp_path / "p.json", act)
    assert not result.solved and reason in result.message, result


def test_headless_reference_solves(lab: Lab, tmp_path: Path) -> None:
    assert run_solution("20.headless", lab, tmp_path / "p.json", httpx=httpx).solved

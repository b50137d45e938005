"""Challenge 12's wrong answers (insecure ones first): each fails and the refusal names the security reason; the
reference solution (``notebooks/solutions/12.py``) solves it, and the lesson's own registrations never count."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from labkit.challenges import Progress, start
from labkit.lab import Lab, LabClock

pytestmark = pytest.mark.integration

SOLUTION = Path(__file__).parents[3] / "notebooks" / "solutions" / "12.py"
CALLBACK = "http://127.0.0.1:8123/callback"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock()) as running:
        yield running


def register(lab: Lab, auth_method: str = "client_secret_basic", redirect: str = CALLBACK, scope: str = "api:read",
             grants: tuple[str, ...] = ("authorization_code",)) -> httpx.Response:
    return httpx.post(f"{lab.provider_url}/register", json={
        "redirect_uris": [redirect], "token_endpoint_auth_method": auth_method, "grant_types": list(grants),
        "scope": scope})


def code_flow(lab: Lab, client: dict[str, Any], *, pkce: bool = True, resource: str | None = "mcp",
              scope: str = "api:read") -> httpx.Response:
    """The code flow for ``client``; the token response (the provider's answer, whatever it is)."""
    target = f"{lab.agent_url}/mcp" if resource == "mcp" else resource
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": CALLBACK, "scope": scope,
              "state": "s", **({"resource": target} if target else {})}
    if pkce:
        digest = hashlib.sha256(verifier.encode()).digest()
        params |= {"code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
                   "code_challenge_method": "S256"}
    redirect = httpx.get(f"{lab.provider_url}/authorize", params=params)
    query = parse_qs(urlsplit(redirect.headers.get("location", "")).query)
    if "code" not in query:
        return redirect
    data = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CALLBACK,
            **({"code_verifier": verifier} if pkce else {}), **({"resource": target} if target else {})}
    secret = client.get("client_secret")
    if secret is None:
        data["client_id"] = client["client_id"]
    return httpx.post(f"{lab.provider_url}/token", data=data, auth=(client["client_id"], secret) if secret else None)


def tools_list(lab: Lab, token: str) -> int:
    return lab.call("tools/list", {}, token=token, path="/mcp").status


def public_client(lab: Lab) -> None:
    client = register(lab, "none").json()
    assert tools_list(lab, code_flow(lab, client).json()["access_token"]) == 200  # as the SDK's native app did


def public_client_without_pkce(lab: Lab) -> None:
    client = register(lab, "none").json()
    assert "access_token" not in code_flow(lab, client, pkce=False).text  # the provider refuses it


def confidential_without_pkce(lab: Lab) -> None:
    assert "access_token" not in code_flow(lab, register(lab).json(), pkce=False).text


def redirect_not_loopback(lab: Lab) -> None:
    assert register(lab, redirect="https://evil.example/callback").status_code == 400


def redirect_localhost_by_name(lab: Lab) -> None:
    assert register(lab, redirect="http://localhost:8123/callback").status_code == 400  # RFC 8252 §8.3


def token_without_resource(lab: Lab) -> None:
    token = code_flow(lab, register(lab).json(), resource=None).json()["access_token"]
    assert tools_list(lab, token) == 200  # accepted: the agent's own audience; but bound to no resource


def token_for_another_resource(lab: Lab) -> None:
    code_flow(lab, register(lab).json(), resource="api://oauth2-lab-agent").json()["access_token"]


def write_scopes(lab: Lab) -> None:
    client = register(lab, scope="api:read api:write files:write").json()
    token = code_flow(lab, client, scope="api:read api:write files:write").json()["access_token"]
    assert tools_list(lab, token) == 200


def client_credentials_only(lab: Lab) -> None:
    client = register(lab, grants=("client_credentials",)).json()
    answer = httpx.post(f"{lab.provider_url}/token", data={"grant_type": "client_credentials", "scope": "api:read",
                        "resource": f"{lab.agent_url}/mcp"}, auth=(client["client_id"], client["client_secret"]))
    assert tools_list(lab, answer.json()["access_token"]) == 200


def admin_minted_user_token(lab: Lab) -> None:
    # a registered client, but the user's token comes from the provider's admin mint: no code flow, no PKCE
    client = register(lab).json()
    token = lab.provider.mint(["api:read"], subject="alice", client_id=client["client_id"],
                              audience=f"{lab.agent_url}/mcp")
    assert tools_list(lab, token) == 200


def token_never_used(lab: Lab) -> None:
    assert code_flow(lab, register(lab).json()).status_code == 200


WRONG: list[tuple[Callable[[Lab], None], str]] = [
    (public_client, "public"),
    (public_client_without_pkce, "public"),
    (confidential_without_pkce, "PKCE"),
    (redirect_not_loopback, "loopback"),
    (redirect_localhost_by_name, "loopback"),
    (token_without_resource, "without resource="),
    (token_for_another_resource, "without resource="),
    (write_scopes, "needs only api:read"),
    (client_credentials_only, "acts for no user"),
    (admin_minted_user_token, "admin mint"),  # solved the check before it asked for the token endpoint's grant
    (token_never_used, "has not accepted it yet"),
]


@pytest.mark.parametrize(("act", "why"), WRONG, ids=[act.__name__ for act, _ in WRONG])
def test_wrong_answer_fails_and_says_why(lab: Lab, tmp_path: Path, act: Callable[[Lab], None], why: str) -> None:
    attempt = start("12", lab, progress=tmp_path / "progress.json")
    act(lab)
    result = attempt.check()
    assert not result and why in result.message, result
    assert "12" not in Progress(tmp_path / "progress.json").solved()


def test_the_lessons_own_registrations_do_not_count(lab: Lab, tmp_path: Path) -> None:
    """Section 3 registers clients (a public one, a confidential one) before the challenge: not the learner's."""
    register(lab, "none")
    register(lab, scope="admin api:read")
    result = start("12", lab, progress=tmp_path / "progress.json").check()
    assert not result and "no confidential client registered" in result.message, result
    assert "since the challenge started" in result.message and "your" not in result.message


def test_the_reference_solution_solves(lab: Lab, tmp_path: Path) -> None:
    challenge = start("12", lab, progress=tmp_path / "progress.json")
    exec(compile(SOLUTION.read_text(), str(SOLUTION), "exec"), {"lab": lab, "challenge": challenge})  # noqa: S102
    assert challenge.check(), challenge.check()


def test_the_prediction_is_scored_against_real_registrations(lab: Lab, tmp_path: Path) -> None:
    from labkit.challenges import predict

    question = predict("12", "registration", lab, progress=tmp_path / "progress.json")
    question.answer(dict.fromkeys(question.question.items, "201"))
    revealed = question.reveal()  # the outcome computed now, by real registrations
    assert dict((item, real) for item, _, real in revealed.rows) == {
        "native app on loopback": "201", "web redirect elsewhere": "400", "localhost by name": "400",
        "password grant": "400", "asks for admin only": "400", "asks for admin and api:read": "201"}
    assert revealed.right == 2

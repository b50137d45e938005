"""Lesson 14's question: how the agent answers a thief holding a DPoP-bound token but not its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["ATTEMPTS", "QUESTIONS", "answer_of"]

ATTEMPTS = ("as a Bearer token", "as DPoP, no proof", "with a proof by the thief's own key")


def answer_of(status: int, challenge: str) -> str:
    """``accepted`` for a 2xx, else the ``error`` of the challenge (``challenge`` is the ``WWW-Authenticate``)."""
    if 200 <= status < 300:
        return "accepted"
    for code in ("invalid_dpop_proof", "use_dpop_nonce", "insufficient_scope", "invalid_token"):
        if f'error="{code}"' in challenge:
            return code
    return str(status)


def _thief_answers(lab: Lab | None, rows: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """The agent's answer per attempt: ``rows`` the lesson's cell observed (``status`` and ``challenge``), else
    tried now with a token bound to the lesson's key (real calls). Raises ``ValueError`` without either."""
    if rows is None:
        rows = _try(lab)
    return {name: answer_of(int(rows[name]["status"]), str(rows[name]["challenge"])) for name in ATTEMPTS}


def _try(lab: Lab | None) -> dict[str, dict[str, Any]]:
    import httpx
    from joserfc.jwk import ECKey

    from ...auth.dpop import make_proof
    from ..lessons.lesson_14 import LESSON_KEYS

    if lab is None:
        raise ValueError("this question runs against the lab: predict('14', 'thief', lab)")
    key, thief = (ECKey.import_key(LESSON_KEYS[name]) for name in ("client", "thief"))
    url, here = f"{lab.provider_url}/token", lab.agent_url + "/"
    token = httpx.post(url, data={"grant_type": "client_credentials", "scope": "api:write"}, timeout=10,
                       auth=("lab-client", "lab-client-secret"),
                       headers={"DPoP": make_proof(key, method="POST", url=url, iat=lab.clock())}
                       ).json()["access_token"]
    sent = {ATTEMPTS[0]: {"Authorization": f"Bearer {token}"}, ATTEMPTS[1]: {"Authorization": f"DPoP {token}"},
            ATTEMPTS[2]: {"Authorization": f"DPoP {token}",
                          "DPoP": make_proof(thief, method="POST", url=here, iat=lab.clock(), access_token=token)}}
    params = {"capability": "write_operation", "arguments": {"text": "hi"}}
    rows = {}
    for name, headers in sent.items():
        answer = lab.call("execute", params, headers=headers)
        rows[name] = {"status": answer.status, "challenge": answer.response.headers.get("www-authenticate", "")}
    return rows


QUESTIONS = (
    Question(
        "thief",
        "a thief copied the DPoP-bound token, not the private key. For each way it tries, does the agent accept, "
        "or which `error` does its `WWW-Authenticate` challenge name?",
        ATTEMPTS,
        ("accepted", "invalid_token", "invalid_dpop_proof", "use_dpop_nonce"),
        _thief_answers,
    ),
)

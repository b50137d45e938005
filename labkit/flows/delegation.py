"""Flow 5, delegation, over real HTTP and recorded: a user's client calls the agent, which acts for the user at
a second agent by token exchange (RFC 8693); then the user's own token, replayed at the second agent, is refused.

    with Lab(downstream=True) as lab:
        run = delegation_flow(lab)            # DelegationRun: the recorder, the statuses, the audit events
        run.recorder.markdown()               # the nested sequence diagram; run.recorder.rows(): the table

The user's token comes from the authorization code grant with PKCE S256 as ``alice`` (authlib's
``OAuth2Client``, the provider's headless login approving), so ``sub`` is a user, not a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from .._json import loads_bounded
from ..audit import AuditEvent
from ..delegation import exchange_form, exchanged_token
from .recorder import FlowRecorder

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = [
    "REDIRECT_URI", "USER_CLIENT", "DelegationRun", "call_downstream_as", "delegation_flow", "exchange_as_agent",
    "user_token"
]

USER_CLIENT = ("lab-web", "lab-web-secret")  # a confidential web client of the lab (PUBLIC, LAB-ONLY secret)
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # registered for lab-web; the redirect is read, not followed


def user_token(lab: Lab, *, user: str = "alice", scopes: Sequence[str] = ("api:write",),
               recorder: FlowRecorder | None = None, resource: str | None = None) -> str:
    """An access token for the agent (or for ``resource``, RFC 8707) whose ``sub`` is ``user``: authorization code
    + PKCE S256 (RFC 6749 §4.1, RFC 7636), the provider's headless login approving as ``user``.

    Raises ``RuntimeError`` when the provider refuses a step.
    """
    hooks: dict[str, list[Any]] = dict(recorder.sync_hooks()) if recorder else {}
    verifier = generate_token(48)
    with OAuth2Client(USER_CLIENT[0], USER_CLIENT[1], scope=" ".join(scopes), redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256", event_hooks=hooks, trust_env=False, timeout=10) as oauth:
        extra = {"resource": resource} if resource else {}
        url, _state = oauth.create_authorization_url(f"{lab.provider_url}/authorize", code_verifier=verifier,
                                                     login_hint=user, **extra)
        answer = oauth.request("GET", url, withhold_token=True, follow_redirects=False)
        location = answer.headers.get("location", "")
        if answer.status_code != 302 or "code=" not in location:
            raise RuntimeError(f"the authorization endpoint answered {answer.status_code} without a code")
        token = oauth.fetch_token(f"{lab.provider_url}/token", authorization_response=location,
                                  code_verifier=verifier, **extra)
    return str(token["access_token"])


def exchange_as_agent(lab: Lab, subject_token: str, *, scope: str | None = None,
                      recorder: FlowRecorder | None = None) -> str:
    """What the agent does first: exchange ``subject_token`` as ``lab-agent`` for a downstream token (RFC 8693),
    narrowed to ``scope`` when given. Raises ``RuntimeError`` without a downstream, ``DelegationError`` when refused.
    """
    if lab.downstream is None:
        raise RuntimeError("token exchange for the downstream needs Lab(downstream=True)")
    spec = lab.downstream.spec(scope=scope)
    hooks: dict[str, list[Any]] = dict(recorder.sync_hooks("Agent")) if recorder else {}
    with httpx.Client(event_hooks=hooks, timeout=10, trust_env=False) as http:
        answer = http.post(spec.token_endpoint, data=exchange_form(spec, subject_token),
                           auth=(spec.client_id, spec.client_secret or ""))
    try:
        body = loads_bounded(answer.content, max_depth=32)
    except ValueError:
        body = None
    return exchanged_token(answer.status_code, body)


def call_downstream_as(lab: Lab, token: str, record: Any = None) -> httpx.Response:
    """``execute write_operation`` at the downstream agent with ``token`` (raises ``RuntimeError`` without one)."""
    if lab.downstream is None:
        raise RuntimeError("the downstream agent runs with Lab(downstream=True)")
    with httpx.Client(timeout=10, trust_env=False) as http:
        return http.post(lab.downstream.url + "/", json=_execute(record or {"note": "direct"}),
                         headers={"Authorization": f"Bearer {token}"})


@dataclass(frozen=True)
class DelegationRun:
    """What flow 5 did: the recorded exchanges, what the agent answered, and both agents' audit events."""

    recorder: FlowRecorder
    agent_status: int
    agent_result: Any
    replay_status: int
    agent_event: AuditEvent
    downstream_event: AuditEvent
    replay_event: AuditEvent


def _execute(record: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "flow-5", "method": "execute",
            "params": {"capability": "write_operation", "arguments": {"record": record}}}


def delegation_flow(lab: Lab, *, user: str = "alice", record: Any = None) -> DelegationRun:
    """Run flow 5 against ``Lab(downstream=True)``; raises ``RuntimeError`` without a downstream agent."""
    downstream = lab.downstream
    if downstream is None:
        raise RuntimeError("flow 5 needs the downstream agent: Lab(downstream=True)")
    recorder = FlowRecorder({lab.provider_url: "AS", lab.agent_url: "Agent", downstream.url: "Downstream"},
                            client="User's client", nested=True)
    token = user_token(lab, user=user, recorder=recorder)
    lab.agent.outgoing_hooks = recorder.async_hooks(source="Agent")
    agent_mark, downstream_mark = len(lab.audit), len(downstream.audit)
    try:
        with httpx.Client(event_hooks=recorder.sync_hooks(), timeout=30, trust_env=False) as http:
            answer = http.post(lab.agent_url + "/", json=_execute(record or {"note": f"for {user}"}),
                               headers={"Authorization": f"Bearer {token}"})
            # the user's own token, replayed at the downstream: issued for the agent's audience, not this one
            replay = http.post(downstream.url + "/", json=_execute({"note": "replayed"}),
                               headers={"Authorization": f"Bearer {token}"})
    finally:
        lab.agent.outgoing_hooks = {}
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    result = body.get("result", body.get("error")) if isinstance(body, dict) else None
    downstream_events = downstream.audit.events()[downstream_mark:]
    return DelegationRun(recorder, answer.status_code, result, replay.status_code, lab.audit.events()[agent_mark],
                         downstream_events[0], downstream_events[-1])

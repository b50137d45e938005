"""The decision matrix: tokens x endpoints against a running agent, expected vs actual, with audit reasons.

``run_probe(lab)`` probes the sample agent through ``Lab`` (it knows the agent's policy); ``probe_url(url,
source)`` (``labkit.probe.url``, ``labkit.probe.tokens``) probes any A2A or MCP agent from what it advertises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from .. import rpc
from ..guard import Requirement
from ..scopes import ScopeHierarchy
from .url import UrlProbeReport, probe_url

if TYPE_CHECKING:
    import pandas as pd

    from ..lab.runner import Lab

__all__ = ["CallPolicy", "Probe", "ProbeEndpoint", "ProbeToken", "UrlProbeReport", "default_endpoints",
           "default_tokens", "probe_url", "run_probe"]


class CallPolicy(Protocol):
    """An agent's policy as the probe reads it: the requirement of an A2A or an MCP call."""

    def for_a2a(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an A2A JSON-RPC call."""
        ...

    def for_mcp(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an MCP message."""
        ...


@dataclass(frozen=True)
class ProbeToken:
    """A token kind: ``scopes`` is None for tokens that must be refused outright (401)."""

    name: str
    token: str | None
    scopes: tuple[str, ...] | None


@dataclass(frozen=True)
class ProbeEndpoint:
    """One call: HTTP method and path, and for JSON-RPC the method and params."""

    name: str
    http_method: str
    path: str
    rpc_method: str | None = None
    params: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    public: bool = False


def default_endpoints() -> list[ProbeEndpoint]:
    """Every surface of the sample agent: A2A (v1.0 and v0.3 names), MCP, cards, metadata, push."""
    v1 = (("A2A-Version", "1.0"),)
    send = {"message": {"role": "user", "messageId": "probe", "parts": [{"kind": "text", "text": "probe"}]}}
    return [
        ProbeEndpoint("agent card", "GET", "/.well-known/agent-card.json", public=True),
        ProbeEndpoint("agent.json", "GET", "/.well-known/agent.json", public=True),
        ProbeEndpoint("protected resource", "GET", "/.well-known/oauth-protected-resource/mcp", public=True),
        ProbeEndpoint("capabilities", "POST", "/", "capabilities"),
        ProbeEndpoint("message/send", "POST", "/", "message/send", send),
        ProbeEndpoint("SendMessage (v1.0)", "POST", "/", "SendMessage",
                      {"message": {"role": "ROLE_USER", "messageId": "probe", "parts": [{"text": "probe"}]}}, v1),
        ProbeEndpoint("tasks/get", "POST", "/", "tasks/get", {"id": "no-such-task"}),
        ProbeEndpoint("tasks/cancel", "POST", "/", "tasks/cancel", {"id": "no-such-task"}),
        ProbeEndpoint("extended card (v1.0)", "POST", "/", "GetExtendedAgentCard", {}, v1),
        ProbeEndpoint("push config set", "POST", "/", "tasks/pushNotificationConfig/set",
                      {"taskId": "no-such-task", "pushNotificationConfig": {"url": "http://127.0.0.1:9/hook"}}),
        ProbeEndpoint("execute echo", "POST", "/", "execute", {"capability": "echo", "arguments": {"text": "x"}}),
        ProbeEndpoint("execute write_operation", "POST", "/", "execute", {"capability": "write_operation"}),
        ProbeEndpoint("execute write_file", "POST", "/", "execute",
                      {"capability": "write_file", "arguments": {"path": "probe.txt", "content": "x"}}),
        ProbeEndpoint("execute admin_status", "POST", "/", "execute", {"capability": "admin_status"}),
        ProbeEndpoint("mcp tools/list", "POST", "/mcp", "tools/list", {}),
        ProbeEndpoint("mcp echo", "POST", "/mcp", "tools/call", {"name": "echo", "arguments": {"text": "x"}}),
        ProbeEndpoint("mcp write_file", "POST", "/mcp", "tools/call",
                      {"name": "write_file", "arguments": {"path": "probe.txt", "content": "x"}}),
    ]


def default_tokens(lab: Lab) -> list[ProbeToken]:
    """Scope sets through the real token endpoint, and the tokens that must fail."""
    from ..provider import unsafe

    provider = lab.provider
    return [
        ProbeToken("none", None, None),
        ProbeToken("malformed", "not.a.jwt", None),
        ProbeToken("expired", provider.mint(["admin"], lifetime=-60), None),
        ProbeToken("forged (foreign key)", unsafe.unsafe_foreign_key(provider), None),
        ProbeToken("alg none", unsafe.unsafe_alg_none(provider), None),
        ProbeToken("api:read", lab.token(["api:read"]), ("api:read",)),
        ProbeToken("api:read (limited client)", lab.token(["api:read"], persona="limited"), ("api:read",)),
        ProbeToken("api:write", lab.token(["api:write"]), ("api:write",)),
        ProbeToken("files:write", lab.token(["files:write"]), ("files:write",)),
        ProbeToken("push:write", lab.token(["push:write"]), ("push:write",)),
        ProbeToken("literal *", provider.mint([], claims={"scope": "*"}), ("*",)),
        ProbeToken("admin", lab.token(["admin"]), ("admin",)),
    ]


class Probe:
    """Runs tokens x endpoints and compares each status with what the policy says it should be."""

    def __init__(self, policy: CallPolicy, hierarchy: ScopeHierarchy, required: Iterable[str] = ()) -> None:
        self.policy = policy
        self.hierarchy = hierarchy
        self.required = tuple(required)  # oauth2.required_scopes: every protected call needs them

    def requirement(self, endpoint: ProbeEndpoint) -> Requirement:
        """What the endpoint needs according to the policy."""
        if endpoint.path == "/mcp":
            return self.policy.for_mcp(endpoint.rpc_method, endpoint.params)
        return self.policy.for_a2a(endpoint.rpc_method, endpoint.params)

    def expected(self, token: ProbeToken, endpoint: ProbeEndpoint) -> int:
        """The status the guard must answer."""
        if endpoint.public:
            return 200
        if token.scopes is None:
            return 401
        effective = self.hierarchy.expand(token.scopes)
        needed = (*self.required, *self.requirement(endpoint).scopes)
        return 200 if all(effective.covers(s) for s in needed) else 403


def run_probe(
    lab: Lab,
    tokens: Iterable[ProbeToken] | None = None,
    endpoints: Iterable[ProbeEndpoint] | None = None,
    *,
    progress: bool | Callable[[int], Any] = False,
) -> pd.DataFrame:
    """The decision matrix as a DataFrame: token, endpoint, needs, expected, actual, reason, ok (sorted)."""
    import pandas as pd

    probe = Probe(lab.agent.policy, lab.config.scope_hierarchy, lab.config.oauth2.required_scopes)
    token_list = list(tokens) if tokens is not None else default_tokens(lab)
    endpoint_list = list(endpoints) if endpoints is not None else default_endpoints()
    pairs = [(t, e) for t in token_list for e in endpoint_list]
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pairs), desc="probe", unit="call", leave=False)
    rows: list[dict[str, Any]] = []
    with httpx.Client(base_url=lab.agent_url, timeout=30) as http:
        for token, endpoint in pairs:
            request_id = f"probe-{len(rows)}-{uuid.uuid4().hex[:8]}"
            response = _call(http, token, endpoint, request_id)
            event = lab.event_of(request_id)
            reason = event.reason if event is not None else None
            expected = probe.expected(token, endpoint)
            rows.append({
                "token": token.name, "endpoint": endpoint.name,
                "needs": " ".join(probe.requirement(endpoint).scopes) if not endpoint.public else "(public)",
                "expected": expected, "actual": response.status_code, "reason": reason or "",
                "ok": expected == response.status_code,
            })
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(len(rows))
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows)


def _call(http: httpx.Client, token: ProbeToken, endpoint: ProbeEndpoint, request_id: str) -> httpx.Response:
    headers = {**dict(endpoint.headers), "X-Request-ID": request_id}  # the guard's audit event carries it back
    if token.token is not None:
        headers["Authorization"] = f"Bearer {token.token}"
    if endpoint.http_method == "GET":
        return http.get(endpoint.path, headers=headers)
    headers.setdefault("Accept", "application/json, text/event-stream")
    return http.post(endpoint.path, json=rpc.request(endpoint.rpc_method or "", endpoint.params, rpc_id=request_id),
                     headers=headers)

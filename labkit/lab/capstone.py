"""The capstone's grader, "secure this agent": load a learner's ``agentup.yml`` into the lab's real sample agent,
probe it, attack it with real tokens from the lab provider, and report each weakness as fixed or open.

    report = grade(lab, "my_agentup.yml")   # Lab(downstream=True); the agent keeps running with that file
    report.fixed, print(report)

Every finding is observed on the running agent (a status, the agent's or the downstream's audit), never read
from the file: a setting that looks right but does not change behaviour stays open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .. import rpc
from ..config import SecurityConfig, load_config
from ..probe.matrix import ProbeEndpoint, ProbeToken, default_endpoints, run_probe
from ..provider.clients import AGENT_AUDIENCE
from ..provider.personas import PERSONAS, persona_issuer
from .downstream import AGENT_CLIENT, DOWNSTREAM_AUDIENCE
from .workspace import shipped_lessons

if TYPE_CHECKING:
    import pandas as pd

    from .runner import Lab

__all__ = ["BURST", "OLD_TOKEN_AGE", "WEAK_CONFIG", "Finding", "Report", "capstone_env", "grade", "load_capstone",
           "probe_matrix", "probe_mismatches"]


WEAK_CONFIG = shipped_lessons() / "capstone" / "agentup.yml"  # the deliberately weak configuration the learner secures
BURST = 6  # calls of one caller on the network plugin, back to back: a limit must refuse one of them
OLD_TOKEN_AGE = 90  # seconds since a token expired: no clock skew excuses that
_PROBE_ENDPOINTS = ("capabilities", "execute echo", "execute write_file", "mcp echo")


@dataclass(frozen=True)
class Finding:
    """One weakness: whether the running agent still shows it, what was seen, why it matters, what to change."""

    key: str
    title: str
    fixed: bool
    seen: str
    why: str
    change: str

    def line(self) -> str:
        mark = "fixed" if self.fixed else "OPEN "
        text = f"[{mark}] {self.title}: {self.seen}"
        return text if self.fixed else f"{text}\n        why: {self.why}\n        change: {self.change}"


@dataclass(frozen=True)
class Report:
    """The grade of one configuration: every finding, in the order they were tried."""

    path: str
    findings: tuple[Finding, ...]

    @property
    def fixed(self) -> bool:
        """Whether every finding is fixed."""
        return all(f.fixed for f in self.findings)

    @property
    def open(self) -> tuple[str, ...]:
        """The keys of the findings still open."""
        return tuple(f.key for f in self.findings if not f.fixed)

    def summary(self) -> str:
        done = sum(f.fixed for f in self.findings)
        return f"{done} of {len(self.findings)} weaknesses fixed in {Path(self.path).name}"

    def __str__(self) -> str:
        return "\n".join([self.summary(), *(f.line() for f in self.findings)])

    __repr__ = __str__


def capstone_env(lab: Lab) -> dict[str, str]:
    """The variables a capstone configuration may name: the provider, the downstream agent, the agent's secret."""
    if lab.downstream is None:
        raise ValueError("the capstone needs the downstream agent: Lab(downstream=True)")
    return {**os.environ, "LAB_PROVIDER_URL": lab.provider_url, "LAB_DOWNSTREAM_URL": lab.downstream.url,
            "LAB_AGENT_SECRET": AGENT_CLIENT[1], "LAB_WEBHOOK_HOSTPORT": urlsplit(lab.webhooks.base_url or "").netloc}


def load_capstone(lab: Lab, path: str | os.PathLike[str]) -> SecurityConfig:
    """Load ``path`` with the lab's variables and restart the agent with it. Raises ``ConfigError`` (the agent
    keeps its old configuration) or ``ValueError`` without the downstream agent."""
    config = load_config(Path(path), env=capstone_env(lab))
    return lab.reload(config)


def grade(lab: Lab, path: str | os.PathLike[str]) -> Report:
    """Load ``path`` into the lab's agent, run the probe and the hidden checks, and report. Raises ``ConfigError``
    for a configuration that does not load, ``ValueError`` without ``Lab(downstream=True)``."""
    load_capstone(lab, path)
    checks: tuple[Callable[[_Agent], Finding], ...] = (
        _probe, _audience, _issuer, _old_token, _wildcard, _revocation, _narrowing, _burst)
    with httpx.Client(base_url=lab.agent_url, timeout=30, trust_env=False) as http:  # one client: one TLS context
        agent = _Agent(lab, http)
        return Report(str(path), tuple(check(agent) for check in checks))


@dataclass(frozen=True)
class _Agent:
    """The lab and one HTTP client for the agent: ``execute`` answers the status of one capability call."""

    lab: Lab
    http: httpx.Client

    def execute(self, capability: str, arguments: dict[str, Any], token: str) -> int:
        params = {"capability": capability, "arguments": arguments}
        return self.http.post("/", json=rpc.request("execute", params), headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}).status_code


def _echo(agent: _Agent, token: str) -> int:
    return agent.execute("echo", {"text": "capstone"}, token)


def probe_matrix(lab: Lab) -> pd.DataFrame:
    """``labkit probe``'s matrix (``run_probe``) for a subset of its tokens and endpoints, against the lab's agent:
    the kinds of ``default_tokens`` that must be refused, two real ones, the endpoints that need no side call."""
    from ..provider import unsafe

    provider = lab.provider
    tokens = [ProbeToken("none", None, None), ProbeToken("expired", provider.mint(["admin"], lifetime=-60), None),
              ProbeToken("forged (foreign key)", unsafe.unsafe_foreign_key(provider), None),
              ProbeToken("alg none", unsafe.unsafe_alg_none(provider), None),
              ProbeToken("api:read", lab.token(["api:read"]), ("api:read",)),
              ProbeToken("admin", lab.token(["admin"]), ("admin",))]
    endpoints: list[ProbeEndpoint] = [e for e in default_endpoints() if e.name in _PROBE_ENDPOINTS]
    return run_probe(lab, tokens, endpoints)


def probe_mismatches(lab: Lab) -> set[str]:
    """The token kinds the agent answered against its own policy (``probe_matrix``)."""
    matrix = probe_matrix(lab)
    return set(matrix[~matrix["ok"]]["token"])


def _probe(agent: _Agent) -> Finding:
    matrix = probe_matrix(agent.lab)
    wrong = matrix[~matrix["ok"]]
    seen = sorted({f"{row.token} on {row.endpoint} got {row.actual} (policy: {row.expected})"
                   for row in wrong.itertuples()})
    shown = "; ".join(seen[:3]) + (f" (+{len(seen) - 3} more)" if len(seen) > 3 else "")
    return Finding("probe", "labkit probe (tokens x endpoints against the agent's own policy)", wrong.empty,
                   f"{len(matrix) - len(wrong)} of {len(matrix)} calls answered as the policy says"
                   + (f"; {shown}" if seen else ""),
                   "a token the agent must refuse (expired, forged, unsigned) was accepted, RFC 6750 §3.1 / "
                   "RFC 7519 §4.1.4",
                   "fix the findings below that name the same tokens (the expired ones: leeway)")


def _audience(agent: _Agent) -> Finding:
    lab = agent.lab
    other = lab.provider.mint(["api:read"], audience=DOWNSTREAM_AUDIENCE)
    status = _echo(agent, other)
    extra = sorted(set(lab.config.oauth2.audiences) - {AGENT_AUDIENCE})  # the running agent's, not the file's
    seen = f"a token whose aud is {DOWNSTREAM_AUDIENCE} got {status}"
    return Finding("audience", "a token for another service", status == 401 and not extra,
                   seen + (f"; the agent also accepts tokens for {', '.join(extra)}" if extra else ""),
                   "without an audience check (or with one naming other services) a token minted for another "
                   "service of the issuer works here: a confused deputy (RFC 8725 §3.9, RFC 9068 §4, MCP's 'token "
                   "passthrough')",
                   f'set oauth2.jwt_audience: "{AGENT_AUDIENCE}" (this agent alone)')


def _issuer(agent: _Agent) -> Finding:
    lab = agent.lab
    # real tokens of every persona whose issuer is not the lab's own (same keys; introspection knows their iss too)
    others = [p for p in PERSONAS if p != "github" and persona_issuer(p, lab.provider_url) != lab.provider_url]
    passed = [p for p in others if _echo(agent, lab.token(["api:read"], persona=p)) != 401]
    return Finding("issuer", f"tokens from other issuers (the {', '.join(others)} personas, same keys)", not passed,
                   f"accepted from: {', '.join(passed)}" if passed else "each got 401",
                   "keys are not an identity: without a pinned issuer (or with a list of several) any issuer that "
                   "shares or reuses these keys is trusted (RFC 8725 §3.8, RFC 9068 §4)",
                   'set oauth2.jwt_issuer: "${LAB_PROVIDER_URL}" (that issuer alone)')


def _old_token(agent: _Agent) -> Finding:
    lab = agent.lab
    status = _echo(agent, lab.expired_token(["api:read"], ago=OLD_TOKEN_AGE))
    return Finding("old_token", f"a token that expired {OLD_TOKEN_AGE} s ago", status == 401,
                   f"it got {status}",
                   "exp bounds how long a stolen token is worth anything; leeway is for clock skew of a few "
                   "seconds, not minutes (RFC 7519 §4.1.4, RFC 9700 §2.2)",
                   "set oauth2.leeway to a few seconds (the lab's clocks agree: 0)")


def _wildcard(agent: _Agent) -> Finding:
    lab = agent.lab
    status = agent.execute("admin_status", {}, lab.token(["admin"]))
    # least privilege: only files:write reaches write_file, whatever scope the wildcard or an edge was moved to
    scopes = sorted(lab.config.scope_hierarchy.scopes() - {"files:write", "*"} | {"admin"})
    writers = [s for s in scopes
               if agent.execute("write_file", {"path": "capstone.txt", "content": "x"}, lab.provider.mint([s])) != 403]
    seen = (f"write_file answered tokens of {', '.join(writers)}" if writers else
            "write_file got 403 for every scope but files:write") + f"; admin_status got {status}"
    return Finding("wildcard", "tokens of every other scope (admin first) on write_file (files:write)",
                   not writers and status == 200, seen,
                   "a wildcard ('*') grants every scope, today's and any added later, so one admin (or any scope "
                   "implying '*') token writes files, sends pushes, ... (least privilege, RFC 9700 §2.3)",
                   'list what admin implies instead of "*", e.g. scope_hierarchy.admin: ["api:admin"], and give no '
                   "other scope a wildcard")


def _revocation(agent: _Agent) -> Finding:
    lab = agent.lab
    token = lab.token(["api:read"], persona="opaque")
    before = _echo(agent, token)
    lab.revoke(token, persona="opaque")
    after = _echo(agent, token)
    return Finding("revocation", "an opaque token, used, then revoked (RFC 7009)", before == 200 and after == 401,
                   f"before revocation {before}, after {after}",
                   "the introspection cache keeps answering 'active' for a revoked token as long as its ttl: a "
                   "stolen token stays usable after you revoked it (RFC 7662 §4)",
                   "set oauth2.introspection_cache_ttl: 0 (or a few seconds where the provider is far)")


def _narrowing(agent: _Agent) -> Finding:
    lab = agent.lab
    downstream = lab.downstream
    assert downstream is not None  # noqa: S101 - capstone_env refused a lab without one
    before = downstream.audit.total
    status = agent.execute("write_operation", {"record": {"note": "capstone"}}, lab.token(["api:write", "admin"]))
    seen = [e for e in downstream.audit.since(before) if e.decision == "allow"]
    scopes = sorted(seen[-1].scopes) if seen else []
    fixed = status == 200 and scopes == ["api:write"]
    return Finding("narrowing", "what the downstream agent receives for an admin caller's write_operation", fixed,
                   f"write_operation got {status}; the downstream saw scopes {' '.join(scopes) or '(no call)'}",
                   "a tool that forwards its caller's whole authority hands the downstream (and anyone who "
                   "breaks it) an admin token: exchange for the least the tool needs (RFC 8693 §2.1 scope, "
                   "RFC 9700 §2.3)",
                   'set plugins[external_api].delegation.downstream.scope: "api:write"')


def _burst(agent: _Agent) -> Finding:
    lab = agent.lab
    token = lab.token(["api:write"])
    statuses = [agent.execute("write_operation", {"record": {"n": i}}, token) for i in range(BURST)]
    limited = 429 in statuses
    return Finding("rate_limit", f"{BURST} write_operation calls (network plugin) back to back", limited,
                   f"answers {' '.join(map(str, statuses))}",
                   "a network plugin spends someone else's resources for each call: without a limit one token "
                   "drives the remote API as fast as it can (OWASP API4:2023; 429 is RFC 6585 §4)",
                   "give external_api the rate_limited middleware with a low limit, e.g. "
                   "{name: rate_limited, params: {requests_per_minute: 5}}")

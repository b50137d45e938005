"""The checks of the lessons' challenges: each reads the lab's audit log, configuration or live answers."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey

from .. import algorithms
from ..audit import AuditEvent, read_jsonl
from ..auth import build_validator
from ..config import validate_security_config
from ..errors import AuthError, ConfigError, Reason
from .base import CheckResult

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "CHECKS", "NOW", "check_00", "check_01", "check_02", "check_03", "check_04", "check_05", "check_06", "check_07",
    "check_08", "check_09", "check_10", "check_11", "check_12",
]

NOW = 1_767_225_600  # the lessons' fixed clock


def _events(lab: Lab) -> list[AuditEvent]:
    return lab.audit.events()


def _fingerprints(events: Iterable[AuditEvent]) -> dict[str, list[AuditEvent]]:
    seen: dict[str, list[AuditEvent]] = {}
    for event in events:
        if event.fingerprint:
            seen.setdefault(event.fingerprint, []).append(event)
    return seen


def _result(missing: list[str], done: str) -> CheckResult:
    return CheckResult(False, "; ".join(missing)) if missing else CheckResult(True, done)


def check_00(lab: Lab) -> CheckResult:
    """A 403 and a 200 from ``write_operation``."""
    calls = [e for e in _events(lab) if e.method == "execute:write_operation"]
    missing = []
    if not any(e.reason == Reason.INSUFFICIENT_SCOPE for e in calls):
        missing.append("no 403 (insufficient_scope) from write_operation in the audit log")
    if not any(e.decision == "allow" for e in calls):
        missing.append("no 200 from write_operation in the audit log")
    return _result(missing, "the audit log shows write_operation refused for scope, then allowed")


def _hs_token(secret: str, alg: str, claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode({"alg": alg, "typ": "at+jwt"}, claims, OctKey.import_key(secret.encode()), algorithms=[alg])


def check_01(lab: Lab, config: dict[str, Any] | None = None) -> CheckResult:
    """``config`` accepts HS256 and refuses HS384 signed with the same (unguessable) secret."""
    from ..explain import find_weaknesses

    if not isinstance(config, dict):
        return CheckResult(False, "pass your configuration as a mapping: check(config={'oauth2': {...}})")
    try:
        cfg = validate_security_config(config)
    except ConfigError as exc:
        return CheckResult(False, f"the configuration is refused: {str(exc).splitlines()[0]}")
    secret = cfg.oauth2.jwt_secret.get_secret_value() if cfg.oauth2.jwt_secret is not None else None
    if not secret:
        return CheckResult(False, "use a shared secret (oauth2.jwt_secret): this challenge is about HMAC")
    weak = [w for w in find_weaknesses(cfg, {}) if w.path.endswith("jwt_secret")]
    if weak:
        return CheckResult(False, f"{weak[0].path}: {weak[0].message}")
    claims: dict[str, Any] = {"sub": "challenge-01", "iat": NOW, "exp": NOW + 300, "scope": "api:read"}
    if cfg.oauth2.issuers:
        claims["iss"] = cfg.oauth2.issuers[0]
    if cfg.oauth2.audiences:
        claims["aud"] = cfg.oauth2.audiences[0]
    validator = build_validator(cfg.oauth2, clock=lambda: NOW)
    pinned, other = algorithms.HMAC[0], algorithms.HMAC[1]  # HS256 and HS384
    verdicts: dict[str, str] = {}
    for alg in (pinned, other):
        try:
            lab.run(validator.validate(_hs_token(secret, alg, claims)))
            verdicts[alg] = "accepted"
        except AuthError as exc:
            verdicts[alg] = exc.reason.value
    missing = []
    if verdicts[pinned] != "accepted":
        missing.append(f"an {pinned} token signed with your secret is refused ({verdicts[pinned]})")
    if verdicts[other] != Reason.ALGORITHM:
        missing.append(f"an {other} token signed with the same secret is {verdicts[other]}, not refused for its "
                       "algorithm")
    return _result(missing, "HS256 accepted, HS384 refused (algorithm), and the secret is not guessable")


def check_02(lab: Lab) -> CheckResult:
    """The running agent allowed an opaque token the provider then revoked, and later refused one as inactive."""
    # A refused token has no principal, so its audit event carries no fingerprint: the provider's store says
    # which allowed token was revoked, and the log says a refusal for inactivity came after it.
    with lab.provider.server(None).store.lock:
        revoked = {h[:12] for h, r in lab.provider.server(None).store.tokens.items() if r.revoked}
    events = _events(lab)
    allowed = [i for i, e in enumerate(events)
               if e.decision == "allow" and e.strategy == "introspection" and e.fingerprint in revoked]
    if allowed and any(e.reason == Reason.INACTIVE for e in events[allowed[0] + 1:]):
        return CheckResult(True, "the agent allowed a token, then refused it as inactive after revocation")
    return CheckResult(False, "no revoked token in the audit log was allowed by introspection and then refused "
                              "as inactive")


def check_03(lab: Lab) -> CheckResult:
    """One token with one scope: 200 from read_file and write_file, 403 from write_operation."""
    for events in _fingerprints(_events(lab)).values():
        scopes = {s for e in events for s in e.scopes}
        if len(scopes) != 1 or scopes & {"admin", "*"}:
            continue
        allowed = {e.method for e in events if e.decision == "allow"}
        refused = {e.method for e in events if e.reason == Reason.INSUFFICIENT_SCOPE}
        if {"execute:read_file", "execute:write_file"} <= allowed and "execute:write_operation" in refused:
            return CheckResult(True, f"one scope ({scopes.pop()}) reaches both file capabilities and not the API")
    return CheckResult(False, "no single-scope token (not admin) in the audit log has a 200 from read_file and "
                              "write_file and a 403 from write_operation")


def _audiences(audience: str | list[str] | None) -> list[str]:
    return [audience] if isinstance(audience, str) else list(audience or ())


def check_04(lab: Lab) -> CheckResult:
    """``tools/list`` on /mcp allowed for a token whose ``aud`` is the advertised /mcp resource."""
    resource = f"{lab.agent_url}/mcp"
    store = lab.provider.server(None).store
    with store.lock:
        bound = {h[:12] for h, r in store.tokens.items() if r.kind == "access" and resource in _audiences(r.audience)}
    if not bound:
        return CheckResult(False, "the provider issued no token for the resource {agent}/mcp yet")
    if any(e.fingerprint in bound and e.endpoint == "/mcp" and e.decision == "allow" for e in _events(lab)):
        return CheckResult(True, "a token bound to the advertised resource was accepted on /mcp")
    return CheckResult(False, "a resource-bound token was issued but has not been accepted on /mcp yet")


def _status(lab: Lab, capability: str, token: str) -> int:
    return lab.execute(capability, {"text": "hi"}, token=token).status


def check_05(lab: Lab) -> CheckResult:
    """The running configuration makes ``echo`` need ``api:write``: probed live."""
    read, write = _status(lab, "echo", lab.token(["api:read"])), _status(lab, "echo", lab.token(["api:write"]))
    return _result([f"echo with an api:read token answered {read}, not 403"] * (read != 403)
                   + [f"echo with an api:write token answered {write}, not 200"] * (write != 200),
                   "echo refuses api:read (403) and accepts api:write (200) in the running agent")


def check_06(lab: Lab) -> CheckResult:
    """Auth0 persona tokens pass, with the audience still checked: probed live."""
    if not lab.config.oauth2.audiences:
        return CheckResult(False, "the running configuration checks no audience (jwt_audience): any token of the "
                                  "issuer would pass")
    ok = lab.call("capabilities", token=lab.token(["api:read"], persona="auth0")).status
    other = lab.provider.mint(["api:read"], persona="auth0", client_id="auth0-client",
                              audience="api://another-service")
    stranger = lab.call("capabilities", token=other).status
    return _result([f"an Auth0 token answered {ok}, not 200"] * (ok != 200)
                   + [f"an Auth0 token for another audience answered {stranger}, not 401"] * (stranger != 401),
                   "Auth0 tokens for this agent pass; Auth0 tokens for another service do not")


def check_07(lab: Lab) -> CheckResult:
    """A fresh caller gets 200 then 429 from ``write_operation``: probed live."""
    subject = f"challenge-07-{time.monotonic_ns()}"
    token = lab.provider.mint(["api:write"], claims={"sub": subject})
    answers = [lab.execute("write_operation", token=token) for _ in range(2)]
    statuses = [a.status for a in answers]
    if statuses != [200, 429]:
        return CheckResult(False, f"two calls of write_operation by a new caller answered {statuses}, not [200, 429]")
    retry_after = answers[1].response.headers.get("retry-after")
    return CheckResult(True, f"the second call is limited (Retry-After: {retry_after})")


def check_08(lab: Lab) -> CheckResult:
    """A 200 from ``write_operation`` at ``/t/globex/``."""
    if any(e.tenant == "globex" and e.method == "execute:write_operation" and e.decision == "allow"
           for e in _events(lab)):
        return CheckResult(True, "globex allowed write_operation")
    return CheckResult(False, "no 200 from write_operation at /t/globex/ in the audit log")


def check_09(lab: Lab) -> CheckResult:
    """A verified push notification received on the hook ``challenge``."""
    try:
        lab.webhooks.wait_for("challenge", timeout=5)
    except TimeoutError:
        return CheckResult(False, "no verified notification on the hook 'challenge' (lab.webhooks.url('challenge'))")
    return CheckResult(True, "the receiver verified a notification on the hook 'challenge'")


def check_10(lab: Lab) -> CheckResult:
    """The two weaknesses that are not about tokens, exploited on the vulnerable agent."""
    agent = lab.vulnerable
    if agent is None:
        return CheckResult(False, "start the lab with Lab(vulnerable=True)")
    missing = []
    if not agent.leaks:
        missing.append("no user has been served another user's cached answer (shared_cache)")
    if not any("weakness path_differential" in e.detail for e in agent.audit.events()):
        missing.append("/admin/status has not been reached without a token (path_differential)")
    return _result(missing, "bob read alice's note through the shared cache, and the admin page was reached "
                            "without a token")


def check_11(lab: Lab, path: str | Path | None = None) -> CheckResult:
    """The file at ``path`` holds exactly the lab's deny events, as JSON lines."""
    if path is None:
        return CheckResult(False, "pass the exported file: check(path=...)")
    try:
        exported = read_jsonl(path)
    except (OSError, ValueError) as exc:
        return CheckResult(False, f"cannot read {path}: {exc}")

    def key(e: AuditEvent) -> tuple[Any, ...]:
        return (e.decision, e.reason, e.method, e.endpoint, e.fingerprint, e.time)

    denied = [key(e) for e in _events(lab) if e.decision == "deny"]
    if not denied:
        return CheckResult(False, "the audit log has no deny events yet")
    if [key(e) for e in exported] != denied:
        return CheckResult(False, f"the file holds {len(exported)} events; the log has {len(denied)} deny events "
                                  "(same order, nothing else)")
    return CheckResult(True, f"{len(denied)} deny events exported, and read back identical")


def check_12(lab: Lab) -> CheckResult:
    """A confidential client registered by RFC 7591 got a user's token for ``/mcp`` by the code flow; it was
    accepted on ``/mcp``."""
    resource = f"{lab.agent_url}/mcp"
    store = lab.provider.server(None).store
    with store.lock:
        registered = {c.client_id for c in store.clients.values()
                      if c.registered_at is not None and c.client_secret is not None}
        issued = {h[:12] for h, r in store.tokens.items() if r.kind == "access" and r.client_id in registered
                  and r.user is not None and resource in _audiences(r.audience)}
    if not registered:
        return CheckResult(False, "no confidential client registered at /register yet (token_endpoint_auth_method "
                                  "client_secret_basic)")
    if not issued:
        return CheckResult(False, "your registered client has no user's token for the resource {agent}/mcp yet "
                                  "(authorization code + PKCE, with resource)")
    if any(e.fingerprint in issued and e.endpoint == "/mcp" and e.decision == "allow" for e in _events(lab)):
        return CheckResult(True, "a client you registered went through the code flow and its token was accepted "
                                 "on /mcp")
    return CheckResult(False, "a token was issued to your client but has not been accepted on /mcp yet")


# one entry per lesson
CHECKS = {
    "00": check_00,
    "01": check_01,
    "02": check_02,
    "03": check_03,
    "04": check_04,
    "05": check_05,
    "06": check_06,
    "07": check_07,
    "08": check_08,
    "09": check_09,
    "10": check_10,
    "11": check_11,
    "12": check_12,
}

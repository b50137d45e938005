"""Lesson 17's check: the token-passthrough proxy shown working, then fixed: the proxy exchanges its caller's token
for the upstream (RFC 8693, narrowed, act = lab-proxy) and the upstream refuses the caller's own token (audience)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ...provider.clients import DOWNSTREAM_AUDIENCE
from ..base import Challenge, CheckResult
from ..evidence import audiences
from ..mark import Mark
from .lesson_18 import check_mistake

if TYPE_CHECKING:
    from ...audit import AuditEvent
    from ...lab.runner import Lab
    from ...provider.models import TokenRecord

__all__ = ["CALLER_SCOPES", "CHALLENGES", "NEEDED", "check", "through_proxy"]  # and 17.consent (lesson 18's check)

CALLER_SCOPES = ("api:read", "api:write", "files:read")  # what alice's client asks for, for the proxy
NEEDED = frozenset({"api:write"})  # what the upstream's write_operation needs, and all the proxy should carry
PASSTHROUGH_RULE = ("MCP authorization (2025-11-25, Access Token Privilege Restriction): the MCP server MUST NOT "
                    "pass through the token it received from the MCP client")


def through_proxy(lab: Lab, token: str, note: str = "through the proxy") -> httpx.Response:
    """``execute write_operation`` sent to ``lab.proxy`` with ``token``; raises ``RuntimeError`` without a proxy."""
    if lab.proxy is None:
        raise RuntimeError("the proxy runs with Lab(proxy=True)")
    call = {"jsonrpc": "2.0", "id": "lesson-17", "method": "execute",
            "params": {"capability": "write_operation", "arguments": {"record": {"note": note}}}}
    with httpx.Client(timeout=10, trust_env=False) as http:
        return http.post(lab.proxy.url + "/", json=call, headers={"Authorization": f"Bearer {token}"})


def _record(lab: Lab, fingerprint: str | None) -> TokenRecord | None:
    """The provider's record of the token an audit event names by fingerprint (its hash's first 12 hex digits)."""
    if not fingerprint:
        return None
    store = lab.provider.server(None).store
    with store.lock:
        return next((r for h, r in store.tokens.items() if h.startswith(fingerprint)), None)


def _passed_through(lab: Lab, mark: Mark) -> tuple[list[AuditEvent], list[AuditEvent]]:
    """The upstream's allowed calls since the mark that the proxy passed through, and those among them whose token
    was issued for the proxy (its URL as audience), not for the upstream."""
    assert lab.proxy is not None  # noqa: S101 - the check asked first
    forwarded = lab.proxy.forwarded
    passed = [e for e in mark.downstream_events(lab)
              if e.decision == "allow" and forwarded.get(e.request_id or "") == "passthrough"]
    confused = []
    for event in passed:
        record = _record(lab, event.fingerprint)
        if record is not None and lab.proxy.url in audiences(record.audience):
            confused.append(event)
    return passed, confused


def check(lab: Lab, mark: Mark) -> CheckResult:
    """After ``start()``: the passthrough shown (the upstream served a token meant for the proxy, passed through);
    then the proxy exchanges (RFC 8693) narrowed to ``api:write``, act = lab-proxy, aud = the upstream, and the
    caller's own token replayed at the upstream is refused for its audience (RFC 8707)."""
    from ...flows.delegation import call_downstream_as, user_token

    proxy, upstream = lab.proxy, lab.downstream
    if proxy is None or upstream is None or not lab.running:
        return CheckResult(False, "start the lab with Lab(proxy=True)")
    passed, confused = _passed_through(lab, mark)
    if not passed:
        return CheckResult(False, "first show the attack after start(): through the proxy as shipped, a token alice's "
                                  "client got for the proxy reached the upstream (nothing in its audit since then "
                                  "came through the proxy's passthrough)")
    if not confused:
        return CheckResult(False, "the token you passed through was not issued for the proxy (its audience is the "
                                  "upstream's, or it was not one the provider issued): that shows nothing. Use one "
                                  "alice's client obtained for the proxy (RFC 8707 resource = lab.proxy.url)")
    if proxy.passthrough:
        return CheckResult(False, f"the proxy still passes its caller's token through: {PASSTHROUGH_RULE}. Make it "
                                  "exchange the token for the upstream instead (RFC 8693)")
    alice = user_token(lab, scopes=CALLER_SCOPES, resource=proxy.url)
    before = upstream.audit.total
    answer = through_proxy(lab, alice, "challenge 17, exchanged")
    allowed = next((e for e in upstream.audit.since(before) if e.decision == "allow"), None)
    if answer.status_code != 200 or allowed is None:
        refused = next((e for e in upstream.audit.since(before) if e.decision == "deny"), None)
        why = f" (upstream: {refused.reason}, {refused.detail})" if refused else ""
        return CheckResult(False, f"alice's call through the fixed proxy got {answer.status_code}{why}: the exchange "
                                  "must still let her call reach the upstream, with the scope the call needs")
    record = _record(lab, allowed.fingerprint)
    # RFC 8693 §4.1: the upstream must see who acts for alice; §2.1 resource: the token is for the upstream only
    if allowed.actors[:1] != ("lab-proxy",) or record is None or record.client_id != "lab-proxy" \
            or DOWNSTREAM_AUDIENCE not in audiences(record.audience):
        return CheckResult(False, "the upstream did not get a token the provider exchanged for lab-proxy (act = "
                                  f"lab-proxy, aud = {DOWNSTREAM_AUDIENCE}): RFC 8693 token exchange at the proxy")
    extra = sorted(set(record.scope.split()) - NEEDED)
    if extra:
        return CheckResult(False, f"the exchanged token still carries {', '.join(extra)}: the proxy forwards all of "
                                  "alice's authority. Narrow the exchange to what the upstream call needs (RFC 8693 "
                                  "§2.1 scope; least privilege)")
    before = upstream.audit.total
    replay = call_downstream_as(lab, alice, {"note": "challenge 17, alice's token replayed"}).status_code
    refusal = next((e for e in upstream.audit.since(before) if e.decision == "deny"), None)
    if replay != 401 or refusal is None or refusal.reason != "audience":
        return CheckResult(False, f"alice's own token (aud = the proxy), replayed at the upstream, got {replay}: the "
                                  "upstream serves tokens issued for someone else, so anyone who holds one (the proxy, "
                                  "or whoever steals it there) can call it. Check the audience (RFC 8707; RFC 9068 "
                                  "§4)")
    return CheckResult(True, f"passed through before the fix: {len(confused)}; now 200 with act = lab-proxy, "
                             f"aud = {DOWNSTREAM_AUDIENCE}, scope {record.scope}; alice's token replayed: 401 "
                             f"({refusal.detail})")


CHALLENGES = (
    Challenge(
        "17",
        "No token passthrough",
        "First use the proxy as shipped: a token alice's client got for the proxy reaches the upstream unchanged. "
        "Then fix it: the proxy exchanges the token for the upstream's audience, narrowed to what the call needs, and "
        "the upstream refuses a token that was not issued for it. The check calls through the proxy and replays "
        "alice's token at the upstream.",
        (
            "A token for the proxy comes from `user_token(lab, scopes=..., resource=lab.proxy.url)`; `through_proxy` "
            "sends a call with it. `lab.downstream.audit` shows what the upstream saw.",
            "`lab.proxy.configure(...)` switches the proxy between passing tokens through and exchanging them; "
            "`scope=` is what the exchanged token asks for.",
            "`lab.downstream.reload` restarts the upstream with a delegation rule and optionally `check_audience`; "
            "keep the rule it has.",
        ),
        check,
    ),
    Challenge(
        "17.consent",
        "One static client id, consent remembered",
        "The proxy also logs users in at a third-party authorization server under one static client id, which alice "
        "approved once. Register a client of your own with the proxy and get a code of alice's at your site "
        "(`lab.flow.attacker`) through it. Then switch `static_client_consent` off "
        "(`lab.flow.disable('static_client_consent')`) and send the same link: the proxy asks alice first.",
        (
            "`POST {lab.flow.proxy.url}/register` with `{\"redirect_uris\": [...]}` registers a client; anyone may.",
            "The proxy's `/authorize` takes `response_type`, `client_id`, `redirect_uri`, `state`; "
            "`lab.flow.victim.visit(link)` is alice following your link.",
            "The server never asks alice again about `mcp-proxy`: what does the proxy send her code to?",
        ),
        check_mistake("static_client_consent"),
    ),
)

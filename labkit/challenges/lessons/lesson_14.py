"""Lesson 14's check (RFC 9449): a token bound to the learner's own key, accepted on ``/mcp`` with a proof for that
request, and refused there as a stolen Bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joserfc.jwk import ECKey

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...audit import AuditEvent
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "LESSON_KEYS", "check"]

# the lesson's fixed keys (so its pages read the same each time): printed in the notebook, so nobody's secret
LESSON_KEYS: dict[str, dict[str, Any]] = {
    "client": {"kty": "EC", "crv": "P-256", "x": "O2LhuXAPYD3AEPozHp6an8ueSX2mjeNTwpvOMgK2M6Y",
               "y": "K8GfD8ZUV_ICD3n2dPqzpZ-uDV9DILB00i29NjfARtE", "d": "lpyANPAgWeG76SiKUUcHO3tf4SRNEsFBb066PNDZATU"},
    "thief": {"kty": "EC", "crv": "P-256", "x": "48I4kg7i95FD_6lAu7YslA7KRr2ycxVf8hlRJcS0FPY",
              "y": "XISL52NZtBXS9A-AZb65aQHWT-O-n-IW4M8-FiWLpWU", "d": "dMzX8pSSTtzszRnM53YQAGoHYWlPgMMEl1-KLYdi-9s"},
}
_PUBLISHED = frozenset(ECKey.import_key(jwk).thumbprint() for jwk in LESSON_KEYS.values())
_TOOL = "tools/call:write_operation"


def _jkt(extra: dict[str, Any]) -> str | None:
    cnf = extra.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


def _refusals(events: list[AuditEvent]) -> str:
    """The distinct reasons the agent gave for refusing the learner's proofs (the audit's precise details)."""
    details = dict.fromkeys(e.detail for e in events if e.reason == Reason.DPOP_PROOF and e.detail)
    return "; ".join(list(details)[:3])


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A token the provider bound (``cnf.jkt``) to a key that is not one of the lesson's published keys: a 200 from
    ``tools/call`` ``write_operation`` on ``/mcp`` with its proof, and a ``dpop_required`` refusal as Bearer."""
    records = {h[:12]: r for h, r in mark.new_tokens(lab).items() if r.kind == "access"}
    tokens = {fingerprint: _jkt(r.extra) for fingerprint, r in records.items()}
    # RFC 9449 §5: the token endpoint binds a token to the key whose proof it verified; the admin mint checks none
    minted = {fingerprint for fingerprint, jkt in tokens.items() if jkt and not records[fingerprint].family}
    bound = {fingerprint for fingerprint, jkt in tokens.items() if jkt and fingerprint not in minted}
    own = {fingerprint for fingerprint in bound if tokens[fingerprint] not in _PUBLISHED}
    events = mark.events(lab)
    if not bound:
        if minted:
            return CheckResult(False, "your token's cnf.jkt was written by the provider's admin mint: no proof of "
                                      "possession of that key reached /token, so nothing bound it (RFC 9449 §5: the "
                                      "token endpoint binds the key whose proof it verifies); send a DPoP proof there")
        if any(e.fingerprint in tokens and e.method == _TOOL and e.decision == "allow" for e in events):
            return CheckResult(False, "a Bearer token wrote: whoever copies it can write too (RFC 6750 §5.2). Bind "
                                      "a token to a key: send a DPoP proof to /token (RFC 9449 §5)")
        return CheckResult(False, "the provider has bound no token to a key since the challenge started: send a "
                                  "DPoP proof signed by your key to /token (RFC 9449 §5)")
    if not own:
        return CheckResult(False, "your token is bound to a key whose private half is printed in this lesson: anyone "
                                  "can sign proofs with it, so the binding proves nothing. Generate a key of your own")
    mine = [e for e in events if e.fingerprint in own]
    missing = []
    if not any(e.endpoint == "/mcp" and e.method == _TOOL and e.decision == "allow" for e in mine):
        refused = _refusals(mine)
        missing.append("no 200 from the write_operation tool on /mcp with your bound token yet"
                       + (f"; the agent refused your proofs: {refused} (RFC 9449 §4.3: a proof is for one method, "
                          "one URL and one token, once)" if refused else ""))
    if not any(e.reason == Reason.DPOP_REQUIRED for e in mine):
        missing.append("your bound token has not been refused as a stolen Bearer token yet (dpop_required, "
                       "RFC 9449 §7.2): show that a copy without the key is useless")
    if missing:
        return CheckResult(False, "; ".join(missing))
    return CheckResult(True, "a token bound to your own key wrote on /mcp with its proof, and was refused without it")


CHALLENGES = (
    Challenge(
        "14",
        "Bound to a key",
        "With a key **you generate**, get a DPoP-bound token and a 200 from the `write_operation` tool on the "
        "agent's MCP endpoint (`tools/call` on `/mcp`) with a proof for that request; then show the agent "
        "refusing that same token when a thief presents it there as a Bearer token.",
        (
            "The lesson's keys are printed above, so they are everyone's: `ECKey.generate_key('P-256')` makes one "
            "only you hold. The token endpoint binds the token to the key of the proof you send it (`cnf.jkt`).",
            "A proof names its request: the method, the URL the agent is served at (here the MCP endpoint, not "
            "`/`) and the token's hash. `lab.call` takes `path=` and `headers=`.",
            "An MCP tool is called with the JSON-RPC method `tools/call` and params `{'name': ..., 'arguments': "
            "...}`; every call needs a new proof (a new `jti`), and the thief's call has no proof at all.",
        ),
        check,
    ),
)

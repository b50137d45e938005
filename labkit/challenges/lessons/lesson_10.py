"""Lesson 10's sub-challenges, one per weakness of the vulnerable agent: exploit it, switch it off, replay.

Each check reads only the vulnerable agent's audit since ``start()``: the request must have been admitted through
THAT weakness (the agent says which mistake an admission depended on), then the same request replayed with the
weakness switched off must be refused (or, for the cache, answered with the caller's own answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...audit import AuditEvent
from ...vulnerable.app import admitted_by, raw_path, tried
from ...vulnerable.craft import claims_of
from ...vulnerable.weaknesses import DEFENCES
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check_cache", "check_path", "check_token"]

_NEEDS_LAB = "start the lab with Lab(vulnerable=True): the attacks run against the vulnerable agent"


def _replay_hint(weakness: str) -> str:
    return (f"now the fix: lab.vulnerable.disable({weakness!r}), then replay the very same request: "
            "it must be refused, for the rule the real agent applies")


def _ready_made_subject(lab: Lab) -> object:
    """The subject of every attack token ``labkit.provider.unsafe`` builds (the probe's): read from one of them, so
    that module stays the one home of its claims."""
    from ...provider.unsafe import unsafe_alg_none

    return claims_of(unsafe_alg_none(lab.provider, scopes="")).get("sub")


_READY_MADE = ("your token is one labkit.provider.unsafe builds ready-made (the probe's attack tokens, subject "
               "{subject}): it proves the weakness, not that you can exploit it; build your own from joserfc and "
               "labkit.vulnerable.craft (a genuine token's claims, your header, your signature), then replay it")


def _not_through(weakness: str, events: list[AuditEvent]) -> str:
    """Why nothing counts yet, naming the security reason for what the learner did try."""
    allowed = [e for e in events if e.decision == "allow"]
    others = sorted({name for e in allowed for name in admitted_by(e)} - {weakness})
    if others:
        return (f"your request got in through {', '.join(others)}, not {weakness}: that proves another mistake; "
                f"try with lab.vulnerable.only({weakness!r})")
    if allowed:
        return (f"the vulnerable agent admitted your requests without any mistake (the real check accepted them): "
                f"a request that is genuinely allowed proves nothing about {weakness}")
    # the real agent's rule for this weakness (DEFENCES): what the learner's request must get past
    return (f"the vulnerable agent has not admitted any request of yours through {weakness} since start(); the real "
            f"agent's rule that {weakness} breaks: {DEFENCES[weakness][1]}")


def check_token(weakness: str) -> Callable[[Lab, Mark], CheckResult]:
    """The check for a token weakness: a crafted token admitted through it, then refused once it is off."""

    def check(lab: Lab, mark: Mark) -> CheckResult:
        if lab.vulnerable is None:
            return CheckResult(False, _NEEDS_LAB)
        events = mark.vulnerable_events(lab)
        admitted = [i for i, e in enumerate(events) if e.status == 200 and weakness in admitted_by(e)]
        if not admitted:
            return CheckResult(False, _not_through(weakness, events))
        still_on, other, ready_made = False, set(), _ready_made_subject(lab)
        borrowed = False
        for i in admitted:
            for replay in events[i + 1:]:
                if replay.fingerprint != events[i].fingerprint:
                    continue
                other |= set(admitted_by(replay)) - {weakness}
                if replay.decision != "deny":
                    continue
                on = tried(replay)
                if on is not None and weakness not in on and replay.status == 401:
                    if events[i].subject == ready_made:  # the learner performs the attack: not labkit's own token
                        borrowed = True
                        continue
                    return CheckResult(True, f"your token got in through {weakness}; with it off, the same token got "
                                             f"401 ({replay.reason}): {DEFENCES[weakness][1]}")
                still_on = still_on or bool(on and weakness in on)
        if borrowed:
            return CheckResult(False, _READY_MADE.format(subject=ready_made))
        if other:
            return CheckResult(False, f"your replay got in through {', '.join(sorted(other))}: another mistake still "
                                      f"admits this token; replay with only the fix in place (lab.vulnerable.only())")
        if still_on:
            return CheckResult(False, f"your replay was refused while {weakness} was still on: that is not the fix; "
                                      + _replay_hint(weakness))
        return CheckResult(False, f"your token got in through {weakness} (the agent's audit says so); "
                                  + _replay_hint(weakness))

    return check


def check_cache(lab: Lab, mark: Mark) -> CheckResult:
    """One user served another user's cached ``whoami`` answer, then the same request answered with its own."""
    if lab.vulnerable is None:
        return CheckResult(False, _NEEDS_LAB)
    events = mark.vulnerable_events(lab)
    leaks = [i for i, e in enumerate(events) if "shared_cache" in admitted_by(e)]
    if not leaks:
        whoami = [e for e in events if e.method == "execute:whoami" and e.decision == "allow"]
        if len({e.subject for e in whoami}) < 2 and whoami:
            return CheckResult(False, "every whoami answer went to the user it was cached for: a cache leak needs two "
                                      "different users (the same user twice reads their own answer)")
        return CheckResult(False, _not_through("shared_cache", events))
    for i in leaks:
        for replay in events[i + 1:]:
            on = tried(replay)
            if (replay.fingerprint == events[i].fingerprint and replay.method == "execute:whoami"
                    and on is not None and "shared_cache" not in on and not admitted_by(replay)):
                return CheckResult(True, f"{events[i].subject} was served another user's answer through "
                                         f"shared_cache; with it off, the same request got its own: "
                                         f"{DEFENCES['shared_cache'][1]}")
    return CheckResult(False, f"{events[leaks[0]].subject} read another user's cached answer (shared_cache); "
                              "now switch shared_cache off and send the same whoami with the same token: it must "
                              "answer with its caller's own data")


def check_path(lab: Lab, mark: Mark) -> CheckResult:
    """``/admin/status`` reached with no token through the path differential, then the same path refused."""
    if lab.vulnerable is None:
        return CheckResult(False, _NEEDS_LAB)
    events = mark.vulnerable_events(lab)
    admitted = [i for i, e in enumerate(events) if "path_differential" in admitted_by(e)]
    if not admitted:
        return CheckResult(False, _not_through("path_differential", events)
                           + "; the admin page must answer with no token at all")
    for i in admitted:
        path = raw_path(events[i])
        for replay in events[i + 1:]:
            on = tried(replay)
            if (replay.decision == "deny" and replay.reason == "missing_token" and raw_path(replay) == path
                    and on is not None and "path_differential" not in on):
                return CheckResult(True, f"{path} skipped authentication through path_differential; with it off, "
                                         f"the same path got 401: {DEFENCES['path_differential'][1]}")
    return CheckResult(False, f"the admin page answered {raw_path(events[admitted[0]])} with no token "
                              "(path_differential); " + _replay_hint("path_differential"))


def _token(key: str, weakness: str, title: str, goal: str, hints: tuple[str, ...]) -> Challenge:
    return Challenge(f"10.{key}", title, goal + f" Then switch `{weakness}` off and replay the same token: refused.",
                     hints, check_token(weakness))


CHALLENGES = (
    _token("alg_none", "alg_from_header", "alg: none",
           "Forge an **unsigned** token (`alg: none`) that makes the vulnerable agent run `admin_status` through "
           "`alg_from_header`.",
           ("The agent believes the token's own `alg`. What does `none` ask it to verify?",
            "`claims_of(token)` reads a genuine token's claims; joserfc writes `alg: none` when you allow that "
            "algorithm explicitly (it warns).",
            "Copy a genuine token's claims, raise its scope to `admin`, serialize with an empty signature, send it "
            "with `lab.vulnerable.execute(...)`.")),
    _token("key_confusion", "hmac_public_key", "HS256 with the published key",
           "Sign an HS256 token with the provider's **public** RSA key and make the vulnerable agent run "
           "`admin_status` through `hmac_public_key`.",
           ("The agent verifies HS256 with whatever key it holds for RS256. Who else holds that key?",
            "`fetch_jwks(...)` gets the published keys; joserfc's `RSAKey.import_key(jwk).as_pem()` gives the bytes "
            "the agent uses as the HMAC secret.",
            "joserfc refuses a public key as an HMAC secret on purpose: `hs256_token(header, claims, secret)` does "
            "not.")),
    _token("kid_traversal", "kid_as_path", "kid path traversal",
           "Make the vulnerable agent read its HMAC secret from a file **you** chose through `kid`, and run "
           "`admin_status` through `kid_as_path`.",
           ("`kid` is joined to the agent's key folder. Which file on every Linux machine has known contents?",
            "`/dev/null` reads as zero bytes; climb out of the key folder with enough `../`.",
            "HS256 with an empty secret: `hs256_token({'kid': ...}, claims, b'')`.")),
    _token("jku", "jku_followed", "jku: bring your own keys",
           "Make the vulnerable agent fetch **your** keys from the `jku` header and run `admin_status` through "
           "`jku_followed`.",
           ("A token that names where its keys live is trusted by whoever follows the link.",
            "`RSAKey.generate_key(2048, parameters={'kid': ...})` is your key; `lab.vulnerable.attacker.publish("
            "{'keys': [...public JWK...]})` returns the URL it serves.",
            "Sign RS256 with your private key, with `jku` and your `kid` in the protected header.")),
    _token("audience", "audience_unchecked", "audience unchecked",
           "Use a genuine token minted for **another service** to make the vulnerable agent run `admin_status` "
           "through `audience_unchecked`.",
           ("A token is signed by the right issuer, for someone else. What tells the agent it is not the audience?",
            "`lab.provider.mint(scopes, audience=...)` mints for any audience, as a real provider does for other "
            "services.",
            "Any audience but this agent's own will do: the real agent's audit reason names the rule it breaks.")),
    _token("expired", "expired_accepted", "expired accepted",
           "Use an **expired** genuine token to make the vulnerable agent run `admin_status` through "
           "`expired_accepted`.",
           ("Stolen tokens expire: unless the agent never looks.",
            "`lab.provider.mint(scopes, lifetime=...)` sets how long a token lives (from the lab clock).",
            "A negative lifetime mints a token that expired before it was issued.")),
    Challenge(
        "10.shared_cache", "shared cache",
        "Have bob read **alice's** cached `whoami` answer on the vulnerable agent (`shared_cache`). Then switch "
        "`shared_cache` off and replay bob's request: he gets his own answer.",
        ("`whoami` answers are cached; what is the cache key?",
         "Two users, two genuine tokens: `lab.provider.mint(['api:read'], subject=...)`.",
         "Order matters: the first caller fills the cache."),
        check_cache,
    ),
    Challenge(
        "10.path_differential", "path differential",
        "Reach the vulnerable agent's `/admin/status` **with no token** (`path_differential`). Then switch it off "
        "and send the same path: refused.",
        ("The guard strips `/t/{tenant}` from the raw path and lets `/.well-known/...` through; the router resolves "
         "`..` afterwards.",
         "httpx resolves `..` before sending; `%2e%2e` is not resolved by the client, but the server decodes it.",
         "`lab.vulnerable.get(path)` sends your path as written; `raw_get(url, path)` sends bytes on a socket."),
        check_path,
    ),
)

"""Lesson 01's challenge, "Pin the algorithm", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import algorithms
from ...auth import build_validator
from ...config import validate_security_config
from ...errors import AuthError, ConfigError, Reason
from ...secret_strength import secret_problem
from ..base import Challenge, CheckResult
from ..evidence import EXPIRED_AGO, NOW, hs_token, printed_in, result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark, config: dict[str, Any] | None = None) -> CheckResult:
    """``config`` accepts HS256 and refuses HS384 signed with the same secret, and its secret is not provably weak.

    A string cannot show where it came from (entropy is the generator's): the check refuses what it can prove
    (not hex or base64 of at least the hash's size in random bytes, or a pattern; ``labkit.secret_strength``).
    """
    if not isinstance(config, dict):
        return CheckResult(False, "pass your configuration as a mapping: check(config={'oauth2': {...}})")
    try:
        cfg = validate_security_config(config)
    except ConfigError as exc:
        return CheckResult(False, "the configuration is refused: " + "; ".join(f"{p}: {m}" for p, m in exc.errors))
    secret = cfg.oauth2.jwt_secret.get_secret_value() if cfg.oauth2.jwt_secret is not None else None
    if not secret:
        return CheckResult(False, "use a shared secret (oauth2.jwt_secret): this challenge is about HMAC")
    pinned, other = algorithms.HMAC[0], algorithms.HMAC[1]  # HS256 and HS384
    hmac = [a for a in cfg.oauth2.algorithms if a in algorithms.HMAC]
    if not hmac:
        return CheckResult(False, f"pin an HMAC algorithm ({pinned}): this challenge is about a shared secret")
    size = max(algorithms.TABLE[a].min_key_bytes for a in hmac)
    # RFC 7518 §3.2 / RFC 8725 §3.5: a key of the hash's size from a random generator; refuse what a string can prove
    problem = secret_problem(secret, size)
    if problem is not None:
        return CheckResult(False, f"oauth2.jwt_secret: {problem}; anyone holding one token can then guess it "
                                  "offline and mint their own")
    # RFC 8725 §3.5: a key is secret only while nobody else holds it; one printed in a lesson is everyone's
    if (where := printed_in(secret)) is not None:
        return CheckResult(False, f"oauth2.jwt_secret is printed in the lessons ({where}): everyone who read it can "
                                  "mint tokens your agent accepts; generate your own (secrets.token_urlsafe(32))")
    claims: dict[str, Any] = {"sub": "challenge-01", "iat": NOW, "exp": NOW + 300, "scope": "api:read"}
    if cfg.oauth2.issuers:
        claims["iss"] = cfg.oauth2.issuers[0]
    if cfg.oauth2.audiences:
        claims["aud"] = cfg.oauth2.audiences[0]
    validator = build_validator(cfg.oauth2, clock=lambda: NOW)
    verdicts: dict[str, str] = {}
    for alg in (pinned, other):
        try:
            lab.run(validator.validate(hs_token(secret, alg, claims)))
            verdicts[alg] = "accepted"
        except AuthError as exc:
            verdicts[alg] = exc.reason.value
    # RFC 7519 §4.1.4: past exp a token is refused (leeway forgives seconds of skew); a token without exp never ends
    for name, changed in ((f"a {pinned} token that expired {EXPIRED_AGO} s ago", {"exp": NOW - EXPIRED_AGO}),
                          (f"a {pinned} token with no exp", {"exp": None})):
        try:
            lab.run(validator.validate(hs_token(secret, pinned, {k: v for k, v in {**claims, **changed}.items()
                                                                  if v is not None})))
            verdicts[name] = "accepted"
        except AuthError as exc:
            verdicts[name] = exc.reason.value
    missing = [f"{name} signed with your secret is accepted: a stolen token stays good after its exp (leeway is for "
               "seconds of clock skew; exp must be required), RFC 7519 §4.1.4"
               for name in verdicts if name not in (pinned, other) and verdicts[name] == "accepted"]
    if verdicts[pinned] != "accepted":
        missing.append(f"an {pinned} token signed with your secret is refused ({verdicts[pinned]})")
    if verdicts[other] != Reason.ALGORITHM:
        missing.append(f"an {other} token signed with the same secret is {verdicts[other]}, not refused for its "
                       "algorithm: the algorithm must come from your configuration, never from the token's header "
                       "(RFC 8725 §3.1)")
    return result(missing, f"{pinned} accepted, {other} refused (algorithm, RFC 8725 §3.1); the secret shows no "
                           "weakness a string test can prove, which is all a check can say: that its bytes came "
                           "from a random generator (secrets.token_*) is up to you")


CHALLENGES = (
    Challenge(
        "01",
        "Pin the algorithm",
        "Write a configuration (a mapping for `validate_security_config`) that accepts "
        "HS256 tokens and refuses HS384 tokens signed with the same secret, with a secret made by a random "
        "generator: at least 32 random bytes. Check it with `check(config=...)`: the check mints both tokens and "
        "runs the real validator, and refuses a secret it can prove weak (it cannot prove one strong).",
        (
            "`jwt_algorithm` (one) or `jwt_algorithms` (a list) is the allow-list.",
            "RFC 8725 §3.5: a human-memorable password is not a key. Python's `secrets` module makes keys; "
            "count its argument in bytes, not characters.",
            "The allow-list holds exactly one HMAC algorithm, and `jwt_secret` is the text form of 32 bytes or more "
            "from `secrets` (not `token_hex(16)`: that is 16 bytes, however long it looks).",
        ),
        check,
    ),
)
